"""End-of-run metrics as a pipeline of steps (docs/architecture.md "Metrics").

Each step is a small object with a `name`, `applies(records) -> bool` (when it runs: by
what was recorded and by the mechanism's declared capabilities, `mechanisms.capabilities`)
and `compute(records) -> StepOutput` (its agent columns, round columns, summary entries and
tables). `end_of_run_metrics` runs `GENERIC_STEPS`, then the scenario's own
`ScenarioInstance.metric_steps` (e.g. `CoreFactorStep` for public goods, `HZResidualStep`
for one-sided allocation), then `FINAL_STEPS`, and merges their outputs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from abm.metrics import kernels
from abm.metrics.convergence import (
    drift_summary,
    geometric_horizons,
    hz_residual_curve,
    outcome_distance_blocks,
)
from abm.metrics.core import (
    BETA_RULE,
    core_factor,
    core_frontier,
    default_work_budget,
    ex_ante_core,
    value_scaling_beta,
)
from abm.metrics.depletion import depletion_summary
from abm.metrics.externality import externalities, pareto_check
from abm.metrics.regret import GridRegretStats, nearest_grid_index
from abm.metrics.strong_regret import StrongRegretAccumulator, prefix_budgets, regret_result
from mechanisms.base import Mechanism
from mechanisms.capabilities import FiniteOutcomes, PayoffBound, RoundCurrency

if TYPE_CHECKING:
    # Annotations only: abm.recording imports Mesa, and scenarios import this module for
    # their metric steps (`mechsim list` imports no Mesa or pandas).
    import pandas as pd

    from abm.recording import MenuRecorder, TraceRecorder

log = logging.getLogger(__name__)

#: Samples of the value distribution for the ex-ante core (Lemma 4.2).
EX_ANTE_SAMPLES = 2000
#: The most agents the (gamma, delta) frontier (Definition 2.1) is computed for (every coalition
#: is searched at each of its points: 2^n LPs at worst).
FRONTIER_MAX_AGENTS = 6
#: Horizons at which the HZ residuals of (X-bar_t, mean prices) are evaluated (n LPs each).
HZ_HORIZONS = 12
#: Fraction of the final rounds used to read off each agent's value-scaling beta_i.
BETA_WINDOW = 0.1
#: Menu entries (rounds x agents x alternatives) per block of the regret pass.
REGRET_BLOCK_ENTRIES = 1 << 20
#: Rounds per block of the outcome-distance pass (its temporaries are a few blocks).
DISTANCE_BLOCK = 4096
#: Item-price series go to rounds.parquet only up to this many items.
MAX_PRICE_COLUMNS = 32


@dataclass(frozen=True)
class RunRecords:
    """What a step reads: the finished model and its recorders, cut to the rounds done.

    agents: the recorded agents (`[record] agents`, increasing ids); budget: their initial budgets;
    charges, utilities: (t_done, m) realized per round."""

    model: Any
    mechanism: Mechanism
    trace: TraceRecorder
    menus: MenuRecorder | None
    t_done: int
    agents: np.ndarray
    budget: np.ndarray
    charges: np.ndarray
    utilities: np.ndarray

    @classmethod
    def of(cls, model: Any) -> RunRecords:
        trace: TraceRecorder = model.trace
        t = trace.rounds
        agents = trace.agents
        return cls(
            model=model,
            mechanism=model.mechanism,
            trace=trace,
            menus=model.menus,
            t_done=t,
            agents=agents,
            budget=model.ledger.initial_total[agents],
            charges=trace.charges[:t],
            utilities=trace.utilities[:t],
        )

    @property
    def n_agents(self) -> int:
        return int(self.model.n_agents)


@dataclass
class StepOutput:
    """A step's values: agent_columns (one entry per traced agent), round_columns (one per
    round), summary entries (JSON-able) and extra tables by file stem."""

    agent_columns: dict[str, np.ndarray] = field(default_factory=dict)
    round_columns: dict[str, np.ndarray] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def merge(self, other: StepOutput) -> None:
        self.agent_columns |= other.agent_columns
        self.round_columns |= other.round_columns
        self.summary |= other.summary
        self.tables |= other.tables


@runtime_checkable
class MetricStep(Protocol):
    """One metric of the pipeline: runs when `applies(records)`, returns its values."""

    name: str

    def applies(self, records: RunRecords) -> bool: ...

    def compute(self, records: RunRecords) -> StepOutput: ...


# -- generic steps ---------------------------------------------------------------------------
class DepletionStep:
    """Budget depletion and spend-rate error (always)."""

    name = "depletion"

    def applies(self, records: RunRecords) -> bool:
        return records.agents.size > 0

    def compute(self, records: RunRecords) -> StepOutput:
        dep = depletion_summary(records.charges, records.budget, records.mechanism.p_max)
        hit = dep.depletion_round >= 0
        return StepOutput(
            agent_columns={
                "unused_fraction": dep.unused_fraction,
                "spend_rate_error_final": dep.spend_rate_error_final,
                "spend_rate_error_mean": dep.spend_rate_error_mean,
                "spend_rate_error_max": dep.spend_rate_error_max,
            },
            round_columns={"spend_rate_error_mean": dep.round_mean, "spend_rate_error_max": dep.round_max},
            summary={
                "depletion": {
                    "n_depleted": int(hit.sum()),
                    "first_depletion_round": int(dep.depletion_round[hit].min()) if hit.any() else None,
                    "mean_unused_fraction": float(np.nanmean(dep.unused_fraction)),
                    "max_spend_rate_error_final": float(dep.spend_rate_error_final.max()),
                    "mean_spend_rate_error": float(dep.spend_rate_error_mean.mean()),
                }
            },
        )


def payoff_bound(mechanism: Mechanism, seen: float) -> tuple[float, str]:
    """M of Definition 3: the mechanism's declared `PayoffBound`, else 1 (docs/architecture.md:
    utilities in [0, 1]); raised to `seen`, the largest recorded |menu utility|, if that
    exceeds it."""
    declared = False
    bound = 1.0
    if isinstance(mechanism, PayoffBound):
        declared, bound = True, float(mechanism.payoff_bound)
    if seen > bound * (1 + 1e-9):
        log.warning("menu utilities reach %.4g > payoff bound %.4g; using the observed maximum", seen, bound)
        return seen, "observed maximum of the menus"
    return bound, "declared by the mechanism" if declared else "1 (utilities in [0, 1])"


class CurrencyRegret:
    """Strong regret's LP with d budget rows when each round is paid in one currency
    (`RoundCurrency`): d one-row LPs over the rounds of each currency, streamed with the
    one-row accumulator (`strong_regret.strong_regret_currencies` on whole arrays)."""

    def __init__(self, mechanism: RoundCurrency, budgets: np.ndarray) -> None:
        self.mechanism = mechanism
        self.budgets = budgets
        self.d = budgets.shape[1]
        self.accs = [StrongRegretAccumulator(budgets.shape[0]) for _ in range(self.d)]

    @classmethod
    def of(cls, records: RunRecords, pos: np.ndarray) -> CurrencyRegret | None:
        """For a d > 1 mechanism that declares `RoundCurrency`, else None."""
        mech, initial = records.mechanism, records.model.ledger.initial
        if not isinstance(mech, RoundCurrency) or np.ndim(initial) != 2 or initial.shape[1] < 2:
            return None
        return cls(mech, np.asarray(initial, dtype=np.float64)[records.agents][pos])

    def add(self, rounds: np.ndarray, u: np.ndarray, c: np.ndarray, compiled: bool) -> None:
        cur = self.mechanism.currency_of(rounds)
        for j, acc in enumerate(self.accs):
            rows = cur == j
            if rows.any():
                acc.add(u[rows], c[rows], compiled=compiled)

    def solve(self) -> np.ndarray:
        """OPT (m,): the sum over currencies of each one's one-row LP."""
        opt = np.zeros(self.budgets.shape[0])
        for j, acc in enumerate(self.accs):
            if acc.rounds:
                opt += acc.solve(self.budgets[:, j])[0][0]
        return opt


class RegretStep:
    """Strong regret, its prefix curve (epsilon(t)), external and swap regret, CE/CCE gaps
    (when menus were recorded), in one streamed pass over the recorded menu chunks.

    With menus on every k-th round only (`record.menu_every` = k > 1) the step solves the
    same LPs on the S recorded rounds with the pro-rated budget B S / T and scales the
    regrets by T / S: an estimate of the full-horizon values, labelled so in the summary."""

    name = "regret"

    def applies(self, records: RunRecords) -> bool:
        return records.menus is not None and records.menus.slots_before(records.t_done) > 0

    def compute(self, records: RunRecords) -> StepOutput:
        import pandas as pd

        menus = records.menus
        assert menus is not None
        t_done = records.t_done
        slots = menus.slots_before(t_done)
        rounds = menus.rounds_of(slots)
        pos = np.searchsorted(records.agents, menus.agents)
        m = pos.shape[0]
        exact = menus.every == 1
        if exact and m == records.agents.shape[0]:
            charges, utilities = records.charges, records.utilities  # no (T, m) copies
        else:
            charges, utilities = records.charges[rounds][:, pos], records.utilities[rounds][:, pos]
        budget = records.budget[pos] if exact else records.budget[pos] * slots / t_done
        scale = 1.0 if exact else t_done / slots
        k_grid = menus.grid.shape[0]
        acc = StrongRegretAccumulator(m)
        # The compiled kernels pay for their loading on large runs: decided once for the run,
        # so the blocks (and their temporaries) stay small whatever the horizon.
        compiled = kernels.use_kernels(slots * m * menus.width)
        grid = GridRegretStats(budget, k_grid, compiled)
        by_currency = CurrencyRegret.of(records, pos) if exact else None
        seen = 0.0
        for lo, u, c, played in menus.chunks(slots, entries=REGRET_BLOCK_ENTRIES):
            hi = lo + u.shape[0]
            # Checked once, by the envelope pass (which finds the largest |utility| too), not by each consumer.
            seen = max(seen, acc.add(u, c, compiled=compiled))
            if by_currency is not None:
                by_currency.add(rounds[lo:hi], u, c, compiled)
            grid.add(
                u[:, :, :k_grid], c[:, :, :k_grid], nearest_grid_index(played, menus.grid),
                utilities[lo:hi], charges[lo:hi], validated=True,
            )
        bound, bound_source = payoff_bound(records.mechanism, seen)
        realized = utilities.sum(axis=0)
        full_budget = np.maximum(budget, charges.sum(axis=0)) if not exact else budget
        # The whole horizon and every prefix of the curve (epsilon(t)) in one knapsack pass.
        hs = geometric_horizons(slots)
        budgets = np.vstack([prefix_budgets(budget, charges, hs, slots), full_budget[None, :]])
        opt_all, r_all = acc.solve_many(budgets, [*hs, slots])
        sr = regret_result(scale * opt_all[-1], scale * realized, r_all[-1], t_done, bound)
        opt_h, got_h = opt_all[:-1], np.cumsum(utilities, axis=0)[hs - 1]
        horizons = hs * menus.every
        regret_h = scale * (opt_h - got_h)
        eps_h = (regret_h / horizons[:, None]).max(axis=1) / bound
        out = StepOutput()
        out.agent_columns |= {
            "strong_regret": sr.regret,
            "strong_regret_per_round": sr.per_round,
            "strong_regret_eps": sr.eps,
            "benchmark_utility": sr.opt,
            "r_star": sr.r_star,
        }
        eps_series = np.full(t_done, np.nan)
        eps_series[np.minimum(horizons, t_done) - 1] = eps_h
        out.round_columns["epsilon"] = eps_series
        out.tables["regret_curve"] = pd.DataFrame(
            {
                "horizon": np.repeat(horizons, m),
                "agent": np.tile(menus.agents, horizons.shape[0]),
                "benchmark_utility": scale * opt_h.ravel(),
                "utility": scale * got_h.ravel(),
                "strong_regret": regret_h.ravel(),
                "strong_regret_per_round": (regret_h / horizons[:, None]).ravel(),
            }
        )
        menu_text = f"grid of {k_grid} reports (Mechanism.report_grid) + the played report"
        if menus.j:
            menu_text += f" + {menus.j} exact breakpoints (mechanism.menu_breakpoints)"
        estimate = (
            "exact (menus of every round)" if exact
            else f"estimate: menus of every k-th round, k = {menus.every} ({slots} of {t_done}), budget pro-rated, "
            f"regrets scaled by {t_done}/{slots}"
        )
        out.summary["strong_regret"] = {
            "max": float(sr.regret.max()),
            "mean": float(sr.regret.mean()),
            "max_per_round": float(sr.per_round.max()),
            "max_eps": float(sr.eps.max()),
            "payoff_bound": bound,
            "payoff_bound_source": bound_source,
            "menu": menu_text,
            "exact_menu": menus.j > 0,
            "menu_rounds": estimate,
            "agents": int(m),
        }
        if by_currency is not None:
            d_regret = by_currency.solve() - realized
            out.agent_columns["strong_regret_currencies"] = d_regret
            out.summary["strong_regret"]["currencies"] = {
                "rows": by_currency.d,
                "max": float(d_regret.max()),
                "mean": float(d_regret.mean()),
                "definition": "the LP with one budget row per currency (each round paid in one: "
                "RoundCurrency); `max`/`mean` above relax it to one row with the total budget",
            }
        out.summary["epsilon"] = {
            "final": float(eps_h[-1]),
            "lemma4_dominance_per_round": float(2 * eps_h[-1]),
            "horizons": int(horizons.shape[0]),
            "definition": "max_i strong regret_i(t) / (t M); budget of the t-prefix = max(B t/T, spend by t)",
        }
        ext, best = grid.external_regret(realized)
        swap = grid.swap_regret()
        lag_swap = grid.swap_regret(sr.r_star)
        out.agent_columns |= {
            "external_regret": scale * ext,
            "best_fixed_report": menus.grid[best],
            "swap_regret": scale * swap,
            "swap_regret_lagrangian": scale * lag_swap,
        }
        out.summary |= {
            "external_regret_max": float(scale * ext.max()),
            "swap_regret_max": float(scale * swap.max()),
            "swap_regret_lagrangian_max": float(scale * lag_swap.max()),
            # The equilibrium gaps of the game the bidders play: payoff u - r* c, the budget
            # priced at the strong-regret exchange rate (equal to u alone where r* = 0).
            "cce_gap": grid.cce_gap(sr.r_star),
            "ce_gap": grid.ce_gap(sr.r_star),
            "cce_gap_utility_only": grid.cce_gap(),
            "ce_gap_utility_only": grid.ce_gap(),
            "gap_payoff": "u - r* c (r* = r_star, the strong-regret dual price); *_utility_only: u alone",
        }
        if m != records.agents.shape[0]:
            # Menus cover a spread subset of the traced agents: NaN for the others.
            for key, col in out.agent_columns.items():
                full = np.full(records.agents.shape[0], np.nan)
                full[pos] = col
                out.agent_columns[key] = full
        return out


class DriftStep:
    """Bid drift (always)."""

    name = "bid_drift"

    def applies(self, records: RunRecords) -> bool:
        return records.agents.size > 0

    def compute(self, records: RunRecords) -> StepOutput:
        drift = drift_summary(records.trace.reports[: records.t_done])
        return StepOutput(
            agent_columns={"bid_drift_final": drift.final},
            round_columns={"bid_drift_mean": drift.mean, "avg_bid_drift": drift.average},
            summary={"bid_drift": {"window": drift.window, "final_mean": float(drift.final.mean())}},
        )


class OutcomeDistanceStep:
    """Distance of X-bar_t to its final value over time, when the outcome of every round was
    kept as a vector (`OutcomeAverage`, or a numeric outcome; see `OutcomePath`), streamed
    over the recorded chunks."""

    name = "outcome_distance"

    def applies(self, records: RunRecords) -> bool:
        return records.trace.outcome_path.series is not None

    def compute(self, records: RunRecords) -> StepOutput:
        path = records.trace.outcome_path
        assert path.series is not None
        t_done = records.t_done
        blocks = (block for _, block in path.series.chunks(t_done, rows=DISTANCE_BLOCK))
        dist = outcome_distance_blocks(blocks, path.x_bar)
        return StepOutput(
            round_columns={"outcome_distance": dist},
            summary={"outcome_distance_at_half": float(dist[max(t_done // 2 - 1, 0)])},
        )


class ItemPriceStep:
    """Per-round item prices (`RoundResult.item_prices`) as round columns price_j."""

    name = "item_prices"

    def applies(self, records: RunRecords) -> bool:
        prices = records.trace.prices
        return prices is not None and prices.shape[1] <= MAX_PRICE_COLUMNS

    def compute(self, records: RunRecords) -> StepOutput:
        prices = records.trace.prices
        assert prices is not None
        return StepOutput(round_columns={f"price_{j}": prices[: records.t_done, j] for j in range(prices.shape[1])})


class FiniteOutcomeStep:
    """Externalities and the Pareto check (Braverman 2021 §2.3.4) when the mechanism declares
    `FiniteOutcomes`: X-bar (recorded by the model) is the empirical distribution over them."""

    name = "finite_outcomes"

    def applies(self, records: RunRecords) -> bool:
        if not isinstance(records.mechanism, FiniteOutcomes):
            return False
        f = np.asarray(records.mechanism.outcome_utilities)
        path = records.trace.outcome_path
        return (
            path.outcome.total is not None
            and path.outcome.total.shape == (f.shape[0],)
            and f.ndim == 2
            and f.shape[1] == records.n_agents
        )

    def compute(self, records: RunRecords) -> StepOutput:
        assert isinstance(records.mechanism, FiniteOutcomes)
        f = np.asarray(records.mechanism.outcome_utilities, dtype=np.float64)
        p = records.trace.outcome_path.x_bar
        p = p / p.sum()
        ext = externalities(f, p)
        par = pareto_check(f, p)
        return StepOutput(
            agent_columns={"externality": ext[records.agents]},
            summary={
                "pareto": {"efficient": par.efficient, "improvement": par.improvement, "ratio_eps": par.ratio_eps},
                "externality_spread": float(ext.max() - ext.min()),
            },
        )


# -- scenario hooks (ScenarioInstance.metric_steps) -------------------------------------------
class CoreFactorStep:
    """Ex-post core factor (Onyeze et al. 2025 Definition 2.1) and the ex-ante factor (Lemma 4.2)
    on EX_ANTE_SAMPLES draws of the scenario's value distribution with the agents' final
    value scaling; the draws come from the run's named stream "metrics". `shares`: alpha_i.

    Each of the two `core_factor` calls gets the work budget `work_budget` (None:
    `default_work_budget` of the run's rounds and agents, so both stay a fraction of what
    the rounds cost); the summary says whether gamma is exact or a certified bracket.

    The (gamma, delta) frontier of Definition 2.1 (`core_frontier`: delta(gamma), the smallest
    additive term per round that makes the allocation a (gamma, delta)-core allocation, at
    `frontier_points` gammas from 0 to the delta = 0 factor), ex post and on the ex-ante
    samples, for runs of at most FRONTIER_MAX_AGENTS agents; `frontier_points = 0` (the default)
    skips it: its LPs cost several times the rest of the metric (benchmarks/bench_metrics.py)."""

    name = "core"

    def __init__(
        self, shares: np.ndarray, work_budget: float | None = None, frontier_points: int = 0
    ) -> None:
        self.shares = np.asarray(shares, dtype=np.float64)
        self.work_budget = work_budget
        self.frontier_points = frontier_points

    def applies(self, records: RunRecords) -> bool:
        return self.shares.shape == (records.n_agents,) and records.agents.size > 0

    def compute(self, records: RunRecords) -> StepOutput:
        model, trace, t_done = records.model, records.trace, records.t_done
        shares = self.shares[trace.agents]
        values = trace.values[:t_done]
        budget = self.work_budget
        if budget is None:
            budget = default_work_budget(t_done, trace.agents.shape[0])
        res = core_factor(values, records.utilities, shares, work_budget=budget)
        traced_all = trace.agents.shape[0] == records.n_agents
        out = StepOutput(agent_columns={"core_gamma_singleton": res.singletons})
        out.summary["core"] = {
            "gamma": res.gamma,
            "gamma_upper": res.upper,
            "blocking_coalition": list(res.coalition),
            "coalitions_checked": res.checked,
            "lps": res.lps,
            "method": res.method,
            "method_meaning": "exact: every coalition solved or pruned by a certified bound; bound: gamma is "
            "the best lower bound found within the work budget, gamma_upper a certified upper bound",
            "work": res.work,
            "work_budget": res.budget,
            "scope": "all agents" if traced_all else f"{trace.agents.shape[0]} recorded agents (record.agents)",
        }
        frontier = self.frontier_points > 0 and trace.agents.shape[0] <= FRONTIER_MAX_AGENTS
        if frontier:
            out.summary["core"]["frontier"] = core_frontier(
                values, records.utilities, shares, res.gamma, self.frontier_points
            )
        if not traced_all:
            return out
        beta = value_scaling_beta(values, trace.reports[:t_done], BETA_WINDOW)
        rng = model.streams.generator("metrics")
        samples = np.stack([model.instance.values.sample(i, rng) for i in range(EX_ANTE_SAMPLES)])
        scale = np.where(np.isfinite(beta), beta, 1.0)
        bids = np.where(np.isfinite(beta), samples / scale, 0.0)
        # The induced ex-ante allocation: one independent round per sample, all at once where
        # the mechanism vectorizes `run_rounds` (Proportional, Moulin), else round by round.
        outcomes, charges = records.mechanism.run_rounds(bids, samples, rng)
        served = np.asarray(outcomes, dtype=bool).reshape(samples.shape)
        spend = np.cumsum(charges, axis=0)[-1]  # added round by round, as the loop did
        ex: dict[str, Any] = ex_ante_core(samples, served, shares, scale, work_budget=budget)
        if frontier:
            ex["frontier"] = core_frontier(
                samples, (samples * served).sum(axis=0), shares, float(ex["lp_gamma"]), self.frontier_points
            )
        out.agent_columns["beta"] = beta
        out.agent_columns["ex_ante_spend"] = spend / samples.shape[0]
        out.summary["core"]["ex_ante"] = {
            **ex,
            # What the run itself allocated, beside the induced allocation's measure: a value-scaling
            # reading of learners whose scaling fluctuates can serve much less (or more) often.
            "run_allocated_fraction": float(model.goods_allocated / t_done),
            # Corollary C.6 needs E[p_i] <= alpha_i: a beta read off an agent that overspent says so here.
            "max_spend_over_share": float((spend / samples.shape[0] / shares).max()),
            "beta": BETA_RULE.format(window=BETA_WINDOW),
            "beta_infinite": int(np.isinf(beta).sum()),
        }
        return out


class HZResidualStep:
    """HZ residuals over time (Braverman 2021 §3.2) of (X-bar_t, mean item prices) for one-sided
    allocation with the (n, n) utility matrix `u`; budgets per round are B_i / T (HZ's
    equal incomes). Needs the per-round outcomes (n x n allocations) and item prices."""

    name = "hz"

    def __init__(self, u: np.ndarray) -> None:
        self.u = np.asarray(u, dtype=np.float64)

    def applies(self, records: RunRecords) -> bool:
        trace = records.trace
        if trace.outcomes is None or trace.prices is None:
            return False
        return self.u.shape == (records.n_agents, trace.prices.shape[1]) and trace.outcomes.shape[1] == self.u.size

    def compute(self, records: RunRecords) -> StepOutput:
        trace, t_done, model = records.trace, records.t_done, records.model
        assert trace.outcomes is not None and trace.prices is not None
        hs = geometric_horizons(t_done, HZ_HORIZONS)
        res = hz_residual_curve(
            self.u, trace.outcomes[:t_done], trace.prices[:t_done], model.ledger.initial / model.config.rounds, hs
        )
        out = StepOutput()
        for key, values in res.items():
            series = np.full(t_done, np.nan)
            series[hs - 1] = values
            out.round_columns[f"hz_{key}"] = series
        out.summary["hz_over_time"] = {"horizons": hs, **dict(res.items())}
        return out


#: Steps every run goes through, in order (each still checks `applies`).
GENERIC_STEPS: tuple[MetricStep, ...] = (
    DepletionStep(),
    RegretStep(),
    DriftStep(),
    OutcomeDistanceStep(),
    ItemPriceStep(),
)
#: Steps after the scenario's own.
FINAL_STEPS: tuple[MetricStep, ...] = (FiniteOutcomeStep(),)


def run_pipeline(records: RunRecords, steps: list[MetricStep] | tuple[MetricStep, ...]) -> StepOutput:
    """Run each applicable step in order and merge their outputs (later keys win)."""
    out = StepOutput()
    for step in steps:
        if step.applies(records):
            out.merge(step.compute(records))
    return out

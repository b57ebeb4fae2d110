"""End-of-run metrics of one finished `MechanismModel`: what `abm.runs.runner.run` adds to
metrics.parquet (one row per agent), rounds.parquet (per-round series), summary.json and
extra tables (regret_curve.parquet, trace.parquet). Each metric is a pure function in its
own module; this file only feeds them the recorded arrays (DESIGN.md §3 "Collectors").
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from abm.metrics.convergence import (
    bid_drift,
    geometric_horizons,
    hz_residual_curve,
    outcome_distance,
    strong_regret_curve,
)
from abm.metrics.core import core_factor, ex_ante_core
from abm.metrics.depletion import budget_depletion
from abm.metrics.externality import externalities, pareto_check
from abm.metrics.regret import (
    cce_gap,
    ce_gap,
    external_regret,
    lagrangian_payoff,
    nearest_grid_index,
    swap_regret,
)
from abm.metrics.strong_regret import StrongRegretAccumulator, regret_result
from mechanisms.base import Reports
from mechanisms.public_goods.artificial_currency import ArtificialCurrency

log = logging.getLogger(__name__)

#: Agents whose per-round trace goes to trace.parquet (for plots).
TRACE_PLOT_AGENTS = 10
#: Samples of the value distribution for the ex-ante core (Lemma 4.2).
EX_ANTE_SAMPLES = 2000
#: Horizons at which the HZ residuals of (X-bar_t, mean prices) are evaluated (n LPs each).
HZ_HORIZONS = 12
#: Fraction of the final rounds used to read off each agent's value-scaling beta_i.
BETA_WINDOW = 0.1


@dataclass
class RunMetrics:
    """agent_columns: one row per agent (column `agent` to merge on); round_columns: one row
    per round; summary: JSON-able; tables: extra Parquet tables by file stem."""

    agent_columns: pd.DataFrame
    round_columns: pd.DataFrame
    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def end_of_run_metrics(model: Any) -> RunMetrics:
    """Every metric the recorded arrays of `model` allow (menus -> regret; values -> core)."""
    started = time.perf_counter()
    trace = getattr(model, "trace", None)
    if trace is None:  # e.g. a model restored from a checkpoint written before traces existed
        return RunMetrics(pd.DataFrame({"agent": np.arange(model.n_agents)}), pd.DataFrame(), {})
    t_done = trace.rounds
    agents = trace.agents
    budget = model.ledger.initial[agents]
    cols: dict[str, np.ndarray] = {"agent": agents}
    rounds: dict[str, np.ndarray] = {}
    summary: dict[str, Any] = {"traced_agents": int(agents.shape[0])}
    tables: dict[str, pd.DataFrame] = {}
    if t_done == 0:
        return RunMetrics(pd.DataFrame(cols), pd.DataFrame(index=range(0)), summary)
    charges, utilities = trace.charges[:t_done], trace.utilities[:t_done]

    dep = budget_depletion(charges, budget, model.mechanism.p_max)
    cols |= {
        "unused_fraction": dep.unused_fraction,
        "spend_rate_error_final": dep.spend_rate_error_final,
        "spend_rate_error_mean": dep.spend_rate_error_mean,
        "spend_rate_error_max": dep.spend_rate_error_max,
    }
    rounds |= {"spend_rate_error_mean": dep.rate_error.mean(axis=1), "spend_rate_error_max": dep.rate_error.max(axis=1)}
    summary["depletion"] = {
        "n_depleted": int((dep.depletion_round >= 0).sum()),
        "first_depletion_round": int(dep.depletion_round[dep.depletion_round >= 0].min())
        if (dep.depletion_round >= 0).any()
        else None,
        "mean_unused_fraction": float(np.nanmean(dep.unused_fraction)),
        "max_spend_rate_error_final": float(dep.spend_rate_error_final.max()),
        "mean_spend_rate_error": float(dep.spend_rate_error_mean.mean()),
    }

    if model.menus is not None:
        _regret_metrics(model, t_done, budget, charges, utilities, cols, rounds, summary, tables)

    drift = bid_drift(trace.reports[:t_done])
    cols["bid_drift_final"] = drift.final
    rounds |= {"bid_drift_mean": drift.mean, "avg_bid_drift": drift.average}
    summary["bid_drift"] = {"window": drift.window, "final_mean": float(drift.final.mean())}
    if trace.outcomes is not None:
        dist = outcome_distance(trace.outcomes[:t_done])
        rounds["outcome_distance"] = dist
        summary["outcome_distance_at_half"] = float(dist[max(t_done // 2 - 1, 0)])
    if trace.prices is not None and trace.prices.shape[1] <= 32:
        for j in range(trace.prices.shape[1]):
            rounds[f"price_{j}"] = trace.prices[:t_done, j]
    _hz_metrics(model, t_done, rounds, summary)
    if isinstance(model.mechanism, ArtificialCurrency):
        _core_metrics(model, t_done, cols, summary)
    _finite_outcome_metrics(model, cols, summary)

    k = min(TRACE_PLOT_AGENTS, agents.shape[0])
    tables["trace"] = pd.DataFrame(
        {
            "round": np.repeat(np.arange(t_done), k),
            "agent": np.tile(agents[:k], t_done),
            "value": trace.values[:t_done, :k].ravel(),
            "report": trace.reports[:t_done, :k].ravel(),
            "utility": utilities[:, :k].ravel(),
            "charge": charges[:, :k].ravel(),
            "remaining": dep.remaining[:, :k].ravel(),
        }
    )
    summary["runtime_s"] = round(time.perf_counter() - started, 3)
    return RunMetrics(pd.DataFrame(cols), pd.DataFrame(rounds), summary, tables)


def _payoff_bound(model: Any, utility: np.ndarray) -> tuple[float, str]:
    """M of Definition 3: the mechanism's `payoff_bound` if it declares one, else 1 (DESIGN.md
    §5: utilities in [0, 1]); raised to the largest recorded menu utility if that exceeds it."""
    declared = getattr(model.mechanism, "payoff_bound", None)
    bound = float(declared) if declared is not None else 1.0
    seen = float(np.abs(utility).max()) if utility.size else 0.0
    if seen > bound * (1 + 1e-9):
        log.warning("menu utilities reach %.4g > payoff bound %.4g; using the observed maximum", seen, bound)
        return seen, "observed maximum of the menus"
    return bound, "declared by the mechanism" if declared is not None else "1 (utilities in [0, 1])"


def _regret_metrics(
    model: Any,
    t_done: int,
    budget: np.ndarray,
    charges: np.ndarray,
    utilities: np.ndarray,
    cols: dict[str, np.ndarray],
    rounds: dict[str, np.ndarray],
    summary: dict[str, Any],
    tables: dict[str, pd.DataFrame],
) -> None:
    """Strong regret, its prefix curve (epsilon(t)), external and swap regret, CE/CCE gaps."""
    menus = model.menus
    m = min(menus.agents.shape[0], budget.shape[0])  # the traced agents are a prefix of the menu agents
    u_all, c_all = menus.all_menus()
    u_all, c_all = u_all[:t_done, :m], c_all[:t_done, :m]
    budget, charges, utilities = budget[:m], charges[:, :m], utilities[:, :m]
    bound, bound_source = _payoff_bound(model, u_all)
    acc = StrongRegretAccumulator(m)
    acc.add(u_all, c_all)
    opt, r_star = acc.solve(budget)
    sr = regret_result(opt[0], utilities.sum(axis=0), r_star[0], t_done, bound)
    curve = strong_regret_curve(u_all, c_all, utilities, charges, budget, None, bound, accumulator=acc)
    cols |= {
        "strong_regret": sr.regret,
        "strong_regret_per_round": sr.per_round,
        "strong_regret_eps": sr.eps,
        "benchmark_utility": sr.opt,
        "r_star": sr.r_star,
    }
    eps_series = np.full(t_done, np.nan)
    eps_series[curve.horizons - 1] = curve.epsilon
    rounds["epsilon"] = eps_series
    tables["regret_curve"] = pd.DataFrame(
        {
            "horizon": np.repeat(curve.horizons, m),
            "agent": np.tile(menus.agents[:m], curve.horizons.shape[0]),
            "benchmark_utility": curve.opt.ravel(),
            "utility": curve.utility.ravel(),
            "strong_regret": curve.regret.ravel(),
            "strong_regret_per_round": (curve.regret / curve.horizons[:, None]).ravel(),
        }
    )
    menu_text = f"grid of {menus.grid.shape[0]} reports (Mechanism.report_grid) + the played report"
    if menus.exact_utility is not None:
        menu_text += f" + {menus.exact_utility.shape[2]} exact breakpoints (mechanism.menu_breakpoints)"
    summary["strong_regret"] = {
        "max": float(sr.regret.max()),
        "mean": float(sr.regret.mean()),
        "max_per_round": float(sr.per_round.max()),
        "max_eps": float(sr.eps.max()),
        "payoff_bound": bound,
        "payoff_bound_source": bound_source,
        "menu": menu_text,
        "exact_menu": menus.exact_utility is not None,
    }
    summary["epsilon"] = {
        "final": float(curve.epsilon[-1]),
        "lemma4_dominance_per_round": float(2 * curve.epsilon[-1]),
        "horizons": int(curve.horizons.shape[0]),
        "definition": "max_i strong regret_i(t) / (t M); budget of the t-prefix = max(B t/T, spend by t)",
    }

    grid_u, grid_c = u_all[:, :, : menus.grid.shape[0]], c_all[:, :, : menus.grid.shape[0]]
    ext, best = external_regret(grid_u, grid_c, budget, utilities.sum(axis=0))
    played_idx = nearest_grid_index(menus.played[:t_done, :m], menus.grid)
    swap = swap_regret(grid_u, played_idx, utilities)
    lag_swap = swap_regret(
        lagrangian_payoff(grid_u, grid_c, sr.r_star), played_idx, lagrangian_payoff(utilities, charges, sr.r_star)
    )
    cols |= {
        "external_regret": ext,
        "best_fixed_report": menus.grid[best],
        "swap_regret": swap,
        "swap_regret_lagrangian": lag_swap,
    }
    summary["external_regret_max"] = float(ext.max())
    summary["swap_regret_max"] = float(swap.max())
    summary["swap_regret_lagrangian_max"] = float(lag_swap.max())
    summary["cce_gap"] = cce_gap(grid_u, utilities)
    summary["ce_gap"] = ce_gap(grid_u, played_idx, utilities)


def _value_scaling_beta(values: np.ndarray, reports: np.ndarray) -> np.ndarray:
    """beta_i read off the last BETA_WINDOW of rounds as the median of V_i / report_i over
    rounds with a positive report (value-scaling play reports V / beta; seed 000 §3.2);
    inf when the agent reported nothing there (e.g. depleted)."""
    t = values.shape[0]
    lo = int(t * (1 - BETA_WINDOW))
    v, r = values[lo:], reports[lo:]
    ok = (r > 0) & (v > 0)
    ratio = np.where(ok, v / np.where(ok, r, 1.0), np.nan)
    with np.errstate(all="ignore"):
        beta = np.nanmedian(np.where(ok.any(axis=0), ratio, 1.0), axis=0)
    return np.where(ok.any(axis=0), beta, np.inf)


def _core_metrics(model: Any, t_done: int, cols: dict[str, np.ndarray], summary: dict[str, Any]) -> None:
    """Ex-post core factor (Definition 2.1) and the ex-ante factor (Lemma 4.2) on samples of the
    scenario's value distribution with the agents' final value scaling."""
    trace = model.trace
    shares = np.asarray(model.mechanism.shares, dtype=np.float64)[trace.agents]
    values = trace.values[:t_done]
    res = core_factor(values, trace.utilities[:t_done], shares)
    cols["core_gamma_singleton"] = res.singletons
    scope = "all agents" if trace.agents.shape[0] == model.n_agents else f"the first {trace.agents.shape[0]} agents"
    summary["core"] = {
        "gamma": res.gamma,
        "blocking_coalition": list(res.coalition),
        "coalitions_checked": res.checked,
        "method": res.method,
        "scope": scope,
    }
    if trace.agents.shape[0] != model.n_agents:
        return
    beta = _value_scaling_beta(values, trace.reports[:t_done])
    # A fresh stream: child 5 of the run's SeedSequence (the model uses children 0..4).
    rng = np.random.default_rng(np.random.SeedSequence(model.config.seed).spawn(6)[5])
    samples = np.stack([model.instance.values.sample(i, rng) for i in range(EX_ANTE_SAMPLES)])
    served = np.zeros_like(samples, dtype=bool)
    spend = np.zeros(samples.shape[1])
    bids = np.where(np.isfinite(beta), samples / np.where(np.isfinite(beta), beta, 1.0), 0.0)
    for k in range(samples.shape[0]):
        out = model.mechanism.run_round(Reports(bids[k], samples[k]), rng)
        served[k] = np.asarray(out.outcome, dtype=bool)
        spend += out.charges
    ex = ex_ante_core(samples, served, shares, np.where(np.isfinite(beta), beta, 1.0))
    cols["beta"] = beta
    cols["ex_ante_spend"] = spend / samples.shape[0]
    summary["core"]["ex_ante"] = {
        **ex,
        "beta": "median V/report over the last 10% of rounds (value scaling, seed 000 §3.2)",
    }


def _finite_outcome_metrics(model: Any, cols: dict[str, np.ndarray], summary: dict[str, Any]) -> None:
    """Externalities and the Pareto check (seed 002 §2.3.4) when the outcome set is finite:
    the mechanism (or its APEX problem) exposes `outcome_utilities` (|O|, n) and `x_bar` is
    the empirical outcome distribution over it."""
    mech = model.mechanism
    f = getattr(mech, "outcome_utilities", None)
    if f is None:
        f = getattr(getattr(mech, "problem", None), "outcome_utilities", None)
    if f is None:
        return
    try:
        p = np.asarray(mech.x_bar, dtype=np.float64).ravel()
    except (AttributeError, ValueError):
        return
    f = np.asarray(f, dtype=np.float64)
    if p.shape != (f.shape[0],) or f.shape[1] != model.n_agents:
        return
    p = p / p.sum()
    ext = externalities(f, p)
    par = pareto_check(f, p)
    cols["externality"] = ext[model.trace.agents]
    summary["pareto"] = {"efficient": par.efficient, "improvement": par.improvement, "ratio_eps": par.ratio_eps}
    summary["externality_spread"] = float(ext.max() - ext.min())


def _hz_metrics(model: Any, t_done: int, rounds: dict[str, np.ndarray], summary: dict[str, Any]) -> None:
    """HZ residuals over time (seed 002 §3.2) when the run is a one-sided allocation: the
    mechanism's problem has an (n, n) utility matrix `u`, outcomes are allocations and
    per-round item prices were recorded. Budgets per round are B_i / T (HZ's equal incomes)."""
    trace = model.trace
    u = getattr(getattr(model.mechanism, "problem", None), "u", None)
    if u is None or trace.outcomes is None or trace.prices is None:
        return
    u = np.asarray(u, dtype=np.float64)
    n = model.n_agents
    if u.shape != (n, trace.prices.shape[1]) or trace.outcomes.shape[1] != u.size:
        return
    hs = geometric_horizons(t_done, HZ_HORIZONS)
    res = hz_residual_curve(
        u, trace.outcomes[:t_done], trace.prices[:t_done], model.ledger.initial / model.config.rounds, hs
    )
    for key, values in res.items():
        series = np.full(t_done, np.nan)
        series[hs - 1] = values
        rounds[f"hz_{key}"] = series
    summary["hz_over_time"] = {"horizons": hs, **{k: v for k, v in res.items()}}

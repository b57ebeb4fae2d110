"""Repeated resource allocation with linked VCG (Zhu 2021, *Repeated resource allocation*).

How the mechanism fits the framework's loop: one Mesa step is one date t. Each agent
holds a vector of projects mu_t^n in [0, inf)^I but the framework's report is one
scalar per agent, so the scenario adapts: an agent's scalar report lambda_t^n scales
his true endowment, reported mu-hat_t^n = lambda_t^n mu_t^n (the observed "value" is
always 1, so `truthful` reports lambda = 1 and `value_scaling` with beta reports
1 / beta: over-claiming when beta < 1). Richer misreports (changing the composition or
moving projects across dates) are searched in the end-of-run incentive check.

Per date the adapter (`mechanisms.linked_vcg.adapter.ResourceAllocationRound`, the
`linked` and `unlinked` entries of the `linked_vcg` mechanism family) allocates by ord-A
on the retracted reports [mu]_t (linked; the retraction is F_t-measurable, §4) or on the
raw reports (unlinked). Round utilities are
the agent's true project payoff v(A_t^n, mu_t^n) plus the date's Groves accrual, the
others' reported surplus O_t^n; charges are 0 (the principal pays, at T). Summed with
beta^(t-1) weights this is the agent's unlinked-VCG utility on the reports the
mechanism used; the linked transfer subtracts the Groves base h^n at T, a constant
that his reports do not move. `summary.json` settles both mechanisms at T: the
principal's cost linked vs unlinked, efficiency, and the ex-post incentive check.

Endowments: mu_ti^n = pi_i^n K / (m rho), K ~ Binomial(m, rho) i.i.d. across agents,
dates and types (mean pi_i^n; exact conditional laws for §5). Confidence intervals
[max(pi^n - d, 0), pi^n + d] as in the proof of Theorem 2 (§6.3). `stylized` draws
each agent's process conditioned on its T-date average lying in the interval (the
stylized model of §2-4); `iid` is §5's true model, where the summary reports delta =
P(some average outside), the believable conjecture c of Proposition 2, and which agents
have eps-ex-post incentives throughout (condition (2)). `design = "small-agents"` uses
the linked mechanism of Theorem 2's proof (§6.3) for k = agents.

Cost: the settlement solves one MILP per agent (`linked_vcg.groves_base`); the defaults
(5 agents, T = 12, R = 2, I = 5) settle in a few seconds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal, TypedDict

import numpy as np
from pydantic import Field, model_validator

from abm.config import ConfigError, RunConfig
from abm.scenario import Scenario, ScenarioInstance, ScenarioParams, register_scenario
from mechanisms.linked_vcg import (
    Economy,
    LinkedVCG,
    ResourceAllocationRound,
    believable_conjecture,
    hoeffding_tail,
    incentive_check,
    reasonable_truthful,
    small_agents_design,
)
from mechanisms.registry import ZHU, cite
from scenarios.values import UnitValues

#: Rejection sampling of stylized endowments gives up after this many draws per agent.
STYLIZED_MAX_DRAWS = 10_000
#: Misreport gains below this (relative to the agent's utility) count as zero (round-off).
GAIN_TOL = 1e-7


class ResourceAllocationParams(ScenarioParams):
    """mechanism: which allocation rule runs each date, a `linked_vcg` family entry (linked,
    unlinked; both are settled in the summary).
    resources R, project_types I (> R), theta: explicit (I, R) inputs (else drawn: the
    last-resort diagonal in `last_resort_input`, the others in `project_input`).
    q_bar_per_agent: stock of each resource per agent (q_bar = N x this, the scaling of
    §6.3). pi_range: agents' mean endowment of each non-last-resort type ~ U[pi_range].
    trials, rho: the binomial granularity m and success rate. halfwidth: d of the
    confidence intervals; stylized_halfwidth: the d the stylized endowments are conditioned
    on (common random numbers across widths). beta: discount factor. eps: §5's epsilon. incentive_agents /
    misreports: the ex-post check's scope (agents searched, random misreports each).
    design = "small-agents": the linked mechanism of Theorem 2's proof (§6.3) for the
    k = agents model, which needs beta = 1 and rounds = ceil(agents^kappa); its
    conjecture c(d)[k] (with a Hoeffding tail for f) is reported in the summary."""

    mechanism: str = Field(
        default="linked",
        description="the date-by-date rule (family linked_vcg: linked = ord-A on the retracted reports, "
        "unlinked = per-date VCG)",
    )
    design: Literal["fixed", "small-agents"] = "fixed"
    kappa: float = Field(default=0.5, gt=0, lt=1)
    endowments: Literal["stylized", "iid"] = "stylized"
    resources: int = Field(default=2, ge=1, le=4)
    project_types: int = Field(default=5, ge=2, le=8)
    theta: list[list[float]] | None = None
    last_resort_input: tuple[float, float] = (3.0, 6.0)
    project_input: tuple[float, float] = (0.2, 1.5)
    q_bar_per_agent: float = Field(default=2.0, gt=0)
    pi_range: tuple[float, float] = (0.5, 2.0)
    trials: int = Field(default=4, ge=1)
    rho: float = Field(default=0.5, gt=0, lt=1)
    halfwidth: float = Field(default=0.4, gt=0)
    stylized_halfwidth: float | None = Field(
        default=None,
        gt=0,
        description="the d the stylized endowments are conditioned on (None: halfwidth). A sweep over "
        "halfwidth with this set to its smallest d draws the same true endowments at every width "
        "(common random numbers), each inside every interval; must be <= halfwidth",
    )
    beta: float = Field(default=1.0, gt=0, le=1)
    eps: float = Field(default=0.5, gt=0)
    incentive_agents: int = Field(default=8, ge=0)
    misreports: int = Field(default=32, ge=0)

    @model_validator(mode="after")
    def _check(self) -> ResourceAllocationParams:
        if self.project_types <= self.resources:
            raise ValueError(
                f"project_types must exceed resources (condition 1), got I = {self.project_types}, "
                f"R = {self.resources}"
            )
        for name in ("last_resort_input", "project_input", "pi_range"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name} must satisfy 0 < low <= high, got {(lo, hi)}")
        if self.stylized_halfwidth is not None and self.stylized_halfwidth > self.halfwidth:
            raise ValueError(
                f"stylized_halfwidth must be <= halfwidth ({self.halfwidth}): the stylized endowments must lie "
                f"in the mechanism's intervals, got {self.stylized_halfwidth}"
            )
        if self.design == "small-agents" and self.beta != 1.0:
            raise ValueError(f"beta must be 1 for design = 'small-agents' (§6.3), got {self.beta}")
        if self.theta is not None:
            shape = (len(self.theta), len(self.theta[0]) if self.theta else 0)
            if shape != (self.project_types, self.resources) or any(len(r) != self.resources for r in self.theta):
                raise ValueError(f"theta must be a {self.project_types} x {self.resources} list, got {shape}")
        return self


class BinomialEndowments:
    """mu_ti^n = pi_i^n K_ti / (m rho), K_ti ~ Binomial(m, rho) independent (mean pi).
    Exact conditional probabilities of leaving the confidence set, for §5."""

    def __init__(self, pi: np.ndarray, trials: int, rho: float) -> None:
        self.pi = np.asarray(pi, dtype=np.float64)
        if self.pi.ndim != 2 or (self.pi < 0).any() or not np.isfinite(self.pi).all():
            raise ValueError(f"pi must be a finite (N, I) array >= 0, got shape {self.pi.shape}")
        if trials < 1:
            raise ValueError(f"trials must be >= 1, got {trials}")
        if not 0 < rho < 1:
            raise ValueError(f"rho must be in (0, 1), got {rho}")
        self.trials, self.rho = int(trials), float(rho)
        self.unit = self.pi / (self.trials * self.rho)  # endowment per binomial success

    def sample(self, horizon: int, rng: np.random.Generator) -> np.ndarray:
        k = rng.binomial(self.trials, self.rho, size=(self.pi.shape[0], horizon, self.pi.shape[1]))
        return k * self.unit[:, None, :]

    def sample_stylized(self, horizon: int, lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Each agent's process conditioned on its T-date average in [lo^n, hi^n]
        (rejection sampling, agent by agent)."""
        n, n_types = self.pi.shape
        out = np.empty((n, horizon, n_types))
        for k in range(n):
            for _ in range(STYLIZED_MAX_DRAWS):
                x = rng.binomial(self.trials, self.rho, size=(horizon, n_types)) * self.unit[k]
                avg = x.mean(axis=0)
                if (avg >= lo[k] - 1e-12).all() and (avg <= hi[k] + 1e-12).all():
                    out[k] = x
                    break
            else:
                raise ValueError(
                    f"halfwidth: agent {k}'s average falls in its interval too rarely to sample the "
                    f"stylized model ({STYLIZED_MAX_DRAWS} draws); widen the interval or raise trials"
                )
        return out

    def _in_range(self, horizon: int, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Integer bounds [a, b] (N, I) on the total success count S_i = sum_t K_ti for the
        average to lie in [lo, hi]; types with pi = 0 are always inside when lo = 0."""
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.ceil(np.where(self.unit > 0, horizon * lo / self.unit, 0.0) - 1e-9)
            b = np.floor(np.where(self.unit > 0, horizon * hi / self.unit, np.inf) + 1e-9)
        return np.maximum(a, 0.0), b

    def prob_outside(self, mu: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """X_s = P^n(mu^n not in Omega^n | mu^n|_s) for s = 0..T, shape (N, T + 1): a
        martingale in s (Lemma 5), X_0 the unconditional probability, X_T an indicator."""
        from scipy.stats import binom

        n, horizon, _ = mu.shape
        a, b = self._in_range(horizon, lo, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            counts = np.where(self.unit[:, None, :] > 0, np.rint(mu / self.unit[:, None, :]), 0.0)
        prefix = np.concatenate([np.zeros((n, 1, mu.shape[2])), np.cumsum(counts, axis=1)], axis=1)
        remaining = (horizon - np.arange(horizon + 1))[None, :, None] * self.trials
        lo_k = a[:, None, :] - prefix
        hi_k = b[:, None, :] - prefix
        p_in = binom.cdf(hi_k, remaining, self.rho) - binom.cdf(lo_k - 1, remaining, self.rho)
        p_in = np.where(self.unit[:, None, :] > 0, p_in, (lo[:, None, :] <= 0).astype(float))
        return 1.0 - np.prod(np.clip(p_in, 0.0, 1.0), axis=2)


def draw_theta(params: ResourceAllocationParams, rng: np.random.Generator) -> np.ndarray:
    """Project inputs: last-resort diagonal ~ U[last_resort_input], others ~ U[project_input]^R."""
    if params.theta is not None:
        return np.asarray(params.theta, dtype=np.float64)
    r, n_types = params.resources, params.project_types
    last = np.diag(rng.uniform(*params.last_resort_input, size=r))
    return np.vstack([last, rng.uniform(*params.project_input, size=(n_types - r, r))])


class IncentiveRow(TypedDict):
    """One agent's line of the summary's ex-post incentive check (linked and unlinked):
    the best misreport's gain and label ("truth" when the gain is round-off)."""

    agent: int
    linked_gain: float
    linked_best: str
    unlinked_gain: float
    unlinked_best: str
    tried: int


def settle(mech: LinkedVCG, raw: np.ndarray, truth: np.ndarray, linked: bool, params: ResourceAllocationParams,
           endow: BinomialEndowments, rng: np.random.Generator) -> dict[str, Any]:  # fmt: skip
    """End-of-horizon settlement and metrics (the scenario's summary)."""
    started = time.perf_counter()
    weights = mech.payoff_weights()
    unlinked_alloc = mech.allocate(raw)
    unlinked = mech.unlinked_transfers(raw, unlinked_alloc)
    settlement = mech.linked_transfers(raw)
    alloc = settlement.allocation if linked else unlinked_alloc
    transfers = settlement.transfers if linked else unlinked
    efficient = weights @ mech.economy.efficient(truth.sum(axis=0)).value
    realized = weights @ mech.realized_payoffs(alloc, truth).sum(axis=1)  # as in LinkedVCG.efficiency
    cost_l, cost_u = mech.cost(settlement.transfers), mech.cost(unlinked)
    inside = mech.in_confidence_set(truth)
    scale = max(1.0, abs(float(realized)))
    checks: list[IncentiveRow] = []
    for k in range(min(params.incentive_agents, mech.n_agents)):
        lk = incentive_check(mech, raw, truth, k, rng, params.misreports, linked=True)
        uk = incentive_check(mech, raw, truth, k, rng, params.misreports, linked=False)
        checks.append({
            "agent": k,
            "linked_gain": lk.gain,
            "linked_best": lk.best if lk.gain > GAIN_TOL * scale else "truth",
            "unlinked_gain": uk.gain,
            "unlinked_best": uk.best if uk.gain > GAIN_TOL * scale else "truth",
            "tried": lk.tried,
        })  # fmt: skip
    truthful_inside = [c for c in checks if inside[c["agent"]] and np.allclose(raw[c["agent"]], truth[c["agent"]])]
    return {
        "mechanism": "linked" if linked else "unlinked",
        "endowments": params.endowments,
        "horizon_T": mech.horizon,
        "resources_R": mech.economy.n_resources,
        "project_types_I": mech.economy.n_types,
        "beta": mech.beta,
        "cost_linked": cost_l,
        "cost_unlinked": cost_u,
        "cost_ratio_linked_over_unlinked": cost_l / cost_u if cost_u > 0 else None,
        "surplus_efficient": float(efficient),
        "surplus_realized": float(realized),
        "efficiency": float(realized / efficient),
        "cost_to_surplus_linked": cost_l / float(efficient),
        "cost_to_surplus_unlinked": cost_u / float(efficient),
        "agent_utilities": mech.utilities(truth, transfers, alloc),
        "transfers_linked": settlement.transfers,
        "transfers_unlinked": unlinked,
        "groves_base": settlement.base,
        "agents_in_confidence_set": inside,
        "incentive_check": {
            "gain_tolerance": GAIN_TOL * scale,
            "max_linked_gain": max((ch["linked_gain"] for ch in checks), default=0.0),
            "max_linked_gain_truthful_inside": max((ch["linked_gain"] for ch in truthful_inside), default=0.0),
            "ex_post_ic_holds": all(ch["linked_gain"] <= GAIN_TOL * scale for ch in truthful_inside),
            "per_agent": checks,
        },
        "eps_ex_post": eps_ex_post(mech, truth, endow, params.eps) if params.endowments == "iid" else None,
        "settle_seconds": round(time.perf_counter() - started, 3),
    }


def eps_ex_post(mech: LinkedVCG, truth: np.ndarray, endow: BinomialEndowments, eps: float) -> dict[str, Any]:
    """§5 on the realized endowments of the true (iid) model: delta = P(some agent's
    T-date average leaves its interval), the believable conjecture c of Proposition 2,
    and, date by date, whether condition (2) lets each agent tell the truth."""
    x = endow.prob_outside(truth, mech.mu_low, mech.mu_high)
    delta = float(1.0 - np.prod(1.0 - x[:, 0]))
    vbar = mech.economy.vbar()
    z, c = believable_conjecture(delta, eps, mech.horizon, vbar, mech.beta, mech.n_agents)
    reasonable = reasonable_truthful(x[:, 1:], c, eps, vbar, mech.beta)
    return {
        "eps": eps,
        "vbar": vbar,
        "vbar_definition": "v(q_bar, inf 1) of this run's economy, q_bar = agents x q_bar_per_agent "
        "(Zhu 2021 §5; in §6.3 terms the k-model's, k times the per-agent economy's)",
        "delta_P_outside": delta,
        "believable_z": z,
        "conjecture_c": c,
        "prob_outside_at_start": x[:, 0],
        "agents_outside_realized": int((~mech.in_confidence_set(truth)).sum()),
        "truthful_dates_under_condition_2": reasonable.sum(axis=1),
        "all_reasonable_truthful_throughout": bool(reasonable.all()),
    }


class ResourceAllocation(Scenario):
    """Zhu 2021, *Repeated resource allocation*: N agents, T = rounds dates, linked vs
    unlinked VCG; truthful by default."""

    name = "resource-allocation"
    Params = ResourceAllocationParams
    mechanism_family = "linked_vcg"
    citation = cite(ZHU, "§4-§6")
    toml = Path(__file__).with_name("resource_allocation.toml")

    def build(self, config: RunConfig, params: Any, seed: np.random.SeedSequence) -> ScenarioInstance:
        n, horizon = config.agents, config.rounds
        ss_theta, ss_pi, ss_endow, ss_check = seed.spawn(4)
        theta = draw_theta(params, np.random.default_rng(ss_theta))
        econ = Economy(theta, np.full(params.resources, params.q_bar_per_agent * n))
        pi = np.zeros((n, params.project_types))
        pi_low, pi_high = params.pi_range
        pi[:, params.resources :] = np.random.default_rng(ss_pi).uniform(
            pi_low, pi_high, size=(n, params.project_types - params.resources)
        )
        design = None
        if params.design == "small-agents":
            ranges = pi.max(axis=0) / params.rho  # an endowment lies in [0, pi / rho]
            base = Economy(theta, np.full(params.resources, params.q_bar_per_agent), check_general_position=False)
            design = small_agents_design(base, pi, params.halfwidth, params.kappa, params.eps,
                                         lambda d, t: hoeffding_tail(d, t, ranges))  # fmt: skip
            if design.mechanism.horizon != horizon:
                raise ConfigError(
                    f"rounds: design = 'small-agents' with agents = {n}, kappa = {params.kappa} needs "
                    f"rounds = ceil(agents^kappa) = {design.mechanism.horizon}, got {horizon}"
                )
            mech = design.mechanism
        else:
            lo, hi = np.clip(pi - params.halfwidth, 0.0, None), pi + params.halfwidth
            mech = LinkedVCG(econ, horizon, lo, hi, beta=params.beta)
        endow = BinomialEndowments(pi, params.trials, params.rho)
        rng = np.random.default_rng(ss_endow)
        if params.endowments == "stylized":
            # Conditioned on a d of its own, the draw does not move with the mechanism's d
            # (common random numbers across a sweep of widths); [pi - d', pi + d'] lies inside
            # [max(pi - d, 0), pi + d] for d' <= d, so the truth stays in Omega.
            d_true = params.halfwidth if params.stylized_halfwidth is None else params.stylized_halfwidth
            truth = endow.sample_stylized(horizon, np.clip(pi - d_true, 0.0, None), pi + d_true, rng)
        else:
            truth = endow.sample(horizon, rng)
        adapter = self.make_mechanism(params, mech, truth)
        if not isinstance(adapter, ResourceAllocationRound):  # the settlement replays its reports
            raise ConfigError(
                f"params.mechanism: {params.mechanism!r} builds a {type(adapter).__name__}, "
                "not a ResourceAllocationRound"
            )
        check_rng = np.random.default_rng(ss_check)
        return ScenarioInstance(
            mechanism=adapter,
            budgets=np.ones(n),  # nominal: nothing is ever charged (the principal pays at T)
            values=UnitValues(n),
            agent_info={"mean_endowment": pi.sum(axis=1), "interval_halfwidth": np.full(n, params.halfwidth)},
            summarize=lambda model: {
                **settle(mech, adapter.raw, truth, adapter.linked, params, endow, check_rng),
                "small_agents_conjecture_c": None if design is None else design.conjecture,
                "small_agents_tail_f": None if design is None else design.tail,
                "small_agents_vbar": None if design is None else design.vbar,
            },
        )

    def plot_panels(self, run_dir: Path, out: Path) -> list[Path]:
        return plot_panels(run_dir, out)


register_scenario(ResourceAllocation())


def plot_panels(result_dir: str | Path, out: str | Path | None = None) -> list[Path]:
    """`mechsim plot` panel: each agent's linked vs unlinked VCG transfer (Zhu 2021 §4,
    Theorem 1: linked is weakly cheaper) with the Groves base the linking subtracts."""
    from abm.plotting import figure_title, output_dir, pyplot, read_summary, save_figure, snap_zero

    summary = read_summary(result_dir)
    s = summary["scenario_summary"]
    linked, unlinked = np.asarray(s["transfers_linked"]), np.asarray(s["transfers_unlinked"])
    scale = max(float(np.abs(linked).max(initial=0.0)), float(np.abs(unlinked).max(initial=0.0)))
    linked, unlinked = snap_zero(linked, scale), snap_zero(unlinked, scale)  # round-off is 0
    agents = np.arange(linked.shape[0])
    fig, ax = pyplot().subplots(figsize=(8, 4.5))
    ax.bar(agents - 0.2, unlinked, width=0.4, label=f"unlinked VCG (total {unlinked.sum():.4g})")
    ax.bar(agents + 0.2, linked, width=0.4, label=f"linked VCG (total {linked.sum():.4g})")
    ax.set_xlabel("agent")
    ax.set_ylabel("transfer paid by the principal at T")
    ax.set_xticks(agents)
    top = max(float(unlinked.max(initial=0.0)), float(linked.max(initial=0.0)))
    ax.set_ylim(0, 1.25 * top if top > 0 else 1.0)  # all zero: a readable axis, not 1e-9 ticks
    ax.legend(loc="upper center", ncols=2)
    ax.grid(alpha=0.3, axis="y")
    ax.set_title(figure_title(summary, f"Principal's transfers, efficiency {s['efficiency']:.3g}"))
    return [save_figure(fig, output_dir(result_dir, out) / "linked_vs_unlinked.png")]

"""One-sided allocation with tokens (Braverman 2021 §3.2): n agents, n items, unit demand.

Utilities u_ij are normalized per agent to min 0 / max 1 (Theorem 13's setting) from a
generator: `uniform` (i.i.d.), `correlated` (common item quality: u = c q_j + (1 - c)
noise), `paper_4x4` (§3.2.1; agents = 4) or `paper_2x2` (§3.2.3; agents = 2). Each agent
has B_i = budget * T tokens (1 per round on average, as in HZ's equal incomes) and bids
lambda_{i,t} each round; the learner sees the constant value 1, so adaptive pacing bids
1 / (1 + mu) and bang-per-buck 1 / r. The mechanism is APEX (Algorithm 1): `exact`
(repeated unit-demand VCG on lambda-scaled utilities, §3.2.1) or `regularized`
(Theorem 13's F_0 = -beta sum_ij 1/x_ij).

The summary reads the output as §2.1.2 does: X-bar, the average per-round item prices
(VCG prices of the lambda-scaled market, in tokens), each agent's token spend, and the HZ
residuals (`mechanisms.assignment.hz`) of (X-bar, average prices) at budgets `budget`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from abm.config import ConfigError, RunConfig
from abm.scenario import BUDGET_PER_ROUND_MAX, Scenario, ScenarioInstance, ScenarioParams, register_scenario
from mechanisms.apex.algorithm1 import Apex
from mechanisms.assignment.birkhoff import RegularizedAssignment
from mechanisms.assignment.hz import hz_residuals
from mechanisms.assignment.vcg import unit_demand_vcg
from mechanisms.registry import BRAVERMAN, cite
from scenarios.values import UnitValues

if TYPE_CHECKING:
    from mechanisms.assignment.theorem13 import Theorem13Report

#: Braverman 2021 §3.2.1 (4 players, items A-D) and §3.2.3 (2 players, items A, B), raw utilities.
PAPER_4X4 = np.array([[11, 9, 14, 0], [11, 9, 14, 0], [0, 0, 10, 0], [0, 0, 10, 0]], dtype=float)
PAPER_2X2 = np.array([[1, 0], [1, 0]], dtype=float)
#: x_bar is written to summary.json only up to this many agents (n^2 numbers).
MAX_XBAR_IN_SUMMARY = 100


class OneSidedParams(ScenarioParams):
    """utilities: uniform | correlated | paper_4x4 | paper_2x2. correlation: weight of the
    common item quality in `correlated`. heuristic: exact | regularized. beta: Theorem
    13's regularizer weight. tol: the regularized solver's duality-gap tolerance.
    budget: tokens per agent per round (B_i = budget * T). hz_tol: tolerance of the HZ
    verdict in the summary (X-bar and its prices are only approximately HZ). bid_cap:
    lambda-bar of Theorem 13, bids capped to [0, bid_cap] by the mechanism (None: uncapped).
    theorem13: for the regularized heuristic, compute Theorem 13's prices (eq. 47 best
    responses, one re-solve of every round per root-finding step and agent) and judge X-bar
    at them; needs every agent's bids recorded ([record] agents covering all agents)."""

    utilities: Literal["uniform", "correlated", "paper_4x4", "paper_2x2"] = "uniform"
    correlation: float = Field(default=0.5, ge=0.0, le=1.0)
    heuristic: str = Field(
        default="exact",
        description="the APEX mechanism of family assignment: exact (repeated unit-demand VCG) or regularized",
    )
    beta: float = Field(default=1e-3, gt=0.0)
    tol: float = Field(default=1e-9, gt=0.0)
    budget: float = Field(default=1.0, gt=0.0, le=BUDGET_PER_ROUND_MAX)
    hz_tol: float = Field(default=0.05, ge=0.0)
    bid_cap: float | None = Field(default=None, gt=0.0)
    theorem13: bool = True


def normalize(u: np.ndarray) -> np.ndarray:
    """Per agent: min 0, max 1 (Theorem 13); a constant row becomes all 0."""
    lo, hi = u.min(axis=1, keepdims=True), u.max(axis=1, keepdims=True)
    return (u - lo) / np.where(hi > lo, hi - lo, 1.0)


def make_utilities(kind: str, n: int, correlation: float, rng: np.random.Generator) -> np.ndarray:
    """Normalized n x n utilities of the named generator."""
    if kind in ("paper_4x4", "paper_2x2"):
        raw = PAPER_4X4 if kind == "paper_4x4" else PAPER_2X2
        if n != raw.shape[0]:
            k = raw.shape[0]
            raise ConfigError(f"params.utilities = {kind!r} has {k} agents: agents must be {k}, got {n}")
        return normalize(raw)
    if kind == "uniform":
        return normalize(rng.random((n, n)))
    quality = rng.random(n)
    return normalize(correlation * quality[None, :] + (1.0 - correlation) * rng.random((n, n)))


def theorem13_of_run(model: Any) -> Theorem13Report | None:
    """Theorem 13 read off a finished regularized run (`mechanisms.assignment.theorem13`),
    or None for the exact heuristic or when not every agent's bids were recorded."""
    from mechanisms.assignment.theorem13 import theorem13_report

    apex: Apex = model.mechanism
    trace = model.trace
    n = apex.n
    if not isinstance(apex.problem, RegularizedAssignment) or trace.agents.shape[0] != n or model.t == 0:
        return None
    x_bar = trace.outcome_path.x_bar.reshape(n, n)
    bids = trace.reports[: model.t]
    return theorem13_report(apex.problem, bids, x_bar, model.ledger.initial, apex.bid_cap)


def summarize(model: Any, u: np.ndarray, budget: float, hz_tol: float, theorem13: bool = True) -> dict[str, Any]:
    """X-bar, average item prices, token spend and the HZ residuals of X-bar.

    The HZ verdict (`hz`) is at the average per-round VCG prices for the exact heuristic
    (VCG prices of the lambda-scaled market, which is what repeated VCG charges). For the
    regularized heuristic it is at Theorem 13's prices (1 - delta) C(lambda*) (Braverman
    2021, §3.2.4): lambda* the eq. (47) best responses, delta the smallest for which X-bar
    is a delta-CE there; the per-round `item_prices` of that heuristic are VCG prices of
    the unregularized market at the played lambda_t, which X-bar need not clear."""
    apex: Apex = model.mechanism
    path = model.trace.outcome_path
    n = u.shape[0]
    x_bar = path.x_bar.reshape(n, n)
    prices = model.trace.mean_item_prices
    rounds = max(model.t, 1)
    spend = model.ledger.spent
    t13 = theorem13_of_run(model) if theorem13 else None
    if t13 is not None:
        verdict_prices = t13.deltas["full"].factor * t13.prices
        basis = "theorem13: (1 - delta) C(lambda*), Braverman 2021 §3.2.4"
    else:
        verdict_prices = prices
        basis = "mean per-round VCG prices"
    report = hz_residuals(u, x_bar, verdict_prices, budget, tol=hz_tol)
    utility = (u * x_bar).sum(axis=1)
    best = unit_demand_vcg(u)
    out: dict[str, Any] = {
        "agents": n,
        "heuristic": type(apex.problem).__name__,
        "item_prices_mean": np.round(prices, 8),
        "token_spend": np.round(spend, 8),
        "token_spend_per_round": np.round(spend / rounds, 8),
        "utility_x_bar": np.round(utility, 8),
        "welfare_x_bar": float(utility.sum()),
        "welfare_max_assignment": best.welfare,
        "hz": {**report.as_dict(), "prices": np.round(verdict_prices, 10), "price_basis": basis},
    }
    if t13 is not None:
        out["theorem13"] = t13.as_dict()
    if n <= MAX_XBAR_IN_SUMMARY:
        out["x_bar"] = np.round(x_bar, 8)
    return out


class OneSided(Scenario):
    """Braverman 2021 §3.2: APEX (plain or regularized) on one-sided unit-demand allocation."""

    name = "one-sided"
    Params = OneSidedParams
    citation = cite(BRAVERMAN, "§3.2")
    mechanism_family = "assignment"
    mechanism_param = "heuristic"
    toml = Path(__file__).with_name("one_sided.toml")

    def build(self, config: RunConfig, params: Any, seed: np.random.SeedSequence) -> ScenarioInstance:
        # Imported when a run is built, not when the scenario registers (`mechsim list`).
        from abm.metrics.pipeline import HZResidualStep

        n, T = config.agents, config.rounds
        u = make_utilities(params.utilities, n, params.correlation, np.random.default_rng(seed))
        bid_cap = np.inf if params.bid_cap is None else params.bid_cap
        mechanism = self.make_mechanism(params, u, params.beta, params.tol, bid_cap)
        return ScenarioInstance(
            mechanism=mechanism,
            budgets=np.full(n, params.budget * T),
            values=UnitValues(n),
            agent_info={"favorite_item": u.argmax(axis=1)},
            # lambda = 1 / (1 + mu) up to 10: a budget-bound agent may need lambda > 1.
            learner_defaults={"adaptive_pacing": {"mu_min": -0.9}},
            summarize=lambda model: summarize(model, u, params.budget, params.hz_tol, params.theorem13),
            # HZ residuals of (X-bar_t, mean prices) over time (Braverman 2021 §3.2).
            metric_steps=[HZResidualStep(u)],
        )


register_scenario(OneSided())

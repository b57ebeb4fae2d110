"""Course allocation with token budgets: APEX over local search or an exact MILP
(Braverman 2021, abstract and §2.1: APEX over any local-search optimizer).

n students, `courses` courses, at most `k` courses each; every course has the same number
of seats, `seats_ratio` of the n k seats demanded (fewer seats than demand: congestion).
Utilities u_ic in [0, 1], normalized per student to min 0 / max 1: `uniform` (i.i.d.) or
`popular` (a common course quality: u = c q_c + (1 - c) noise, c = `correlation`), and
f_i = sum_c u_ic x_ic / k. Each student has B_i = budget * T tokens and bids lambda_{i,t}
each round (the learner sees the constant value 1, as in one-sided allocation). The
mechanism (`heuristic`, family `course_allocation`): `local_search` (add, drop, swap, move
a seat, from X_t) or `exact` (MILP). The summary: `scenarios.apex_heuristics` (welfare
against the exact optimum, negative charges, Definition 1, seconds per round).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from abm.config import ConfigError, RunConfig
from abm.scenario import Scenario, ScenarioInstance, ScenarioParams, register_scenario
from mechanisms.base import Mechanism
from mechanisms.combinatorial.course_allocation import CourseAllocation
from mechanisms.currencies import BlockCurrencies, block_rounds
from mechanisms.registry import BRAVERMAN, cite
from scenarios.apex_heuristics import apex_of, heuristic_summary
from scenarios.values import UnitValues


class CourseAllocationParams(ScenarioParams):
    """Parameters of course-allocation (`mechsim describe course-allocation`)."""

    heuristic: str = Field(default="local_search", description="the H of APEX (family course_allocation): "
                           "local_search | exact")
    courses: int = Field(default=6, ge=1, description="number of courses m")
    k: int = Field(default=2, ge=1, description="at most k courses per student")
    seats_ratio: float = Field(default=0.75, gt=0.0, description="seats / (n k): each course has "
                               "max(1, floor(seats_ratio n k / m)) seats")
    utilities: Literal["uniform", "popular"] = Field(default="popular", description="i.i.d. or a common quality")
    correlation: float = Field(default=0.6, ge=0.0, le=1.0, description="weight of the common quality in popular")
    budget: float = Field(default=1.0, gt=0.0, description="tokens per student per round (B_i = budget * T)")
    welfare_rounds: int = Field(default=20, ge=0, description="rounds whose F_t(X_{t+1}) / max F_t is computed "
                                "(one MILP each)")
    monotonicity_probes: int = Field(default=8, ge=0, description="Definition 1 probes at the last round")
    terms: int = Field(default=1, ge=1, description="currencies d: a token budget per term, term j of the "
                       "horizon charged in currency j (1: one budget)")


def course_utilities(kind: str, n: int, m: int, correlation: float, rng: np.random.Generator) -> np.ndarray:
    """(n, m) utilities, per student min 0 / max 1 (a constant row becomes 0)."""
    raw = rng.random((n, m))
    if kind == "popular":
        raw = correlation * rng.random(m)[None, :] + (1.0 - correlation) * raw
    lo, hi = raw.min(axis=1, keepdims=True), raw.max(axis=1, keepdims=True)
    return (raw - lo) / np.where(hi > lo, hi - lo, 1.0)


class CourseAllocationScenario(Scenario):
    """Course allocation with capacities and token budgets: APEX over local search or a MILP."""

    name = "course-allocation"
    Params = CourseAllocationParams
    citation = cite(BRAVERMAN, "§2.1, Algorithm 1")
    mechanism_family = "course_allocation"
    mechanism_param = "heuristic"
    toml = Path(__file__).with_name("course_allocation.toml")

    def build(self, config: RunConfig, params: Any, seed: np.random.SeedSequence) -> ScenarioInstance:
        n, m, k = config.agents, params.courses, params.k
        instance_seed, probe_seed = seed.spawn(2)
        u = course_utilities(params.utilities, n, m, params.correlation, np.random.default_rng(instance_seed))
        seats = np.full(m, max(1, int(np.floor(params.seats_ratio * n * k / m))))
        apex = apex_of(self.make_mechanism(params, u, seats, k), self.name)
        reference = CourseAllocation(u, seats, k)  # F and the exact optimum, whatever H is
        if params.terms > config.rounds:
            raise ConfigError(f"params.terms: {params.terms} terms need rounds >= {params.terms}, got {config.rounds}")
        mechanism: Mechanism = apex
        # B_i = budget * T tokens: one currency, or per term budget * (rounds in the term).
        budgets = np.full(n, params.budget * config.rounds)
        if params.terms > 1:
            mechanism = BlockCurrencies(apex, params.terms, config.rounds)
            budgets = np.outer(np.ones(n), params.budget * block_rounds(params.terms, config.rounds))

        def decode(row: np.ndarray) -> np.ndarray:
            return row.reshape(n, m) > 0.5

        return ScenarioInstance(
            mechanism=mechanism,
            budgets=budgets,
            values=UnitValues(n),
            agent_info={"favorite_course": u.argmax(axis=1)},
            learner_defaults={"adaptive_pacing": {"mu_min": -0.9}},
            summarize=lambda model: {
                "students": n, "courses": m, "k": k, "seats": int(seats[0]),
                **heuristic_summary(model, reference, decode, params.welfare_rounds,
                                    params.monotonicity_probes, probe_seed, apex=apex),
            },
        )


class CourseAllocationTermsParams(CourseAllocationParams):
    """Parameters of course-allocation-terms: course-allocation with a budget per term."""

    terms: int = Field(default=2, ge=1, description="currencies d: a token budget per term, term j of the "
                       "horizon charged in currency j")


class CourseAllocationTermsScenario(CourseAllocationScenario):
    """Course allocation with a token budget per term: d = `terms` currencies (Braverman 2021
    §2.3, Problem 13: several budgets), played by budgeted learners with d duals."""

    name = "course-allocation-terms"
    Params = CourseAllocationTermsParams
    citation = cite(BRAVERMAN, "§2.3, Problem 13")
    toml = Path(__file__).with_name("course_allocation_terms.toml")


register_scenario(CourseAllocationScenario())
register_scenario(CourseAllocationTermsScenario())

"""Facility location with token budgets: APEX over local search or an exact MILP
(Braverman 2021, abstract and §2.1: APEX over any local-search optimizer).

n clients and `sites` candidate sites, both uniform in the unit square; client i's
utility from site j is s_ij = exp(-d_ij / radius), and f_i(S) = max_{j in S} s_ij for the
open set S. Opening site j costs c_j = cost * n / sites * U[0.5, 1.5] tokens of the
principal's f_0(S) = -sum_{j in S} c_j. Each client has B_i = budget * T tokens and bids
lambda_{i,t} each round. The mechanism (`heuristic`, family `facility_location`):
`local_search` (add, drop, swap a site, from X_t) or `exact` (MILP). The summary:
`scenarios.apex_heuristics` (welfare against the exact optimum, negative charges,
Definition 1, seconds per round).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from abm.config import RunConfig
from abm.scenario import Scenario, ScenarioInstance, ScenarioParams, register_scenario
from mechanisms.combinatorial.facility_location import FacilityLocation
from mechanisms.registry import BRAVERMAN, cite
from scenarios.apex_heuristics import apex_of, heuristic_summary
from scenarios.values import UnitValues


class FacilityLocationParams(ScenarioParams):
    """Parameters of facility-location (`mechsim describe facility-location`)."""

    heuristic: str = Field(default="local_search", description="the H of APEX (family facility_location): "
                           "local_search | exact")
    sites: int = Field(default=10, ge=1, description="number of candidate sites m")
    radius: float = Field(default=0.15, gt=0.0, description="s_ij = exp(-d_ij / radius)")
    cost: float = Field(default=0.3, ge=0.0, description="c_j = cost * n / m * U[0.5, 1.5] tokens")
    budget: float = Field(default=1.0, gt=0.0, description="tokens per client per round (B_i = budget * T)")
    welfare_rounds: int = Field(default=20, ge=0, description="rounds whose F_t(X_{t+1}) / max F_t is computed "
                                "(one MILP each)")
    monotonicity_probes: int = Field(default=8, ge=0, description="Definition 1 probes at the last round")


def facility_instance(
    n: int, m: int, radius: float, cost: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(service (n, m), costs (m,)) of a random instance in the unit square."""
    clients, sites = rng.random((n, 2)), rng.random((m, 2))
    service = np.exp(-np.linalg.norm(clients[:, None, :] - sites[None, :, :], axis=2) / radius)
    return service, cost * n / m * rng.uniform(0.5, 1.5, m)


class FacilityLocationScenario(Scenario):
    """Facility location with opening costs and token budgets: APEX over local search or a MILP."""

    name = "facility-location"
    Params = FacilityLocationParams
    citation = cite(BRAVERMAN, "§2.1, Algorithm 1")
    mechanism_family = "facility_location"
    mechanism_param = "heuristic"
    toml = Path(__file__).with_name("facility_location.toml")

    def build(self, config: RunConfig, params: Any, seed: np.random.SeedSequence) -> ScenarioInstance:
        n, m = config.agents, params.sites
        instance_seed, probe_seed = seed.spawn(2)
        service, costs = facility_instance(n, m, params.radius, params.cost, np.random.default_rng(instance_seed))
        mechanism = apex_of(self.make_mechanism(params, service, costs), self.name)
        reference = FacilityLocation(service, costs)  # F and the exact optimum, whatever H is

        def decode(row: np.ndarray) -> np.ndarray:
            return row > 0.5

        return ScenarioInstance(
            mechanism=mechanism,
            budgets=np.full(n, params.budget * config.rounds),
            values=UnitValues(n),
            agent_info={"nearest_site": service.argmax(axis=1)},
            learner_defaults={"adaptive_pacing": {"mu_min": -0.9}},
            summarize=lambda model: {
                "clients": n, "sites": m, "opening_costs": np.round(costs, 8),
                **heuristic_summary(model, reference, decode, params.welfare_rounds,
                                    params.monotonicity_probes, probe_seed),
            },
        )


register_scenario(FacilityLocationScenario())

"""A mechsim plug-in (docs/extending.md, "An APEX problem: your own optimizer as H"):

- `ProjectSelection`, an APEX problem (Braverman 2021, §2.1): choose projects within a cost
  budget; voter i's utility is the share of its total value the chosen projects carry; the
  heuristic H is local search (add, drop or swap one project) from the last outcome X_t;
- `project-selection`, a scenario that runs Algorithm 1 over it with token budgets.

    mechsim run project-selection --plugin docs/examples/apex_projects.py --rounds 200
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from abm.config import RunConfig
from abm.scenario import Scenario, ScenarioInstance, ScenarioParams, register_scenario
from mechanisms.apex import Apex
from mechanisms.apex.local_search import LocalSearchProblem
from scenarios.values import UnitValues


# --8<-- [problem]
class ProjectSelection(LocalSearchProblem):
    """Outcome: a boolean vector over m projects of total cost <= budget. f_i(x) = the share
    of voter i's value on the chosen projects (in [0, 1]); f_0 + R = 0; H = the inherited
    best-improvement local search over `neighbours`."""

    def __init__(self, values: np.ndarray, costs: np.ndarray, budget: float) -> None:
        self.values, self.costs, self.budget = values, costs, budget
        self.n, self.m = values.shape

    def utilities(self, x: np.ndarray) -> np.ndarray:  # the players' f_i
        return self.values @ x / self.values.sum(axis=1)

    def base(self, x: np.ndarray) -> float:  # the principal's f_0 + R_t: indifferent here
        return 0.0

    def initial(self) -> np.ndarray:  # X_0: nothing funded
        return np.zeros(self.m, dtype=bool)

    def neighbours(self, x: np.ndarray) -> Iterator[np.ndarray]:  # one project added, dropped or swapped
        for j in range(self.m):
            for k in [j, *range(j + 1, self.m)]:
                if k != j and x[k] == x[j]:
                    continue  # a swap flips one funded and one unfunded project
                y = x.copy()
                y[[j, k]] = ~x[[j, k]]
                if self.costs @ y <= self.budget:
                    yield y

    def as_array(self, x: np.ndarray) -> np.ndarray:  # X-bar: each project's share of rounds funded
        return x.astype(np.float64)


# --8<-- [scenario]
class ProjectSelectionParams(ScenarioParams):
    """Parameters of project-selection (`mechsim describe project-selection`)."""

    projects: int = Field(default=8, ge=1, description="number of projects m")
    budget_share: float = Field(default=0.4, gt=0.0, le=1.0, description="budget = share of the total cost")
    tokens: float = Field(default=1.0, gt=0.0, description="tokens per voter per round (B_i = tokens * T)")


class ProjectSelectionScenario(Scenario):
    """Participatory budgeting: APEX (Algorithm 1) over local search, voters with token budgets."""

    name = "project-selection"
    Params = ProjectSelectionParams
    toml = Path(__file__).with_name("apex_projects.toml")

    def build(self, config: RunConfig, params: Any, seed: np.random.SeedSequence) -> ScenarioInstance:
        n, rng = config.agents, np.random.default_rng(seed)
        costs = rng.uniform(0.5, 1.5, params.projects)
        problem = ProjectSelection(rng.random((n, params.projects)), costs, params.budget_share * costs.sum())
        apex = Apex(problem)  # Algorithm 1: H (problem.argmax) for X_{t+1} and for every X^{-i}_{t+1}
        return ScenarioInstance(
            mechanism=apex,
            budgets=np.full(n, params.tokens * config.rounds),
            values=UnitValues(n),  # the f_i are fixed; learners bid lambda against the value 1
            summarize=lambda model: {"negative_charges": apex.audit.as_dict()["negative_charges"]},
        )


register_scenario(ProjectSelectionScenario())

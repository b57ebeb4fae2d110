"""A test plug-in that the contract tests load (tests/helpers.py `CONTRACT_PLUGINS`), so
its mechanisms, learner and scenario go through the same parametrized contracts as the
built-in ones:

- `contract_posted_price`: a mechanism in the built-in `public_goods` family (factory `()`);
- `contract_posted_price` in a family of its own, `contract_posted`, with factory
  `(price)`, and the contract instance for that family in `CONTRACT_INSTANCES` (the hook
  by which a plug-in that adds a family tells the mechanism contract how to build a small
  instance of it);
- `contract_half_value`: a learner that reports half its value;
- `contract-posted-price`: a scenario running a `public_goods` mechanism on artificial
  currency, with its TOML beside this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from abm.scenario import Scenario, ScenarioInstance, ScenarioParams, register_scenario
from agents.base import Learner, LearnerParams
from agents.registry import register_learner
from mechanisms.base import Mechanism, Reports, RoundResult, check_vector
from mechanisms.public_goods.artificial_currency import ArtificialCurrency
from mechanisms.registry import Citation, register_mechanism
from scenarios.public_goods import UniformValues

CITATION = Citation("mechsim tests", "contract plug-in")


class PostedPrice(Mechanism):
    """Posted price: every agent whose report is >= `price` is served and pays `price`."""

    name = "contract_posted_price"

    def __init__(self, price: float = 0.5) -> None:
        if not (np.isfinite(price) and price > 0):
            raise ValueError(f"price must be finite and > 0, got {price}")
        self.price = float(price)
        self.p_max = self.price

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        bids = check_vector("bids", reports.bids)
        values = check_vector("values", reports.values, bids.shape[0])
        served = bids >= self.price
        return RoundResult(
            outcome=served,
            utilities=values * served,
            charges=np.where(served, self.price, 0.0),
            allocated=bool(served.any()),
        )

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        agents = np.arange(reports.bids.shape[0]) if agents is None else np.asarray(agents)
        served = np.asarray(alternatives, dtype=np.float64) >= self.price
        return reports.values[agents][:, None] * served, np.where(served, self.price, 0.0)

    def menu_breakpoints(self, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None) -> np.ndarray:
        """Two pieces: not served (report 0) and served (report `price`)."""
        m = reports.bids.shape[0] if agents is None else len(agents)
        return np.tile([0.0, self.price], (m, 1))


register_mechanism("contract_posted_price", family="public_goods", citation=CITATION)(PostedPrice)


@register_mechanism("contract_posted_price", family="contract_posted", citation=CITATION)
def posted_price_factory(price: float) -> Mechanism:
    """Posted price at `price` (the `contract_posted` family's factory: `(price)`)."""
    return PostedPrice(price)


def posted_instance(factory: Any, rng: np.random.Generator) -> tuple[Mechanism, np.ndarray, float]:
    """Contract instance of the `contract_posted` family: (mechanism, values (n,), largest bid)."""
    return factory(float(rng.uniform(0.2, 0.8))), rng.random(4), 5.0


#: The contract-instance hook (tests/contracts/conftest.py): family -> make_instance.
CONTRACT_INSTANCES = {"contract_posted": posted_instance}


class HalfValueParams(LearnerParams):
    share: float = Field(default=0.5, gt=0.0, le=1.0, description="report value * share")


@register_learner("contract_half_value", citation=CITATION)
class HalfValue(Learner):
    """Reports `share` (default half) of its value, capped at its remaining budget."""

    Params = HalfValueParams
    params: HalfValueParams

    def _act(self, obs):
        return np.minimum(obs.values * self.params.share, obs.budget)

    def _observe(self, feedback):
        pass


class PostedParams(ScenarioParams):
    mechanism: str = Field(default="contract_posted_price", description="a public_goods mechanism")
    alpha: float = Field(default=0.5, gt=0.0, le=1.0, description="total share")


@register_scenario
class PostedPriceScenario(Scenario):
    """A plug-in scenario: one good per round sold by a public_goods mechanism for tokens."""

    name = "contract-posted-price"
    Params = PostedParams
    mechanism_family = "public_goods"
    toml = Path(__file__).with_name("plugin_example.toml")

    def build(self, config, params, seed):
        n = config.agents
        shares = np.full(n, params.alpha / n)
        mechanism = ArtificialCurrency(self.make_mechanism(params), shares)
        return ScenarioInstance(
            mechanism=mechanism,
            budgets=mechanism.initial_budgets(config.rounds),
            values=UniformValues(n),
            agent_info={"share": shares},
        )

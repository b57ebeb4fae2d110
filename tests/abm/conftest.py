"""Fixtures of tests/abm: a user plug-in written to tmp_path — a first-price auction
charged in tokens (into the built-in `public_goods` family), a fixed-multiplier pacing
learner and a scenario of its own — unregistered again after the test."""

import itertools
import sys

import pytest

from abm import plugins
from abm.scenario import SCENARIOS
from agents.registry import LEARNERS
from mechanisms.registry import MECHANISMS

PLUGIN = '''
import numpy as np
from pathlib import Path
from pydantic import Field

from abm.scenario import Scenario, ScenarioInstance, ScenarioParams, register_scenario
from agents.base import Learner, LearnerParams
from agents.registry import register_learner
from mechanisms.base import Mechanism, RoundResult
from mechanisms.public_goods.artificial_currency import ArtificialCurrency
from mechanisms.registry import Citation, register_mechanism
from scenarios.public_goods import UniformValues


@register_mechanism("{prefix}fpa_tokens", family="public_goods", citation=Citation("A. User", "Notes", "§1"))
class FirstPriceTokens(Mechanism):
    """First-price auction charged in tokens: the highest report wins and pays it."""

    name = "{prefix}fpa_tokens"
    p_max = 1.0

    def run_round(self, reports, rng):
        bids = np.minimum(reports.bids, 1.0)
        served = np.zeros(bids.shape[0], dtype=bool)
        if bids.max() > 0:
            served[int(np.argmax(bids))] = True
        return RoundResult(
            outcome=served, utilities=reports.values * served, charges=np.where(served, bids, 0.0),
            allocated=bool(served.any()),
        )


class FixedPacingParams(LearnerParams):
    multiplier: float = Field(default=0.5, gt=0.0, description="report value * multiplier")


@register_learner("{prefix}fixed_pacing")
class FixedPacing(Learner):
    """Fixed-multiplier pacing: report value * multiplier every round."""

    Params = FixedPacingParams

    def _act(self, obs):
        return obs.values * self.params.multiplier

    def _observe(self, feedback):
        pass


class AuctionParams(ScenarioParams):
    mechanism: str = Field(default="{prefix}fpa_tokens", description="a public_goods mechanism")
    alpha: float = Field(default=0.5, gt=0.0, le=1.0, description="total share")


@register_scenario
class TokenAuction(Scenario):
    """A user's scenario: one good per round sold by a public_goods mechanism for tokens."""

    name = "{prefix}token-auction"
    Params = AuctionParams
    mechanism_family = "public_goods"
    toml = Path(__file__).with_name("{prefix}token_auction.toml")

    def build(self, config, params, seed):
        n = config.agents
        shares = np.full(n, params.alpha / n)
        mechanism = ArtificialCurrency(self.make_mechanism(params), shares)
        return ScenarioInstance(
            mechanism=mechanism,
            budgets=mechanism.initial_budgets(config.rounds),
            values=UniformValues(n),
            agent_info={{"share": shares}},
        )
'''

TOML = '''scenario = "{prefix}token-auction"
rounds = 30
agents = 3
record_menus = false
[learner]
name = "{prefix}fixed_pacing"
'''


def write_plugin(directory, prefix):
    """Write the plug-in and its TOML into `directory`; return the plug-in path."""
    path = directory / f"{prefix}plugin.py"
    path.write_text(PLUGIN.format(prefix=prefix))
    (directory / f"{prefix}token_auction.toml").write_text(TOML.format(prefix=prefix))
    return path


_counter = itertools.count()


class PluginFiles:
    def __init__(self, directory, prefix):
        self.prefix = prefix
        self.path = write_plugin(directory, prefix)
        self.toml = directory / f"{prefix}token_auction.toml"
        self.scenario = f"{prefix}token-auction"
        self.mechanism = f"{prefix}fpa_tokens"
        self.learner = f"{prefix}fixed_pacing"

    def unregister(self):
        SCENARIOS.pop(self.scenario)
        MECHANISMS.remove(self.mechanism, "public_goods")
        LEARNERS.pop(self.learner)
        for spec in [s for s in plugins._loaded if s.endswith(self.path.name)]:
            plugins._loaded.pop(spec)
        for name in [m for m in sys.modules if m.startswith(f"mechsim_plugin_{self.prefix}")]:
            del sys.modules[name]


@pytest.fixture
def plugin(tmp_path):
    """A plug-in file (and a run TOML next to it) with names unique to this test."""
    files = PluginFiles(tmp_path, f"p{next(_counter)}_")
    yield files
    files.unregister()

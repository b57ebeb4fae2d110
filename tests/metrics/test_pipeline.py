"""The metrics pipeline: steps chosen by what was recorded and by declared capabilities,
scenario hooks (ScenarioInstance.metric_steps) merged into the run's outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import abm
from abm.metrics.pipeline import (
    FINAL_STEPS,
    GENERIC_STEPS,
    CoreFactorStep,
    HZResidualStep,
    MetricStep,
    RunRecords,
    StepOutput,
)
from abm.scenario import SCENARIOS, Scenario, ScenarioInstance, register_scenario
from mechanisms.public_goods.monetary import Proportional
from scenarios.values import UnitValues


class MeanUtilityStep:
    """A scenario's own metric: the mean realized utility per traced agent."""

    name = "mean_utility"

    def applies(self, records: RunRecords) -> bool:
        return records.t_done > 0

    def compute(self, records: RunRecords) -> StepOutput:
        mean = records.utilities.mean(axis=0)
        return StepOutput(
            agent_columns={"mean_utility": mean},
            round_columns={"round_utility_sum": records.utilities.sum(axis=1)},
            summary={"mean_utility": float(mean.mean())},
        )


class NeverStep(MeanUtilityStep):
    name = "never"

    def applies(self, records: RunRecords) -> bool:
        return False

    def compute(self, records: RunRecords) -> StepOutput:
        raise AssertionError("a step that does not apply must not run")


class HookScenario(Scenario):
    name = "pipeline-hook-test"
    toml = Path(__file__)

    def build(self, config: Any, params: Any, seed: np.random.SeedSequence) -> ScenarioInstance:
        n = config.agents
        return ScenarioInstance(
            mechanism=Proportional(),
            budgets=np.full(n, float(config.rounds)),
            values=UnitValues(n),
            metric_steps=[MeanUtilityStep(), NeverStep()],
        )


@pytest.fixture
def hook_scenario():
    register_scenario(HookScenario())
    yield HookScenario.name
    SCENARIOS.pop(HookScenario.name, None)


def test_every_step_is_a_metric_step():
    for step in (*GENERIC_STEPS, *FINAL_STEPS, CoreFactorStep(np.ones(2)), HZResidualStep(np.eye(2))):
        assert isinstance(step, MetricStep)


def test_scenario_metric_steps_are_run_and_merged(hook_scenario):
    res = abm.run({"scenario": hook_scenario, "agents": 3, "rounds": 40, "seed": 1}, progress=False)
    util = res.model.trace.utilities
    np.testing.assert_allclose(res.agent_table["mean_utility"], util.mean(axis=0))
    np.testing.assert_allclose(res.rounds["round_utility_sum"], util.sum(axis=1))
    met = res.summary["metrics"]
    assert met["mean_utility"] == pytest.approx(util.mean())
    # Generic steps still ran; no scenario hook of public goods (core) leaked in.
    assert "depletion" in met and "strong_regret" in met and "core" not in met
    # Proportional declares ExactMenu: its breakpoints are recorded.
    assert met["strong_regret"]["exact_menu"] is True


def test_public_goods_core_and_exact_menu_through_the_currency_wrapper():
    res = abm.run("public-goods", overrides={"rounds": 120, "agents": 3, "seed": 4}, progress=False)
    met = res.summary["metrics"]
    assert met["strong_regret"]["exact_menu"] is True  # ArtificialCurrency forwards ExactMenu
    assert "ex_ante" in met["core"] and "beta" in res.agent_table
    again = abm.run("public-goods", overrides={"rounds": 120, "agents": 3, "seed": 4}, progress=False)
    assert again.summary["metrics"]["core"]["ex_ante"] == met["core"]["ex_ante"]  # the named stream is seeded


def test_value_scaling_beta_reads_each_agent_before_its_depletion():
    """Issue 14: beta came from the run's last 10% of rounds, so an agent that depleted earlier
    had no positive report there, beta = inf, and the ex-ante core read it as never bidding.
    Now: the median V/report over the agent's own last ceil(0.1 T) active rounds (hand values)."""
    from abm.metrics.core import value_scaling_beta

    t = 20
    values = np.ones((t, 3))
    reports = np.zeros((t, 3))
    reports[:, 0] = 0.5  # V/report = 2 throughout
    reports[:8, 1] = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.25, 0.5]  # depleted after round 8: last 2 are 4, 2
    beta = value_scaling_beta(values, reports, 0.1)  # window ceil(2) = 2 active rounds
    assert beta[0] == pytest.approx(2.0)
    assert beta[1] == pytest.approx(3.0)  # median of 4 and 2
    assert beta[2] == np.inf  # never reported
    with pytest.raises(ValueError, match="window"):
        value_scaling_beta(values, reports, 0.0)


def test_ex_ante_core_is_finite_when_an_agent_depletes_early():
    """A greedy agent reporting 3 V depletes at round 90 of 400; its beta is 1/3 (V/report),
    not inf, and the summary states the rule and the induced allocation's overspend."""
    cfg = {
        "scenario": "public-goods", "rounds": 400, "seed": 2,
        "population": [
            {"name": "pacers", "count": 3, "learner": "adaptive_pacing"},
            {"name": "spender", "count": 1, "learner": "greedy", "params": {"multiplier": 3.0}},
        ],
    }
    res = abm.run(cfg, progress=False)
    table = res.agent_table
    assert 0 < table["depletion_round"].iloc[3] < 360  # depleted before the last 10% of rounds
    assert table["beta"].iloc[3] == pytest.approx(1.0 / 3.0)
    ex = res.summary["metrics"]["core"]["ex_ante"]
    assert ex["beta_infinite"] == 0 and np.isfinite(ex["lp_gamma"]) and np.isfinite(ex["halfspace_gamma"])
    assert "before depletion" in ex["beta"]
    assert ex["max_spend_over_share"] > 1.0  # reporting 3 V forever overspends its share
    assert ex["run_allocated_fraction"] == pytest.approx(res.rounds["allocated"].mean())

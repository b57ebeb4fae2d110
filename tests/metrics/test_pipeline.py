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

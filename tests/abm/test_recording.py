"""Recording by declared capability: the outcome path X-bar for any `OutcomeAverage`
mechanism (a plug-in declaring only `outcome_array` included), exact menus for `ExactMenu`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import abm
from abm.recording import OutcomePath, TraceRecorder, checkpoints
from abm.scenario import SCENARIOS, Scenario, ScenarioInstance, register_scenario
from mechanisms.base import Mechanism, Reports, RoundResult
from mechanisms.capabilities import ExactMenu, OutcomeAverage
from scenarios.values import UnitValues


class CoinLottery(Mechanism):
    """A plug-in-style mechanism: a lottery over two alternatives proportional to the bids
    on each side, returned as a dict (not an array); it declares nothing but `outcome_array`."""

    name = "coin-lottery"

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        bids = reports.bids
        heads = float(bids[::2].sum())
        tails = float(bids[1::2].sum())
        p = 0.5 if heads + tails == 0 else heads / (heads + tails)
        utilities = np.where(np.arange(bids.shape[0]) % 2 == 0, p, 1.0 - p)
        return RoundResult({"heads": p, "tails": 1.0 - p}, utilities, np.zeros(bids.shape[0]), allocated=True)

    def outcome_array(self, outcome: dict[str, float]) -> np.ndarray:
        return np.array([outcome["heads"], outcome["tails"]])


class CoinScenario(Scenario):
    name = "coin-lottery-test"
    toml = Path(__file__)

    def build(self, config: Any, params: Any, seed: np.random.SeedSequence) -> ScenarioInstance:
        n = config.agents
        return ScenarioInstance(mechanism=CoinLottery(), budgets=np.full(n, float(config.rounds)), values=UnitValues(n))


@pytest.fixture
def coin_scenario():
    register_scenario(CoinScenario())
    yield CoinScenario.name
    SCENARIOS.pop(CoinScenario.name, None)


def test_plugin_mechanism_with_only_outcome_array_gets_x_bar_recorded(coin_scenario):
    mech = CoinLottery()
    assert isinstance(mech, OutcomeAverage) and not isinstance(mech, ExactMenu)
    res = abm.run(
        {"scenario": coin_scenario, "agents": 3, "rounds": 30, "seed": 2, "learner": {"name": "hedge"}},
        progress=False,
    )
    model = res.model
    path = model.trace.outcome_path
    # X-bar equals the mean of the outcomes replayed from the recorded bids.
    bids = model.trace.reports
    replay = np.array([mech.outcome_array(mech.run_round(Reports(b, np.ones(3)), None).outcome) for b in bids])
    np.testing.assert_allclose(path.x_bar, replay.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(path.x_bar.sum(), 1.0)
    np.testing.assert_allclose(path.mean_bids, bids.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(path.outcomes, replay)
    assert "outcome_distance" in res.rounds
    assert "outcome_distance_at_half" in res.summary["metrics"]
    tr = path.trace(5)
    assert tr["rounds"] == [0, 7, 14, 22, 29]
    np.testing.assert_allclose(tr["running_mean"][-1], path.x_bar, atol=1e-12)
    np.testing.assert_allclose(tr["outcome"][2], replay[14])
    np.testing.assert_allclose(tr["running_mean"][2], replay[:15].mean(axis=0), atol=1e-12)


class Opaque(Mechanism):
    """An outcome that is neither an array nor declared `OutcomeAverage`: not traced."""

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        n = reports.bids.shape[0]
        return RoundResult("nothing", np.zeros(n), np.zeros(n), allocated=False)


def test_undeclared_non_array_outcomes_are_not_traced():
    trace = TraceRecorder(Opaque(), 4, 2)
    mech = Opaque()
    for t in range(4):
        trace.record(t, np.ones(2), np.ones(2), mech.run_round(Reports(np.ones(2), np.ones(2)), None))
    assert trace.outcomes is None and not trace.outcome_path.recorded
    with pytest.raises(ValueError, match="x_bar"):
        _ = trace.outcome_path.x_bar
    np.testing.assert_allclose(trace.outcome_path.mean_bids, 1.0)


def test_large_outcomes_keep_x_bar_and_live_checkpoints(monkeypatch):
    """Beyond the per-round memory cap the path keeps the sum behind X-bar and checkpoints."""
    import abm.recording.series as rec

    monkeypatch.setattr(rec, "TRACE_OUTCOME_MAX", 50)
    monkeypatch.setattr(rec, "OUTCOME_PATH_POINTS", 4)
    mech = CoinLottery()
    path = OutcomePath(mech, 40)
    outs = []
    rng = np.random.default_rng(0)
    for t in range(40):
        bids = rng.random(4)
        res = mech.run_round(Reports(bids, np.ones(4)), rng)
        outs.append(mech.outcome_array(res.outcome))
        path.record(t, bids, res)
    outs = np.array(outs)
    assert path.outcomes is None
    np.testing.assert_allclose(path.x_bar, outs.mean(axis=0))
    tr = path.trace(200)
    assert tr["rounds"] == checkpoints(40, 4).tolist()
    for r, mean in zip(tr["rounds"], tr["running_mean"], strict=True):
        np.testing.assert_allclose(mean, outs[: r + 1].mean(axis=0))

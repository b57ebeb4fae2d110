"""The model follows Mesa's conventions: `running`, `steps` as the one clock, collection
at construction, keyword construction, `run_model()` and `mesa.batch_run`."""

from __future__ import annotations

import mesa
import numpy as np
import pandas as pd
import pytest

import abm
from abm import ConfigError, MechanismModel


def test_running_turns_false_at_the_horizon_and_extra_steps_play_nothing():
    model = MechanismModel(scenario="public-goods", agents=3, rounds=5, seed=1)
    assert model.running and model.steps == 0
    for t in range(5):
        assert model.running
        model.step()
        assert model.steps == t + 1 == model.t
    assert not model.running
    spent = model.ledger.spent.copy()
    model.step()  # past the horizon: no round, no error, the clock stays at T
    assert model.steps == 5 and not model.running
    np.testing.assert_array_equal(model.ledger.spent, spent)
    assert len(model.datacollector.get_model_vars_dataframe()) == 6  # step 0 + 5 rounds


def test_run_model_plays_exactly_t_rounds():
    model = MechanismModel(scenario="public-goods", agents=4, rounds=30, seed=2)
    model.run_model()
    assert model.steps == 30 and model.ledger.rounds == 30 and not model.running


def test_collects_the_initial_state_at_construction():
    model = MechanismModel(scenario="public-goods", agents=4, rounds=10, seed=0)
    mv = model.datacollector.get_model_vars_dataframe()
    assert len(mv) == 1
    row = mv.iloc[0]
    assert row["total_charged"] == 0 and not row["allocated"]
    assert row["mean_budget_remaining"] == pytest.approx(model.ledger.initial.mean())


def test_keyword_construction_equals_the_config_and_takes_scenario_params():
    a = MechanismModel(scenario="public-goods", agents=8, rounds=50, seed=3, mechanism="moulin")
    b = MechanismModel({"scenario": "public-goods", "agents": 8, "rounds": 50, "seed": 3,
                        "params": {"mechanism": "moulin"}})
    assert a.config.params["mechanism"] == "moulin" and a.mechanism.name == b.mechanism.name
    a.run_model()
    b.run_model()
    np.testing.assert_array_equal(a.ledger.spent, b.ledger.spent)
    with pytest.raises(ConfigError, match="scenario=NAME"):
        MechanismModel(agents=3)
    with pytest.raises(ConfigError, match="rounds"):
        MechanismModel(scenario="public-goods", rounds=-1)


def test_same_results_as_the_runner():
    model = MechanismModel(scenario="public-goods", agents=5, rounds=80, seed=4)
    model.run_model()
    res = abm.run({"scenario": "public-goods", "agents": 5, "rounds": 80, "seed": 4}, progress=False)
    np.testing.assert_array_equal(model.ledger.spent, res.model.ledger.spent)
    np.testing.assert_array_equal(model.cum_utility, res.agent_table["utility"].to_numpy())


def test_batch_run_reaches_the_horizon_with_reporters_of_one_step():
    rows = mesa.batch_run(
        MechanismModel,
        parameters={"scenario": "public-goods", "agents": [5, 10], "rounds": 200},
        iterations=2,
        max_steps=200,
        number_processes=1,
        display_progress=False,
    )
    df = pd.DataFrame(rows)
    assert set(df["agents"]) == {5, 10} and df["RunId"].nunique() == 4
    # batch_run reports its last collected step as `steps - 1` (mesa/batchrunner.py), here
    # 199; every run played all 200 rounds (the loop stops on `running`).
    assert (df["Step"] == 199).all()
    assert len(df) == 2 * (5 + 10)  # one row per agent per run
    _assert_same_step(df)


def test_batch_run_every_step_pairs_model_and_agent_reporters_of_that_step():
    rows = mesa.batch_run(
        MechanismModel,
        parameters={"scenario": "public-goods", "agents": 4, "rounds": 30},
        iterations=1,
        max_steps=30,
        number_processes=1,
        data_collection_period=1,
        display_progress=False,
    )
    df = pd.DataFrame(rows)
    assert sorted(df["Step"].unique()) == list(range(30))  # batch_run reads steps 0..steps-1
    assert (df.groupby("Step").size() == 4).all()
    _assert_same_step(df)
    first = df[df["Step"] == 0]
    assert (first["charge"] == 0).all() and (first["total_charged"] == 0).all()


def _assert_same_step(df: pd.DataFrame) -> None:
    """The model reporters of a row describe the same step as its agent reporters: the mean
    of the agents' budgets is the model's mean budget, their charges sum to its total."""
    for _, rows in df.groupby(["RunId", "Step"]):
        assert rows["budget"].mean() == pytest.approx(rows["mean_budget_remaining"].iloc[0], rel=1e-12, abs=1e-12)
        assert rows["charge"].sum() == pytest.approx(rows["total_charged"].iloc[0], rel=1e-12, abs=1e-12)

"""[record]: which agents' series are recorded, menus on a round subsample, the legacy
`agent_records` key, and the errors for bad values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import abm
from abm.config import ConfigError, RecordSpec, spread_ids
from abm.resolve import resolve_config
from abm.scenario import SCENARIOS, register_scenario


def coin_scenario_name() -> str:
    from tests.abm.test_recording import CoinScenario

    if CoinScenario.name not in SCENARIOS:
        register_scenario(CoinScenario())
    return CoinScenario.name


@pytest.mark.parametrize("n, k", [(10, 3), (10, 10), (10, 20), (1, 1), (1000, 256), (7, 0)])
def test_spread_ids_are_distinct_sorted_and_cover_both_ends(n, k):
    ids = spread_ids(n, k)
    assert ids.shape[0] == min(n, k)
    assert (np.diff(ids) > 0).all() and (ids >= 0).all() and (ids < n).all()
    if 1 < k < n:
        assert ids[0] == 0 and ids[-1] == n - 1


def test_record_agents_all_number_list():
    assert RecordSpec(agents="all").agent_ids(4).tolist() == [0, 1, 2, 3]
    assert RecordSpec(agents=2).agent_ids(9).tolist() == [0, 8]
    assert RecordSpec(agents=[5, 1]).agent_ids(9).tolist() == [1, 5]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"record": {"agents": -1}}, "record.agents: must be 'all', a number >= 0 or a list of agent ids, got -1"),
        ({"record": {"agents": [0, 9]}}, "record.agents: agent id 9 is out of range for agents = 5"),
        ({"record": {"agents": [1, 1]}}, "record.agents: agent ids must be distinct"),
        ({"record": {"menu_every": 0}}, "record.menu_every"),
        ({"agent_records": "sometimes"}, "agent_records: must be 'auto', 'on' or 'off'"),
    ],
)
def test_bad_record_values_name_the_field(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        resolve_config("public-goods", overrides)


def test_legacy_agent_records_on_records_everyone():
    assert resolve_config("public-goods", {"agent_records": "on", "agents": 300}).record.agents == "all"
    assert resolve_config("public-goods", {"agent_records": "off"}).record.agents == 256


def test_recorded_agents_are_the_ones_written_and_measured(tmp_path):
    res = abm.run(
        "public-goods", overrides={"agents": 9, "rounds": 40, "record": {"agents": [2, 7]}}, out=tmp_path,
        progress=False,
    )
    series = pd.read_parquet(tmp_path / "agents.parquet")
    assert sorted(series["agent"].unique()) == [2, 7] and len(series) == 80
    # The budget column is what the ledger says is left after each round.
    last = series[series["round"] == 39].set_index("agent")["budget"]
    np.testing.assert_allclose(last.to_numpy(), res.model.ledger.remaining[[2, 7]], rtol=0, atol=1e-12)
    table = res.agent_table.set_index("agent")
    assert table.loc[[2, 7], "strong_regret"].notna().all()
    assert table.drop(index=[2, 7])["strong_regret"].isna().all()


def test_no_recorded_agents_still_runs(tmp_path):
    res = abm.run("public-goods", overrides={"rounds": 30, "record": {"agents": 0}}, out=tmp_path, progress=False)
    assert len(pd.read_parquet(tmp_path / "agents.parquet")) == 0
    assert "strong_regret" not in res.summary["metrics"]
    assert len(res.rounds) == 30


def test_menu_subsample_of_identical_rounds_estimates_exactly():
    """When every round is the same game (the coin lottery of constant unit values with
    fixed bid and no charges), the subsample estimate (the LP on S rounds with budget
    B S / T, scaled by T / S) equals the exact strong regret over all T rounds."""
    base = {"scenario": coin_scenario_name(), "agents": 3, "rounds": 60,
            "learner": {"name": "fixed_bid", "params": {"bid": 0.3}}}
    exact = abm.run(base, progress=False)
    sampled = abm.run({**base, "record": {"menu_every": 3}}, progress=False)
    assert sampled.model.menus.slots == 20
    assert sampled.summary["metrics"]["strong_regret"]["menu_rounds"].startswith("estimate")
    assert exact.summary["metrics"]["strong_regret"]["menu_rounds"].startswith("exact")
    assert (exact.agent_table["strong_regret"] > 0.1).all()  # a game with something to regret
    np.testing.assert_allclose(
        sampled.agent_table["strong_regret"], exact.agent_table["strong_regret"], rtol=1e-9, atol=1e-9
    )


def test_save_menus_false_keeps_the_metrics_and_drops_the_file(tmp_path):
    kept = abm.run("public-goods", overrides={"rounds": 40}, out=tmp_path / "kept", progress=False)
    dropped = abm.run(
        "public-goods", overrides={"rounds": 40, "record": {"save_menus": False}}, out=tmp_path / "dropped",
        progress=False,
    )
    assert (tmp_path / "kept" / "menus.npz").is_file() and not (tmp_path / "dropped" / "menus.npz").exists()
    np.testing.assert_array_equal(dropped.agent_table["strong_regret"], kept.agent_table["strong_regret"])

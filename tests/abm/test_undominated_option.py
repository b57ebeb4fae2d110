"""`undominated = true` on `[learner]` or a `[[population]]` group (docs/config.md): reports
clipped to the scenario's undominated interval (Chiesa, Micali, Zhu 2012: bids in K_i), refused
where the scenario declares none, and the same on the sharded backend."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import PickledShards, assert_same_outputs

import abm.model
from abm.config import ConfigError, RunConfig
from abm.model import MechanismModel
from abm.runs.runner import run, write_outputs
from agents.undominated import BidRange


def approx(learner: dict, **kw) -> dict:
    return {
        "scenario": "approx-auction", "rounds": 80, "agents": 3, "seed": 1, "record_menus": False,
        "learner": learner,
        "params": {"mechanism": "second_price", "delta": 0.4, "worst_case_samples": 0},
        **kw,
    }


def test_the_learner_table_option_reaches_every_group_unless_a_group_says_otherwise():
    cfg = RunConfig.from_mapping({
        "scenario": "approx-auction", "learner": {"name": "hedge", "undominated": True},
        "population": [{"name": "a", "count": 2}, {"name": "b", "count": 1, "undominated": False}],
    })
    assert [g.undominated for g in cfg.groups()] == [True, False]
    assert RunConfig.from_mapping({"scenario": "approx-auction"}).groups()[0].undominated is False


def test_hedge_bids_inside_k_only_with_the_option():
    """Hedge's default grid (0..2 times x_i) reaches outside K_i = x_i [0.6, 1.4]; restricted,
    every bid of every round lies in K_i."""
    free = run(approx({"name": "hedge"}), progress=False).summary["scenario_summary"]
    held = run(approx({"name": "hedge", "undominated": True}), progress=False)
    assert free["bids_in_K_fraction"] < 0.9
    assert held.summary["scenario_summary"]["bids_in_K_fraction"] == 1.0
    cohort = held.model.backend.cohorts[0]
    assert isinstance(cohort.learner, BidRange)
    assert (cohort.learner.params.low, cohort.learner.params.high) == pytest.approx((0.6, 1.4))


def test_a_scenario_without_an_undominated_interval_refuses_the_option():
    with pytest.raises(ConfigError, match=r"^learner\.undominated: scenario 'bwk-toy' declares no"):
        MechanismModel({"scenario": "bwk-toy", "rounds": 10, "learner": {"name": "hedge", "undominated": True}})
    with pytest.raises(ConfigError, match=r"^population\.b\.undominated: scenario 'bwk-toy'"):
        MechanismModel({
            "scenario": "bwk-toy", "rounds": 10,
            "population": [{"name": "a", "count": 1}, {"name": "b", "count": 1, "undominated": True}],
        })


def test_restricted_cohorts_sharded_match_local(tmp_path, monkeypatch):
    """A full-feedback group and a bandit group, restricted, over 2 shards with pickled
    messages: the alternatives travel as clipped multipliers and the outputs coincide."""
    cfg = approx(
        {"name": "hedge", "undominated": True},
        agents=4, cohort_size=2, shards=2, record_menus=True,
        population=[{"name": "h", "count": 2}, {"name": "e", "count": 2, "learner": "exp3", "undominated": True}],
    )
    write_outputs(run(cfg, progress=False), tmp_path / "local")
    monkeypatch.setattr(abm.model, "RayBackend", PickledShards)
    result = run({**cfg, "backend": "ray"}, progress=False)
    assert isinstance(result.model.backend, PickledShards)
    write_outputs(result, tmp_path / "sharded")
    assert_same_outputs(tmp_path / "local", tmp_path / "sharded")
    assert result.summary["scenario_summary"]["bids_in_K_fraction"] == 1.0
    assert np.isfinite(result.summary["scenario_summary"]["expected_welfare_ratio"])

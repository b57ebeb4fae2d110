"""Smoke contract of every registered scenario (read at collection time, so a plug-in's
scenario — tests/helpers.py `CONTRACT_PLUGINS` — is included): its TOML defaults cut to a
tiny run, played on the local backend and on the Ray backend's driver logic in process
(`helpers.PickledShards`, no Ray cluster; one agent per cohort over two shards), and in real
Ray actors, must give identical outputs; the ledger keeps its invariants, checked from the
recorded per-round charges and budgets; and the summary has one `groups` entry per population group.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import (
    CONTRACT_PLUGINS,
    DEFAULT_ROUNDS,
    TINY,
    PickledShards,
    assert_same_outputs,
    registered_by_contract_plugins,
)

import abm.model
from abm.backends import RayBackend
from abm.runs.runner import resolve_config, run, write_outputs
from abm.scenario import SCENARIOS

NAMES = sorted(SCENARIOS)

TOL = 1e-9


def tiny_overrides(name: str) -> dict:
    overrides = {**TINY.get(name, {"rounds": DEFAULT_ROUNDS}), "cohort_size": 1}
    agents = resolve_config(name, overrides).agents
    return {**overrides, "shards": min(2, agents)}


def check_ledger(result) -> None:
    """Conservation and no overdraft from the recorded series: per agent and round, the
    charge is finite, >= 0 and at most the budget before the round; the budget after it
    is the one before minus the charge; the round totals are the agents' sums; and the
    ledger's end state is what the series add up to."""
    model = result.model
    model.ledger.check_invariants()
    n, rounds = model.ledger.n, result.config.rounds
    frame = result.agents.sort_values(["round", "agent"])
    charge = frame["charge"].to_numpy().reshape(rounds, n)
    budget = frame["budget"].to_numpy().reshape(rounds, n)
    # Series are per agent: with d currencies the totals over currencies (the ledger itself
    # refuses an overdraft per currency, tests/abm/test_ledger.py).
    initial = model.ledger.initial_total
    before = np.vstack([initial[None, :], budget[:-1]])
    assert np.isfinite(charge).all() and (charge >= -TOL).all()
    assert (budget >= -TOL).all()
    assert (charge <= before + TOL * np.maximum(1.0, initial)).all(), "a charge overdrew a budget"
    np.testing.assert_allclose(budget, initial[None, :] - np.cumsum(charge, axis=0), atol=1e-8)
    np.testing.assert_allclose(model.ledger.remaining_total, budget[-1], atol=1e-8)
    np.testing.assert_allclose(model.ledger.spent_total, charge.sum(axis=0), atol=1e-8)
    np.testing.assert_allclose(result.rounds["total_charged"].to_numpy(), charge.sum(axis=1), atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_scenario_runs_tiny_on_both_backends_with_the_same_outputs(name, tmp_path, monkeypatch):
    overrides = tiny_overrides(name)
    local = run(name, overrides=overrides, progress=False)
    assert isinstance(local.model.backend, abm.model.LocalBackend)
    write_outputs(local, tmp_path / "local")
    monkeypatch.setattr(abm.model, "RayBackend", PickledShards)
    sharded = run(name, overrides={**overrides, "backend": "ray"}, progress=False)
    assert isinstance(sharded.model.backend, PickledShards)
    write_outputs(sharded, tmp_path / "sharded")
    assert_same_outputs(tmp_path / "local", tmp_path / "sharded")

    assert len(local.rounds) == local.config.rounds
    check_ledger(local)
    groups = local.summary["groups"]
    assert list(groups) == [g.name for g in local.model.groups]
    assert sum(g["agents"] for g in groups.values()) == local.config.agents


@pytest.mark.ray
@pytest.mark.parametrize("name", NAMES)
def test_scenario_on_real_ray_equals_local(name, ray_session, tmp_path):
    """The same tiny run with its cohorts in real Ray actors (other processes, which load the
    contract plug-ins from the run's `plugins`, as a user's run would)."""
    overrides = {**tiny_overrides(name), "plugins": [str(p) for p in CONTRACT_PLUGINS]}
    write_outputs(run(name, overrides=overrides, progress=False), tmp_path / "local")
    result = run(name, overrides={**overrides, "backend": "ray"}, progress=False)
    assert isinstance(result.model.backend, RayBackend) and result.model.backend.shards == overrides["shards"]
    write_outputs(result, tmp_path / "ray")
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")


def test_tiny_overrides_name_registered_scenarios():
    assert set(TINY) <= set(NAMES)


def test_the_contract_plugins_scenarios_are_parametrized():
    plugged = [e.name for e in registered_by_contract_plugins(SCENARIOS)]
    assert plugged, "the contract plug-ins register no scenario"
    assert set(plugged) <= set(NAMES)

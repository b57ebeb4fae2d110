"""RayBackend: same results as LocalBackend, one remote call per shard per round, cluster join.

Independent checks: outputs are compared file by file with a LocalBackend run of the same
config; call counts are counted inside the actors; the cohort split is checked against
`make_cohorts` and by properties of the shard assignment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from helpers import PickledShards, assert_same_outputs, scaled
from hypothesis import given, settings
from hypothesis import strategies as st

import abm.model
from abm.backends import (
    CohortSpec,
    LocalBackend,
    RayBackend,
    ScaledGrid,
    ShardWorker,
    assign_shards,
    cohort_plan,
    make_cohorts,
)
from abm.config import RunConfig
from abm.model import MechanismModel
from abm.runs.checkpoint import decode_state, encode_state
from abm.runs.runner import run, write_outputs
from agents.base import Feedback, Learner, Observation
from agents.registry import LEARNERS, register_learner

REPO = Path(__file__).resolve().parents[1]


def small_config(**kw) -> dict:
    cfg = {"scenario": "public-goods", "agents": 7, "rounds": 80, "seed": 11, "cohort_size": 2, "shards": 2}
    cfg.update(kw)
    return cfg


# --- the split: pure functions, no Ray -------------------------------------------------


def test_cohort_plan_matches_make_cohorts():
    budgets = np.arange(23.0)
    cohorts = make_cohorts("truthful", {}, budgets, 10, np.random.SeedSequence(0), 5)
    assert [(int(c.indices[0]), int(c.indices[-1]) + 1) for c in cohorts] == cohort_plan(23, 5)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 500), size=st.integers(1, 60), shards=st.integers(1, 8))
def test_assign_shards_contiguous_complete_balanced(n, size, shards):
    plan = cohort_plan(n, size)
    groups = assign_shards(plan, shards)
    assert [i for g in groups for i in g] == list(range(len(plan)))  # every cohort once, in order
    assert len(groups) <= min(shards, len(plan))
    loads = [plan[g[-1]][1] - plan[g[0]][0] for g in groups]
    # each shard holds at most its equal share plus one cohort
    assert max(loads) <= n / shards + size + 1e-9


def test_assign_shards_rejects_zero():
    with pytest.raises(ValueError, match="shards"):
        assign_shards([(0, 3)], 0)


# --- the message protocol in process (full feedback), with Ray's copy semantics ---------


class MenuFollower(Learner):
    """Test-only full-feedback learner: alternatives are value * {1/4, 1/2, 3/4, 1}; play the
    one with the best cumulative menu utility minus cost (ties broken by rng noise), capped
    at the observed budget; learn only in rounds where the submitted report was the one
    played. So its state depends on every array a shard receives."""

    feedback = "full"
    GRID: ClassVar[np.ndarray] = np.array([0.25, 0.5, 0.75, 1.0])

    def __init__(self, n_agents, budgets, horizon, rng, params=None) -> None:
        super().__init__(n_agents, budgets, horizon, rng, params)
        self.score = np.zeros((self.n_agents, self.GRID.shape[0]))
        self.played = np.zeros(self.n_agents)

    def alternatives(self, obs: Observation) -> np.ndarray:
        return obs.values[:, None] * self.GRID[None, :]

    def _act(self, obs: Observation) -> np.ndarray:
        noise = 1e-6 * self.rng.random(self.score.shape)
        k = np.argmax(self.score + noise, axis=1)
        self.played = np.minimum(self.alternatives(obs)[np.arange(self.n_agents), k], obs.budget)
        return self.played

    def _observe(self, feedback: Feedback) -> None:
        assert feedback.alternatives is not None and feedback.alternatives.shape == self.score.shape
        as_played = (feedback.reports == self.played)[:, None]
        self.score += np.where(as_played, feedback.menu_utility - feedback.menu_cost, 0.0)


@pytest.fixture
def menu_follower():
    register_learner("menu_follower_test", MenuFollower)
    yield "menu_follower_test"
    LEARNERS.pop("menu_follower_test", None)


@pytest.mark.parametrize("learner", ["adaptive_pacing", "menu_follower", "blum_mansour_swap", "blum_mansour_exp3"])
def test_shard_protocol_matches_local(tmp_path, monkeypatch, menu_follower, learner):
    name = menu_follower if learner == "menu_follower" else learner
    spec = {"name": name}
    if learner == "blum_mansour_exp3":  # Exp3 copies: the compiled bandit path
        spec = {"name": "blum_mansour_swap", "params": {"base": "exp3"}}
    cfg = small_config(rounds=60, shards=3, learner=spec)
    write_outputs(run(cfg, progress=False), tmp_path / "local")
    monkeypatch.setattr(abm.model, "RayBackend", PickledShards)
    result = run({**cfg, "backend": "ray"}, progress=False)
    assert isinstance(result.model.backend, PickledShards)
    assert result.model.backend.shards == 3
    write_outputs(result, tmp_path / "sharded")
    assert_same_outputs(tmp_path / "local", tmp_path / "sharded")


THREE_GROUPS = [
    {"name": "pacers", "count": 4, "learner": "adaptive_pacing"},
    {"name": "hedgers", "count": 3, "learner": "hedge"},  # full feedback: menus travel
    {"name": "random", "count": 2, "learner": "uniform_random"},
]


def test_three_group_population_sharded_matches_local(tmp_path, monkeypatch):
    cfg = small_config(rounds=60, shards=3, cohort_size=2, population=THREE_GROUPS)
    write_outputs(run(cfg, progress=False), tmp_path / "local")
    monkeypatch.setattr(abm.model, "RayBackend", PickledShards)
    result = run({**cfg, "backend": "ray"}, progress=False)
    assert [c.group for c in make_specs(cfg)] == ["pacers"] * 2 + ["hedgers"] * 2 + ["random"]
    write_outputs(result, tmp_path / "sharded")
    assert_same_outputs(tmp_path / "local", tmp_path / "sharded")


def make_specs(cfg: dict) -> list[CohortSpec]:
    from abm.backends import population_cohorts
    from abm.streams import Streams

    rc = RunConfig.from_mapping(cfg)
    return population_cohorts(rc.groups(), Streams(rc.seed), rc.cohort_size)


def test_grid_alternatives_travel_as_multipliers():
    """A grid learner's alternatives come back as its K multipliers (ScaledGrid); the driver
    rebuilds exactly the array the learner holds."""
    n, horizon = 70, 10
    budgets = np.ones(n)
    seeds = np.random.SeedSequence(3).spawn(2)
    ranges = [(0, 40), (40, n)]
    specs = [CohortSpec("all", a, b, "hedge", {"grid_points": 5}, ss) for (a, b), ss in zip(ranges, seeds, strict=True)]
    worker = ShardWorker(specs, budgets, horizon)
    values = np.random.default_rng(0).random(n)
    _, wire = worker.step((None, None, (0, values, budgets)))
    assert all(isinstance(w, ScaledGrid) and w.multipliers.shape == (5,) for w in wire)
    for (a, b), w, held in zip(worker.ranges, wire, worker.alternatives, strict=True):
        np.testing.assert_array_equal(w.materialize(values[a:b]), held)


def test_feedback_arrives_with_next_act_and_flush(monkeypatch):
    monkeypatch.setattr(abm.model, "RayBackend", PickledShards)
    model = MechanismModel(RunConfig.from_mapping(small_config(backend="ray")))
    backend = model.backend
    for _ in range(5):
        model.step()
    assert backend.step_calls() == [5] * backend.shards  # one call per shard per round
    states = backend.learner_states()  # flushes round 4's feedback: one more call each
    assert backend.step_calls() == [6] * backend.shards
    local = MechanismModel(RunConfig.from_mapping(small_config()))
    for _ in range(5):
        local.step()
    assert isinstance(local.backend, LocalBackend)
    for s, r in zip(states, local.backend.learner_states(), strict=True):
        np.testing.assert_array_equal(s["mu"], r["mu"])
        assert s["rng"] == r["rng"]
    backend.close()
    with pytest.raises(RuntimeError, match="after close"):
        backend.act(model.observation(5))


@pytest.mark.parametrize("learner", ["adaptive_pacing", "menu_follower"])
def test_altered_reports_and_budget_top_ups_reach_the_shards(menu_follower, learner):
    """Driven directly (no model): the mechanism changes some reports and the budgets are
    topped up between rounds, so neither may be elided; every report and the final states
    must match LocalBackend's."""
    name = menu_follower if learner == "menu_follower" else learner
    n, horizon = 11, 30
    budgets = np.linspace(0.2, 1.0, n)
    local = LocalBackend(make_cohorts(name, {}, budgets, horizon, np.random.SeedSequence(5), 3), n)
    sharded = PickledShards.single_group(name, {}, budgets, horizon, np.random.SeedSequence(5), 3, shards=2)
    rng = np.random.default_rng(0)
    remaining = budgets.copy()
    for t in range(horizon):
        values = rng.random(n)
        if t % 4 == 3:
            remaining = remaining + 0.5  # a top-up: the observed budget differs from the last feedback's
        obs = Observation(t, values, remaining.copy())
        r_local, alts_local = local.act(obs)
        r_sharded, alts_sharded = sharded.act(obs)
        np.testing.assert_array_equal(r_local, r_sharded)
        for a, b in zip(alts_local, alts_sharded, strict=True):
            assert (a is None and b is None) or np.array_equal(a, b)
        submitted = np.where(rng.random(n) < 0.3, 0.5 * r_local, r_local)  # the budget rule cut some
        charge = np.minimum(0.2 * submitted, remaining)
        remaining = remaining - charge
        fb = Feedback(t, submitted, values * (submitted > 0.3), charge, remaining.copy())
        menus = [None if a is None else (a, np.sqrt(a), 0.2 * a) for a in alts_local]
        local.observe(fb, menus)
        sharded.observe(fb, menus)
    for s, r in zip(sharded.learner_states(), local.learner_states(), strict=True):
        assert s.keys() == r.keys()
        for key in s:
            if isinstance(s[key], np.ndarray):
                np.testing.assert_array_equal(s[key], r[key])
            else:
                assert s[key] == r[key]


def checkpoint_round_trip(cfg: RunConfig, cut: int, tmp_path: Path) -> MechanismModel:
    """Step `cut` rounds, save the model's state as the runner's checkpoints do, drop the
    original (its actors die), load the state into a model built anew and finish the run."""
    model = MechanismModel(cfg, spill_dir=str(tmp_path))
    for _ in range(cut):
        model.step()
    blob = encode_state(model.state_dict())
    model.backend.close()
    restored = MechanismModel(cfg, spill_dir=str(tmp_path))
    restored.load_state_dict(decode_state(blob))
    while restored.t < cfg.rounds:
        restored.step()
    return restored


def assert_same_model(a: MechanismModel, b: MechanismModel) -> None:
    np.testing.assert_array_equal(a.cum_utility, b.cum_utility)
    np.testing.assert_array_equal(a.ledger.spent, b.ledger.spent)
    np.testing.assert_array_equal(a.last_reports, b.last_reports)
    for s, r in zip(a.backend.learner_states(), b.backend.learner_states(), strict=True):
        assert s.keys() == r.keys()
        for key in s:
            if isinstance(s[key], np.ndarray):
                np.testing.assert_array_equal(s[key], r[key])
            else:
                assert s[key] == r[key]


@pytest.mark.parametrize("learner", ["adaptive_pacing", "menu_follower"])
def test_checkpoint_restores_the_shards(monkeypatch, menu_follower, learner, tmp_path):
    name = menu_follower if learner == "menu_follower" else learner
    cfg = RunConfig.from_mapping(small_config(rounds=40, backend="ray", learner={"name": name}))
    monkeypatch.setattr(abm.model, "RayBackend", PickledShards)
    restored = checkpoint_round_trip(cfg, 17, tmp_path)
    assert isinstance(restored.backend, PickledShards)
    local = MechanismModel(cfg.model_copy(update={"backend": "local"}))
    for _ in range(cfg.rounds):
        local.step()
    assert_same_model(restored, local)


def test_observe_checks_menu_count(monkeypatch):
    monkeypatch.setattr(abm.model, "RayBackend", PickledShards)
    model = MechanismModel(RunConfig.from_mapping(small_config(backend="ray")))
    fb = Feedback(0, np.zeros(7), np.zeros(7), np.zeros(7), np.ones(7))
    with pytest.raises(ValueError, match="one entry per cohort"):
        model.backend.observe(fb, [None])


# --- real Ray ------------------------------------------------------------------------


@pytest.mark.ray
@pytest.mark.parametrize("learner", ["adaptive_pacing", "hedge"])  # bandit; full feedback (menus)
def test_ray_outputs_equal_local(ray_session, tmp_path, learner):
    cfg = small_config(rounds=120, learner={"name": learner})
    write_outputs(run(cfg, progress=False), tmp_path / "local")
    result = run({**cfg, "backend": "ray"}, progress=False)
    assert isinstance(result.model.backend, RayBackend) and result.model.backend.shards == 2
    write_outputs(result, tmp_path / "ray")
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")


@pytest.mark.ray
def test_ray_three_group_population_equals_local(ray_session, tmp_path):
    cfg = small_config(rounds=60, cohort_size=2, population=THREE_GROUPS)
    write_outputs(run(cfg, progress=False), tmp_path / "local")
    result = run({**cfg, "backend": "ray"}, progress=False)
    assert isinstance(result.model.backend, RayBackend)
    write_outputs(result, tmp_path / "ray")
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")
    assert pd.read_parquet(tmp_path / "ray" / "metrics.parquet")["group"].nunique() == 3


@pytest.mark.ray
def test_ray_shards_load_the_runs_plug_ins(ray_session, tmp_path):
    """A plug-in learner in Ray shard actors: the actors are other processes, which load the
    run's plug-ins before building their cohorts; outputs equal the local run's."""
    plugin = str(REPO / "docs" / "examples" / "fpa_tokens.py")
    cfg = small_config(rounds=40, cohort_size=2, plugins=[plugin], population=[
        {"name": "pacers", "count": 4, "learner": "adaptive_pacing"},
        {"name": "fixed", "count": 3, "learner": "fixed_pacing", "params": {"beta": 0.5}},
    ])
    write_outputs(run(cfg, progress=False), tmp_path / "local")
    result = run({**cfg, "backend": "ray"}, progress=False)
    assert isinstance(result.model.backend, RayBackend)
    write_outputs(result, tmp_path / "ray")
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")


@pytest.mark.ray
def test_ray_one_call_per_shard_and_states(ray_session):
    cfg = RunConfig.from_mapping(small_config(agents=9, cohort_size=3, backend="ray"))
    model = MechanismModel(cfg)
    local = MechanismModel(cfg.model_copy(update={"backend": "local"}))
    try:
        assert model.backend.shard_bounds == [(0, 3), (3, 9)]
        for _ in range(7):
            model.step()
            local.step()
        assert model.backend.step_calls() == [7, 7]
        states = model.backend.learner_states()
        assert model.backend.step_calls() == [8, 8]
        for s, r in zip(states, local.backend.learner_states(), strict=True):
            np.testing.assert_array_equal(s["mu"], r["mu"])
            assert s["rng"] == r["rng"]
    finally:
        model.backend.close()
    assert wait_for_free_cpus(ray_session, 2.0)  # close() killed the actors: their CPUs are back


def wait_for_free_cpus(ray, cpus: float, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        if ray.available_resources().get("CPU", 0.0) >= cpus:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.ray
def test_ray_checkpoint_round_trip(ray_session, tmp_path):
    cfg = RunConfig.from_mapping(small_config(rounds=30, backend="ray"))
    restored = checkpoint_round_trip(cfg, 12, tmp_path)
    try:
        assert isinstance(restored.backend, RayBackend) and restored.backend.shards == 2
        local = MechanismModel(cfg.model_copy(update={"backend": "local"}))
        for _ in range(cfg.rounds):
            local.step()
        assert_same_model(restored, local)
    finally:
        restored.backend.close()


@pytest.mark.ray
def test_ray_rejects_more_shards_than_cpus(ray_session):
    with pytest.raises(ValueError, match="shards = 3"):
        MechanismModel(RunConfig.from_mapping(small_config(agents=6, shards=3, backend="ray")))


@pytest.mark.slow
@pytest.mark.ray
def test_cli_joins_running_cluster(ray_session, tmp_path):
    """`mechsim run ... --backend ray --address auto` joins the session's Ray (a separate
    driver process) and writes the same results as a local run."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = ["--agents", "5", "--rounds", "40", "--seed", "3", "--set", "cohort_size=2", "--quiet"]
    cli = [sys.executable, "-m", "abm.cli.main", "run", "public-goods"]
    subprocess.run([*cli, *args, "--out", str(tmp_path / "local")], check=True, env=env, timeout=scaled(120))
    proc = subprocess.run(
        [*cli, *args, "--backend", "ray", "--address", "auto", "--shards", "2", "--out", str(tmp_path / "ray")],
        env=env,
        timeout=scaled(120),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Started a local Ray instance" not in proc.stderr  # it joined, it did not start one
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")

"""The Mesa round loop end to end on the public-goods scenario (Onyeze et al.)."""

import numpy as np
import pandas as pd
import pytest

import abm
from abm import ConfigError, MechanismModel, RunConfig
from agents import AlternationError, Feedback, Observation, Truthful


def small(**kw):
    base = {"scenario": "public-goods", "agents": 4, "rounds": 300, "seed": 3}
    base.update(kw)
    return base


def test_step_is_one_round_and_agents_expose_ledger_state():
    model = MechanismModel(small())
    assert len(model.agents) == 4
    model.step()
    assert model.t == 1 and model.steps == 1
    a = next(iter(model.agents))
    assert a.budget == pytest.approx(model.ledger.remaining[a.index])
    assert a.spent + a.budget == pytest.approx(model.ledger.initial[a.index])
    assert a.last_report == pytest.approx(model.last_reports[a.index])


@pytest.mark.parametrize("mechanism", ["proportional", "moulin"])
def test_at_most_alpha_t_goods_allocated(mechanism):
    """Proposition 3.1: cost covering => at most alpha*T goods, even when everyone
    overbids (truthful reporting of 3x values exhausts budgets fast)."""
    res = abm.run(
        small(learner={"name": "value_scaling", "params": {"beta": 0.33}}, params={"mechanism": mechanism}),
        progress=False,
    )
    alpha_T = 0.5 * 300
    assert res.summary["scenario_summary"]["goods_allocated"] <= alpha_T
    assert res.agent_table["spent"].sum() <= alpha_T + 1e-9
    # Overbidding depletes: every agent ends unable to pay p_max = 1.
    assert (res.agent_table["depletion_round"] >= 0).all()
    assert np.all(res.rounds["mean_budget_remaining"].to_numpy() >= 0)


def test_same_seed_identical_parquet_and_other_seed_differs(tmp_path):
    abm.run(small(), out=tmp_path / "a", progress=False)
    abm.run(small(), out=tmp_path / "b", progress=False)
    abm.run(small(seed=4), out=tmp_path / "c", progress=False)
    for name in ("rounds.parquet", "agents.parquet", "metrics.parquet"):
        a, b = (tmp_path / d / name for d in "ab")
        assert a.read_bytes() == b.read_bytes(), name
    ra, rc = (pd.read_parquet(tmp_path / d / "agents.parquet") for d in "ac")
    assert not ra["report"].equals(rc["report"])


def test_outputs_written(tmp_path):
    res = abm.run(small(), out=tmp_path, progress=False)
    for name in ("rounds.parquet", "agents.parquet", "metrics.parquet", "summary.json", "menus.npz"):
        assert (tmp_path / name).is_file(), name
    agents = pd.read_parquet(tmp_path / "agents.parquet")
    assert set(agents["agent"]) == set(range(4)) and agents["round"].min() == 0
    # Per-agent records sum to the ledger's totals.
    per_agent = agents.groupby("agent")["charge"].sum().to_numpy()
    assert per_agent == pytest.approx(res.model.ledger.spent)
    menus = np.load(tmp_path / "menus.npz")
    # The played report's counterfactual (last column) is what actually happened.
    assert menus["utility"][:, :, -1].sum(axis=0) == pytest.approx(res.model.cum_utility)
    assert menus["cost"][:, :, -1].sum(axis=0) == pytest.approx(res.model.ledger.spent)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"rounds": -5}, "rounds"),
        ({"agents": "many"}, "agents"),
        ({"params": {"alpha": float("nan")}}, "params.alpha"),
        ({"params": {"alpha": 1.5}}, "params.alpha"),
        ({"params": {"shares": [0.7, 0.6, 0.0, 0.0]}}, "sum"),
        ({"params": {"shares": [-0.1, 0.1, 0.1, 0.1]}}, "shares"),
        ({"params": {"mechanism": "dutch"}}, "mechanism"),
        ({"bogus": 1}, "bogus"),
        ({"learner": {"name": "oracle"}}, "learner.name"),
        ({"learner": {"name": "adaptive_pacing", "params": {"step_size": -1}}}, "step_size"),
        ({"scenario": "nope"}, "available: "),
    ],
)
def test_bad_config_names_the_field(override, message):
    with pytest.raises(ValueError, match=message):
        MechanismModel(small(**override))


def test_malformed_toml_names_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("scenario = 'public-goods'\nrounds = = 3\n")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        abm.resolve_config(str(bad))


def test_overrides_route_bare_keys_to_params():
    cfg = abm.resolve_config("public-goods", {"mechanism": "moulin", "rounds": 10, "learner.name": "truthful"})
    assert isinstance(cfg, RunConfig)
    assert cfg.params["mechanism"] == "moulin" and cfg.rounds == 10 and cfg.learner.name == "truthful"


def test_learner_alternation_enforced():
    learner = Truthful(2, np.ones(2), 10, np.random.default_rng(0))
    obs = Observation(0, np.array([0.3, 0.4]), np.ones(2))
    learner.act(obs)
    with pytest.raises(AlternationError):
        learner.act(obs)
    z = np.zeros(2)
    learner.observe(Feedback(0, z, z, z, np.ones(2)))
    with pytest.raises(AlternationError):
        learner.observe(Feedback(0, z, z, z, np.ones(2)))


@pytest.mark.parametrize("chunk_bytes", [None, 2048])
def test_crashed_run_resumes_from_checkpoint_with_identical_results(tmp_path, monkeypatch, chunk_bytes):
    """Nothing lost: a run that dies at round 250 resumes from its round-200 checkpoint
    and ends with exactly the outputs of an uninterrupted run — also when its records had
    spilled to disk in many chunks, some of them written after the checkpoint."""
    import abm.recording.store as store
    import abm.runs.runner as runner

    if chunk_bytes is not None:
        monkeypatch.setattr(store, "CHUNK_BYTES", chunk_bytes)

    cfg = small(rounds=300, checkpoint_every=100)
    abm.run(cfg, out=tmp_path / "ref", progress=False)
    def crash_at_250(rounds, **kwargs):
        for t in rounds:
            if t == 250:
                raise RuntimeError("simulated crash")
            yield t

    real_tqdm = runner.tqdm
    monkeypatch.setattr(runner, "tqdm", crash_at_250)
    with pytest.raises(RuntimeError, match="simulated crash"):
        abm.run(cfg, out=tmp_path / "x", progress=False)
    work = tmp_path / ".x.partial"  # the run's working directory beside its target
    assert not (tmp_path / "x").exists()  # nothing half-written where the results go
    assert (work / runner.CHECKPOINT).is_file()
    spilled = list((work / runner.RECORDS_DIR).glob("*.f64"))
    assert (chunk_bytes is None) or spilled  # the small chunks really went to disk
    monkeypatch.setattr(runner, "tqdm", real_tqdm)  # the chunk size stays patched

    resumed_at = []
    load = runner.load_checkpoint

    def spy(path, expect):
        loaded = load(path, expect)
        resumed_at.append(None if loaded is None else loaded[0]["round"])
        return loaded

    monkeypatch.setattr(runner, "load_checkpoint", spy)
    abm.run(cfg, out=tmp_path / "x", progress=False)
    assert resumed_at == [200]
    assert not work.exists()  # checkpoint and records went with it
    assert not (tmp_path / "x" / runner.CHECKPOINT).exists()
    for name in ("rounds.parquet", "agents.parquet", "metrics.parquet"):
        assert (tmp_path / "x" / name).read_bytes() == (tmp_path / "ref" / name).read_bytes(), name

"""Checkpoints are the components' state dicts (abm.runs.checkpoint): every scenario resumes
from one bit for bit, a damaged or foreign checkpoint is refused in one line, and the
generic data state of mechanisms (mechanisms.state) loads back in place."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import DEFAULT_ROUNDS, TINY

import abm
import abm.runs.runner as runner
from abm.model import MechanismModel
from abm.runs.checkpoint import CHECKPOINT, MAGIC, CheckpointError, decode_state, encode_state
from abm.runs.runner import resolve_config
from abm.scenario import SCENARIOS
from mechanisms.state import StateError, load_state, state_of


def records(model: MechanismModel) -> dict[str, np.ndarray]:
    out = {"rounds": model.datacollector.get_model_vars_dataframe().to_numpy(dtype=float),
           "cum_utility": model.cum_utility, "spent": model.ledger.spent,
           **{f"trace.{k}": c.to_array() for k, c in model.trace.columns.items()}}
    if model.menus is not None:
        out["menus.utility"], out["menus.cost"] = model.menus.all_menus()
    for i, s in enumerate(model.backend.learner_states()):
        out |= {f"learner{i}.{k}": np.asarray(v) for k, v in s.items() if isinstance(v, np.ndarray)}
    return out


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_resumes_from_its_state_dict_bit_for_bit(name, tmp_path):
    """Play half the rounds, checkpoint (through the file format), play on (rows that the
    resumed run must cut off), rebuild the model from the config, load, finish: the
    records equal an uninterrupted run's exactly."""
    cfg = resolve_config(name, {**TINY.get(name, {"rounds": DEFAULT_ROUNDS}), "cohort_size": 1})
    ref = MechanismModel(cfg, spill_dir=str(tmp_path / "ref"))
    while ref.running:
        ref.step()
    model = MechanismModel(cfg, spill_dir=str(tmp_path / "cut"))
    for _ in range(cfg.rounds // 2):
        model.step()
    blob = encode_state(model.state_dict())
    for _ in range(2):
        model.step()
    resumed = MechanismModel(cfg, spill_dir=str(tmp_path / "cut"))
    resumed.load_state_dict(decode_state(blob))
    assert resumed.t == cfg.rounds // 2
    while resumed.running:
        resumed.step()
    want, got = records(ref), records(resumed)
    assert want.keys() == got.keys()
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_a_fresh_model_differs_so_the_comparison_can_fail(tmp_path):
    """The oracle above is not vacuous: a mechanism whose round state is not loaded
    (bandits with knapsacks keep the arm's last state, Braverman 2021 §2.3.3) plays on differently."""
    cfg = resolve_config("bwk-toy", TINY["bwk-toy"])
    ref = MechanismModel(cfg, spill_dir=str(tmp_path / "a"))
    while ref.running:
        ref.step()
    model = MechanismModel(cfg, spill_dir=str(tmp_path / "b"))
    for _ in range(cfg.rounds // 2):
        model.step()
    state = decode_state(encode_state(model.state_dict()))
    state["mechanism"] = MechanismModel(cfg).mechanism.state_dict()  # as if built anew
    resumed = MechanismModel(cfg, spill_dir=str(tmp_path / "b"))
    resumed.load_state_dict(state)
    while resumed.running:
        resumed.step()
    want, got = records(ref), records(resumed)
    assert not all(np.array_equal(want[k], got[k]) for k in want)


class Inner:
    def __init__(self) -> None:
        self.x = np.zeros(3)
        self.count = 0
        self.rng = np.random.default_rng(1)


class Outer:
    transient_state = ("cache",)

    def __init__(self) -> None:
        self.inner = Inner()
        self.alias = self.inner.x  # two names for one buffer
        self.history: list[float] = []
        self.fn = len
        self.cache = object()


def test_generic_state_loads_in_place_keeping_aliases_and_skipping_caches():
    a = Outer()
    a.inner.x[:] = [1.0, 2.0, 3.0]
    a.inner.count = 5
    a.history.append(0.5)
    a.inner.rng.random()
    b = Outer()
    load_state(b, decode_state(encode_state(state_of(a))))
    assert b.alias is b.inner.x and b.inner.x.tolist() == [1.0, 2.0, 3.0]
    assert b.inner.count == 5 and b.history == [0.5]
    assert b.inner.rng.random() == a.inner.rng.random()
    assert "cache" not in state_of(a)["attrs"]


def test_generic_state_that_does_not_fit_names_the_attribute():
    state = state_of(Outer())
    state["attrs"]["inner"]["__object__"] = "Other"
    with pytest.raises(StateError, match=r"Outer\.inner: the checkpoint holds a Other"):
        load_state(Outer(), state)


def checkpointed_run(tmp_path, rounds: int = 60):
    """A run that crashed after its round-40 checkpoint: (config, out, checkpoint path)."""
    cfg = resolve_config("public-goods", {"rounds": rounds, "checkpoint_every": 20, "menu_points": 8})
    out = tmp_path / "run"
    real = runner.tqdm

    def crash(rounds, **kwargs):
        for t in rounds:
            if t == 45:
                raise RuntimeError("simulated crash")
            yield t

    runner.tqdm = crash
    try:
        with pytest.raises(RuntimeError):
            abm.run(cfg, out=out, progress=False)
    finally:
        runner.tqdm = real
    path = tmp_path / ".run.partial" / CHECKPOINT
    assert path.is_file()
    return cfg, out, path


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: b[: len(b) // 2], "truncated or damaged"),
        (lambda b: b[:-10] + bytes(10), "SHA-256 checksum"),
        (lambda b: b"\x80\x04garbage", "is not a mechsim checkpoint"),
        (lambda b: b.replace(b'"format": 1', b'"format": 99'), "format version 99"),
    ],
)
def test_a_damaged_checkpoint_is_refused_naming_the_file_and_restart(tmp_path, damage, message):
    cfg, out, path = checkpointed_run(tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CheckpointError, match=message) as info:
        abm.run(cfg, out=out, progress=False)
    assert str(path) in str(info.value) and "--restart" in str(info.value)
    assert "\n" not in str(info.value)
    assert not out.exists()  # never a silent resume, nor results


def test_a_checkpoint_of_other_code_is_refused_and_restart_discards_it(tmp_path):
    cfg, out, path = checkpointed_run(tmp_path)
    data = path.read_bytes()
    line, _, payload = data[len(MAGIC):].partition(b"\n")
    head = json.loads(line)
    head["code_version"] = "0123456789abcdef"
    path.write_bytes(MAGIC + json.dumps(head).encode() + b"\n" + payload)
    with pytest.raises(CheckpointError, match="code_version '0123456789abcdef'"):
        abm.run(cfg, out=out, progress=False)
    ref = abm.run(cfg, out=tmp_path / "ref", progress=False)
    again = abm.run(cfg, out=out, progress=False, restart=True)
    assert again.summary["total_utility"] == ref.summary["total_utility"]
    assert (out / "rounds.parquet").read_bytes() == (tmp_path / "ref" / "rounds.parquet").read_bytes()

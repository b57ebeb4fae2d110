"""Fault injection (issue "Nothing lost, nothing silently wrong"): real `mechsim`
processes killed, interrupted, raced and fed damaged files, with assertions on what they
leave on disk. Every wait is for an event (a checkpoint of a given round, a lock file),
never for a time, and the timeouts only bound a hang: they scale with the machine's load."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from abm.runs.checkpoint import CHECKPOINT, read_header

ROOT = Path(__file__).resolve().parents[2]
#: Seconds a step may take on an idle machine, times the load per core (a busy machine is slow, not wrong).
TIMEOUT = 600.0 * max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
#: A run long enough to be caught mid-way: its menu statistics (32 agents x 4 floats a round)
#: spill in chunks of 1024 rounds, twice before round 3000.
RUN = ["run", "public-goods", "--rounds", "6000", "--set", "agents=32", "--set", "menu_points=8", "--quiet"]
CHECKPOINTED = [*RUN, "--checkpoint-every", "500"]
OUTPUTS = ("rounds.parquet", "agents.parquet", "metrics.parquet", "regret_curve.parquet", "menus.npz")
#: Summary entries that are not what a run computes (at any depth).
VOLATILE = ("runtime_s", "rounds_per_s")


def untimed(d):
    if isinstance(d, dict):
        return {k: untimed(v) for k, v in d.items() if k not in VOLATILE and not k.endswith("_seconds")}
    return d


def mechsim(*args: str) -> list[str]:
    return [sys.executable, "-m", "abm.cli", *args]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def default_sigint() -> None:
    # A child of a shell's background job inherits SIGINT ignored; the test needs Ctrl-C to work.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        mechsim(*args), cwd=cwd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=default_sigint,
    )


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=TIMEOUT)
    return proc.returncode, out, err


def call(args: list[str], cwd: Path) -> tuple[int, str, str]:
    return finish(start(args, cwd))


def wait_for(predicate, proc: subprocess.Popen | None = None, what: str = "") -> None:
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the process ended (exit {proc.returncode}) before {what}: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def checkpoint_at(path: Path, round_: int):
    def ready() -> bool:
        try:
            return path.is_file() and read_header(path)[0]["round"] >= round_
        except Exception:  # replaced while read: look again
            return False
    return ready


def assert_same_results(a: Path, b: Path) -> None:
    for name in OUTPUTS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    sa, sb = (untimed(json.loads((d / "summary.json").read_text())) for d in (a, b))
    assert sa == sb
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The undisturbed run every faulted one must reproduce."""
    root = tmp_path_factory.mktemp("ref")
    code, _, err = call([*CHECKPOINTED, "--out", "ref"], root)
    assert code == 0, err
    return root / "ref"


def killed_run(tmp_path: Path) -> tuple[Path, Path]:
    """A checkpointed run SIGKILLed after its round-3000 checkpoint: (out, checkpoint)."""
    ckpt = tmp_path / ".run.partial" / CHECKPOINT
    proc = start([*CHECKPOINTED, "--out", "run"], tmp_path)
    wait_for(checkpoint_at(ckpt, 3000), proc, "the round-3000 checkpoint")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "run").exists()  # nothing half-written where results go
    return tmp_path / "run", ckpt


def test_sigkill_then_resume_gives_the_undisturbed_results(tmp_path, reference):
    out, ckpt = killed_run(tmp_path)
    spilled = list((ckpt.parent / ".records").glob("*.f64"))
    assert spilled  # records had gone to disk, some of them after the checkpoint
    code, _, err = call(["-v", *CHECKPOINTED, "--out", "run"], tmp_path)
    assert code == 0, err
    assert "resuming public-goods from round" in err
    assert_same_results(out, reference)
    assert not ckpt.parent.exists() and not (tmp_path / ".run.lock").exists()


def test_a_corrupted_checkpoint_is_one_clear_line_and_restart_recovers(tmp_path, reference):
    out, ckpt = killed_run(tmp_path)
    data = bytearray(ckpt.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the payload
    ckpt.write_bytes(bytes(data))
    args = [*CHECKPOINTED, "--out", "run"]
    code, _, err = call(args, tmp_path)
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(ckpt.relative_to(tmp_path)) in lines[0] and "--restart" in lines[0], err
    assert "checksum" in lines[0]
    assert not out.exists()
    code, _, err = call([*args, "--restart"], tmp_path)
    assert code == 0, err
    assert_same_results(out, reference)


def test_sigint_checkpoints_prints_the_resume_command_and_exits_130(tmp_path, reference):
    ckpt = tmp_path / ".run.partial" / CHECKPOINT
    proc = start([*CHECKPOINTED, "--out", "run"], tmp_path)
    wait_for(checkpoint_at(ckpt, 1000), proc, "the round-1000 checkpoint")
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc)
    assert code == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    (line,) = [ln for ln in err.splitlines() if ln.strip()]
    assert "checkpoint saved" in line and "resume with: mechsim run" in line
    resumed_from = read_header(ckpt)[0]["round"]
    assert resumed_from >= 1000
    command = shlex.split(line.split("resume with: ", 1)[1])
    assert command[0] == "mechsim"
    code, _, err = call(["-v", *command[1:]], tmp_path)
    assert code == 0, err
    assert f"from round {resumed_from}" in err
    assert_same_results(tmp_path / "run", reference)


def test_a_second_writer_on_one_out_is_refused(tmp_path):
    # Long enough to outlive the second run's start-up on any machine (it is killed).
    forever = ["run", "public-goods", "--rounds", "1000000", "--set", "record_menus=false", "--quiet"]
    first = start([*forever, "--checkpoint-every", "500", "--out", "shared"], tmp_path)
    try:
        wait_for(checkpoint_at(tmp_path / ".shared.partial" / CHECKPOINT, 500), first, "the first run's checkpoint")
        code, _, err = call([*RUN, "--seed", "1", "--out", "shared"], tmp_path)
        assert code == 2
        assert "is being written by another run" in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
    finally:
        first.kill()
        first.communicate(timeout=TIMEOUT)


def test_out_that_is_a_file_fails_before_the_first_round(tmp_path):
    (tmp_path / "taken").write_text("not a directory")
    code, _, err = call(["run", "public-goods", "--rounds", "100000000", "--out", "taken", "--quiet"], tmp_path)
    assert code == 2 and "is a file" in err and "Traceback" not in err


def test_a_rerun_leaves_no_stale_files_and_another_config_is_refused(tmp_path):
    small = ["run", "public-goods", "--rounds", "50", "--quiet", "--out", "res"]
    assert call(small, tmp_path)[0] == 0
    (tmp_path / "res" / "old_plot.png").write_bytes(b"stale")
    assert call(small, tmp_path)[0] == 0
    assert not (tmp_path / "res" / "old_plot.png").exists()
    code, _, err = call([*small, "--seed", "4"], tmp_path)
    assert code == 2 and "holds the results of another config" in err and "--overwrite" in err
    assert call([*small, "--seed", "4", "--overwrite"], tmp_path)[0] == 0
    assert json.loads((tmp_path / "res" / "summary.json").read_text())["seed"] == 4


SWEEP = """
base = "public-goods"
seeds = 2
[overrides]
rounds = 300
menu_points = 8
"""


def test_a_truncated_parquet_in_a_finished_sweep_is_recomputed(tmp_path):
    (tmp_path / "sweep.toml").write_text(SWEEP)
    args = ["sweep", "sweep.toml", "--out", "sw", "--executor", "serial", "--quiet"]
    code, out, err = call(args, tmp_path)
    assert code == 0 and "2 of 2 runs ok" in out, err
    runs = sorted((tmp_path / "sw" / "runs").iterdir())
    victim = runs[0] / "rounds.parquet"
    good = victim.read_bytes()
    victim.write_bytes(good[: len(good) // 2])
    code, out, err = call(args, tmp_path)
    assert code == 0 and "2 of 2 runs ok" in out, err
    assert f"recomputing run {runs[0].name}: rounds.parquet" in err
    assert victim.read_bytes() == good
    lines = [json.loads(x) for x in (tmp_path / "sw" / "manifest.jsonl").read_text().splitlines()]
    assert [r["run_id"] for r in lines].count(runs[0].name) == 2  # recomputed once
    assert [r["run_id"] for r in lines].count(runs[1].name) == 1  # the intact one was not


def test_two_sweeps_on_one_directory_compute_each_run_once(tmp_path):
    (tmp_path / "sweep.toml").write_text(SWEEP.replace("rounds = 300", "rounds = 2000"))
    args = ["sweep", "sweep.toml", "--out", "sw", "--executor", "serial", "--quiet"]
    first = start(args, tmp_path)
    wait_for(lambda: len(list((tmp_path / "sw" / "runs").glob(".*.lock"))) == 2, first, "the first sweep's locks")
    code, out, err = call(args, tmp_path)
    assert code == 0 and "2 of 2 runs ok" in out, err
    assert finish(first)[0] == 0
    lines = [json.loads(x) for x in (tmp_path / "sw" / "manifest.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and len({r["run_id"] for r in lines}) == 2

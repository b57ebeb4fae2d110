"""Sweeps: grid expansion, one directory + manifest line per finished run, resume, failures
recorded, retries, process pool and Ray executors, a killed Ray worker, SIGINT + resume.

Independent checks: every run directory is compared with a direct `abm.run` of the same
config (or with an undisturbed serial sweep), file by file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import scaled

from abm.config import ConfigError
from abm.runs.runner import run, write_outputs
from abm.runs.sweep import MANIFEST, Manifest, SweepSpec, expand, load_sweep, run_id, sweep
from abm.scenario import SCENARIOS, register_scenario
from scenarios.public_goods import PublicGoods, PublicGoodsParams

REPO = Path(__file__).resolve().parents[1]
TIMING_KEYS = {"runtime_s", "rounds_per_s"}


def grid(rounds: int = 60, seeds: Any = 2, **axes: list[Any]) -> dict[str, Any]:
    return {
        "base": "public-goods",
        "seeds": seeds,
        "overrides": {"rounds": rounds, "agents": 4},
        "axes": axes or {"mechanism": ["proportional", "moulin"]},
    }


def assert_same_run(a: Path, b: Path) -> None:
    """Same Parquet tables, menus and summary (up to timing) in two run directories."""
    names = {p.name for p in a.iterdir()}
    assert names == {p.name for p in b.iterdir()}
    for name in names:
        if name.endswith(".parquet"):
            pd.testing.assert_frame_equal(pd.read_parquet(a / name), pd.read_parquet(b / name), check_exact=True)
        elif name.endswith(".npz"):
            ma, mb = np.load(a / name), np.load(b / name)
            for key in ma.files:
                np.testing.assert_array_equal(ma[key], mb[key])
    sa, sb = (strip_timing(json.loads((p / "summary.json").read_text())) for p in (a, b))
    for s in (sa, sb):
        s.pop("provenance")  # which process ran it (Ray's version only where Ray was imported)
    assert sa == sb


def strip_timing(d: Any) -> Any:
    """The summary without wall-clock entries (at any depth)."""
    if isinstance(d, dict):
        return {k: strip_timing(v) for k, v in d.items() if k not in TIMING_KEYS}
    return d


def assert_same_sweep(a: Path, b: Path) -> None:
    runs_a = sorted(p.name for p in (a / "runs").iterdir() if not p.name.startswith("."))
    assert runs_a == sorted(p.name for p in (b / "runs").iterdir() if not p.name.startswith("."))
    for rid in runs_a:
        assert_same_run(a / "runs" / rid, b / "runs" / rid)


def manifest_lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / MANIFEST).read_text().splitlines()]


# --- the spec ----------------------------------------------------------------------------


def test_expand_grid_and_ids():
    spec, root = load_sweep(grid(seeds=3, mechanism=["proportional", "moulin"], alpha=[0.3, 0.5]))
    runs = expand(spec, root)
    assert len(runs) == 2 * 2 * 3
    assert len({r.run_id for r in runs}) == len(runs)
    assert {(r.point["mechanism"], r.point["alpha"], r.seed) for r in runs} == {
        (m, a, s) for m in ("proportional", "moulin") for a in (0.3, 0.5) for s in range(3)
    }
    r = runs[0]
    assert r.config["params"]["mechanism"] == r.point["mechanism"] and r.config["rounds"] == 60
    again = expand(*load_sweep(grid(seeds=3, mechanism=["proportional", "moulin"], alpha=[0.3, 0.5])))
    assert [x.run_id for x in again] == [x.run_id for x in runs]  # stable across expansions


def test_run_id_ignores_placement_only():
    from abm.runs.runner import resolve_config

    a = resolve_config("public-goods", {"seed": 1})
    assert run_id(a) == run_id(a.model_copy(update={"shards": 7, "address": "auto"}))
    assert run_id(a) != run_id(resolve_config("public-goods", {"seed": 2}))


def test_sweep_toml_nested_tables_and_seed_list(tmp_path):
    (tmp_path / "s.toml").write_text(
        'base = "public-goods"\nseeds = [4, 9]\n[overrides]\nrounds = 30\n'
        '[axes]\nlearner.name = ["truthful", "adaptive_pacing"]\n'
    )
    spec, _ = load_sweep(tmp_path / "s.toml")
    assert spec.axes == {"learner.name": ["truthful", "adaptive_pacing"]} and spec.seeds == [4, 9]
    runs = expand(spec)
    assert sorted({r.config["learner"]["name"] for r in runs}) == ["adaptive_pacing", "truthful"]


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"seeds": 0}, "seeds"),
        ({"seeds": [1, 1]}, "distinct"),
        ({"seeds": [-1]}, "seeds"),
        ({"axes": {"mechanism": []}}, "axes.mechanism"),
        ({"axes": {"seed": [1]}}, "axes.seed"),
        ({"colour": "red"}, "colour"),
        ({"overrides": {"rounds": -3}}, "rounds"),
        ({"axes": {"mechanism": ["nope"]}}, "mechanism"),
        ({"overrides": {"backend": "ray"}}, "backend"),
    ],
)
def test_bad_sweeps_fail_before_running(tmp_path, bad, match):
    g = {**grid(), **bad}
    with pytest.raises(ConfigError, match=match):
        sweep(g, out=tmp_path, executor="serial", progress=False)
    assert not (tmp_path / MANIFEST).exists()


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="max_retries"):
        sweep(grid(), out=tmp_path, max_retries=-1)
    with pytest.raises(ValueError, match="workers"):
        sweep(grid(), out=tmp_path, workers=0)
    with pytest.raises(ValueError, match="executor"):
        sweep(grid(), out=tmp_path, executor="threads")


# --- serial: outputs, resume, failures, retries ------------------------------------------


def test_serial_sweep_writes_each_run_like_a_direct_run(tmp_path):
    frame = sweep(grid(), out=tmp_path, executor="serial", progress=False)
    assert list(frame["status"]) == ["ok"] * 4
    assert {"mechanism", "seed", "total_utility", "path"} <= set(frame.columns)
    spec, root = load_sweep(grid())
    for r in expand(spec, root):
        write_outputs(run(r.config, progress=False), tmp_path / "direct" / r.run_id)
        assert_same_run(tmp_path / "runs" / r.run_id, tmp_path / "direct" / r.run_id)
        row = frame.set_index("run_id").loc[r.run_id]
        assert row["seed"] == r.seed and row["mechanism"] == r.point["mechanism"]
        summary = json.loads((tmp_path / "runs" / r.run_id / "summary.json").read_text())
        assert row["total_utility"] == summary["total_utility"]
    assert len(manifest_lines(tmp_path)) == 4


def test_resume_skips_finished_runs(tmp_path):
    sweep(grid(), out=tmp_path, executor="serial", progress=False)
    lines = manifest_lines(tmp_path)
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("*.parquet")}
    frame = sweep(grid(), out=tmp_path, executor="serial", progress=False)
    assert manifest_lines(tmp_path) == lines  # nothing ran again
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("*.parquet")} == stamps
    assert list(frame["status"]) == ["ok"] * 4
    # A run whose directory vanished is recomputed, and only that one.
    victim = lines[1]["run_id"]
    for f in (tmp_path / "runs" / victim).iterdir():
        f.unlink()
    (tmp_path / "runs" / victim).rmdir()
    sweep(grid(), out=tmp_path, executor="serial", progress=False)
    again = manifest_lines(tmp_path)
    assert again[:4] == lines and [r["run_id"] for r in again[4:]] == [victim]


def test_resume_recomputes_a_damaged_run_and_names_it(tmp_path, caplog):
    sweep(grid(), out=tmp_path, executor="serial", progress=False)
    lines = manifest_lines(tmp_path)
    victim = lines[2]["run_id"]
    path = tmp_path / "runs" / victim / "metrics.parquet"
    good = path.read_bytes()
    path.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # same size, one bit flipped
    frame = sweep(grid(), out=tmp_path, executor="serial", progress=False)
    assert f"recomputing run {victim}: metrics.parquet does not match its recorded SHA-256" in caplog.text
    assert [r["run_id"] for r in manifest_lines(tmp_path)[4:]] == [victim]
    assert path.read_bytes() == good and list(frame["status"]) == ["ok"] * 4


def test_runs_of_another_code_version_are_kept_with_a_warning_or_rerun(tmp_path, caplog, monkeypatch):
    import abm.runs.sweep as sweep_module

    sweep(grid(), out=tmp_path, executor="serial", progress=False)
    lines = manifest_lines(tmp_path)
    assert {r["code_version"] for r in lines} == {sweep_module.code_version()}
    assert all(r["provenance"]["dependencies"]["numpy"] == np.__version__ for r in lines)
    monkeypatch.setattr(sweep_module, "code_version", lambda: "feedfacefeedface")
    sweep(grid(), out=tmp_path, executor="serial", progress=False)
    assert "4 finished runs" in caplog.text and "--rerun-changed" in caplog.text
    assert manifest_lines(tmp_path) == lines  # kept
    sweep(grid(), out=tmp_path, executor="serial", progress=False, rerun_changed=True)
    assert [r["run_id"] for r in manifest_lines(tmp_path)[4:]] == [r["run_id"] for r in lines]


def test_failing_run_recorded_and_sweep_goes_on(tmp_path):
    # shares must have one entry per agent (4): the first point fails inside its run.
    g = grid(seeds=1, shares=[[0.25, 0.25], [0.1, 0.1, 0.1, 0.1]])
    frame = sweep(g, out=tmp_path, executor="serial", max_retries=1, progress=False)
    by_status = frame.set_index("status")
    assert sorted(frame["status"]) == ["failed", "ok"]
    failed = by_status.loc["failed"]
    assert "params.shares has 2 entries" in failed["error"] and failed["attempts"] == 2
    rec = next(r for r in manifest_lines(tmp_path) if r["status"] == "failed")
    assert rec["seed"] == 0 and rec["config"]["params"]["shares"] == [0.25, 0.25]
    assert "Traceback" in rec["traceback"] and "params.shares" in rec["traceback"]
    assert pd.isna(failed["path"])
    assert (Path(by_status.loc["ok", "path"]) / "metrics.parquet").is_file()


class FlakyParams(PublicGoodsParams):
    marker: str = ""


class FlakyPublicGoods(PublicGoods):
    """Fails its first attempt (leaving a marker file), then behaves like public goods."""

    name = "flaky-test"
    Params = FlakyParams

    def build(self, config, params, seed):
        marker = Path(params.marker)
        if not marker.exists():
            marker.write_text("failed once")
            raise RuntimeError("transient failure")
        return super().build(config, params, seed)


@pytest.fixture
def flaky_scenario():
    register_scenario(FlakyPublicGoods())
    yield "flaky-test"
    SCENARIOS.pop("flaky-test", None)


def test_failed_attempt_is_retried(tmp_path, flaky_scenario):
    g = {
        "base": "public-goods",
        "seeds": [5],
        "overrides": {"scenario": flaky_scenario, "rounds": 40, "agents": 3, "marker": str(tmp_path / "m")},
    }
    frame = sweep(g, out=tmp_path / "out", executor="serial", max_retries=1, progress=False)
    assert list(frame["status"]) == ["ok"] and list(frame["attempts"]) == [2]
    g["overrides"]["marker"] = str(tmp_path / "m2")
    frame = sweep(g, out=tmp_path / "out0", executor="serial", max_retries=0, progress=False)
    assert list(frame["status"]) == ["failed"] and "transient failure" in frame["error"][0]


def test_torn_manifest_line_is_ignored_and_fenced(tmp_path):
    m = Manifest(tmp_path / MANIFEST)
    m.append({"run_id": "a", "status": "ok"})
    with (tmp_path / MANIFEST).open("a") as fh:
        fh.write('{"run_id": "b", "sta')  # a crash mid-write
    m2 = Manifest(tmp_path / MANIFEST)
    assert [r["run_id"] for r in m2.records()] == ["a"]
    m2.append({"run_id": "c", "status": "ok"})
    assert [r["run_id"] for r in m2.records()] == ["a", "c"]


# --- process pool: a dead worker ---------------------------------------------------------


def pool_workers() -> list[int]:
    """PIDs of this process's multiprocessing spawn children (the pool's workers)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmd = (d / "cmdline").read_bytes()
            except (OSError, IndexError, ValueError):
                continue
            if ppid == os.getpid() and b"spawn_main" in cmd:
                pids.append(int(d.name))
    return pids


@pytest.mark.slow
def test_process_pool_survives_a_killed_worker(tmp_path):
    g = grid(rounds=800, seeds=1)
    killed: list[int] = []

    def kill_one() -> None:
        # Any dead worker breaks a ProcessPoolExecutor: every pending run fails at once.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (tmp_path / "pool" / MANIFEST).exists():
            pids = pool_workers()
            if pids:
                time.sleep(0.5)
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one, daemon=True)
    killer.start()
    frame = sweep(g, out=tmp_path / "pool", executor="process", workers=2, max_retries=2, progress=False)
    killer.join()
    assert killed, "no pool worker was killed before the first run was recorded"
    assert list(frame["status"]) == ["ok"] * 2
    assert frame["attempts"].max() >= 2  # the broken pool's runs were resubmitted
    sweep(g, out=tmp_path / "serial", executor="serial", progress=False)
    assert_same_sweep(tmp_path / "pool", tmp_path / "serial")


# --- SIGINT and resume (a separate process) ----------------------------------------------


@pytest.mark.slow
def test_sigint_then_resume_loses_and_repeats_nothing(tmp_path):
    """A process-pool sweep (subprocess) is interrupted after its first recorded run, then
    resumed serially: the recorded runs are kept as they were, the others computed once,
    and everything equals an undisturbed serial sweep (so pool runs = serial runs too)."""
    g = grid(rounds=150, seeds=3)
    sweep_file = tmp_path / "sweep.toml"
    sweep_file.write_text(
        'base = "public-goods"\nseeds = 3\n[overrides]\nrounds = 150\nagents = 4\n'
        '[axes]\nmechanism = ["proportional", "moulin"]\n'
    )
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "abm.cli.main", "sweep", str(sweep_file), "--out", str(out), "--quiet"]
    cmd += ["--executor", "process", "--workers", "2"]
    proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + scaled(120)
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / MANIFEST).exists() and (out / MANIFEST).read_text().count("\n") >= 1:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    stdout, _ = proc.communicate(timeout=scaled(60))
    assert proc.returncode == 130, stdout
    assert "resume" in stdout
    before = manifest_lines(out)
    assert 1 <= len(before) < 6 and all(r["status"] == "ok" for r in before)
    stamps = {p: p.stat().st_mtime_ns for r in before for p in (out / r["path"]).iterdir()}

    frame = sweep(g, out=out, executor="serial", progress=False)
    assert list(frame["status"]) == ["ok"] * 6
    after = manifest_lines(out)
    assert after[: len(before)] == before  # the record survived
    ids = [r["run_id"] for r in after]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 6  # each run computed exactly once
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # finished runs untouched
    sweep(g, out=tmp_path / "reference", executor="serial", progress=False)
    assert_same_sweep(out, tmp_path / "reference")


# --- Ray ---------------------------------------------------------------------------------


@pytest.mark.ray
def test_ray_sweep_equals_serial_and_records_failures(ray_session, tmp_path):
    g = grid(seeds=1, shares=[[0.25, 0.25], [0.1, 0.1, 0.1, 0.1], [0.2, 0.1, 0.1, 0.1]])
    frame = sweep(g, out=tmp_path / "ray", executor="ray", max_retries=1, progress=False)
    assert sorted(frame["status"]) == ["failed", "ok", "ok"]
    failed = frame[frame["status"] == "failed"].iloc[0]
    assert "params.shares has 2 entries" in failed["error"] and failed["attempts"] == 2
    rec = next(r for r in manifest_lines(tmp_path / "ray") if r["status"] == "failed")
    assert "params.shares" in rec["traceback"] and rec["config"]["params"]["shares"] == [0.25, 0.25]
    sweep(g, out=tmp_path / "serial", executor="serial", max_retries=0, progress=False)
    assert_same_sweep(tmp_path / "ray", tmp_path / "serial")


def processes_titled(prefix: str) -> list[int]:
    """PIDs whose command line (Ray sets it to the running task's name) starts with prefix (Linux /proc)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(prefix.encode()):
                pids.append(int(d.name))
    return pids


class WorkerKiller(threading.Thread):
    """SIGKILLs the first Ray worker process seen executing a sweep run (title ray::mechsim_run)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.killed: int | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set() and self.killed is None:
            for pid in processes_titled("ray::mechsim_run"):
                time.sleep(0.2)  # well inside the run
                if pid not in processes_titled("ray::mechsim_run"):
                    continue  # finished meanwhile: an idle worker would prove nothing
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                self.killed = pid
                break
            time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.ray
def test_killed_ray_worker_sweep_completes_with_same_results(ray_session, tmp_path):
    g = grid(rounds=1500, seeds=2)
    killer = WorkerKiller()
    killer.start()
    try:
        frame = sweep(g, out=tmp_path / "ray", executor="ray", max_retries=2, progress=False)
    finally:
        killer.stop.set()
        killer.join()
    assert killer.killed is not None, "no worker was caught running a sweep task"
    assert killer.killed not in processes_titled("ray::")
    assert list(frame["status"]) == ["ok"] * 4
    sweep(g, out=tmp_path / "serial", executor="serial", progress=False)
    assert_same_sweep(tmp_path / "ray", tmp_path / "serial")


@pytest.mark.slow
@pytest.mark.ray
def test_cli_sweep_joins_running_cluster(ray_session, tmp_path):
    sweep_file = tmp_path / "sweep.toml"
    sweep_file.write_text(
        'base = "public-goods"\nseeds = 1\n[overrides]\nrounds = 50\nagents = 3\n'
        '[axes]\nmechanism = ["proportional", "moulin"]\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "abm.cli.main", "sweep", str(sweep_file), "--out", str(tmp_path / "cli"), "--quiet",
         "--executor", "ray", "--address", "auto"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=scaled(120),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 of 2 runs ok" in proc.stdout
    assert "Started a local Ray instance" not in proc.stderr
    sweep(sweep_file, out=tmp_path / "serial", executor="serial", progress=False)
    assert_same_sweep(tmp_path / "cli", tmp_path / "serial")


def test_spec_model_is_strict():
    with pytest.raises(ConfigError, match="base"):
        load_sweep({"seeds": 1})
    assert SweepSpec(base="x", seeds=2).seeds == [0, 1]

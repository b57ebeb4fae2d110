"""Parameter sweeps that survive failures: a grid over parameters x seeds, one task per run
(DESIGN.md §4).

A sweep file (TOML) names a base (a scenario or a config TOML), `[overrides]` applied to
every run, `[axes]` whose cartesian product, times `seeds`, is the grid:

    base = "public-goods"
    seeds = 3                     # or a list: [0, 7, 42]
    [overrides]
    rounds = 500
    [axes]
    mechanism = ["proportional", "moulin"]
    "learner.name" = ["adaptive_pacing", "truthful"]

Runs execute serially, in a process pool, or as Ray tasks (`ray.wait`-driven). Each
finished run is written at once by the driver — its own directory `runs/<run_id>/` with
the files `abm.runner.write_outputs` produces (the worker writes them to a scratch
directory and returns the bytes, so cluster nodes need no shared filesystem) — and then a
line is appended to `manifest.jsonl`. A run's id is a hash of its resolved config, so
re-running the same sweep skips finished runs (resume). A failing run is retried up to
`max_retries` times, then recorded with its config, seed and traceback; the sweep goes on.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import itertools
import json
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import Field, ValidationError, field_validator
from tqdm.auto import tqdm

from abm.config import ConfigError, RunConfig, StrictModel, format_validation_error, load_toml
from abm.runner import resolve_config
from abm.scenario import get_scenario

log = logging.getLogger(__name__)

Executor = Literal["auto", "serial", "process", "ray"]
#: Config fields that say where a run executes, not what it computes: not part of the run id.
PLACEMENT_FIELDS = ("backend", "address", "shards")
MANIFEST = "manifest.jsonl"
RUNS_DIR = "runs"


class SweepSpec(StrictModel):
    """A sweep: base scenario or config, overrides for every run, axes x seeds."""

    base: str
    seeds: list[int] = Field(default_factory=lambda: [0])
    overrides: dict[str, Any] = Field(default_factory=dict)
    axes: dict[str, list[Any]] = Field(default_factory=dict)
    out: str | None = None

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_count(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            if v < 1:
                raise ValueError(f"seeds must be a count >= 1 or a list of seeds, got {v}")
            return list(range(v))
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds_ok(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("seeds must not be empty")
        for i, s in enumerate(v):
            if s < 0:
                raise ValueError(f"seeds[{i}] must be >= 0, got {s}")
        if len(set(v)) != len(v):
            raise ValueError(f"seeds must be distinct, got {v}")
        return v

    @field_validator("overrides", "axes", mode="before")
    @classmethod
    def _flatten(cls, v: Any) -> Any:
        # TOML writes `learner.name = [...]` as a nested table; runs take dotted keys.
        return flatten(v) if isinstance(v, dict) else v

    @field_validator("axes")
    @classmethod
    def _axes_ok(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in v.items():
            if not values:
                raise ValueError(f"axes.{key} must list at least one value")
            if key == "seed":
                raise ValueError("axes.seed: give seeds with the top-level `seeds` key")
        return v


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"learner": {"name": x}} -> {"learner.name": x} (lists and scalars are leaves)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:  # an empty table is a value (e.g. learner.params = {})
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


@dataclass(frozen=True)
class RunSpec:
    """One grid point: its id, the resolved config (JSON-ready) and its axis values + seed."""

    run_id: str
    config: dict[str, Any]
    point: dict[str, Any]

    @property
    def seed(self) -> int:
        return int(self.config["seed"])


def load_sweep(grid: str | Path | dict[str, Any] | SweepSpec) -> tuple[SweepSpec, Path]:
    """A sweep TOML path, a dict or a SweepSpec -> (spec, directory that relative paths start from)."""
    if isinstance(grid, SweepSpec):
        return grid, Path.cwd()
    if isinstance(grid, dict):
        data, root = grid, Path.cwd()
    else:
        path = Path(grid)
        data, root = load_toml(path), path.parent
    try:
        return SweepSpec.model_validate(data), root
    except ValidationError as exc:
        raise ConfigError(f"invalid sweep: {format_validation_error(exc)}") from None


def run_id(config: RunConfig) -> str:
    """A stable id of what a run computes: a hash of its config minus placement fields."""
    data = config.model_dump(mode="json", exclude=set(PLACEMENT_FIELDS))
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def expand(spec: SweepSpec, root: Path | None = None, extra: dict[str, Any] | None = None) -> list[RunSpec]:
    """Every run of the grid, validated up front (a typo fails before any run starts)."""
    base: str | Path = spec.base
    if root is not None and (spec.base.endswith(".toml") or (root / spec.base).is_file()):
        base = root / spec.base
    keys = list(spec.axes)
    runs: list[RunSpec] = []
    seen: dict[str, dict[str, Any]] = {}
    for combo in itertools.product(*(spec.axes[k] for k in keys)):
        for seed in spec.seeds:
            point = dict(zip(keys, combo, strict=True))
            cfg = resolve_config(base, {**spec.overrides, **(extra or {}), **point, "seed": seed})
            if cfg.backend != "local":
                raise ConfigError(
                    f"backend = {cfg.backend!r} in a sweep run: sweeps parallelize over runs, each run's "
                    "learners run in its task (choose the sweep executor with --backend/--executor)"
                )
            get_scenario(cfg.scenario).parse_params(cfg.params)
            rid = run_id(cfg)
            point = {**point, "seed": seed}
            if rid in seen:
                raise ConfigError(f"sweep points {seen[rid]} and {point} resolve to the same run")
            seen[rid] = point
            runs.append(RunSpec(rid, cfg.model_dump(mode="json"), point))
    return runs


# --- the task ------------------------------------------------------------------------


def execute_run(config: dict[str, Any]) -> dict[str, bytes]:
    """Run one config in this (worker) process; return the output files' bytes by name."""
    from abm.runner import run

    with tempfile.TemporaryDirectory(prefix="mechsim-run-") as tmp:
        run(config, out=tmp, progress=False)
        return {p.name: p.read_bytes() for p in sorted(Path(tmp).iterdir()) if p.is_file()}


# --- results on disk -------------------------------------------------------------------


class Manifest:
    """`manifest.jsonl`: one JSON line per finished attempt (ok or failed), append-only.

    Each line goes out in one O_APPEND write followed by fsync; a torn last line (a crash
    mid-write) is ignored when reading and fenced off by a newline before the next append."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fenced = False

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                log.warning("ignoring a torn line in %s", self.path)
                continue
            if isinstance(rec, dict) and "run_id" in rec:
                out.append(rec)
        return out

    def latest(self) -> dict[str, dict[str, Any]]:
        """The last record of each run id."""
        return {r["run_id"]: r for r in self.records()}

    def append(self, record: dict[str, Any]) -> None:
        data = (json.dumps(record, sort_keys=True, default=_json_default) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if not self._fenced:
                if os.fstat(fd).st_size and not self.path.read_bytes().endswith(b"\n"):
                    data = b"\n" + data
                self._fenced = True
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)


def _json_default(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    return str(x)


@contextlib.contextmanager
def deferred_sigint() -> Iterator[None]:
    """Hold Ctrl-C until the block ends, so a run is never half recorded (files without a
    manifest line would be recomputed on resume). Only the main thread can do this."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[Any] = []
    previous = signal.signal(signal.SIGINT, lambda *a: caught.append(a))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(*caught[0])


def write_run(out: Path, spec: RunSpec, files: dict[str, bytes]) -> Path:
    """runs/<run_id>/ from the returned files: written to a scratch directory, then renamed."""
    final = out / RUNS_DIR / spec.run_id
    tmp = out / RUNS_DIR / f".{spec.run_id}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, data in files.items():
        (tmp / name).write_bytes(data)
    if final.exists():  # left by an interrupted earlier attempt that never reached the manifest
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def summary_scalars(summary: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The flat scalar entries of summary.json (nested tables as dotted keys; no config)."""
    out: dict[str, Any] = {}
    for k, v in summary.items():
        if k == "config" and not prefix:
            continue
        if isinstance(v, dict):
            out.update(summary_scalars(v, f"{prefix}{k}."))
        elif isinstance(v, int | float | str | bool) or v is None:
            out[f"{prefix}{k}"] = v
    return out


# --- executors -------------------------------------------------------------------------


@dataclass
class _Task:
    spec: RunSpec
    attempt: int
    handle: Any = field(default=None)


class SerialPool:
    """Runs in this process, one at a time (debugging, tiny sweeps)."""

    internal_retries = False

    def __init__(self) -> None:
        self._queue: list[Any] = []
        self._done: dict[Any, tuple[bool, Any]] = {}

    def submit(self, spec: RunSpec) -> Any:
        handle = object()
        self._queue.append((handle, spec))
        return handle

    def wait(self, handles: list[Any]) -> list[Any]:
        handle, spec = self._queue.pop(0)
        try:
            self._done[handle] = (True, execute_run(spec.config))
        except Exception as exc:
            self._done[handle] = (False, exc)
        return [handle]

    def result(self, handle: Any) -> dict[str, bytes]:
        ok, value = self._done.pop(handle)
        if not ok:
            raise value
        return value

    def shutdown(self) -> None:
        self._queue.clear()


class ProcessPool:
    """A `spawn` process pool (Mesa forces spawn); a dead worker breaks the pool, which is
    then rebuilt and the affected runs retried."""

    internal_retries = False

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor = self._new()

    def _new(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, spec: RunSpec) -> cf.Future:
        try:
            return self._executor.submit(execute_run, spec.config)
        except cf.process.BrokenProcessPool:
            log.warning("the process pool broke (a worker died); starting a new one")
            self._executor = self._new()
            return self._executor.submit(execute_run, spec.config)

    def wait(self, handles: list[cf.Future]) -> list[cf.Future]:
        done, _ = cf.wait(handles, return_when=cf.FIRST_COMPLETED)
        return list(done)

    def result(self, handle: cf.Future) -> dict[str, bytes]:
        return handle.result()

    def shutdown(self) -> None:
        # Interrupted: do not wait for running runs (their results would be discarded anyway).
        # ProcessPoolExecutor has no public terminate before Python 3.14.
        processes = list(getattr(self._executor, "_processes", {}).values())
        self._executor.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            p.terminate()


class RayPool:
    """Ray tasks (num_cpus=1 each); Ray itself retries a task whose worker died or that
    raised (`max_retries`, `retry_exceptions`)."""

    internal_retries = True

    def __init__(self, max_retries: int, address: str | None, ship_code: bool) -> None:
        import ray

        from abm.backends import connect_ray

        connect_ray(address, ship_code=ship_code)
        self._ray = ray
        self._task = ray.remote(execute_run).options(
            num_cpus=1, max_retries=max_retries, retry_exceptions=True, name="mechsim_run"
        )

    def submit(self, spec: RunSpec) -> Any:
        return self._task.remote(spec.config)

    def wait(self, handles: list[Any]) -> list[Any]:
        ready, _ = self._ray.wait(handles, num_returns=1)
        return ready

    def result(self, handle: Any) -> dict[str, bytes]:
        return self._ray.get(handle)

    def cancel(self, handles: list[Any]) -> None:
        for h in handles:
            with contextlib.suppress(Exception):
                self._ray.cancel(h, force=True)

    def shutdown(self) -> None:
        pass


def choose_executor(executor: Executor, address: str | None, n_todo: int, workers: int | None) -> Executor:
    if executor != "auto":
        return executor
    if address is not None:
        return "ray"
    with contextlib.suppress(ImportError):
        import ray

        if ray.is_initialized():
            return "ray"
    return "process" if n_todo > 1 and (workers or os.cpu_count() or 1) > 1 else "serial"


# --- the driver ----------------------------------------------------------------------


def sweep(
    grid: str | Path | dict[str, Any] | SweepSpec,
    *,
    out: str | Path | None = None,
    executor: Executor = "auto",
    workers: int | None = None,
    address: str | None = None,
    max_retries: int = 2,
    overrides: dict[str, Any] | None = None,
    ship_code: bool = False,
    progress: bool = True,
) -> pd.DataFrame:
    """Run every grid point not already finished in `out`; return one row per run.

    executor: "serial", "process" (`workers` processes, default all cores), "ray" (tasks on
    the Ray at `address`: None starts a local one, "auto"/"ray://..." joins a cluster) or
    "auto" (Ray when an address is given or Ray is already up, else processes).
    max_retries: extra attempts for a run that raised or whose worker died.
    overrides: dotted `key=value`s applied to every run on top of the sweep's own.
    Rows: run_id, status (ok | failed), the axis values, seed, attempts, path (ok runs),
    error (failed runs) and the scalar entries of each run's summary.json.
    """
    if max_retries < 0:
        raise ValueError(f"max_retries must be >= 0, got {max_retries}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if executor not in ("auto", "serial", "process", "ray"):
        raise ValueError(f"executor must be auto, serial, process or ray, got {executor!r}")
    spec, root = load_sweep(grid)
    runs = expand(spec, root, overrides)
    out_dir = Path(out if out is not None else spec.out or f"results/sweep-{_spec_hash(spec)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / RUNS_DIR).mkdir(exist_ok=True)
    (out_dir / "sweep.json").write_text(
        json.dumps({"spec": spec.model_dump(mode="json"), "runs": [r.run_id for r in runs]}, indent=1) + "\n"
    )
    manifest = Manifest(out_dir / MANIFEST)
    latest = manifest.latest()
    done = {
        r.run_id
        for r in runs
        if latest.get(r.run_id, {}).get("status") == "ok" and (out_dir / RUNS_DIR / r.run_id).is_dir()
    }
    todo = [r for r in runs if r.run_id not in done]
    if done:
        log.info("resuming %s: %d of %d runs already finished", out_dir, len(done), len(runs))
    kind = choose_executor(executor, address, len(todo), workers)
    if todo:
        if kind == "serial":
            pool: Any = SerialPool()
        elif kind == "process":
            pool = ProcessPool(workers or os.cpu_count() or 1)
        else:
            pool = RayPool(max_retries, address, ship_code)
        _drive(pool, todo, out_dir, manifest, max_retries, len(runs), len(done), progress)
    return results_frame(runs, manifest.latest(), out_dir)


def _spec_hash(spec: SweepSpec) -> str:
    return hashlib.sha256(json.dumps(spec.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:10]


def _drive(
    pool: Any, todo: list[RunSpec], out: Path, manifest: Manifest, max_retries: int, total: int, skipped: int,
    progress: bool,
) -> None:
    pending: dict[Any, _Task] = {}

    def submit(spec: RunSpec, attempt: int) -> None:
        task = _Task(spec, attempt)
        task.handle = pool.submit(spec)
        pending[task.handle] = task  # futures, Ray ObjectRefs and serial tokens are hashable

    bar = tqdm(total=total, initial=skipped, desc=f"sweep {out.name}", unit="run", disable=not progress)
    try:
        for spec in todo:
            submit(spec, 1)
        while pending:
            for handle in pool.wait([t.handle for t in pending.values()]):
                task = pending.pop(handle)
                started = time.time()
                try:
                    files = pool.result(handle)
                except Exception as exc:
                    if not pool.internal_retries and task.attempt <= max_retries:
                        log.warning("run %s failed (attempt %d), retrying: %s", task.spec.run_id, task.attempt, exc)
                        submit(task.spec, task.attempt + 1)
                        continue
                    attempts = max_retries + 1 if pool.internal_retries else task.attempt
                    with deferred_sigint():
                        manifest.append(_failure(task.spec, exc, attempts))
                    log.error("run %s %s failed after %d attempts", task.spec.run_id, task.spec.point, attempts)
                else:
                    with deferred_sigint():
                        path = write_run(out, task.spec, files)
                        manifest.append(_success(task.spec, files, path.relative_to(out), task.attempt))
                    log.debug("recorded run %s in %.3f s", task.spec.run_id, time.time() - started)
                bar.update(1)
    except BaseException:
        if isinstance(pool, RayPool):
            pool.cancel([t.handle for t in pending.values()])
        pool.shutdown()
        raise
    finally:
        bar.close()


def _success(spec: RunSpec, files: dict[str, bytes], path: Path, attempt: int) -> dict[str, Any]:
    summary = json.loads(files["summary.json"]) if "summary.json" in files else {}
    return {
        "run_id": spec.run_id,
        "status": "ok",
        "point": spec.point,
        "seed": spec.seed,
        "path": str(path),
        "attempts": attempt,
        "finished_at": time.time(),
        "summary": summary_scalars(summary),
    }


def _failure(spec: RunSpec, exc: BaseException, attempts: int) -> dict[str, Any]:
    text = "".join(traceback.format_exception(exc))
    last = str(exc).strip().splitlines()
    return {
        "run_id": spec.run_id,
        "status": "failed",
        "point": spec.point,
        "seed": spec.seed,
        "config": spec.config,
        "attempts": attempts,
        "finished_at": time.time(),
        "error": last[-1] if last else type(exc).__name__,
        "traceback": text,
    }


def results_frame(runs: list[RunSpec], latest: dict[str, dict[str, Any]], out: Path) -> pd.DataFrame:
    """One row per run of the grid, in grid order, from the manifest's latest records."""
    rows = []
    for r in runs:
        rec = latest.get(r.run_id, {})
        status = rec.get("status", "pending")
        if status == "ok" and not (out / RUNS_DIR / r.run_id).is_dir():
            status = "pending"
        row = {"run_id": r.run_id, "status": status, **r.point, "attempts": rec.get("attempts", 0)}
        row["path"] = str(out / rec["path"]) if status == "ok" else None
        row["error"] = rec.get("error") if status == "failed" else None
        summary = rec.get("summary", {}) if status == "ok" else {}
        row.update({k: v for k, v in summary.items() if k not in row})  # axis values keep their spelling
        rows.append(row)
    return pd.DataFrame(rows)


# --- command line ----------------------------------------------------------------------


def register_cli(subparsers: Any) -> None:
    p = subparsers.add_parser("sweep", help="run a grid of configs x seeds (resumable; Ray, processes or serial)")
    p.add_argument("sweep_file", help="sweep TOML: base, seeds, [overrides], [axes]")
    p.add_argument("--out", help="output directory (default: the file's `out`, else results/sweep-<hash>)")
    p.add_argument("--backend", choices=["local", "ray"], help="ray: runs are Ray tasks (the default with --address)")
    p.add_argument("--executor", choices=["auto", "serial", "process", "ray"], help="overrides --backend")
    p.add_argument("--address", help="Ray cluster to join (auto, ray://host:port); default starts a local Ray")
    p.add_argument("--workers", type=int, help="processes for --executor process (default: all cores)")
    p.add_argument("--max-retries", type=int, default=2, help="extra attempts per failing run (default 2)")
    p.add_argument("--ship-code", action="store_true", help="send this checkout's packages to Ray workers")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a field in every run")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no table")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: Any) -> int:
    from abm.cli import parse_sets

    executor = args.executor or ("ray" if args.backend == "ray" else "auto")
    if args.backend == "local" and args.executor is None:
        executor = "process"
    try:
        frame = sweep(
            args.sweep_file,
            out=args.out,
            executor=executor,
            workers=args.workers,
            address=args.address,
            max_retries=args.max_retries,
            overrides=parse_sets(args.set or []),
            ship_code=args.ship_code,
            progress=not args.quiet,
        )
    except KeyboardInterrupt:
        print("\nmechsim sweep: interrupted; finished runs are recorded — run the same command again to resume")
        return 130
    ok = int((frame["status"] == "ok").sum())
    failed = frame[frame["status"] == "failed"]
    if not args.quiet:
        axes = list(frame.columns[2 : frame.columns.get_loc("attempts")])  # the point: axis values + seed
        keys = ("total_utility", "total_spent", "n_depleted", "runtime_s")
        cols = ["run_id", "status", *axes, *[c for c in frame.columns if c in keys or "regret" in c]]
        fmt = ("display.width", 160, "display.max_columns", 12, "display.float_format", "{:.4g}".format)
        with pd.option_context(*fmt):
            print(frame[cols].to_string(index=False))
    print(f"{ok} of {len(frame)} runs ok, {len(failed)} failed")
    for _, row in failed.iterrows():
        print(f"  failed {row['run_id']} seed={row['seed']}: {row['error']}")
    return 1 if len(failed) else 0

"""Where a sweep's runs execute — serially, in a process pool, or as Ray tasks — and the
driver loop that retries failing runs and records each finished one (docs/architecture.md).

Every pool runs `execute_run` (module level, so process-pool and Ray workers unpickle it
by reference), which returns the run's output files as bytes; the driver writes them, so
cluster nodes need no shared filesystem.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing
import os
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tqdm.auto import tqdm

from abm.runs.manifest import (
    RUNS_DIR,
    Manifest,
    RunSpec,
    damage,
    deferred_sigint,
    failure_record,
    success_record,
    write_run,
)
from abm.runs.rundir import FileLock

log = logging.getLogger(__name__)

Executor = Literal["auto", "serial", "process", "ray"]


# --- the task ------------------------------------------------------------------------


def execute_run(config: dict[str, Any]) -> dict[str, bytes]:
    """Run one config in this (worker) process; return the output files' bytes by name."""
    from abm.plugins import load_plugins
    from abm.runs.runner import run

    # Spawned and Ray workers start fresh: register the run's plug-ins before its names are read.
    load_plugins(config.get("plugins") or [])
    with tempfile.TemporaryDirectory(prefix="mechsim-run-") as tmp:
        out = Path(tmp) / "run"
        run(config, out=out, progress=False)
        return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def _worker_init() -> None:
    """Process-pool workers leave Ctrl-C to the driver, which terminates them (a worker's
    own KeyboardInterrupt would print a traceback per worker). A terminated process runs
    no exit handlers, so it must own no multiprocessing semaphore, which the resource
    tracker would report leaked: tqdm's write lock is a thread lock here (a worker's
    progress bars are disabled anyway)."""
    import threading

    from tqdm.std import tqdm as std_tqdm

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    std_tqdm.set_lock(threading.RLock())


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
        return cf.ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init
        )

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
        for p in processes:
            p.terminate()
        for p in processes:
            p.join()
        # With the workers gone, a waiting shutdown returns at once and lets the executor
        # close its queues: their semaphores are released, not reported leaked at exit.
        self._executor.shutdown(wait=True, cancel_futures=True)


class RayPool:
    """Ray tasks (num_cpus=1 each); Ray itself retries a task whose worker died or that
    raised (`max_retries`, `retry_exceptions`)."""

    internal_retries = True

    def __init__(
        self, max_retries: int, address: str | None, ship_code: bool, plugins: list[str] | None = None
    ) -> None:
        import ray

        from abm.backends import connect_ray
        from abm.plugins import ray_py_modules

        # Plug-in files and packages go to the workers as runtime_env py_modules (per job: when
        # Ray is already up, workers load them from the same paths, as on one machine).
        if not connect_ray(address, ship_code=ship_code, py_modules=ray_py_modules(plugins or [])) and plugins:
            log.info("Ray was already initialized: plug-ins %s are loaded from their paths in the workers", plugins)
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


def make_pool(
    kind: Executor, workers: int | None, max_retries: int, address: str | None, ship_code: bool,
    plugins: list[str] | None = None,
) -> Any:
    """The pool of a chosen (not "auto") executor kind; `plugins`: every run's plug-ins (for Ray)."""
    if kind == "serial":
        return SerialPool()
    if kind == "process":
        return ProcessPool(workers or os.cpu_count() or 1)
    return RayPool(max_retries, address, ship_code, plugins)


# --- the driver ----------------------------------------------------------------------


def drive(
    pool: Any, todo: list[RunSpec], out: Path, manifest: Manifest, max_retries: int, total: int, skipped: int,
    progress: bool, known: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Submit every run, record each as it finishes, resubmit failures up to `max_retries`.

    Each run is locked (`runs/.<run_id>.lock`) from its submission until it is recorded,
    so a second sweep on the same directory leaves it alone: runs another sweep holds are
    put off, waited for once this sweep's own are done, and computed only if the other
    sweep did not record them ok. `known`: the manifest's records when the sweep decided
    what to run; only a record written since (by another sweep) makes a run finished."""
    known = known if known is not None else {}

    def recorded_since(spec: RunSpec, ok_only: bool) -> bool:
        rec = Manifest(manifest.path).latest().get(spec.run_id)
        if rec is None or rec == known.get(spec.run_id):
            return False
        if rec.get("status") == "failed":
            return not ok_only
        return rec.get("status") == "ok" and damage(rec, out) is None

    pending: dict[Any, _Task] = {}
    locks: dict[str, FileLock] = {}
    held_elsewhere: list[tuple[RunSpec, FileLock]] = []

    def lock_of(spec: RunSpec) -> FileLock:
        return FileLock(out / RUNS_DIR / f".{spec.run_id}.lock", f"mechsim sweep {out}")

    def submit(spec: RunSpec, attempt: int) -> None:
        task = _Task(spec, attempt)
        task.handle = pool.submit(spec)
        pending[task.handle] = task  # futures, Ray ObjectRefs and serial tokens are hashable

    def release(spec: RunSpec) -> None:
        lock = locks.pop(spec.run_id, None)
        if lock is not None:
            lock.release()

    bar = tqdm(total=total, initial=skipped, desc=f"sweep {out.name}", unit="run", disable=not progress)
    try:
        mine = []
        for spec in todo:
            lock = lock_of(spec)
            if lock.acquire():
                locks[spec.run_id] = lock
                mine.append(spec)
            else:
                held_elsewhere.append((spec, lock))
        # Another sweep may have recorded some of them before we took their locks.
        for spec in mine:
            if recorded_since(spec, ok_only=True):
                release(spec)
                bar.update(1)
            else:
                submit(spec, 1)
        if held_elsewhere:
            log.warning("%d runs are being computed by another sweep on %s: waiting for them at the end",
                        len(held_elsewhere), out)
        while pending or held_elsewhere:
            if not pending:
                spec, lock = held_elsewhere.pop(0)
                lock.acquire(blocking=True)  # the other sweep recorded it, or stopped
                locks[spec.run_id] = lock
                if recorded_since(spec, ok_only=False):
                    release(spec)
                    bar.update(1)
                else:
                    submit(spec, 1)
                continue
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
                        manifest.append(failure_record(task.spec, exc, attempts))
                    log.error("run %s %s failed after %d attempts", task.spec.run_id, task.spec.point, attempts)
                else:
                    with deferred_sigint():
                        path = write_run(out, task.spec, files)
                        manifest.append(success_record(task.spec, files, path.relative_to(out), task.attempt))
                    log.debug("recorded run %s in %.3f s", task.spec.run_id, time.time() - started)
                release(task.spec)
                bar.update(1)
    except BaseException:
        if isinstance(pool, RayPool):
            pool.cancel([t.handle for t in pending.values()])
        pool.shutdown()
        raise
    finally:
        for lock in locks.values():
            lock.release()
        bar.close()

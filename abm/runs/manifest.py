"""A sweep's results on disk: run ids, `manifest.jsonl` lines, the runs/<run_id>/ directories
and the resume bookkeeping read back from them (docs/architecture.md).

A run's id is a hash of its resolved config (placement fields aside), so re-running the
same sweep finds its finished runs here and skips them. Writes are atomic per run: the
files go to a scratch directory that is renamed into place, then one fsync'd manifest line
records the attempt; Ctrl-C is held in between so a run is never half recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from abm import jsonio
from abm.config import ConfigError, RunConfig

log = logging.getLogger(__name__)

#: Config fields that say where (and from which plug-in paths) a run executes, not what it
#: computes: left out of the run id, so moving a checkout or a plug-in file keeps resume working.
PLACEMENT_FIELDS = ("backend", "address", "shards", "plugins")
MANIFEST = "manifest.jsonl"
RUNS_DIR = "runs"


@dataclass(frozen=True)
class RunSpec:
    """One grid point: its id, the resolved config (JSON-ready) and its axis values + seed."""

    run_id: str
    config: dict[str, Any]
    point: dict[str, Any]

    @property
    def seed(self) -> int:
        return int(self.config["seed"])


def run_id(config: RunConfig) -> str:
    """A stable id of what a run computes: a hash of its config minus placement fields."""
    data = config.model_dump(mode="json", exclude=set(PLACEMENT_FIELDS))
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


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
                rec = jsonio.loads(line)
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
        data = (jsonio.dumps(record, sort_keys=True, default=_json_default) + "\n").encode()
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


def finished_runs(runs: list[RunSpec], latest: dict[str, dict[str, Any]], out: Path) -> set[str]:
    """Run ids to skip on resume: recorded ok and their directory still present."""
    return {
        r.run_id
        for r in runs
        if latest.get(r.run_id, {}).get("status") == "ok" and (out / RUNS_DIR / r.run_id).is_dir()
    }


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


def success_record(spec: RunSpec, files: dict[str, bytes], path: Path, attempt: int) -> dict[str, Any]:
    """The manifest line of a run recorded ok (its summary's scalars ride along for the table)."""
    summary = jsonio.loads(files["summary.json"]) if "summary.json" in files else {}
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


def failure_record(spec: RunSpec, exc: BaseException, attempts: int) -> dict[str, Any]:
    """The manifest line of a run that failed every attempt: config, seed and traceback."""
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


def finished_table(out: Path) -> pd.DataFrame:
    """The finished runs of the sweep directory `out` from its manifest alone (no configs
    re-resolved): run_id, the axis values, seed, path and the summary scalars, one row each."""
    manifest = Manifest(out / MANIFEST)
    if not manifest.path.is_file():
        raise ConfigError(f"{out} is not a sweep directory (no {MANIFEST})")
    rows = []
    for rec in manifest.latest().values():
        if rec.get("status") == "ok" and (out / RUNS_DIR / rec["run_id"]).is_dir():
            row = {"run_id": rec["run_id"], **rec.get("point", {}), "path": str(out / rec["path"])}
            row.update({k: v for k, v in rec.get("summary", {}).items() if k not in row})
            rows.append(row)
    return pd.DataFrame(rows)

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
from abm.config import ConfigError

log = logging.getLogger(__name__)

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


def file_digests(files: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of each output file: what a resume checks a finished run against."""
    return {name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()} for name, data in files.items()}


def damage(record: dict[str, Any], out: Path) -> str | None:
    """What is wrong with the files of a run recorded ok (None: they are as recorded). A
    record with checksums is checked file by file; an older one (no checksums) by reading
    each table's Parquet footer and the summary."""
    path = out / RUNS_DIR / record["run_id"]
    if not path.is_dir():
        return "its directory is missing"
    digests = record.get("files")
    if digests is None:
        return _legacy_damage(path)
    for name, want in sorted(digests.items()):
        f = path / name
        if not f.is_file():
            return f"{name} is missing"
        if f.stat().st_size != want["bytes"]:
            return f"{name} has {f.stat().st_size} bytes, {want['bytes']} were recorded"
        if _sha256(f) != want["sha256"]:
            return f"{name} does not match its recorded SHA-256"
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _legacy_damage(path: Path) -> str | None:
    import pyarrow.parquet as pq

    for f in sorted(path.glob("*.parquet")):
        try:
            pq.read_metadata(f)
        except Exception:  # any unreadable footer is damage, whatever pyarrow raises
            return f"{f.name} is not a readable Parquet file"
    try:
        json.loads((path / "summary.json").read_text())
    except (OSError, ValueError):
        return "summary.json is missing or unreadable"
    return None


@dataclass
class Finished:
    """The resume check of a sweep's runs: ok (skip), damaged (id -> what is wrong: redo),
    changed (ids recorded by another code version)."""

    ok: set[str]
    damaged: dict[str, str]
    changed: set[str]


def finished_runs(
    runs: list[RunSpec], latest: dict[str, dict[str, Any]], out: Path, code_version: str | None = None
) -> Finished:
    """Which runs a resume skips: recorded ok and their files verified against the manifest
    (`damage`); `changed`: those among them recorded by a code version other than `code_version`."""
    result = Finished(set(), {}, set())
    for r in runs:
        rec = latest.get(r.run_id, {})
        if rec.get("status") != "ok":
            continue
        problem = damage(rec, out)
        if problem is not None:
            result.damaged[r.run_id] = problem
            continue
        result.ok.add(r.run_id)
        if code_version is not None and rec.get("code_version") != code_version:
            result.changed.add(r.run_id)
    return result


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
    """The flat scalar entries of summary.json (nested tables as dotted keys; no config
    and no provenance, which the manifest line keeps whole)."""
    out: dict[str, Any] = {}
    for k, v in summary.items():
        if k in ("config", "provenance") and not prefix:
            continue
        if isinstance(v, dict):
            out.update(summary_scalars(v, f"{prefix}{k}."))
        elif isinstance(v, int | float | str | bool) or v is None:
            out[f"{prefix}{k}"] = v
    return out


def success_record(spec: RunSpec, files: dict[str, bytes], path: Path, attempt: int) -> dict[str, Any]:
    """The manifest line of a run recorded ok (its summary's scalars ride along for the table)."""
    summary = jsonio.loads(files["summary.json"]) if "summary.json" in files else {}
    prov = summary.get("provenance") or {}
    return {
        "run_id": spec.run_id,
        "status": "ok",
        "point": spec.point,
        "seed": spec.seed,
        "path": str(path),
        "attempts": attempt,
        "finished_at": time.time(),
        "code_version": prov.get("code_version"),
        "provenance": prov,
        "files": file_digests(files),
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

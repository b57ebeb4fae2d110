"""Parameter sweeps that survive failures: a grid over parameters x seeds, one task per run
(docs/architecture.md).

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
the files `abm.runs.runner.write_outputs` produces (the worker writes them to a scratch
directory and returns the bytes, so cluster nodes need no shared filesystem) — and then a
line is appended to `manifest.jsonl`. A run's id is a hash of its resolved config, so
re-running the same sweep skips finished runs (resume). A failing run is retried up to
`max_retries` times, then recorded with its config, seed and traceback; the sweep goes on.

`plugins = [...]` (module names or .py paths relative to the sweep file) are loaded before
the grid is validated and travel with every run's config to the workers.

This module parses sweeps, expands the grid and holds the public entry point `sweep` (the
`mechsim sweep` command is `abm.cli.sweep`); `abm.runs.executors` runs the tasks with retries and `abm.runs.manifest`
keeps the results on disk (run ids, manifest lines, resume). Their public names are
re-exported here.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import Field, ValidationError, field_validator

from abm import jsonio
from abm.config import ConfigError, StrictModel, format_validation_error, load_toml
from abm.plugins import load_plugins, resolve_spec
from abm.runs.executors import (
    Executor,
    ProcessPool,
    RayPool,
    SerialPool,
    choose_executor,
    drive,
    execute_run,
    make_pool,
)
from abm.runs.manifest import (
    MANIFEST,
    RUNS_DIR,
    Manifest,
    RunSpec,
    deferred_sigint,
    finished_runs,
    results_frame,
    summary_scalars,
    write_run,
)
from abm.runs.provenance import code_version
from abm.runs.rundir import PLACEMENT_FIELDS, run_id
from abm.runs.runner import resolve_config
from abm.scenario import get_scenario
from agents.registry import validate_learner
from mechanisms.registry import RegistryError

__all__ = [
    "MANIFEST",
    "PLACEMENT_FIELDS",
    "RUNS_DIR",
    "Executor",
    "Manifest",
    "ProcessPool",
    "RayPool",
    "RunSpec",
    "SerialPool",
    "SweepSpec",
    "choose_executor",
    "deferred_sigint",
    "execute_run",
    "expand",
    "flatten",
    "load_sweep",
    "results_frame",
    "run_id",
    "summary_scalars",
    "sweep",
    "write_run",
]

log = logging.getLogger(__name__)


class SweepSpec(StrictModel):
    """A sweep: base scenario or config, overrides for every run, axes x seeds."""

    base: str
    seeds: list[int] = Field(default_factory=lambda: [0])
    overrides: dict[str, Any] = Field(default_factory=dict)
    axes: dict[str, list[Any]] = Field(default_factory=dict)
    out: str | None = None
    #: Plug-ins (module names or .py paths relative to the sweep file) for every run.
    plugins: list[str] = Field(default_factory=list)

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
        raise ConfigError(f"invalid sweep: {format_validation_error(exc, model=SweepSpec)}") from None


def expand(spec: SweepSpec, root: Path | None = None, extra: dict[str, Any] | None = None) -> list[RunSpec]:
    """Every run of the grid, validated up front (a typo fails before any run starts)."""
    base: str | Path = spec.base
    if root is not None and (spec.base.endswith(".toml") or (root / spec.base).is_file()):
        base = root / spec.base
    plugins = [resolve_spec(p, root) for p in spec.plugins]
    load_plugins(plugins)
    keys = list(spec.axes)
    runs: list[RunSpec] = []
    seen: dict[str, dict[str, Any]] = {}
    for combo in itertools.product(*(spec.axes[k] for k in keys)):
        for seed in spec.seeds:
            point = dict(zip(keys, combo, strict=True))
            cfg = resolve_config(base, {**spec.overrides, **(extra or {}), **point, "seed": seed})
            if plugins:  # the sweep's plug-ins travel with every run, to the workers
                cfg = cfg.model_copy(update={"plugins": list(dict.fromkeys([*plugins, *cfg.plugins]))})
            if cfg.backend != "local":
                raise ConfigError(
                    f"backend = {cfg.backend!r} in a sweep run: sweeps parallelize over runs, each run's "
                    "learners run in its task (choose where runs execute with --executor)"
                )
            get_scenario(cfg.scenario).parse_params(cfg.params)
            try:  # learner names and parameters too, before any task is launched
                validate_learner(cfg.learner.name, cfg.learner.params)
            except RegistryError as exc:
                raise ConfigError(f"invalid sweep point {point}: {exc}") from None
            rid = run_id(cfg)
            point = {**point, "seed": seed}
            if rid in seen:
                raise ConfigError(f"sweep points {seen[rid]} and {point} resolve to the same run")
            seen[rid] = point
            runs.append(RunSpec(rid, cfg.model_dump(mode="json"), point))
    return runs


# --- the public entry point ------------------------------------------------------------


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
    pools: dict[str, Any] | None = None,
    rerun_changed: bool = False,
) -> pd.DataFrame:
    """Run every grid point not already finished in `out`; return one row per run.

    executor: "serial", "process" (`workers` processes, default all cores), "ray" (tasks on
    the Ray at `address`: None starts a local one, "auto"/"ray://..." joins a cluster) or
    "auto" (Ray when an address is given or Ray is already up, else processes).
    max_retries: extra attempts for a run that raised or whose worker died.
    overrides: dotted `key=value`s applied to every run on top of the sweep's own.
    pools: a cache of pools by executor kind, shared by several sweeps (a study's parts) so
        a process pool or Ray is started once.
    rerun_changed: recompute the finished runs recorded by another code version (by default
        they are kept, with a warning).
    A finished run is skipped only when its files match the checksums its manifest line
    recorded; a damaged one is recomputed (a warning names it). Runs another sweep on the
    same directory is computing are left to it: this one waits for them at the end and
    computes only those the other did not finish.
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
        jsonio.dumps({"spec": spec.model_dump(mode="json"), "runs": [r.run_id for r in runs]}, indent=1) + "\n"
    )
    manifest = Manifest(out_dir / MANIFEST)
    known = manifest.latest()
    finished = finished_runs(runs, known, out_dir, code_version())
    for rid, problem in finished.damaged.items():
        log.warning("recomputing run %s: %s", rid, problem)
    if finished.changed:
        if rerun_changed:
            log.warning("recomputing %d runs recorded by another code version (--rerun-changed)", len(finished.changed))
        else:
            log.warning(
                "%d finished runs of %s were recorded by another code version than this one (%s): kept; "
                "pass --rerun-changed to recompute them", len(finished.changed), out_dir, code_version(),
            )
    done = finished.ok - finished.changed if rerun_changed else finished.ok
    todo = [r for r in runs if r.run_id not in done]
    if done:
        log.info("resuming %s: %d of %d runs already finished", out_dir, len(done), len(runs))
    kind = choose_executor(executor, address, len(todo), workers)
    if todo:
        plugins = list(dict.fromkeys(p for r in todo for p in r.config.get("plugins") or []))
        pool = pools.get(kind) if pools is not None else None
        if pool is None:
            pool = make_pool(kind, workers, max_retries, address, ship_code, plugins)
            if pools is not None:
                pools[kind] = pool
        drive(pool, todo, out_dir, manifest, max_retries, len(runs), len(done), progress, known)
    return results_frame(runs, manifest.latest(), out_dir)


def _spec_hash(spec: SweepSpec) -> str:
    return hashlib.sha256(json.dumps(spec.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:10]

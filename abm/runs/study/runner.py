"""Run a registered study: its parts as resumable sweeps, one table of runs, aggregates with
confidence intervals, findings, the figure and report.md (docs/studies.md).

Outputs in `out`: `runs.parquet` (one row per run, every summary scalar flattened),
`summary.csv` (per part, axis point and metric: n, mean, 95% CI), `<name>.png` and `.pdf`,
`report.md`, one `<table>.csv` per extra table of the findings, and `sweeps/<part>/` (the
runs themselves; a rerun skips the finished ones).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from abm.config import ConfigError
from abm.runs.provenance import code_commit
from abm.runs.study.base import Findings, Part, Study, StudyData, get_study
from abm.runs.study.report import write_report
from abm.runs.study.stats import aggregate

if TYPE_CHECKING:
    import pandas as pd

    from abm.runs.executors import Executor

log = logging.getLogger(__name__)

RUNS_FILE = "runs.parquet"
SUMMARY_FILE = "summary.csv"
REPORT_FILE = "report.md"
SWEEPS_DIR = "sweeps"


@dataclass(frozen=True)
class StudyResult:
    """A finished study: its runs and aggregates, the findings and where everything went."""

    study: Study
    runs: pd.DataFrame
    summary: pd.DataFrame
    findings: Findings
    out: Path
    figures: list[Path]
    report: Path
    failed: int


def make_study(name: str | Study, options: dict[str, Any] | None = None) -> Study:
    """A study instance from its name and options (an unknown option names the study's)."""
    if isinstance(name, Study):
        if options:
            raise ValueError("options are given with a study name, not with a study instance")
        return name
    cls = get_study(name)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in options or {}:
        if key not in known:
            raise ConfigError(
                f"study {cls.name!r} has no option {key!r}; options: {', '.join(sorted(known)) or 'none'}"
            )
    try:
        return cls(**(options or {}))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"study {cls.name!r}: {exc}") from None


def run_study(
    name: str | Study,
    *,
    quick: bool = False,
    seeds: int | None = None,
    out: str | Path | None = None,
    options: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    executor: Executor = "auto",
    workers: int | None = None,
    address: str | None = None,
    max_retries: int = 2,
    plot: bool = True,
    progress: bool = True,
) -> StudyResult:
    """Run (or resume) the study `name` and write its outputs to `out` (default
    `results/study-<name>[-quick]`).

    seeds: runs per axis point, replacing each part's default. overrides: dotted
    `key=value`s applied to every run of every part (after the study's own)."""
    import pandas as pd

    from abm.runs.sweep import expand, load_sweep, sweep

    if seeds is not None and (isinstance(seeds, bool) or seeds < 1):
        raise ConfigError(f"--seeds must be an integer >= 1, got {seeds!r}")
    study = make_study(name, options)
    parts = study.parts(quick)
    if not parts:
        raise ValueError(f"study {study.name!r} has no parts")
    out = Path(out if out is not None else f"results/study-{study.name}{'-quick' if quick else ''}")
    specs = {p.name: _sweep_spec(p, seeds, overrides) for p in parts}
    for part in parts:  # every run of every part validated before the first one starts
        expand(*load_sweep(specs[part.name]))
    out.mkdir(parents=True, exist_ok=True)
    frames: list[pd.DataFrame] = []
    failed, pools = 0, dict[str, Any]()
    for part in parts:
        frame = sweep(
            specs[part.name], out=out / SWEEPS_DIR / part.name, executor=executor, workers=workers,
            address=address, max_retries=max_retries, progress=progress, pools=pools,
        )
        bad = frame[frame["status"] != "ok"]
        if len(bad):
            failed += len(bad)
            log.warning("study %s, part %s: %d runs failed and are left out: %s",
                        study.name, part.name, len(bad), list(bad["error"]))
        ok = frame[frame["status"] == "ok"].copy()
        ok.insert(0, "part", part.name)
        extra = [study.measure(part, Path(p), dict(row)) for p, (_, row) in zip(ok["path"], ok.iterrows(), strict=True)]
        if extra and any(extra):
            ok = pd.concat([ok.reset_index(drop=True), pd.DataFrame(extra)], axis=1)
        frames.append(ok)
    runs = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if runs.empty:
        raise RuntimeError(f"every run of study {study.name!r} failed; see {out / SWEEPS_DIR}/*/manifest.jsonl")
    summary = aggregate(runs, parts, study.metrics)
    data = StudyData(runs, summary, parts, quick, seeds, out)
    findings = data.findings = study.analyse(data)
    _write_parquet(parquet_safe(runs), out / RUNS_FILE)
    _write_text(summary.to_csv(index=False), out / SUMMARY_FILE)
    for table, frame in findings.tables.items():
        _write_text(frame.to_csv(index=False), out / f"{table}.csv")
    figures = _figure(study, data, out, quick) if plot else []
    report = write_report(study, data, findings, figures, out / REPORT_FILE, identity(study, quick, seeds, parts),
                          failed)
    return StudyResult(study, runs, summary, findings, out, figures, report, failed)


def _sweep_spec(part: Part, seeds: int | None, overrides: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "base": part.base,
        "seeds": seeds if seeds is not None else part.seeds,
        "overrides": {**part.overrides, **(overrides or {})},
        "axes": part.axes,
    }


def _figure(study: Study, data: StudyData, out: Path, quick: bool) -> list[Path]:
    from abm.runs.study.figures import new_figure, save

    fig = new_figure()
    study.plot(data, fig)
    fig.suptitle(identity(study, quick, data.seeds, data.parts), fontsize=9)
    return save(fig, out / study.name)


def identity(study: Study, quick: bool, seeds: int | None, parts: list[Part]) -> str:
    """`core-vs-n (--quick, 3 seeds per point) | Onyeze et al. 2025, §6 | commit abc1234`."""
    counts = sorted({seeds if seeds is not None else p.seeds for p in parts})
    size = "--quick" if quick else "full size"
    text = f"{study.name} ({size}, {'/'.join(map(str, counts))} seeds per point)"
    if study.citation is not None:
        text += f" | {study.citation.short()}"
    commit = code_commit()
    return f"{text} | commit {commit}" if commit else text


def parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns as one type each (numbers, or text), so Parquet can store them."""
    import pandas as pd

    frame = frame.copy()
    for col in frame.columns:
        if frame[col].dtype != object:
            continue
        values = frame[col].dropna()
        if values.map(lambda v: isinstance(v, int | float) and not isinstance(v, bool)).all():
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
        elif not values.map(lambda v: isinstance(v, str | bool)).all() or values.map(type).nunique() > 1:
            frame[col] = frame[col].map(lambda v: None if v is None else str(v))
    return frame


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


def _write_text(text: str, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)

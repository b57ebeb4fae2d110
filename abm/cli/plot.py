"""`mechsim plot RESULT_DIR`: the figures of a finished run (abm.plotting); `mechsim plot
SWEEP_DIR|STUDY_DIR --x AXIS --y METRIC [--hue AXIS]`: a metric of many runs against an
axis, means with 95% intervals over seeds (abm.runs.study.figures)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from abm.config import ConfigError


def register_cli(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """`mechsim plot DIR [--out DIR] [--x AXIS --y METRIC [--hue AXIS]]`."""
    p = subparsers.add_parser(
        "plot", parents=parents,
        help="PNG figures of a finished run, or a metric of a sweep/study against an axis (--x/--y)",
    )
    p.add_argument("result_dir", help="a run's directory (summary.json), a sweep's (manifest.jsonl) or a study's")
    p.add_argument("--out", help="where to write the figures (default: RESULT_DIR)")
    p.add_argument("--x", help="sweep/study: the axis on the x axis (e.g. rounds, agents, alpha)")
    p.add_argument("--y", help="sweep/study: the metric (a summary key with dots, e.g. metrics.core.gamma)")
    p.add_argument("--hue", help="sweep/study: one line per value of this axis")
    p.add_argument("--logx", action="store_true", help="logarithmic x axis")
    p.add_argument("--logy", action="store_true", help="logarithmic y axis")
    p.set_defaults(func=cmd_plot)


def cmd_plot(args: argparse.Namespace) -> int:
    root = Path(args.result_dir)
    if args.x is None and args.y is None:
        from abm.plotting import plot_run

        for path in plot_run(root, args.out):
            print(path)
        return 0
    if args.x is None or args.y is None:
        raise ConfigError("plot: --x and --y go together (a sweep's axis and a metric)")
    for path in plot_many(root, args.x, args.y, args.hue, Path(args.out) if args.out else root, args.logx, args.logy):
        print(path)
    return 0


def plot_many(root: Path, x: str, y: str, hue: str | None, out: Path, logx: bool, logy: bool) -> list[Path]:
    import pandas as pd

    from abm.runs.manifest import finished_table
    from abm.runs.study.figures import line_ci, new_figure, save

    frame = pd.read_parquet(root / "runs.parquet") if (root / "runs.parquet").is_file() else finished_table(root)
    if frame.empty:
        raise ConfigError(f"{root}: no finished runs to plot")
    for flag, col in (("--x", x), ("--y", y), ("--hue", hue)):
        if col is not None and col not in frame:
            numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
            raise ConfigError(f"plot {flag}: no column {col!r} in {root}; numeric columns: {', '.join(numeric)}")
    fig = new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    line_ci(ax, frame, x, y, hue)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if hue:
        ax.legend(fontsize=8)
    seeds = int(frame.groupby([c for c in (x, hue) if c]).size().max())
    ax.set_title(f"{root.name}: {y} vs {x}, mean and 95% CI over up to {seeds} seeds", fontsize=9)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{y}-vs-{x}" + (f"-by-{hue}" if hue else "")
    return save(fig, out / stem.replace("/", "_"))

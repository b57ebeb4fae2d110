"""`mechsim plot RESULT_DIR`: the figures of a finished run (abm.plotting)."""

from __future__ import annotations

import argparse
from typing import Any


def register_cli(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """`mechsim plot RESULT_DIR [--out DIR]`."""
    p = subparsers.add_parser(
        "plot", parents=parents, help="write PNG figures of a finished run (regret, budgets, bids, ...)"
    )
    p.add_argument("result_dir", help="a run's output directory (holds summary.json)")
    p.add_argument("--out", help="where to write the PNGs (default: RESULT_DIR)")
    p.set_defaults(func=cmd_plot)


def cmd_plot(args: argparse.Namespace) -> int:
    from abm.plotting import plot_run

    for path in plot_run(args.result_dir, args.out):
        print(path)
    return 0

"""`mechsim sweep SWEEP.toml`: a grid of configs x seeds (abm.runs.sweep), and its table."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from abm.runs.executors import Executor


def register_cli(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "sweep", parents=parents, help="run a grid of configs x seeds (resumable; Ray, processes or serial)"
    )
    p.add_argument("sweep_file", help="sweep TOML: base, seeds, [overrides], [axes], plugins")
    p.add_argument("--out", help="output directory (default: the file's `out`, else results/sweep-<hash>)")
    p.add_argument(
        "--executor", choices=["auto", "serial", "process", "ray"],
        help="where the runs execute (default auto: Ray tasks with --address or a running Ray, else a process pool)",
    )
    p.add_argument(
        "--backend", choices=["local", "ray"], help="in-run sharding of each run's learners (the runs' `backend` field)"
    )
    p.add_argument("--address", help="Ray cluster to join (auto, ray://host:port); default starts a local Ray")
    p.add_argument("--workers", type=int, help="processes for --executor process (default: all cores)")
    p.add_argument("--max-retries", type=int, default=2, help="extra attempts per failing run (default 2)")
    p.add_argument("--ship-code", action="store_true", help="send this checkout's packages to Ray workers")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a field in every run")
    p.add_argument(
        "--rerun-changed", action="store_true",
        help="recompute finished runs recorded by another code version (default: keep them, with a warning)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar, no table")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    # Imported here, not at module level: building the parser (`mechsim --help`) stays light.
    import pandas as pd

    from abm.cli.main import parse_sets
    from abm.runs.sweep import sweep

    executor: Executor = args.executor or "auto"  # argparse's choices are the Executor names
    overrides = parse_sets(args.set or [])
    if args.backend is not None:
        overrides["backend"] = args.backend
    if args.plugin_specs:  # --plugin: loaded here already, and sent with every run to the workers
        overrides["plugins"] = args.plugin_specs
    try:
        frame = sweep(
            args.sweep_file,
            out=args.out,
            executor=executor,
            workers=args.workers,
            address=args.address,
            max_retries=args.max_retries,
            overrides=overrides,
            ship_code=args.ship_code,
            progress=not args.quiet,
            rerun_changed=args.rerun_changed,
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

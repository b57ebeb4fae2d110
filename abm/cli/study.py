"""`mechsim study NAME`: the registered studies (abm.runs.study.STUDIES) and their reports."""

from __future__ import annotations

import argparse
from typing import Any

# abm.runs.study imports pandas, scipy and the sweep machinery only inside its functions,
# so the registry (with the studies' one-line docs for --help) is cheap to import here.
from abm.runs.study import STUDIES, parse_horizons


def register_cli(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    # --plugin sits on the leaf parsers only (a nested parser's default would overwrite it).
    p = subparsers.add_parser("study", help="studies over many runs (regret: strong regret vs horizon)")
    kinds = p.add_subparsers(dest="study", required=True)
    r = kinds.add_parser("regret", parents=parents, help=STUDIES.entry("regret").doc)
    r.add_argument("--scenario", required=True, help="scenario name (see `mechsim list`)")
    r.add_argument("--horizons", default="100:3000:5", help="T1,T2,... or TMIN:TMAX:POINTS (default 100:3000:5)")
    r.add_argument("--seeds", type=int, default=5, help="seeds per horizon (default 5)")
    r.add_argument("--learners", help="comma-separated learner names to compare (default: the scenario's)")
    r.add_argument("--agents", type=int, help="number of agents n")
    r.add_argument("--aggregate", choices=["mean", "max"], default="mean", help="over agents, per run")
    r.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a field in every run")
    r.add_argument("--out", help="output directory (default results/regret-<scenario>)")
    r.add_argument(
        "--executor", choices=["auto", "serial", "process", "ray"],
        help="where the runs execute (default auto: Ray tasks with --address or a running Ray, else a process pool)",
    )
    r.add_argument(
        "--backend", choices=["local", "ray"], help="in-run sharding of each run's learners (the runs' `backend` field)"
    )
    r.add_argument("--address", help="Ray cluster to join (auto, ray://host:port)")
    r.add_argument("--workers", type=int, help="processes for --executor process")
    r.add_argument("--max-retries", type=int, default=2)
    r.add_argument("--quiet", action="store_true")
    r.set_defaults(func=cmd_study_regret)


def cmd_study_regret(args: argparse.Namespace) -> int:
    import pandas as pd

    from abm.cli.main import parse_sets

    overrides = parse_sets(args.set or [])
    if args.agents is not None:
        overrides["agents"] = args.agents
    if args.plugin_specs:
        overrides["plugins"] = args.plugin_specs
    executor = args.executor or "auto"
    if args.backend is not None:
        overrides["backend"] = args.backend
    learners = [x.strip() for x in args.learners.split(",")] if args.learners else None
    try:
        study = STUDIES["regret"](
            args.scenario,
            parse_horizons(args.horizons),
            args.seeds,
            learners,
            overrides=overrides,
            aggregate=args.aggregate,
            out=args.out or f"results/regret-{args.scenario}",
            executor=executor,
            workers=args.workers,
            address=args.address,
            max_retries=args.max_retries,
            progress=not args.quiet,
        )
    except KeyboardInterrupt:
        print("\nmechsim study: interrupted; finished runs are recorded — run the same command again to resume")
        return 130
    with pd.option_context("display.width", 160, "display.float_format", "{:.4g}".format):
        print(study.table.to_string(index=False))
        print()
        print(study.fits.to_string(index=False))
    for _, f in study.fits.iterrows():
        print(
            f"{f['learner']}: strong regret ~ T^{f['slope']:.3f} "
            f"(95% CI [{f['slope_lo']:.3f}, {f['slope_hi']:.3f}], {f['n_runs']} runs)"
        )
    print(f"\nresults in {study.out}/ (plot: {study.plot})")
    return 0

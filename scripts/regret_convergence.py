"""The worked regret-convergence study of docs/regret_study.md: strong regret vs horizon T
for BangPerBuck, LagrangeBwK and AdaptivePacing on one-sided allocation (APEX = repeated
VCG on lambda-scaled utilities, Braverman 2021 §3.2), with a fitted log-log slope per learner.

    .venv/bin/python scripts/regret_convergence.py                       # local processes
    .venv/bin/python scripts/regret_convergence.py --address auto        # on a Ray cluster

Resumable: re-running with the same arguments reuses every finished run under --out.
"""

from __future__ import annotations

import argparse

import pandas as pd

from abm.runs.study import parse_horizons, regret_study
from abm.scenario import SCENARIOS, get_scenario

LEARNERS = ["bang_per_buck", "lagrange_bwk", "adaptive_pacing"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="one-sided", help="falls back to public-goods if absent")
    parser.add_argument("--horizons", default="100:1600:5", help="T1,T2,... or TMIN:TMAX:POINTS")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--agents", type=int, default=6)
    parser.add_argument("--learners", default=",".join(LEARNERS))
    parser.add_argument("--executor", default="auto", choices=["auto", "serial", "process", "ray"])
    parser.add_argument("--workers", type=int)
    parser.add_argument("--address", help="Ray cluster (auto, ray://host:10001)")
    parser.add_argument("--out", default="results/regret-convergence")
    args = parser.parse_args()
    get_scenario("public-goods")  # imports every scenario module
    scenario = args.scenario if args.scenario.replace("_", "-") in SCENARIOS else "public-goods"
    study = regret_study(
        scenario,
        parse_horizons(args.horizons),
        args.seeds,
        args.learners.split(","),
        overrides={"agents": args.agents},
        out=args.out,
        executor=args.executor,
        workers=args.workers,
        address=args.address,
    )
    with pd.option_context("display.width", 160, "display.float_format", "{:.4g}".format):
        print(study.table.to_string(index=False), end="\n\n")
        print(study.fits.to_string(index=False), end="\n\n")
    for f in study.fits.itertuples():
        print(f"{f.learner:16s} strong regret ~ T^{f.slope:.2f}  (95% CI [{f.slope_lo:.2f}, {f.slope_hi:.2f}])")
    print(f"\n{scenario}: table, fits and plot in {study.out}/")


if __name__ == "__main__":
    main()

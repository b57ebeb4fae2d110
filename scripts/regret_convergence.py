"""The worked regret-convergence study of docs/regret_study.md: strong regret vs horizon T
for BangPerBuck, LagrangeBwK and AdaptivePacing on one-sided allocation (APEX = repeated
VCG on lambda-scaled utilities, Braverman 2021 §3.2), with a fitted log-log slope per learner.

    .venv/bin/python scripts/regret_convergence.py                       # local processes
    .venv/bin/python scripts/regret_convergence.py --address auto        # on a Ray cluster

Resumable: re-running with the same arguments reuses every finished run under --out.
"""

from __future__ import annotations

import argparse

from abm.runs.study import run_study

LEARNERS = ["bang_per_buck", "lagrange_bwk", "adaptive_pacing"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="one-sided")
    parser.add_argument("--horizons", default="100:1600:5", help="T1,T2,... or TMIN:TMAX:POINTS")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--agents", type=int, default=6)
    parser.add_argument("--learners", default=",".join(LEARNERS))
    parser.add_argument("--executor", default="auto", choices=["auto", "serial", "process", "ray"])
    parser.add_argument("--workers", type=int)
    parser.add_argument("--address", help="Ray cluster (auto, ray://host:10001)")
    parser.add_argument("--out", default="results/regret-convergence")
    args = parser.parse_args()
    options = {"scenario": args.scenario, "horizons": args.horizons, "agents": args.agents,
               "learners": args.learners.split(",")}
    result = run_study("regret", seeds=args.seeds, options=options, out=args.out, executor=args.executor,
                       workers=args.workers, address=args.address)
    for claim in result.findings.claims:
        print(f"{claim.quantity}: {claim.measured}")
    print(f"\n{args.scenario}: report, tables and figure in {result.out}/")


if __name__ == "__main__":
    main()

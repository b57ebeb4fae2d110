"""A sweep on a Ray cluster from Python: `abm.runs.sweep(grid) -> DataFrame`, one Ray task per run.

On the head node of a cluster started with `ray start --head` (docs/cluster.md):

    .venv/bin/python scripts/cluster_sweep.py --address auto
    .venv/bin/python scripts/cluster_sweep.py --address ray://head-host:10001   # from outside

Without --address a local Ray is started on this machine. Finished runs are written at
once under --out; interrupt it (Ctrl-C) or lose a node and simply run it again: finished
runs are skipped, failed ones retried. The same grid as a file is
scripts/sweep_public_goods.toml (`mechsim sweep scripts/sweep_public_goods.toml --executor ray`).
"""

from __future__ import annotations

import argparse

import pandas as pd

import abm

GRID = {
    "base": "public-goods",
    "seeds": 5,
    "overrides": {"rounds": 2000, "agents": 10},
    "axes": {
        "mechanism": ["proportional", "moulin"],
        "learner.name": ["adaptive_pacing", "truthful"],
        "alpha": [0.3, 0.6],
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", help="auto | host:port | ray://host:10001 (default: start a local Ray)")
    parser.add_argument("--out", default="results/cluster-sweep")
    parser.add_argument("--seeds", type=int, default=GRID["seeds"])
    parser.add_argument("--rounds", type=int, default=GRID["overrides"]["rounds"])
    parser.add_argument("--max-retries", type=int, default=2)
    parser.add_argument("--ship-code", action="store_true", help="send this checkout's packages to the workers")
    args = parser.parse_args()
    grid = {**GRID, "seeds": args.seeds, "overrides": {**GRID["overrides"], "rounds": args.rounds}}
    frame = abm.runs.sweep(
        grid,
        out=args.out,
        executor="ray",
        address=args.address,
        max_retries=args.max_retries,
        ship_code=args.ship_code,
    )
    ok = frame[frame["status"] == "ok"]
    table = ok.groupby(["mechanism", "learner.name", "alpha"])[["total_utility", "n_depleted"]].agg(["mean", "std"])
    with pd.option_context("display.width", 160, "display.float_format", "{:.3f}".format):
        print(table)
    failed = frame[frame["status"] == "failed"]
    print(f"\n{len(ok)} runs ok, {len(failed)} failed; per-run results in {args.out}/runs/, index in manifest.jsonl")
    for row in failed.itertuples():
        print(f"  failed: {row.run_id} seed={row.seed}: {row.error}")


if __name__ == "__main__":
    main()

"""Welfare ratio of the approximate-valuation auctions over a delta grid (Chiesa, Micali, Zhu 2012):
the study `approx-delta` with bids = x_i (the `truthful` learner), one seed, its table printed.
The same as

    .venv/bin/mechsim study approx-delta --deltas 0.05,0.1,0.5,0.9 --agents 2,3,5,10 --learners truthful --seeds 1

    .venv/bin/python scripts/approx_auction_sweep.py --deltas 0.05,0.1,0.2,0.3,0.4,0.5,0.7,0.9 --n 2,3,5,10
"""

from __future__ import annotations

import argparse

import pandas as pd

from abm.runs.study import run_study


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deltas", type=floats, default=floats("0.05,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9"))
    parser.add_argument("--n", type=lambda s: [int(x) for x in s.split(",")], default=[2, 3, 5, 10])
    parser.add_argument("--samples", type=int, default=5000, help="adversarial search size per cell")
    parser.add_argument("--instances", type=int, default=2000, help="rounds (random instances) with bids = x_i")
    parser.add_argument("--seed", type=int, default=0, help="seed of the adversarial search")
    parser.add_argument("--out", default="results/approx-auction-sweep")
    args = parser.parse_args()
    result = run_study(
        "approx-delta", seeds=1, out=args.out,
        options={"deltas": args.deltas, "agents": args.n, "learners": ["truthful"], "samples": args.samples,
                 "search_seed": args.seed, "rounds": args.instances},
    )
    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 140):
        print(result.findings.tables["delta_sweep"].to_string(index=False))
    print(f"\nwrote {result.report} and {', '.join(map(str, result.figures))}")


if __name__ == "__main__":
    main()

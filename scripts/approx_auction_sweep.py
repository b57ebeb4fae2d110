"""Welfare ratio of the approximate-valuation auctions over a delta grid (Chiesa–Micali–Zhu): a table
(CSV) and a plot (PNG) of each theorem's guarantee, the worst case an adversarial search
finds with bids in K_i, and the mean ratio when everyone bids its knowledge x_i.

    .venv/bin/python scripts/approx_auction_sweep.py --deltas 0.05,0.1,0.2,0.3,0.4,0.5,0.7,0.9 --n 2,3,5,10
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from scenarios.approx_auction import delta_sweep, plot_delta_sweep


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deltas", type=floats, default=floats("0.05,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9"))
    parser.add_argument("--n", type=lambda s: [int(x) for x in s.split(",")], default=[2, 3, 5, 10])
    parser.add_argument("--samples", type=int, default=5000, help="adversarial search size per cell")
    parser.add_argument("--instances", type=int, default=2000, help="random instances for bids = x_i")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/approx-auction-sweep")
    args = parser.parse_args()
    table = delta_sweep(args.deltas, args.n, samples=args.samples, instances=args.instances, seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "delta_sweep.csv", index=False)
    png = plot_delta_sweep(table, out / "delta_sweep.png")
    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 140):
        print(table.to_string(index=False))
    print(f"\nwrote {out / 'delta_sweep.csv'} and {png}")


if __name__ == "__main__":
    main()

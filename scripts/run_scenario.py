"""Run one scenario from Python and print its per-agent table: the API behind `mechsim run`.

    .venv/bin/python scripts/run_scenario.py public-goods --set rounds=5000 --set mechanism=moulin
"""

from __future__ import annotations

import argparse

import abm
from abm.cli.main import parse_sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="public-goods")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    result = abm.run(args.scenario, overrides=parse_sets(args.set), out=args.out)
    print(result.agent_table.to_string(index=False))


if __name__ == "__main__":
    main()

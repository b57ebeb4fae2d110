"""`mechsim` command line: run | sweep | study | plot | list | describe.

Every subcommand takes `--plugin MODULE_OR_FILE.py` (repeatable): user code that registers
scenarios, mechanisms and learners, loaded before anything is looked up. Library code
logs; only `abm.cli` prints (docs/architecture.md)."""

from __future__ import annotations

import argparse
import importlib
import logging
import shlex
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from abm.config import ConfigError, parse_value
from abm.plugins import load_plugins, resolve_spec
from mechanisms.registry import RegistryError

if TYPE_CHECKING:
    import pandas as pd

#: Modules that add subcommands through `register_cli(subparsers, parents)`.
COMMAND_MODULES: tuple[str, ...] = ("abm.cli.sweep", "abm.cli.plot", "abm.cli.study", "abm.cli.discover")


def parse_sets(items: list[str]) -> dict[str, Any]:
    """`--set key=value` pairs; values are parsed as TOML (numbers, booleans, lists)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = parse_value(value.strip())
    return out


def run_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The overrides given by the common run flags."""
    overrides = parse_sets(args.set or [])
    for flag in ("agents", "rounds", "seed", "backend", "address", "shards", "checkpoint_every"):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[flag] = value
    return overrides


def add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--agents", type=int, help="number of agents n")
    p.add_argument("--rounds", type=int, help="horizon T")
    p.add_argument("--seed", type=int, help="root seed (one seed fixes the run)")
    p.add_argument("--backend", choices=["local", "ray"], help="where learners run")
    p.add_argument("--address", help="Ray cluster address (auto, ray://host:port); default starts a local Ray")
    p.add_argument("--shards", type=int, help="Ray actors the cohorts are spread over")
    p.add_argument(
        "--checkpoint-every", type=int, metavar="N", help="checkpoint every N rounds; a rerun resumes from it"
    )
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field, e.g. mechanism=moulin")


def cmd_run(args: argparse.Namespace) -> int:
    from abm.runs.rundir import default_out
    from abm.runs.runner import RunInterrupted, resolve_config, run

    overrides = run_overrides(args)
    if args.plugin_specs:  # recorded in the config (summary.json) like `plugins = [...]` in a TOML
        overrides["plugins"] = args.plugin_specs
    cfg = resolve_config(args.target, overrides)
    out = Path(args.out) if args.out else default_out(cfg)
    try:
        result = run(cfg, out=out, progress=not args.quiet, restart=args.restart, overwrite=args.overwrite)
    except RunInterrupted as exc:
        # The same command resumes (without the flags that would discard the checkpoint).
        argv = sys.argv[1:] if args.argv is None else args.argv
        again = shlex.join(["mechsim", *(a for a in argv if a not in ("--restart", "--overwrite"))])
        if exc.checkpoint is not None:
            print(f"\nmechsim: interrupted at round {exc.round} of {exc.rounds}; checkpoint saved — resume with: "
                  f"{again}", file=sys.stderr)
        else:
            print(f"\nmechsim: interrupted at round {exc.round} of {exc.rounds}; nothing saved (runs resume only "
                  "with --checkpoint-every N)", file=sys.stderr)
        return 130
    if not args.quiet:
        print_summary(result.summary, result.agent_table)
        print(f"\nresults written to {out}/")
    return 0


def print_summary(summary: dict[str, Any], table: pd.DataFrame) -> None:
    """A short human summary: the run and one line per agent (or quantiles if many)."""
    import pandas as pd

    print(
        f"\n{summary['scenario']} | mechanism {summary['mechanism']} | learner {summary['learner']} | "
        f"n={summary['agents']} T={summary['rounds']} seed={summary['seed']} | "
        f"{summary['runtime_s']} s ({summary['rounds_per_s']} rounds/s)"
    )
    for key, value in summary.get("scenario_summary", {}).items():
        if isinstance(value, int | float | str | bool):
            print(f"  {key}: {value}")
    metrics = summary.get("metrics", {})
    for label, path in HEADLINE_METRICS:
        value = _dig(metrics, path)
        if isinstance(value, int | float):
            print(f"  {label}: {value:.4g}")
    groups = summary.get("groups", {})
    with pd.option_context("display.float_format", "{:.4g}".format, "display.width", 140):
        if len(groups) > 1:
            frame = pd.DataFrame.from_dict(groups, orient="index")
            print("per group:")
            print(frame[[c for c in GROUP_SUMMARY_COLUMNS if c in frame]].to_string())
        cols = [c for c in SUMMARY_COLUMNS if c in table]
        view = table[cols]
        print(view.to_string(index=False) if len(view) <= 25 else view.describe().to_string())


#: Per-group columns of the printed table (summary.json["groups"] holds them all).
GROUP_SUMMARY_COLUMNS = (
    "learner",
    "agents",
    "n_depleted",
    "utility_mean",
    "spend_ratio_mean",
    "strong_regret_per_round_max",
    "spend_rate_error_final_max",
)
#: Per-agent columns of the printed table (metrics.parquet holds them all).
SUMMARY_COLUMNS = (
    "agent",
    "group",
    "share",
    "spend_ratio",
    "utility",
    "depletion_round",
    "strong_regret_per_round",
    "external_regret",
)
#: (label, path in summary["metrics"]) of the printed headline metrics.
HEADLINE_METRICS = (
    ("strong regret / T (max over agents)", ("strong_regret", "max_per_round")),
    ("epsilon(T) (Lemma 4: 2*epsilon-dominant)", ("epsilon", "final")),
    ("agents depleted", ("depletion", "n_depleted")),
    ("core factor gamma", ("core", "gamma")),
)


def _dig(tree: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def plugin_parent() -> argparse.ArgumentParser:
    """The `--plugin` flag every subcommand shares."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--plugin", action="append", default=None, metavar="MODULE_OR_FILE.py",
        help="load user code that registers scenarios, mechanisms or learners (repeatable)",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mechsim", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level; tracebacks for errors")
    sub = parser.add_subparsers(dest="command", required=True)
    parents = [plugin_parent()]
    p = sub.add_parser("run", parents=parents, help="run a scenario (by name or TOML file)")
    p.add_argument("target", help="scenario name (see `mechsim list`) or a config .toml file")
    add_run_flags(p)
    p.add_argument("--out", help="output directory (default results/<scenario>-<seed>-<config hash>)")
    p.add_argument("--restart", action="store_true", help="discard a checkpoint of this run and start over")
    p.add_argument(
        "--overwrite", action="store_true", help="replace the results of another config in --out (cleared first)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    p.set_defaults(func=cmd_run)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register_cli(sub, parents)
    return parser


def user_errors() -> tuple[type[BaseException], ...]:
    """The project's own error types: the user's mistake or a state on disk the user must
    decide about, reported in one line. Anything else is a bug and keeps its traceback."""
    from abm.runs.checkpoint import CheckpointError

    return (ConfigError, RegistryError, CheckpointError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = argv
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        # Plug-ins first: the names in configs and arguments may be theirs.
        args.plugin_specs = [resolve_spec(spec) for spec in args.plugin or []]
        load_plugins(args.plugin_specs)
        return int(args.func(args) or 0)
    except user_errors() as exc:
        # One line (with -v, the traceback too).
        if args.verbose:
            traceback.print_exc()
        print(f"mechsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.verbose:
            traceback.print_exc()
        print("\nmechsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

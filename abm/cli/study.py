"""`mechsim study NAME [--quick] [--seeds K] [--executor ...] [--out DIR] [--<option> ...]`:
a registered study (abm.runs.study.STUDIES) and its report.

The study's own options are its dataclass fields, so they are known only once the study
(possibly a plug-in's, loaded after the first parse) is looked up: `study` takes the name
and the remaining arguments, and `cmd_study` parses those with the study's parser.
"""

from __future__ import annotations

import argparse
from typing import Any


def register_cli(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "study", parents=parents, add_help=False,
        help="a registered study: sweeps + CIs + figure + report.md beside the papers' values",
    )
    p.add_argument("name", nargs="?", help="the study (`mechsim list studies`); `mechsim study NAME --help`")
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_study)


def study_parser(name: str) -> argparse.ArgumentParser:
    """The parser of one study: the common flags and the study's options."""
    from abm.runs.study import get_study, options

    cls = get_study(name)
    doc = (cls.__doc__ or "").strip().splitlines()
    p = argparse.ArgumentParser(
        prog=f"mechsim study {cls.name}", description=doc[0] if doc else None,
        epilog=f"source: {cls.citation}" if cls.citation else None,
    )
    p.add_argument("--quick", action="store_true", help="the small version (under a minute; what the tests run)")
    p.add_argument("--seeds", type=int, help="seeds per axis point (default: the study's)")
    p.add_argument("--out", help="output directory (default results/study-NAME[-quick])")
    p.add_argument(
        "--executor", choices=["auto", "serial", "process", "ray"], default="auto",
        help="where the runs execute (default auto: Ray tasks with --address or a running Ray, else a process pool)",
    )
    p.add_argument("--address", help="Ray cluster to join (auto, ray://host:port)")
    p.add_argument("--workers", type=int, help="processes for --executor process")
    p.add_argument("--max-retries", type=int, default=2, help="extra attempts per failing run (default 2)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a field in every run")
    p.add_argument("--quiet", action="store_true", help="no progress bars, no table")
    p.add_argument("--plugin", action="append", metavar="MODULE_OR_FILE.py", help="load user code (repeatable)")
    group = p.add_argument_group(f"options of {cls.name}")
    for opt in options(cls):
        group.add_argument(opt.flag, dest=f"opt_{opt.name}", type=opt.parse, default=None,
                           help=f"{opt.help} (default {opt.default!r})")
    return p


def cmd_study(args: argparse.Namespace) -> int:
    from abm.cli.main import parse_sets
    from abm.runs.study import STUDIES, options, run_study

    if not args.name or args.name in ("-h", "--help"):
        print("usage: mechsim study NAME [--quick] [--seeds K] [--executor serial|process|ray] [--out DIR] ...")
        print("studies (`mechsim study NAME --help` for each one's options):")
        for e in STUDIES.entries():
            print(f"  {e.name:22s} {e.doc}")
        return 0
    # A --plugin after NAME may register the study itself: load it before the lookup.
    from abm.cli.main import plugin_parent
    from abm.plugins import load_plugins, resolve_spec

    early, _ = plugin_parent().parse_known_args(args.rest)
    late = [resolve_spec(s) for s in early.plugin or []]
    load_plugins(late)
    args.plugin_specs = [*args.plugin_specs, *late]
    parser = study_parser(args.name)
    sub = parser.parse_args(args.rest)
    cls = STUDIES[args.name]
    opts = {o.name: getattr(sub, f"opt_{o.name}") for o in options(cls)}
    overrides = parse_sets(sub.set or [])
    if args.plugin_specs:
        overrides["plugins"] = args.plugin_specs
    try:
        result = run_study(
            args.name, quick=sub.quick, seeds=sub.seeds, out=sub.out,
            options={k: v for k, v in opts.items() if v is not None}, overrides=overrides,
            executor=sub.executor, workers=sub.workers, address=sub.address, max_retries=sub.max_retries,
            progress=not sub.quiet,
        )
    except KeyboardInterrupt:
        print("\nmechsim study: interrupted; finished runs are recorded — run the same command again to resume")
        return 130
    if not sub.quiet:
        for c in result.findings.claims:
            verdict = {True: "holds", False: "DOES NOT HOLD", None: "info"}[c.holds]
            print(f"[{verdict}] {c.quantity}: measured {c.measured}; paper: {c.paper}"
                  + (f" ({c.citation.short()})" if c.citation else ""))
        for note in result.findings.notes:
            print(f"note: {note}")
    files = ", ".join(p.name for p in result.figures)
    print(f"\n{result.study.name}: report {result.report}; figures {files or 'none'}; "
          f"{len(result.runs)} runs ({result.failed} failed) in {result.out}/")
    return 0 if result.findings.holds else 1

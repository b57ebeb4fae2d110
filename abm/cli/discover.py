"""`mechsim list [scenarios|mechanisms|learners|studies]` and `mechsim describe NAME`: what the
registries hold, with parameters (from the pydantic `Params` schemas), defaults, one-line
docs and the source citation."""

from __future__ import annotations

import argparse
import inspect
import re
import typing
from typing import Any

from pydantic import BaseModel

from abm.config import ConfigError
from abm.scenario import SCENARIOS, Scenario
from mechanisms.registry import FAMILIES, MECHANISMS, Entry, first_line

KINDS = ("scenarios", "mechanisms", "learners", "studies")


def _learners() -> Any:
    from agents.registry import LEARNERS

    return LEARNERS


def register_cli(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("list", parents=parents, help="list the scenarios, mechanisms (by family) and learners")
    p.add_argument("what", nargs="?", choices=KINDS, help="one section only (default: all)")
    p.set_defaults(func=cmd_list)
    p = subparsers.add_parser(
        "describe", parents=parents, help="parameters, defaults, docs and source of a scenario, mechanism or learner"
    )
    p.add_argument(
        "name", help="a name from `mechsim list`; qualify an ambiguous one: scenario:NAME, mechanism:[FAMILY/]NAME, "
        "learner:NAME"
    )
    p.set_defaults(func=cmd_describe)


# --- list ----------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    what = [args.what] if args.what else list(KINDS)
    if "scenarios" in what:
        print("scenarios:")
        for e in SCENARIOS.entries():
            family = f" [mechanisms: {e.obj.mechanism_family}]" if e.obj.mechanism_family else ""
            print(f"  {e.name:22s} {e.doc}{family}")
    if "mechanisms" in what:
        print("mechanisms (by family):")
        for family in MECHANISMS.families():
            print(f"  {family}:")
            for m in MECHANISMS.entries(family):
                print(f"    {m.name:20s} {m.doc}")
    if "learners" in what:
        print("learners:")
        for e in _learners().entries():
            print(f"  {e.name:22s} {e.doc}")
    if "studies" in what:
        from abm.runs.study import STUDIES

        print("studies (`mechsim study NAME [--quick]`):")
        for study in STUDIES.entries():
            source = f" [{study.citation.short()}]" if study.citation is not None else ""
            print(f"  {study.name:22s} {study.doc}{source}")
    return 0


# --- describe ------------------------------------------------------------------------------


def find(name: str) -> list[tuple[str, Entry[Any]]]:
    """Every (kind, entry) called `name`; `kind:name` (and `mechanism:family/name`) narrows."""
    kind, sep, rest = name.partition(":")
    if not sep:
        kind, rest = "", name
    kind = kind.strip().lower().rstrip("s")
    if kind not in ("", "scenario", "mechanism", "learner"):
        raise ConfigError(f"describe: unknown kind {kind!r}; use scenario:, mechanism: or learner:")
    out: list[tuple[str, Entry[Any]]] = []
    if kind in ("", "scenario") and rest in SCENARIOS:
        out.append(("scenario", SCENARIOS.entry(rest)))
    if kind in ("", "mechanism"):
        family, slash, mech = rest.rpartition("/")
        for e in MECHANISMS.find(mech if slash else rest):
            if not slash or e.family == family:
                out.append(("mechanism", e))
    if kind in ("", "learner") and rest in _learners():
        out.append(("learner", _learners().entry(rest)))
    return out


def cmd_describe(args: argparse.Namespace) -> int:
    matches = find(args.name)
    if not matches:
        available = [*SCENARIOS.names(), *(e.name for e in MECHANISMS.entries()), *_learners().names()]
        raise ConfigError(
            f"describe: no scenario, mechanism or learner called {args.name!r}; "
            f"available: {', '.join(sorted(set(available)))}"
        )
    if len(matches) > 1:
        print(f"{args.name!r} names {len(matches)} entries: "
              + ", ".join(f"{k}:{e.family + '/' if e.family else ''}{e.name}" for k, e in matches))
    for i, (kind, entry) in enumerate(matches):
        if i:
            print("-" * 60)
        {"scenario": describe_scenario, "mechanism": describe_mechanism, "learner": describe_learner}[kind](entry)
    return 0


def _header(kind: str, entry: Entry[Any], doc: str) -> None:
    family = f" (family {entry.family})" if entry.family else ""
    print(f"{kind} {entry.name}{family}")
    if doc:
        print(f"  {doc}")
    if entry.citation is not None:
        print(f"  source: {entry.citation}")


def describe_scenario(entry: Entry[Scenario]) -> None:
    scenario = entry.obj
    _header("scenario", entry, _doc_paragraph(type(scenario)))
    print(f"  defaults: {scenario.toml}")
    if scenario.mechanism_family:
        names = ", ".join(MECHANISMS.names(scenario.mechanism_family))
        print(f"  mechanisms (params.{scenario.mechanism_param}, family {scenario.mechanism_family}): {names}")
    print(f"  [[population]] group overrides: {', '.join(sorted(scenario.group_overrides)) or 'none'}")
    _print_params("params", scenario.Params)


def describe_mechanism(entry: Entry[Any]) -> None:
    _header("mechanism", entry, entry.doc)
    if entry.family in FAMILIES:
        print(f"  family factory: {FAMILIES[entry.family]}")
    users = [s.name for s in SCENARIOS.values() if s.mechanism_family == entry.family]
    if users:
        print(f"  used by: {', '.join(users)} (--set mechanism={entry.name})")
    try:
        signature = inspect.signature(entry.obj)
    except (TypeError, ValueError):
        return
    if signature.parameters:
        print("  factory arguments:")
        for p in signature.parameters.values():
            default = "" if p.default is inspect.Parameter.empty else f" = {p.default!r}"
            annotation = "" if p.annotation is inspect.Parameter.empty else f": {_type_name(p.annotation)}"
            print(f"    {p.name}{annotation}{default}")


def describe_learner(entry: Entry[Any]) -> None:
    cls = entry.obj
    _header("learner", entry, entry.doc)
    print(f"  feedback: {cls.feedback}")
    _print_params("learner.params", cls.Params)


def _doc_paragraph(obj: Any) -> str:
    return first_line(obj)


def _print_params(prefix: str, model: type[BaseModel]) -> None:
    rows = param_rows(model)
    if not rows:
        print(f"  {prefix}: none")
        return
    print(f"  {prefix}:")
    width = max(len(r[0]) for r in rows)
    for name, type_name, default, doc in rows:
        print(f"    {name:{width}s}  {type_name} = {default}" + (f"  — {doc}" if doc else ""))


def param_rows(model: type[BaseModel]) -> list[tuple[str, str, str, str]]:
    """(name, type, default, one-line doc) per field of a pydantic model: the doc is the
    field's `description`, else the `name: ...` passage of the model's docstring."""
    from_doc = docstring_params(model.__doc__ or "", list(model.model_fields))
    rows = []
    for name, field in model.model_fields.items():
        if field.is_required():
            default = "(required)"
        elif field.default_factory is not None:
            default = repr(field.default_factory())  # type: ignore[call-arg]
        else:
            default = repr(field.default)
        doc = field.description or from_doc.get(name, "")
        rows.append((name, _type_name(field.annotation), default, doc))
    return rows


def docstring_params(doc: str, fields: list[str]) -> dict[str, str]:
    """`name: text.` passages of a Params docstring, keyed by field name: `a/b: text` covers
    both, `prefix_*: text` every field starting with `prefix_`."""
    text = " ".join(doc.split())
    keys = sorted(set(fields) | {f.split("_")[0] + "_*" for f in fields if "_" in f}, key=len, reverse=True)
    one = "(?:" + "|".join(re.escape(k) for k in keys) + ")"
    pattern = re.compile(rf"(?<![\w./])({one}(?:/{one})*):\s")
    hits = list(pattern.finditer(text))
    out: dict[str, str] = {}
    for i, m in enumerate(hits):
        end = hits[i + 1].start() if i + 1 < len(hits) else len(text)
        passage = text[m.end() : end].strip().rstrip(".").strip()
        for key in m.group(1).split("/"):
            targets = [f for f in fields if f.startswith(key[:-1])] if key.endswith("*") else [key]
            for f in targets:
                out.setdefault(f, passage)
    return out


def _type_name(annotation: Any) -> str:
    if annotation is None:
        return "None"
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    if isinstance(annotation, type) and origin is None:
        return annotation.__name__
    return str(annotation).replace("typing.", "")

"""From what a user names — a scenario, a TOML file, a dict, a RunConfig — plus dotted
overrides to one validated `RunConfig` (docs/architecture.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from abm.config import RunConfig, apply_overrides, load_toml
from abm.plugins import with_plugins
from abm.scenario import get_scenario


def resolve_config(
    target: str | Path | dict[str, Any] | RunConfig, overrides: dict[str, Any] | None = None
) -> RunConfig:
    """A scenario name (its TOML defaults), a TOML path, a dict or a RunConfig, plus
    dotted overrides (`rounds`, `learner.name`, `mechanism` = `params.mechanism`,
    `population.<group>.count`, ...)."""
    root = None  # where a TOML's relative plug-in paths start
    if isinstance(target, RunConfig):
        data = target.model_dump(exclude_none=True)
    elif isinstance(target, dict):
        data = target
    else:
        text = str(target)
        path = Path(text)
        is_file = text.endswith(".toml") or path.is_file()
        root = path.parent if is_file else None
        data = load_toml(path if is_file else get_scenario(text).toml)
    # Plug-ins load before validation: they may register the scenario, mechanism or learners it names.
    return RunConfig.from_mapping(with_plugins(apply_overrides(data, overrides or {}), root))

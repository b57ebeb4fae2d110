"""Run configuration: TOML files or dicts validated into typed objects (DESIGN.md §5).

Every error names the field and the offending value: unknown keys, wrong types,
NaN/inf, negative sizes. Scenario-specific parameters live under `[params]` and are
validated by the scenario's own `Params` model.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ConfigError(ValueError):
    """A configuration problem, with the field path and the value in the message."""


def format_validation_error(exc: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> str:
    """One line per problem: `field.path: message (got value)`; an unknown key
    (`extra_forbidden`) lists the valid names of its table when `model` is given."""
    lines = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in (prefix, *e["loc"]) if p != "")
        got = e.get("input")
        line = f"{loc or '<root>'}: {e['msg']} (got {got!r})"
        if e["type"] == "extra_forbidden" and model is not None:
            valid = valid_names(model, e["loc"][:-1])
            if valid:
                line = f"{loc}: unknown parameter {e['loc'][-1]!r}; valid names: {', '.join(valid)}"
        lines.append(line)
    return "; ".join(lines)


def valid_names(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the (sub)model at `loc` inside `model` ([] if not a model)."""
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return sorted(model.model_fields)


class StrictModel(BaseModel):
    """Unknown keys and non-finite floats are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_assignment=True)


class LearnerSpec(StrictModel):
    """Which learner the agents run (a name from `agents.LEARNERS`) and its parameters."""

    name: str = "adaptive_pacing"
    params: dict[str, Any] = Field(default_factory=dict)


class RunConfig(StrictModel):
    """One simulation run: scenario + sizes + seed + execution options."""

    scenario: str
    seed: int = Field(default=0, ge=0)
    rounds: int = Field(default=2000, ge=1)
    agents: int = Field(default=5, ge=1)
    backend: Literal["local", "ray"] = "local"
    address: str | None = None
    shards: int = Field(default=2, ge=1)
    #: Agents per learner cohort; cohorts (and their RNG streams) are the unit of sharding,
    #: fixed by config so every backend sees the same cohorts.
    cohort_size: int = Field(default=10_000, ge=1)
    #: Record per-round counterfactual menus on a report grid (for strong regret).
    record_menus: bool = True
    menu_points: int = Field(default=64, ge=2)
    #: Per-agent per-round records via Mesa's DataCollector: auto = on when agents*rounds <= 5e6.
    agent_records: Literal["auto", "on", "off"] = "auto"
    #: Write a resumable checkpoint of the whole model every this many rounds (0 = never).
    checkpoint_every: int = Field(default=0, ge=0)
    learner: LearnerSpec = Field(default_factory=LearnerSpec)
    params: dict[str, Any] = Field(default_factory=dict)
    #: Plug-ins (module names or .py paths) loaded before the names above are looked up.
    plugins: list[str] = Field(default_factory=list)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> RunConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"invalid config: {format_validation_error(exc, model=cls)}") from None


def load_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; syntax errors name the file and the line."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"malformed config file {path}: {exc}") from None


def parse_value(text: str) -> Any:
    """Parse the right-hand side of `--set key=value` as a TOML value, else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Apply dotted `key=value` overrides. A bare key that is not a top-level RunConfig
    field is a scenario parameter (`--set mechanism=moulin` means `params.mechanism`)."""
    out = _deep_copy(data)
    for key, value in overrides.items():
        parts = key.split(".")
        if parts[0] not in RunConfig.model_fields:
            parts = ["params", *parts]
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {p!r} is not a table")
        node[parts[-1]] = value
    return out


def _deep_copy(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in d.items()}

"""Run configuration: TOML files or dicts validated into typed objects (docs/architecture.md).

Every error names the field and the offending value: unknown keys, wrong types,
NaN/inf, negative sizes. Scenario-specific parameters live under `[params]` and are
validated by the scenario's own `Params` model.
"""

from __future__ import annotations

import tomllib
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator


class ConfigError(ValueError):
    """A configuration problem, with the field path and the value in the message."""


def format_validation_error(exc: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> str:
    """One line per problem: `field.path: message (got value)`; an unknown key
    (`extra_forbidden`) lists the valid names of its table when `model` is given."""
    lines = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in (prefix, *e["loc"]) if p != "")
        got = e.get("input")
        if e["type"] == "value_error":
            # Our own validators' messages already name their field and value.
            msg = str(e.get("ctx", {}).get("error", e["msg"]))
            lines.append(msg if not loc or isinstance(got, dict) else f"{loc}: {msg}")
            continue
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


def _members(annotation: Any) -> list[Any]:
    """The alternatives of a field's type: the members of a Union / Optional, the type itself
    otherwise (Annotated unwrapped)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [m for a in get_args(annotation) for m in _members(a)]
    return [annotation]


def to_declared_type(annotation: Any, value: Any) -> Any:
    """A `--set` value (parsed as TOML, so `34` is an integer) or a TOML value brought to the
    field's declared type where that is unambiguous: a number for a field that takes no
    number but text (`str`, or a `Literal` naming that text) becomes the text, so
    `--set params.instance=34` means "34". A boolean stays a boolean: for a numeric field
    that takes no bool it is an error (pydantic would read `true` as 1)."""
    members = _members(annotation)
    if any(m is Any or m is object for m in members):
        return value
    numeric = [m for m in members if m in (int, float)]
    if isinstance(value, bool):
        takes_bool = bool in members or any(
            get_origin(m) is Literal and any(isinstance(a, bool) for a in get_args(m)) for m in members
        )
        if numeric and not takes_bool:
            raise ValueError(f"a boolean is not a number (got {value!r})")
        return value
    if not isinstance(value, int | float) or numeric:
        return value
    text = str(value)
    for m in members:
        if m is str or (get_origin(m) is Literal and text in get_args(m)):
            return text
    return value


class DeclaredTypes(BaseModel):
    """Values brought to their fields' declared types before validation (`to_declared_type`)."""

    @field_validator("*", mode="before")
    @classmethod
    def _declared_type(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name) if info.field_name is not None else None
        return value if field is None else to_declared_type(field.annotation, value)


class StrictModel(DeclaredTypes):
    """Unknown keys and non-finite floats are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_assignment=True, defer_build=True)


class LimitsSpec(StrictModel):
    """Bounds before the run (docs/config.md "Limits", `abm.bounds`): a run whose record
    estimate exceeds these fractions of the available memory / the free disk is refused
    before the first round."""

    memory_fraction: float = Field(default=0.8, gt=0.0)
    disk_fraction: float = Field(default=0.8, gt=0.0)


class LearnerSpec(StrictModel):
    """Which learner the agents run (a name from `agents.LEARNERS`) and its parameters.

    With a `[[population]]` this is the default learner of the groups that name none."""

    name: str = "adaptive_pacing"
    params: dict[str, Any] = Field(default_factory=dict)
    #: Clip the reports to the interval the scenario declares undominated
    #: (`ScenarioInstance.undominated`; Chiesa, Micali, Zhu 2012: bids in K_i).
    undominated: bool = False


#: Population group names: they name RNG streams, `group` columns and `--set population.<name>.*`.
GROUP_NAME = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"


class PopulationGroup(StrictModel):
    """One group of a mixed population (docs/architecture.md "Population"): `count` agents, or a
    `fraction` of the agents not in count groups, all running `learner` with `params`.

    `budget` (tokens per agent) and `share` (alpha_i per agent) override the scenario's
    where the scenario declares that override (`Scenario.group_overrides`)."""

    name: str = Field(pattern=GROUP_NAME)
    count: int | None = Field(default=None, ge=1)
    fraction: float | None = Field(default=None, gt=0.0, le=1.0)
    learner: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    budget: float | None = Field(default=None, ge=0.0)
    share: float | None = Field(default=None, ge=0.0, le=1.0)
    #: Undominated reports only (None: `[learner] undominated`).
    undominated: bool | None = None

    @model_validator(mode="after")
    def _size(self) -> PopulationGroup:
        if (self.count is None) == (self.fraction is None):
            raise ValueError(f"population.{self.name}: give exactly one of count or fraction")
        return self


@dataclass(frozen=True)
class GroupPlan:
    """A population group resolved for a run: agents [start, stop), learner and params."""

    name: str
    start: int
    stop: int
    learner: str
    params: dict[str, Any]
    budget: float | None = None
    share: float | None = None
    undominated: bool = False

    @property
    def size(self) -> int:
        return self.stop - self.start

    @property
    def span(self) -> slice:
        return slice(self.start, self.stop)


#: The group name of a run configured by a single `[learner]` table.
SINGLE_GROUP = "all"


def largest_remainder(weights: list[float], total: int) -> list[int]:
    """Non-negative integers proportional to `weights` that sum to `total` (Hamilton's
    method; ties go to the earlier group, so the split is deterministic)."""
    w = [max(0.0, x) for x in weights]
    s = sum(w)
    quotas = [total * x / s for x in w]
    out = [int(q) for q in quotas]
    order = sorted(range(len(w)), key=lambda i: (-(quotas[i] - out[i]), i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


#: Run keys of earlier versions, still read (and translated) by `RunConfig`.
LEGACY_RUN_KEYS = frozenset({"agent_records"})
#: Per-agent series are recorded for this many agents by default (spread over the ids).
RECORD_AGENTS = 256


class RecordSpec(StrictModel):
    """What a run records beside the model-level series (docs/config.md "Recording")."""

    #: Per-agent series (value, report, utility, charge per round; agents.parquet and the
    #: per-agent metrics): "all", a number N of agents spread evenly over the ids (all
    #: when N >= agents), or a list of agent ids.
    agents: Literal["all"] | Annotated[int, Field(ge=0)] | list[Annotated[int, Field(ge=0)]] = RECORD_AGENTS
    #: Menus on every k-th round only (rounds 0, k, 2k, ...): strong regret is then an
    #: estimate from that subsample, labelled so (1 = every round, exact).
    menu_every: int = Field(default=1, ge=1)
    #: Write the recorded menus to menus.npz (compressed; about 3 bytes per menu entry for
    #: continuous menus). The metrics are computed either way; a sweep of many runs may not
    #: need the menus themselves.
    save_menus: bool = True

    @field_validator("agents", mode="before")
    @classmethod
    def _agents_form(cls, value: Any) -> Any:
        ok = value == "all" or (isinstance(value, int) and not isinstance(value, bool) and value >= 0) or (
            isinstance(value, list)
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
        )
        if not ok:
            raise ValueError(f"must be 'all', a number >= 0 or a list of agent ids, got {value!r}")
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> RecordSpec:
        if isinstance(self.agents, list) and len(set(self.agents)) != len(self.agents):
            raise ValueError(f"record.agents: agent ids must be distinct, got {self.agents}")
        return self

    def agent_ids(self, n: int) -> np.ndarray:
        """The recorded agents among n, in increasing order."""
        if self.agents == "all":
            return np.arange(n)
        if isinstance(self.agents, list):
            return np.asarray(sorted(self.agents), dtype=np.int64)
        return spread_ids(n, int(self.agents))


def spread_ids(n: int, k: int) -> np.ndarray:
    """k of the ids 0..n-1 spread evenly (both ends included; all of them when k >= n)."""
    if k >= n:
        return np.arange(n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


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
    #: What else is recorded, and for whom ([record]: agents, menu_every).
    record: RecordSpec = Field(default_factory=lambda: RecordSpec())
    #: Write a resumable checkpoint of the whole model every this many rounds (0 = never).
    checkpoint_every: int = Field(default=0, ge=0)
    learner: LearnerSpec = Field(default_factory=LearnerSpec)
    #: Mixed population: ordered groups (agents numbered group by group). None = one group
    #: of `agents` agents running `learner`.
    population: list[PopulationGroup] | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    #: Plug-ins (module names or .py paths) loaded before the names above are looked up.
    plugins: list[str] = Field(default_factory=list)
    #: Bounds before the run ([limits]: memory_fraction, disk_fraction; `abm.bounds`).
    limits: LimitsSpec = Field(default_factory=lambda: LimitsSpec())

    @model_validator(mode="before")
    @classmethod
    def _legacy_agent_records(cls, data: Any) -> Any:
        """`agent_records` (before [record]) still reads: "on" records every agent's series,
        "auto" and "off" the default sample."""
        if isinstance(data, dict) and "agent_records" in data:
            data = dict(data)
            old = data.pop("agent_records")
            if old not in ("auto", "on", "off"):
                raise ValueError(f"agent_records: must be 'auto', 'on' or 'off', got {old!r} (see [record] agents)")
            if old == "on":
                record = data.get("record")
                data["record"] = {**(record if isinstance(record, dict) else {}), "agents": "all"}
        return data

    @model_validator(mode="before")
    @classmethod
    def _agents_from_counts(cls, data: Any) -> Any:
        """A population of count groups only has exactly sum(count) agents."""
        if isinstance(data, dict) and isinstance(data.get("population"), list) and data["population"]:
            groups = data["population"]
            counts = [g.get("count") if isinstance(g, dict) else None for g in groups]
            fractions = [g.get("fraction") if isinstance(g, dict) else None for g in groups]
            if all(isinstance(c, int) and not isinstance(c, bool) for c in counts) and not any(fractions):
                data = {**data, "agents": sum(counts)}
        return data

    @model_validator(mode="after")
    def _check_population(self) -> RunConfig:
        if self.population is not None:
            if not self.population:
                raise ValueError("population must list at least one group")
            names = [g.name for g in self.population]
            dup = sorted({x for x in names if names.count(x) > 1})
            if dup:
                raise ValueError(f"population: group names must be unique, got {dup[0]!r} twice")
            fixed = sum(g.count or 0 for g in self.population)
            has_fraction = any(g.fraction is not None for g in self.population)
            if fixed > self.agents or (has_fraction and fixed == self.agents):
                raise ValueError(
                    f"population: count groups hold {fixed} agents, leaving none of agents = {self.agents} "
                    "for the fraction groups" if has_fraction else
                    f"population: count groups hold {fixed} agents but agents = {self.agents}"
                )
            total_fraction = sum(g.fraction or 0.0 for g in self.population)
            if total_fraction > 1.0 + 1e-9:
                raise ValueError(f"population: fractions must sum to <= 1, got {total_fraction:g}")
        ids = self.record.agents
        if isinstance(ids, list) and ids and (max(ids) >= self.agents):
            raise ValueError(f"record.agents: agent id {max(ids)} is out of range for agents = {self.agents}")
        for where, learner, params in self.learner_choices():
            check_learner(where, learner, params)
        if self.population is not None:
            for plan in self.groups():
                if plan.size < 1:
                    raise ValueError(
                        f"population.{plan.name}: its fraction of the {self.agents} agents rounds to 0 agents"
                    )
        return self

    def learner_choices(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(config path, learner name, params) of every group, for validation and plans."""
        if self.population is None:
            return [("learner", self.learner.name, dict(self.learner.params))]
        out = []
        for g in self.population:
            if g.learner is None or g.learner == self.learner.name:
                out.append((f"population.{g.name}", self.learner.name, {**self.learner.params, **g.params}))
            else:
                out.append((f"population.{g.name}", g.learner, dict(g.params)))
        return out

    def groups(self) -> list[GroupPlan]:
        """The population resolved to contiguous agent ranges, in config order. Fraction
        groups split the agents not in count groups in proportion to their fractions."""
        if self.population is None:
            return [
                GroupPlan(
                    SINGLE_GROUP, 0, self.agents, self.learner.name, dict(self.learner.params),
                    undominated=self.learner.undominated,
                )
            ]
        free = self.agents - sum(g.count or 0 for g in self.population)
        frac = [g for g in self.population if g.fraction is not None]
        split = largest_remainder([g.fraction or 0.0 for g in frac], free) if frac else []
        sizes = {g.name: k for g, k in zip(frac, split, strict=True)}
        plans, start = [], 0
        for g, (_, learner, params) in zip(self.population, self.learner_choices(), strict=True):
            size = g.count if g.count is not None else sizes[g.name]
            undominated = self.learner.undominated if g.undominated is None else g.undominated
            plans.append(GroupPlan(g.name, start, start + size, learner, params, g.budget, g.share, undominated))
            start += size
        return plans

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> RunConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"invalid config: {format_validation_error(exc, model=cls)}") from None


def check_learner(where: str, name: str, params: dict[str, Any]) -> None:
    """Validate a learner choice at config time (before any round or worker): the name is
    registered and `params` pass its `Params` model; errors name `where`."""
    import agents  # noqa: F401  (fills the learner registry)
    from agents.registry import LEARNERS, validate_learner

    LEARNERS.entry(name, field=f"{where}.learner" if where.startswith("population.") else f"{where}.name")
    validate_learner(name, params, field=where)


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
        if parts[0] not in RunConfig.model_fields and parts[0] not in LEGACY_RUN_KEYS:
            parts = ["params", *parts]
        node: Any = out
        for p in parts[:-1]:
            if isinstance(node, list):  # `population.<group name>.<field>`
                node = _group_table(node, p, key)
                continue
            node = node.setdefault(p, {})
            if not isinstance(node, dict | list):
                raise ConfigError(f"--set {key}: {p!r} is not a table")
        if isinstance(node, list):
            raise ConfigError(f"--set {key}: name a field of the group, e.g. {key}.count=2")
        node[parts[-1]] = value
    return out


def _group_table(groups: list[Any], name: str, key: str) -> dict[str, Any]:
    for g in groups:
        if isinstance(g, dict) and g.get("name") == name:
            return g
    names = [str(g.get("name")) for g in groups if isinstance(g, dict)]
    raise ConfigError(f"--set {key}: no population group named {name!r}; groups: {', '.join(names) or 'none'}")


def _deep_copy(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _deep_copy(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_deep_copy(v) for v in d]
    return d

"""What a scenario provides to the model, and the scenario registry.

A scenario (in `scenarios/`) turns a validated `RunConfig` into a `ScenarioInstance`:
a mechanism, initial budgets, a value model and agent metadata. Scenarios register
themselves here (`register_scenario`, the `SCENARIOS` registry); `abm` loads the built-in
`scenarios` package as its first plug-in (`abm.plugins`), so the import graph stays
scenarios -> abm (docs/architecture.md).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

import numpy as np
from pydantic import ConfigDict, ValidationError

from abm.config import ConfigError, DeclaredTypes, GroupPlan, RunConfig, format_validation_error
from abm.plugins import load_builtin
from mechanisms.base import Mechanism
from mechanisms.registry import MECHANISMS, Citation, Entry, Registry, UnknownNameError, first_line
from mechanisms.registry import canonical as canonical  # re-exported: one canonical form for every registry

if TYPE_CHECKING:
    from abm.metrics.pipeline import MetricStep


#: Largest token budget per agent and round a scenario's `budget` parameter accepts: the
#: budget is that times the horizon T, which must stay a finite float for any T (and
#: APEX's bids are capped by it, `mechanisms.apex.hooks.LAMBDA_MAX`).
BUDGET_PER_ROUND_MAX = 1e12


class ScenarioParams(DeclaredTypes):
    """Base of every scenario's `[params]` table (values brought to their declared types:
    `--set params.instance=34` is the text "34" where the field takes text)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True, defer_build=True)


class ValueModel(ABC):
    """Draws this round's private values V[t] (n,) (or (n, m) for m goods, with `observed`
    giving the (n,) scalars the learners see)."""

    @abstractmethod
    def sample(self, t: int, rng: np.random.Generator) -> np.ndarray: ...

    def draw(self, t: int, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        """(V[t], the round's public context for `Reports.context`): a model whose rounds also
        draw a cost function (Onyeze et al. 2025 §2.1: (V[t], c[t]) ~ D) returns it here; by
        default the context is None and the values are `sample`'s."""
        return self.sample(t, rng), None

    def observed(self, values: np.ndarray) -> np.ndarray:
        """The (n,) values the learners observe (`Observation.values`) for the drawn V[t]:
        V[t] itself unless the values are vectors (many goods)."""
        return values


@dataclass
class ScenarioInstance:
    """Everything the model needs for one run.

    agent_info: per-agent columns for the summary table (e.g. share alpha_i).
    learner_defaults: parameters merged *under* the user's learner params.
    group_params: parameters merged *over* a population group's params, by group name: values
        the scenario resolved for it (e.g. `beta = "equilibrium"` replaced by the solved focal
        pacing equilibrium, per agent of the group).
    summarize: extra end-of-run summary entries, given the finished `MechanismModel`.
    metric_steps: scenario-specific end-of-run metric steps (`abm.metrics.pipeline.MetricStep`),
        run after the generic ones (e.g. the core factor of public goods, HZ residuals).
    undominated: (low, high) when the undominated reports of every agent are its observed
        value times [low, high] (Chiesa, Micali, Zhu 2012: K_i = x_i [1 - delta, 1 + delta]);
        groups with `undominated = true` then have their reports clipped to it
        (`agents.undominated.BidRange`). None: no such interval, and the option is refused.
    """

    mechanism: Mechanism
    budgets: np.ndarray
    values: ValueModel
    agent_info: dict[str, np.ndarray] = field(default_factory=dict)
    learner_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    group_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    summarize: Callable[[Any], dict[str, Any]] | None = None
    metric_steps: list[MetricStep] = field(default_factory=list)
    undominated: tuple[float, float] | None = None


class Scenario(ABC):
    """A named, documented instance family. Subclasses set `name`, `Params`, `build`.

    mechanism_family: the family of the mechanism registry (`mechanisms.registry`) whose
        mechanisms this scenario can run. Its `Params.mechanism` (a str; another field with
        `mechanism_param`) is validated against that family when the params are parsed, and
        `make_mechanism(params, *factory_args)` builds it, so a plug-in that registers a
        mechanism into the family makes `--set mechanism=<it>` work here. None: the
        scenario's mechanism is fixed.
    plot_panels: override to add scenario-specific figures to `mechsim plot`.
    citation: the source (author, title, section) shown by `mechsim describe`.
    """

    name: ClassVar[str]
    Params: ClassVar[type[ScenarioParams]] = ScenarioParams
    #: The TOML with this scenario's defaults (scenarios/<module>.toml).
    toml: ClassVar[Path]
    mechanism_family: ClassVar[str | None] = None
    #: The `Params` field that names the mechanism (one-sided calls it `heuristic`).
    mechanism_param: ClassVar[str] = "mechanism"
    citation: ClassVar[Citation | None] = None
    #: Per-group overrides a `[[population]]` group may set: `budget` (tokens per agent,
    #: applied by the model to the scenario's budgets) and, where the scenario has shares
    #: and applies them in `build` (`RunConfig.groups()`), `share`.
    group_overrides: ClassVar[frozenset[str]] = frozenset({"budget"})

    def check_group_overrides(self, groups: list[GroupPlan]) -> None:
        """Refuse an override this scenario does not have, naming the group and field."""
        for g in groups:
            for key, value in (("budget", g.budget), ("share", g.share)):
                if value is not None and key not in self.group_overrides:
                    allowed = ", ".join(sorted(self.group_overrides)) or "none"
                    raise ConfigError(
                        f"population.{g.name}.{key}: scenario {self.name!r} has no per-agent {key}s; "
                        f"overrides it accepts: {allowed}"
                    )

    def parse_params(self, raw: dict[str, Any]) -> ScenarioParams:
        try:
            params = self.Params.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(f"invalid config: {format_validation_error(exc, 'params', self.Params)}") from None
        if self.mechanism_family is not None:
            self.mechanism_entry(params)  # an unknown mechanism names params.mechanism and the choices
        return params

    def mechanism_entry(self, params: ScenarioParams) -> Entry[Any]:
        """The registry entry of `params.mechanism` in this scenario's family."""
        if self.mechanism_family is None:
            raise ConfigError(f"scenario {self.name!r} has no mechanism choice")
        name = params.model_dump().get(self.mechanism_param)
        try:
            return MECHANISMS.entry(name, self.mechanism_family, field=f"params.{self.mechanism_param}")
        except UnknownNameError as exc:
            raise UnknownNameConfigError(f"invalid config: {exc}") from None

    def make_mechanism(self, params: ScenarioParams, *args: Any, **kwargs: Any) -> Mechanism:
        """Build `params.mechanism` with the family factory's arguments."""
        return self.mechanism_entry(params).obj(*args, **kwargs)

    @abstractmethod
    def build(self, config: RunConfig, params: ScenarioParams, seed: np.random.SeedSequence) -> ScenarioInstance:
        """Instantiate for `config`; `seed` is this scenario's own SeedSequence child."""

    def plot_panels(self, run_dir: Path, out: Path) -> list[Path]:
        """Scenario-specific figures of a finished run in `run_dir`, written to `out`
        (`mechsim plot` adds them to the generic ones); none by default."""
        return []


class UnknownNameConfigError(ConfigError, UnknownNameError):
    """An unknown scenario or mechanism name (a ConfigError: `mechsim` prints one line)."""


#: Scenarios by name. Filled by `register_scenario` when a scenario module is imported; the
#: built-in `scenarios` package is loaded as the first plug-in (`abm.plugins`).
SCENARIOS: Registry[Scenario] = Registry("scenario", "scenario", (load_builtin,))


S = TypeVar("S", bound=Scenario)


@overload
def register_scenario(scenario: type[S]) -> type[S]: ...


@overload
def register_scenario(scenario: S) -> S: ...


def register_scenario(scenario: S | type[S]) -> S | type[S]:
    """Make `scenario` (an instance) available by `scenario.name`; usable as a class
    decorator too (`@register_scenario` on a Scenario subclass registers an instance)."""
    if isinstance(scenario, type):
        SCENARIOS.add(scenario.name, scenario(), doc=first_line(scenario), citation=scenario.citation)
        return scenario
    SCENARIOS.add(scenario.name, scenario, doc=first_line(type(scenario)), citation=scenario.citation)
    return scenario


def get_scenario(name: str) -> Scenario:
    """Look a scenario up by name; an unknown name lists the available ones."""
    load_builtin()
    try:
        return SCENARIOS.entry(name).obj
    except UnknownNameError as exc:
        raise UnknownNameConfigError(str(exc)) from None


def find_scenario(name: str) -> Scenario | None:
    """The scenario called `name`, or None when it is not registered (no error)."""
    load_builtin()
    return SCENARIOS.get(name)

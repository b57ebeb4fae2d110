"""What a scenario provides to the model, and the scenario registry.

A scenario (in `scenarios/`) turns a validated `RunConfig` into a `ScenarioInstance`:
a mechanism, initial budgets, a value model and agent metadata. Scenarios register
themselves here; `abm` imports the `scenarios` package lazily to find them, so the
import graph stays scenarios -> abm (DESIGN.md §2).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from abm.config import ConfigError, GroupPlan, RunConfig, format_validation_error
from mechanisms.base import Mechanism

if TYPE_CHECKING:
    from abm.metrics.pipeline import MetricStep


class ScenarioParams(BaseModel):
    """Base of every scenario's `[params]` table."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class ValueModel(ABC):
    """Draws this round's private values V[t] (n,)."""

    @abstractmethod
    def sample(self, t: int, rng: np.random.Generator) -> np.ndarray: ...


@dataclass
class ScenarioInstance:
    """Everything the model needs for one run.

    agent_info: per-agent columns for the summary table (e.g. share alpha_i).
    learner_defaults: parameters merged *under* the user's learner params.
    summarize: extra end-of-run summary entries, given the finished `MechanismModel`.
    metric_steps: scenario-specific end-of-run metric steps (`abm.metrics.pipeline.MetricStep`),
        run after the generic ones (e.g. the core factor of public goods, HZ residuals).
    """

    mechanism: Mechanism
    budgets: np.ndarray
    values: ValueModel
    agent_info: dict[str, np.ndarray] = field(default_factory=dict)
    learner_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    summarize: Callable[[Any], dict[str, Any]] | None = None
    metric_steps: list[MetricStep] = field(default_factory=list)


class Scenario(ABC):
    """A named, documented instance family. Subclasses set `name`, `Params`, `build`."""

    name: ClassVar[str]
    Params: ClassVar[type[ScenarioParams]] = ScenarioParams
    #: The TOML with this scenario's defaults (scenarios/<module>.toml).
    toml: ClassVar[Path]
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
            return self.Params.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(f"invalid config: {format_validation_error(exc, 'params')}") from None

    @abstractmethod
    def build(self, config: RunConfig, params: ScenarioParams, seed: np.random.SeedSequence) -> ScenarioInstance:
        """Instantiate for `config`; `seed` is this scenario's own SeedSequence child."""


SCENARIOS: dict[str, Scenario] = {}


def canonical(name: str) -> str:
    """`public-goods`, `public_goods` and `Public-Goods` are one scenario."""
    return name.strip().lower().replace("_", "-")


def register_scenario(scenario: Scenario) -> Scenario:
    SCENARIOS[canonical(scenario.name)] = scenario
    return scenario


def get_scenario(name: str) -> Scenario:
    """Look a scenario up by name; an unknown name lists the available ones."""
    importlib.import_module("scenarios")
    key = canonical(name)
    if key not in SCENARIOS:
        raise ConfigError(
            f"scenario: unknown scenario {name!r}; available: {', '.join(sorted(SCENARIOS))}"
        )
    return SCENARIOS[key]

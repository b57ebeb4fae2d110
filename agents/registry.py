"""Learners by name, for configs: a registry, never `eval` (docs/architecture.md).

Built on the shared `mechanisms.registry.Registry` (stdlib only; the one import from
`mechanisms` into `agents`). Names are canonical (`adaptive_pacing` = `Adaptive-Pacing`).

    register_learner("my_pacer", MyPacer)        # function form

    @register_learner("my_pacer")                 # decorator form
    class MyPacer(Learner): ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, overload

import numpy as np
from pydantic import ValidationError

from agents.base import Learner, LearnerParams
from mechanisms.registry import Citation, Registry, RegistryError, UnknownNameError

#: Learner classes by name; mapping-like (`LEARNERS[name]`, `name in LEARNERS`, iteration
#: over the names). Filled when `agents` is imported (and by plug-ins).
LEARNERS: Registry[type[Learner]] = Registry("learner", "learner.name", ("agents",))


@overload
def register_learner(name: str, cls: type[Learner], *, citation: Citation | None = ...) -> type[Learner]: ...
@overload
def register_learner(
    name: str, cls: None = ..., *, citation: Citation | None = ...
) -> Callable[[type[Learner]], type[Learner]]: ...
def register_learner(
    name: str, cls: type[Learner] | None = None, *, citation: Citation | None = None
) -> Any:
    """Make `cls` available to configs as `name`; without `cls`, a class decorator."""
    if cls is None:
        return LEARNERS.register(name, citation=citation)
    return LEARNERS.add(name, cls, citation=citation)


class LearnerParamsError(RegistryError):
    """Learner parameters that do not validate (the message names each field)."""


def validate_learner(name: str, params: dict[str, Any] | None = None, *, field: str = "learner") -> LearnerParams:
    """The validated `Params` of learner `name`; errors name `field` (`learner.name`,
    `learner.params.step_size`) and list the valid names."""
    cls = LEARNERS.entry(name, field=f"{field}.name").obj
    try:
        return cls.Params(**(params or {}))
    except ValidationError as exc:
        valid = ", ".join(sorted(cls.Params.model_fields)) or "(none)"
        errs = "; ".join(
            f"{field}.params.{'.'.join(map(str, e['loc']))}: "
            + (f"unknown parameter; valid names: {valid}" if e["type"] == "extra_forbidden" else e["msg"])
            + f" (got {e.get('input')!r})"
            for e in exc.errors()
        )
        raise LearnerParamsError(f"invalid parameters for learner {name!r}: {errs}") from None


def make_learner(
    name: str,
    n_agents: int,
    budgets: np.ndarray,
    horizon: int,
    rng: np.random.Generator,
    params: dict[str, Any] | None = None,
    *,
    field: str = "learner",
) -> Learner:
    """Build a cohort by registry name with validated parameters; errors name `field`
    (`learner.name`, `learner.params.step_size`)."""
    validated = validate_learner(name, params, field=field)
    return LEARNERS[name](n_agents, budgets, horizon, rng, validated)


__all__ = [
    "LEARNERS",
    "LearnerParamsError",
    "UnknownNameError",
    "make_learner",
    "register_learner",
    "validate_learner",
]

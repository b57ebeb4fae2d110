"""Learners by name, for scenario TOML files: a registry, never `eval` (DESIGN.md §6)."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import ValidationError

from agents.base import Learner

LEARNERS: dict[str, type[Learner]] = {}


def register_learner(name: str, cls: type[Learner]) -> None:
    """Make `cls` available to configs as `name`."""
    LEARNERS[name] = cls


def make_learner(
    name: str,
    n_agents: int,
    budgets: np.ndarray,
    horizon: int,
    rng: np.random.Generator,
    params: dict[str, Any] | None = None,
) -> Learner:
    """Build a cohort by registry name with validated parameters."""
    key = name.replace("-", "_").lower()
    if key not in LEARNERS:
        raise ValueError(f"learner.name: unknown learner {name!r}; available: {', '.join(sorted(LEARNERS))}")
    cls = LEARNERS[key]
    try:
        validated = cls.Params(**(params or {}))
    except ValidationError as exc:
        errs = "; ".join(
            f"learner.params.{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e.get('input')!r})"
            for e in exc.errors()
        )
        raise ValueError(f"invalid parameters for learner {name!r}: {errs}") from None
    return cls(n_agents, budgets, horizon, rng, validated)

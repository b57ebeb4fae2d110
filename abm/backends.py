"""Where learner cohorts live and run: in process (`LocalBackend`) or in Ray actors.

DESIGN.md §3. A backend holds cohorts — (agent indices, Learner) pairs fixed by the
config — and turns the model's global observation into global reports, then routes the
round's feedback (with menus for full-information cohorts) back to each cohort.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.base import Feedback, Learner, Observation
from agents.registry import make_learner


@dataclass
class Cohort:
    """Agents `indices` (contiguous, sorted global ids) all run `learner`."""

    indices: np.ndarray
    learner: Learner

    @property
    def span(self) -> slice:
        """`indices` as a slice: views instead of fancy-indexed copies on the hot path."""
        return slice(int(self.indices[0]), int(self.indices[-1]) + 1)


def make_cohorts(
    name: str,
    params: dict[str, Any],
    budgets: np.ndarray,
    horizon: int,
    seed: np.random.SeedSequence,
    cohort_size: int,
) -> list[Cohort]:
    """Split agents 0..n-1 into contiguous cohorts of `cohort_size`, each with its own
    spawned RNG stream, so results do not depend on where the cohorts run."""
    n = budgets.shape[0]
    starts = range(0, n, cohort_size)
    seeds = seed.spawn(len(starts))
    cohorts = []
    for s, ss in zip(starts, seeds, strict=True):
        idx = np.arange(s, min(s + cohort_size, n))
        learner = make_learner(name, idx.shape[0], budgets[idx], horizon, np.random.default_rng(ss), params)
        cohorts.append(Cohort(idx, learner))
    return cohorts


class Backend:
    """Interface: `act(obs) -> (reports (n,), alternatives per cohort)`, then
    `observe(feedback, menus)` with one (alternatives, utility, cost) or None per cohort."""

    cohort_indices: list[np.ndarray]

    def act(self, obs: Observation) -> tuple[np.ndarray, list[np.ndarray | None]]:
        raise NotImplementedError

    def observe(self, feedback: Feedback, menus: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None]) -> None:
        raise NotImplementedError

    def learner_states(self) -> list[dict[str, Any]]:
        """state_dict() of every cohort, in cohort order."""
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (actors); a no-op in process."""


class LocalBackend(Backend):
    """All cohorts in this process (the default)."""

    def __init__(self, cohorts: list[Cohort], n_agents: int) -> None:
        self.cohorts = cohorts
        self.n_agents = n_agents
        self.cohort_indices = [c.indices for c in cohorts]

    def act(self, obs: Observation) -> tuple[np.ndarray, list[np.ndarray | None]]:
        reports = np.zeros(self.n_agents)
        alts: list[np.ndarray | None] = []
        for c in self.cohorts:
            sub = obs.take(c.span)
            reports[c.span] = c.learner.act(sub)
            alts.append(c.learner.alternatives(sub) if c.learner.feedback == "full" else None)
        return reports, alts

    def observe(self, feedback: Feedback, menus: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None]) -> None:
        for c, menu in zip(self.cohorts, menus, strict=True):
            fb = feedback.take(c.span)
            c.learner.observe(fb if menu is None else fb.with_menu(*menu))

    def learner_states(self) -> list[dict[str, Any]]:
        return [c.learner.state_dict() for c in self.cohorts]

"""Value models shared by several scenarios (docs/architecture.md: shared helpers exist once)."""

from __future__ import annotations

import numpy as np

from abm.scenario import ValueModel

__all__ = ["UnitValues"]


class UnitValues(ValueModel):
    """V_i[t] = 1. In APEX (voting, one- and two-sided allocation, bandits with knapsacks)
    the utilities f_i are fixed at construction and only the bid lambda varies, so learners
    see a constant value (a bid is v / r = 1 / r); in resource allocation the observed
    'value' is the scale of the agent's own endowment, always 1."""

    def __init__(self, n: int) -> None:
        self.n = n

    def sample(self, t: int, rng: np.random.Generator) -> np.ndarray:
        return np.ones(self.n)

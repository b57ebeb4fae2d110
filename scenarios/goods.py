"""Many public goods for the public-goods scenario (Onyeze, Lin, Banerjee, Tardos 2025 §2.1, §7):
the cost families, the value model of (V[t], c[t]) and the instance built from the params.

A cost family draws a submodular, monotone, normalized cost c: 2^([n] x [m]) -> [0, 1] from
the scenario's stream; with `cost_random` the scenario draws a pool of `cost_pool` costs once
and every round picks one uniformly (so c[t] is i.i.d. over rounds and independent of V[t],
a special case of §2.1's joint D), else a pool of one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from abm.scenario import ValueModel
from mechanisms.public_goods.goods import bundle_values
from mechanisms.public_goods.potential import CardinalityCost, CostFunction, CoverageCost, PerGoodCost

#: A cost family: (params, n, m, rng, random) -> a cost; `random` asks for a draw of the
#: family's random version (a pool member), else the fixed cost the params name.
CostBuilder = Callable[[Any, int, int, np.random.Generator, bool], CostFunction]


def per_good(params: Any, n: int, m: int, rng: np.random.Generator, random: bool) -> PerGoodCost:
    """c(A) = sum_k w_k [good k allocated to someone]; w = cost_weights (default 1/m each); a
    random draw scales each w_k by U[0.5, 1]."""
    w = np.full(m, 1.0 / m) if params.cost_weights is None else np.asarray(params.cost_weights, dtype=float)
    return PerGoodCost(w * rng.uniform(0.5, 1.0, m) if random else w, n)


def cardinality(params: Any, n: int, m: int, rng: np.random.Generator, random: bool) -> CardinalityCost:
    """c(A) = (|A| / (n m))^e, e = cost_exponent in (0, 1] (concave); a random draw takes e ~ U[cost_exponent, 1]."""
    e = rng.uniform(params.cost_exponent, 1.0) if random else params.cost_exponent
    return CardinalityCost((np.arange(n * m + 1) / (n * m)) ** e, n, m)


def coverage(params: Any, n: int, m: int, rng: np.random.Generator, random: bool) -> CoverageCost:
    """Pair (i, k) covers each of `coverage_elements` elements (weight 1/E each) with
    probability `coverage_density`, at least one (drawn uniformly when it covers none);
    a random draw is a fresh incidence."""
    e = params.coverage_elements
    inc = rng.random((n, m, e)) < params.coverage_density
    empty = ~inc.any(axis=2)
    inc[empty, rng.integers(0, e, int(empty.sum()))] = True
    return CoverageCost(inc, np.full(e, 1.0 / e))


#: The cost families of `params.cost`, by name.
COST_FAMILIES: dict[str, CostBuilder] = {"per_good": per_good, "cardinality": cardinality, "coverage": coverage}


def cost_pool(params: Any, n: int, m: int, rng: np.random.Generator) -> list[CostFunction]:
    """The costs the rounds draw from: one fixed cost, or `cost_pool` random ones."""
    build = COST_FAMILIES[params.cost]
    if not params.cost_random:
        return [build(params, n, m, rng, False)]
    return [build(params, n, m, rng, True) for _ in range(params.cost_pool)]


class GoodsValues(ValueModel):
    """(V[t], c[t]) for m goods (Onyeze et al. 2025 §2.1): V_ik ~ U[0, 1], or with correlation rho
    V_ik = (1 - rho) U_ik + rho Z_k (a shock per good shared by every agent); the context is the
    index of the round's cost in a pool of `pool` costs (None for a single cost). Learners
    observe s_i = sum_k V_ik (`bundle_values`)."""

    def __init__(self, n: int, m: int, rho: float, pool: int) -> None:
        self.n, self.m, self.rho, self.pool = n, m, rho, pool

    def sample(self, t: int, rng: np.random.Generator) -> np.ndarray:
        return self.draw(t, rng)[0]

    def draw(self, t: int, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        v = rng.random((self.n, self.m))
        if self.rho > 0:
            v = (1.0 - self.rho) * v + self.rho * rng.random(self.m)
        return v, (int(rng.integers(self.pool)) if self.pool > 1 else None)

    def observed(self, values: np.ndarray) -> np.ndarray:
        return bundle_values(values)

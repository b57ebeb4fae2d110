"""Contract instances: one small random instance per mechanism family.

The mechanism contract (test_mechanism_contract.py) builds every registered mechanism
through the *instance factory* of its family:

    make_instance(factory, rng) -> (mechanism, values, bid_high)

factory: the registered object (called with the family's factory arguments, see
`mechanisms.registry.FAMILIES`); rng: a seeded numpy Generator (same seed, same
instance); values: (n,) the true values passed as `Reports.values`; bid_high: the largest
report the mechanism documents as valid (the contract draws reports from 0, tiny, typical
and this large value).

A family without an instance factory FAILS the contract. A plug-in that adds a family
provides one by defining, in its module,

    CONTRACT_INSTANCES = {"my_family": make_instance}

(collected when tests/conftest.py loads the plug-ins listed in `helpers.CONTRACT_PLUGINS`;
see tests/contracts/plugin_example.py). A plug-in that only adds a mechanism to a built-in
family needs nothing: the family's factory below builds it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from helpers import CONTRACT_INSTANCES_ATTR, PLUGIN_INSTANCES

Instance = tuple[Any, np.ndarray, float]


def public_goods(factory: Any, rng: np.random.Generator) -> Instance:
    """`()`: a monetary mechanism for one good of cost 1; 5 agents, values U[0, 1]; any report >= 0."""
    return factory(), rng.random(5), 10.0


def many_goods(factory: Any, rng: np.random.Generator) -> Instance:
    """`(costs)`: 3 agents, 2 goods under a coverage cost (each pair covers random elements of 4,
    weight 1/4 each), values U[0, 1] per good, an (n, m) `Reports.values`; a report scales
    the agent's value vector, any report >= 0 (reports above m buy everything)."""
    from mechanisms.public_goods.potential import CoverageCost

    inc = rng.random((3, 2, 4)) < 0.5
    inc[..., 0] |= ~inc.any(axis=2)
    return factory(CoverageCost(inc, np.full(4, 0.25))), rng.random((3, 2)), 10.0


def voting(factory: Any, rng: np.random.Generator) -> Instance:
    """`(utilities (5, 3), eta_total)`: 5 voters, 3 alternatives; eta_total = 0.05 * n
    (the voting scenario's default); reports lambda >= 0 (values unused)."""
    u = rng.random((5, 3))
    return factory(u, 0.05 * 5), np.ones(5), 10.0


def matching(factory: Any, rng: np.random.Generator) -> Instance:
    """`(uh (3, 3), ud (3, 3), eta)`: 3 hospitals + 3 doctors = 6 agents; eta = 0.05 (the
    two-sided scenario's default)."""
    uh, ud = rng.random((3, 3)), rng.random((3, 3))
    return factory(uh, ud, 0.05), np.ones(6), 10.0


def approx_valuations(factory: Any, rng: np.random.Generator) -> Instance:
    """`(delta, bid_cap)`: 5 bidders, delta = 0.4, x_i ~ U[0.1, 1], true values in
    K_i = [(1 - delta) x_i, (1 + delta) x_i], bid_cap = 2 (1 + delta) (the approx-auction
    scenario's defaults); bids above the cap are valid (clipped to it)."""
    delta, bid_cap = 0.4, 2.0 * 1.4
    x = rng.uniform(0.1, 1.0, 5)
    tv = x * rng.uniform(1 - delta, 1 + delta, 5)
    return factory(delta, bid_cap), tv, 1.5 * bid_cap


def assignment(factory: Any, rng: np.random.Generator) -> Instance:
    """`(utilities (4, 4), beta, tol)`: 4 agents, 4 items, the one-sided scenario's
    beta = 1e-3 and tol = 1e-9."""
    return factory(rng.random((4, 4)), 1e-3, 1e-9), np.ones(4), 10.0


def linked_vcg(factory: Any, rng: np.random.Generator) -> Instance:
    """`(mech: LinkedVCG, truth (N, T, I))`: Zhu's economy with 2 resources, 3 project
    types and 2 agents over 40 dates, confidence intervals [0, 1] per agent and type, true
    endowments U[0.5, 1.5]; a report scales the agent's true endowment of the date (any
    scale >= 0 is valid; the date adapter commits one date per round)."""
    from mechanisms.linked_vcg import Economy, LinkedVCG

    econ = Economy(np.array([[3.0, 0.0], [0.0, 3.0], [1.0, 0.5]]), np.array([1.5, 1.2]))
    dates = 40
    truth = rng.uniform(0.5, 1.5, (2, dates, 3))
    return factory(LinkedVCG(econ, dates, np.zeros((2, 3)), np.ones((2, 3))), truth), np.ones(2), 3.0


def course_allocation(factory: Any, rng: np.random.Generator) -> Instance:
    """`(utilities (5, 3), capacities (3,), k)`: 5 students, 3 courses of 2 seats, k = 2
    (congested: 6 seats for 10 demanded); reports lambda >= 0 (values unused)."""
    return factory(rng.random((5, 3)), np.full(3, 2), 2), np.ones(5), 10.0


def facility_location(factory: Any, rng: np.random.Generator) -> Instance:
    """`(service (5, 4), costs (4,))`: 5 clients, 4 sites with costs U[0.2, 1]; reports
    lambda >= 0 (values unused)."""
    return factory(rng.random((5, 4)), rng.uniform(0.2, 1.0, 4)), np.ones(5), 10.0


#: The built-in families' instance factories.
BUILTIN_INSTANCES: dict[str, Callable[[Any, np.random.Generator], Instance]] = {
    "public_goods": public_goods,
    "many_goods": many_goods,
    "voting": voting,
    "matching": matching,
    "approx_valuations": approx_valuations,
    "assignment": assignment,
    "linked_vcg": linked_vcg,
    "course_allocation": course_allocation,
    "facility_location": facility_location,
}


def instance_factory(family: str) -> Callable[[Any, np.random.Generator], Instance]:
    """The instance factory of `family`; fails the test (naming the family and the hook)
    when there is none."""
    make = {**BUILTIN_INSTANCES, **PLUGIN_INSTANCES}.get(family)
    if make is None:
        pytest.fail(
            f"mechanism family {family!r} has no contract instance factory: define "
            f"{CONTRACT_INSTANCES_ATTR} = {{{family!r}: make_instance}} in the plug-in that adds the family "
            "(make_instance(factory, rng) -> (mechanism, values, bid_high); see tests/contracts/conftest.py)",
            pytrace=False,
        )
    return make


@pytest.fixture
def contract_instance():
    """`contract_instance(entry, seed) -> (mechanism, values, bid_high)`: a fresh instance of
    a registered mechanism entry, the same for the same seed."""

    def build(entry: Any, seed: int) -> Instance:
        mechanism, values, bid_high = instance_factory(entry.family)(entry.obj, np.random.default_rng(seed))
        return mechanism, np.asarray(values, dtype=np.float64), float(bid_high)

    return build

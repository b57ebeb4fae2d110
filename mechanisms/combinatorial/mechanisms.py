"""The `course_allocation` and `facility_location` families of the mechanism registry: APEX
(Braverman 2021, Algorithm 1) over a local-search or an exact heuristic H. A plug-in puts
APEX over its own optimizer by registering a factory into a family, say a subclass of
`CourseAllocation` whose `argmax` is that optimizer; then `--set heuristic=<name>`."""

from __future__ import annotations

import numpy as np

from mechanisms.base import Mechanism
from mechanisms.combinatorial.course_allocation import CourseExact, CourseLocalSearch
from mechanisms.combinatorial.facility_location import FacilityExact, FacilityLocalSearch
from mechanisms.registry import BRAVERMAN, cite, register_mechanism

ALGORITHM_1 = cite(BRAVERMAN, "§2.1, Algorithm 1")


@register_mechanism(
    "local_search", family="course_allocation", citation=ALGORITHM_1,
    doc="APEX over best-improvement local search (add, drop, swap, move a seat) from X_t.",
)
def course_local_search(utilities: np.ndarray, capacities: np.ndarray, k: int) -> Mechanism:
    from mechanisms.apex.algorithm1 import Apex

    return Apex(CourseLocalSearch(utilities, capacities, k), name="apex[local_search]")


@register_mechanism(
    "exact", family="course_allocation", citation=ALGORITHM_1,
    doc="APEX over the exact optimum (MILP): VCG on lambda-scaled utilities each round.",
)
def course_exact(utilities: np.ndarray, capacities: np.ndarray, k: int) -> Mechanism:
    from mechanisms.apex.algorithm1 import Apex

    return Apex(CourseExact(utilities, capacities, k), name="apex[exact]")


@register_mechanism(
    "local_search", family="facility_location", citation=ALGORITHM_1,
    doc="APEX over best-improvement local search (add, drop, swap a site) from X_t.",
)
def facility_local_search(service: np.ndarray, costs: np.ndarray) -> Mechanism:
    from mechanisms.apex.algorithm1 import Apex

    return Apex(FacilityLocalSearch(service, costs), name="apex[local_search]")


@register_mechanism(
    "exact", family="facility_location", citation=ALGORITHM_1,
    doc="APEX over the exact optimum (MILP): VCG with the sites' opening costs as f_0.",
)
def facility_exact(service: np.ndarray, costs: np.ndarray) -> Mechanism:
    from mechanisms.apex.algorithm1 import Apex

    return Apex(FacilityExact(service, costs), name="apex[exact]")

"""The `assignment` family of the mechanism registry: APEX on one-sided unit-demand
allocation (Braverman 2021 §3.2), factories `(utilities (n, n), beta, tol, bid_cap)`."""

from __future__ import annotations

import numpy as np

from mechanisms.assignment.birkhoff import AssignmentProblem, RegularizedAssignment
from mechanisms.base import Mechanism
from mechanisms.registry import BRAVERMAN, cite, register_mechanism


@register_mechanism(
    "exact", family="assignment", citation=cite(BRAVERMAN, "§3.2.1"),
    doc="APEX with the exact heuristic: repeated unit-demand VCG on lambda-scaled utilities.",
)
def apex_exact(utilities: np.ndarray, beta: float, tol: float, bid_cap: float = np.inf) -> Mechanism:
    from mechanisms.apex.algorithm1 import Apex

    return Apex(AssignmentProblem(utilities), name="apex[exact]", bid_cap=bid_cap)


@register_mechanism(
    "regularized", family="assignment", citation=cite(BRAVERMAN, "§3.2, Theorem 13"),
    doc="APEX with Theorem 13's regularizer F_0 = -beta sum_ij 1/x_ij (re-solved per menu point).",
)
def apex_regularized(utilities: np.ndarray, beta: float, tol: float, bid_cap: float = np.inf) -> Mechanism:
    from mechanisms.apex.algorithm1 import Apex

    return Apex(RegularizedAssignment(utilities, beta, tol=tol), name="apex[regularized]", bid_cap=bid_cap)

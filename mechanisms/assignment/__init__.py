"""One-sided allocation (Braverman 2021 §3.2): unit-demand VCG, the APEX problems over the Birkhoff
polytope, Sinkhorn for the entropy-regularized assignment, and the Hylland–Zeckhauser check."""

from mechanisms.assignment.birkhoff import AssignmentProblem, RegularizedAssignment
from mechanisms.assignment.hz import HZReport, hz_residuals
from mechanisms.assignment.sinkhorn import sinkhorn
from mechanisms.assignment.vcg import VCGResult, unit_demand_vcg

__all__ = [
    "AssignmentProblem",
    "HZReport",
    "RegularizedAssignment",
    "VCGResult",
    "hz_residuals",
    "sinkhorn",
    "unit_demand_vcg",
]

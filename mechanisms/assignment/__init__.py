"""One-sided allocation (Braverman 2021 §3.2): unit-demand VCG, the APEX problems over the Birkhoff
polytope, Sinkhorn for the entropy-regularized assignment, the Hylland–Zeckhauser check and a
Theorem 5 solver (lambda whose VCG prices support an HZ equilibrium)."""

from mechanisms.assignment.birkhoff import AssignmentProblem, RegularizedAssignment
from mechanisms.assignment.hz import HZReport, hz_residuals
from mechanisms.assignment.sinkhorn import sinkhorn
from mechanisms.assignment.theorem5 import Theorem5Result, theorem5_equilibrium
from mechanisms.assignment.vcg import VCGResult, unit_demand_vcg

__all__ = [
    "AssignmentProblem",
    "HZReport",
    "RegularizedAssignment",
    "Theorem5Result",
    "VCGResult",
    "hz_residuals",
    "sinkhorn",
    "theorem5_equilibrium",
    "unit_demand_vcg",
]

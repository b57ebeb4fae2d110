"""One-round allocation rules and their prices: pure functions of reports (DESIGN.md §2)."""

from mechanisms.apex import Apex, ApexProblem, AssignmentProblem, FiniteArgmax, RegularizedAssignment
from mechanisms.approx_valuations import OptimalApprox, RandomAssignment, SecondPrice
from mechanisms.artificial_currency import ArtificialCurrency
from mechanisms.assignment import VCGResult, unit_demand_vcg
from mechanisms.base import Mechanism, Reports, RoundResult
from mechanisms.infinitesimal_apex import InfinitesimalApex
from mechanisms.linked_vcg import Economy, LinkedVCG
from mechanisms.matching import DeferredAcceptance, TwoSidedMatching, deferred_acceptance
from mechanisms.potential import Potential, PotentialEnumerator, PotentialMechanism
from mechanisms.public_goods import Moulin, Proportional, dead_weight_loss
from mechanisms.voting import Plurality, QuadraticVoting, RandomizedDictatorship, SimplexVoting

__all__ = [
    "Apex",
    "ApexProblem",
    "ArtificialCurrency",
    "AssignmentProblem",
    "DeferredAcceptance",
    "Economy",
    "FiniteArgmax",
    "InfinitesimalApex",
    "LinkedVCG",
    "Mechanism",
    "Moulin",
    "OptimalApprox",
    "Plurality",
    "Potential",
    "PotentialEnumerator",
    "PotentialMechanism",
    "Proportional",
    "QuadraticVoting",
    "RandomAssignment",
    "RandomizedDictatorship",
    "RegularizedAssignment",
    "Reports",
    "RoundResult",
    "SecondPrice",
    "SimplexVoting",
    "TwoSidedMatching",
    "VCGResult",
    "dead_weight_loss",
    "deferred_acceptance",
    "unit_demand_vcg",
]

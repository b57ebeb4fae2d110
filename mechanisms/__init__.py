"""One-round allocation rules and their prices: pure functions of reports (docs/architecture.md).

One subpackage per family (`assignment`, `apex`, `voting`, `matching`, `public_goods`,
`linked_vcg`, `approx_valuations`, `bwk`); `base` holds the interface, `capabilities` the
optional declared capabilities and `registry` the mechanisms by name and family. The names
below are imported lazily, so `import mechanisms.base` does not pull in scipy.
"""

from __future__ import annotations

from mechanisms.lazy import lazy_exports

_LAZY = {
    "Apex": "mechanisms.apex.algorithm1",
    "ApexProblem": "mechanisms.apex.algorithm1",
    "ApexRoundState": "mechanisms.apex.algorithm1",
    "ExactMenuApex": "mechanisms.apex.algorithm1",
    "FiniteApex": "mechanisms.apex.algorithm1",
    "FiniteArgmax": "mechanisms.apex.algorithm1",
    "InfinitesimalApex": "mechanisms.apex.algorithm2",
    "AssignmentProblem": "mechanisms.assignment.birkhoff",
    "RegularizedAssignment": "mechanisms.assignment.birkhoff",
    "VCGResult": "mechanisms.assignment.vcg",
    "unit_demand_vcg": "mechanisms.assignment.vcg",
    "OptimalApprox": "mechanisms.approx_valuations.auctions",
    "RandomAssignment": "mechanisms.approx_valuations.auctions",
    "SecondPrice": "mechanisms.approx_valuations.auctions",
    "ArtificialCurrency": "mechanisms.public_goods.artificial_currency",
    "ExactMenuArtificialCurrency": "mechanisms.public_goods.artificial_currency",
    "Moulin": "mechanisms.public_goods.monetary",
    "Proportional": "mechanisms.public_goods.monetary",
    "dead_weight_loss": "mechanisms.public_goods.monetary",
    "Potential": "mechanisms.public_goods.potential",
    "PotentialEnumerator": "mechanisms.public_goods.potential",
    "PotentialMechanism": "mechanisms.public_goods.potential",
    "Economy": "mechanisms.linked_vcg",
    "LinkedVCG": "mechanisms.linked_vcg",
    "DeferredAcceptance": "mechanisms.matching.two_sided",
    "TwoSidedMatching": "mechanisms.matching.two_sided",
    "deferred_acceptance": "mechanisms.matching.two_sided",
    "Plurality": "mechanisms.voting.mechanisms",
    "QuadraticVoting": "mechanisms.voting.mechanisms",
    "RandomizedDictatorship": "mechanisms.voting.mechanisms",
    "SimplexVoting": "mechanisms.voting.mechanisms",
    "Mechanism": "mechanisms.base",
    "Reports": "mechanisms.base",
    "RoundResult": "mechanisms.base",
    "TimeAverage": "mechanisms.base",
    "BudgetRule": "mechanisms.capabilities",
    "Currencies": "mechanisms.capabilities",
    "ExactMenu": "mechanisms.capabilities",
    "FiniteOutcomes": "mechanisms.capabilities",
    "OutcomeAverage": "mechanisms.capabilities",
    "PayoffBound": "mechanisms.capabilities",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

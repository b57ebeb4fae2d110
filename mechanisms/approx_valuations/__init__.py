"""Single-good auctions with approximate valuations (Chiesa, Micali, Zhu 2012).

`auctions`: the auctions, their guarantees and the worst-case search (the
`approx_valuations` mechanism family); `knowledge`: `ApproxKnowledgeAuction`, the wrapper
the framework's loop plays, scoring with the true values behind the agents' knowledge.
"""

from mechanisms.approx_valuations.auctions import OptimalApprox, RandomAssignment, SecondPrice
from mechanisms.approx_valuations.knowledge import ApproxKnowledgeAuction, KnowledgeValues

__all__ = ["ApproxKnowledgeAuction", "KnowledgeValues", "OptimalApprox", "RandomAssignment", "SecondPrice"]

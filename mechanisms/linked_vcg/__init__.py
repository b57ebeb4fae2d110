"""Unlinked and linked VCG for repeated resource allocation (Zhu 2021).

The model (§2) and the transfers (§4) are documented where they live; in short, a
principal allocates durable divisible resources each date among agents with private
project endowments, and linking reports to their confidence intervals makes VCG
weakly cheaper than per-date VCG (Theorem 1).

Layout (this module is the public entry point and re-exports every name below):
- `mechanisms.linked_vcg.model`: the economy (§2), ord-A allocation, the retraction and the
  (un)linked VCG mechanism with its settlement (§4);
- `mechanisms.linked_vcg.groves_milp`: the Groves base min over Omega^n as an exact MILP (§4);
- `mechanisms.linked_vcg.incentives`: the ex-post incentive check by misreport search (§4);
- `mechanisms.linked_vcg.design`: Lemma 6's closed form (§6.2), the eps-ex-post conjecture
  and reasonable truth-telling (§5), and the small-agents design (§6.3);
- `mechanisms.linked_vcg.adapter`: the date-by-date one-round adapter the framework's loop
  plays, registered as `linked` and `unlinked` in the `linked_vcg` mechanism family.
"""

from mechanisms.linked_vcg.adapter import ResourceAllocationRound
from mechanisms.linked_vcg.design import (
    SmallAgentsDesign,
    believable_conjecture,
    c_of_z,
    delta_of_z,
    geometric_tau,
    hoeffding_tail,
    lemma6_transfer,
    reasonable_truthful,
    small_agents_design,
)
from mechanisms.linked_vcg.groves_milp import (
    MILP_REL_GAP,
    MILP_TIME_LIMIT,
    GrovesBase,
    groves_base,
    others_surplus_batch,
)
from mechanisms.linked_vcg.incentives import (
    IncentiveCheck,
    incentive_check,
    misreport_candidates,
    utility_batch,
)
from mechanisms.linked_vcg.model import (
    DateAllocation,
    Economy,
    LinkedSettlement,
    LinkedVCG,
    check_endowments,
    retract_rows,
)

__all__ = [
    "MILP_REL_GAP",
    "MILP_TIME_LIMIT",
    "DateAllocation",
    "Economy",
    "GrovesBase",
    "IncentiveCheck",
    "LinkedSettlement",
    "LinkedVCG",
    "ResourceAllocationRound",
    "SmallAgentsDesign",
    "believable_conjecture",
    "c_of_z",
    "check_endowments",
    "delta_of_z",
    "geometric_tau",
    "groves_base",
    "hoeffding_tail",
    "incentive_check",
    "lemma6_transfer",
    "misreport_candidates",
    "others_surplus_batch",
    "reasonable_truthful",
    "retract_rows",
    "small_agents_design",
    "utility_batch",
]

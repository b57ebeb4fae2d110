"""Unlinked and linked VCG for repeated resource allocation (seed 004, Zhu 2021).

Model (§2): a principal with R durable divisible resources q_bar allocates them each
date t = 1..T among agents n = 1..N, each privately endowed with divisible projects
mu_t^n in [0, inf)^I (type i uses theta_i, pays 1); the principal holds unlimited
last-resort projects of types i <= R. It is common knowledge that each agent's T-date
average endowment lies in [mu_low^n, mu_high^n]; transfers are >= 0 (limited liability).

Arrays: reports and endowments are (N, T, I) — agent-major like the paper's N x T
matrix of I-vectors; array row k is the paper's agent n = k + 1 (player 0 is the
principal). Utilities are in date-1 units: U^n = sum_t beta^(t-1) v(A_t^n, mu_t^n) +
beta^(T-1) W^n, and the cost is C = beta^(T-1) sum_n W^n (§2).

The Groves base of the linked transfer, min over Omega^n of uW^n([mu]^-n, mu-hat^n)
(§4), is a non-convex problem: the others' surplus O_t(y) as a function of agent n's
date-t report is piecewise linear but neither convex nor concave (ord-A hands agent n
a share clip(alpha_i - H_i, 0, y_i) of an investment alpha that itself moves with y).
The paper gives no general algorithm: "computing an agent's transfer is
straightforward" (§1) and a closed form when Properties I and II hold (Lemma 6, §6.2).
We compute it exactly as a mixed-integer LP (`groves_base`) built on Lemma 1's
structure: on each date the efficient investment is exhaustive and linear for one of
finitely many price bases (`knapsack.price_bases`), and within a basis it is an affine
function of the report; one binary per (date, basis) plus one per contested partial
type gives an exact disaggregated formulation, solved by `scipy.optimize.milp` (HiGHS)
and re-evaluated by the knapsack at its minimizer.

Layout (this module is the public entry point and re-exports every name below):
- `mechanisms.linked_model`: the economy (§2), ord-A allocation, the retraction and the
  (un)linked VCG mechanism with its settlement (§4);
- `mechanisms.groves_milp`: the Groves base min over Omega^n as an exact MILP (§4);
- `mechanisms.linked_incentives`: the ex-post incentive check by misreport search (§4);
- `mechanisms.linked_design`: Lemma 6's closed form (§6.2), the eps-ex-post conjecture
  and reasonable truth-telling (§5), and the small-agents design (§6.3).
"""

from mechanisms.groves_milp import (
    MILP_REL_GAP,
    MILP_TIME_LIMIT,
    GrovesBase,
    groves_base,
    others_surplus_batch,
)

# Knapsack names this module has always re-exported (kept importable from here).
from mechanisms.knapsack import (
    AMOUNT_TOL,
    GENERAL_POSITION_MAX_SUBSETS,
    KnapsackSolution,
    PriceBasis,
    check_theta,
    efficient_by_bases,
    general_position_violation,
    knapsack,
    marginal_player,
    ord_split,
    price_bases,
    solve_knapsack_greedy,
)
from mechanisms.linked_design import (
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
from mechanisms.linked_incentives import (
    IncentiveCheck,
    incentive_check,
    misreport_candidates,
    utility_batch,
)
from mechanisms.linked_model import (
    DateAllocation,
    Economy,
    LinkedSettlement,
    LinkedVCG,
    check_endowments,
    retract_rows,
)

__all__ = [
    "AMOUNT_TOL",
    "GENERAL_POSITION_MAX_SUBSETS",
    "MILP_REL_GAP",
    "MILP_TIME_LIMIT",
    "DateAllocation",
    "Economy",
    "GrovesBase",
    "IncentiveCheck",
    "KnapsackSolution",
    "LinkedSettlement",
    "LinkedVCG",
    "PriceBasis",
    "SmallAgentsDesign",
    "believable_conjecture",
    "c_of_z",
    "check_endowments",
    "check_theta",
    "delta_of_z",
    "efficient_by_bases",
    "general_position_violation",
    "geometric_tau",
    "groves_base",
    "hoeffding_tail",
    "incentive_check",
    "knapsack",
    "lemma6_transfer",
    "marginal_player",
    "misreport_candidates",
    "ord_split",
    "others_surplus_batch",
    "price_bases",
    "reasonable_truthful",
    "retract_rows",
    "small_agents_design",
    "solve_knapsack_greedy",
    "utility_batch",
]

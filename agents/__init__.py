"""Bidding policies (learners), vectorized over a cohort of agents (docs/architecture.md)."""

from agents.base import AlternationError, Feedback, Learner, LearnerParams, Observation
from agents.baselines import FixedBid, GreedyUntilDepleted, UniformRandom
from agents.bwk import BangPerBuck, LagrangeBwK
from agents.experts import Exp3, Hedge
from agents.pacing import AdaptivePacing, Truthful, ValueScaling
from agents.registry import LEARNERS, make_learner, register_learner
from agents.swap import BlumMansourSwap
from mechanisms.registry import BRAVERMAN, ONYEZE, Source, cite


def _learner(name: str, cls: type[Learner], doc: str, source: Source | None = None, section: str = "") -> None:
    register_learner(name, cls, citation=cite(source, section) if source else None)
    LEARNERS.describe(name, doc)


_learner("truthful", Truthful, "Report the true value every round (bandit feedback; the IC benchmark).")
_learner(
    "adaptive_pacing", AdaptivePacing, "Adaptive pacing (Balseiro–Gur 2019): bid v / (1 + mu_t), mu by a dual "
    "subgradient step on the budget.", ONYEZE, "§3.2",
)
_learner("value_scaling", ValueScaling, "Fixed value scaling: report v / beta (no learning).", ONYEZE, "§3.2")
_learner("hedge", Hedge, "Hedge over the report grid (full feedback: every grid report's menu).", BRAVERMAN, "§1.1")
_learner("exp3", Exp3, "Exp3 over the report grid (bandit feedback: own utility and charge).", BRAVERMAN, "§1.1")
_learner(
    "blum_mansour_swap", BlumMansourSwap, "Blum–Mansour swap-regret learner over the report grid (Blum, Mansour 2007).",
    BRAVERMAN, "§1.1, eq. 2",
)
_learner(
    "lagrange_bwk", LagrangeBwK, "LagrangeBwK (Immorlica–Sankararaman–Schapire–Slivkins 2019, Alg. 1) over the "
    "report grid.", BRAVERMAN, "§2.3.3",
)
_learner("bang_per_buck", BangPerBuck, "Bang-per-buck: bid lambda = v / r, r the learned exchange rate.",
         BRAVERMAN, "§2.1.1, Claim 2, eq. 15")
_learner("fixed_bid", FixedBid, "Report the same bid every round until the budget is gone (the best-fixed-bid "
         "comparator).", BRAVERMAN, "eq. 1, eq. 15")
_learner("greedy", GreedyUntilDepleted, "Report value * multiplier every round until the budget is exhausted.",
         BRAVERMAN, "§2.3.3")
_learner("uniform_random", UniformRandom, "Report value * U[low, high] each round (the no-information baseline).")

__all__ = [
    "LEARNERS",
    "AdaptivePacing",
    "AlternationError",
    "BangPerBuck",
    "BlumMansourSwap",
    "Exp3",
    "Feedback",
    "FixedBid",
    "GreedyUntilDepleted",
    "Hedge",
    "LagrangeBwK",
    "Learner",
    "LearnerParams",
    "Observation",
    "Truthful",
    "UniformRandom",
    "ValueScaling",
    "make_learner",
    "register_learner",
]

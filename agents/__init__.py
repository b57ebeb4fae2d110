"""Bidding policies (learners), vectorized over a cohort of agents (DESIGN.md §2)."""

from agents.base import AlternationError, Feedback, Learner, LearnerParams, Observation
from agents.baselines import FixedBid, GreedyUntilDepleted, UniformRandom
from agents.bwk import BangPerBuck, LagrangeBwK
from agents.experts import Exp3, Hedge
from agents.pacing import AdaptivePacing, Truthful, ValueScaling
from agents.registry import LEARNERS, make_learner, register_learner
from agents.swap import BlumMansourSwap

register_learner("truthful", Truthful)
register_learner("adaptive_pacing", AdaptivePacing)
register_learner("value_scaling", ValueScaling)
register_learner("hedge", Hedge)
register_learner("exp3", Exp3)
register_learner("blum_mansour_swap", BlumMansourSwap)
register_learner("lagrange_bwk", LagrangeBwK)
register_learner("bang_per_buck", BangPerBuck)
register_learner("fixed_bid", FixedBid)
register_learner("greedy", GreedyUntilDepleted)
register_learner("uniform_random", UniformRandom)

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

"""Bidding policies (learners), vectorized over a cohort of agents (DESIGN.md §2)."""

from agents.base import AlternationError, Feedback, Learner, LearnerParams, Observation
from agents.pacing import AdaptivePacing, Truthful, ValueScaling
from agents.registry import LEARNERS, make_learner, register_learner

register_learner("truthful", Truthful)
register_learner("adaptive_pacing", AdaptivePacing)
register_learner("value_scaling", ValueScaling)

__all__ = [
    "LEARNERS",
    "AdaptivePacing",
    "AlternationError",
    "Feedback",
    "Learner",
    "LearnerParams",
    "Observation",
    "Truthful",
    "ValueScaling",
    "make_learner",
    "register_learner",
]

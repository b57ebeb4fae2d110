"""Two-sided matching (Braverman 2021 §3.3): APEX over fractional matchings, Gale–Shapley and the
comparison metrics."""

from mechanisms.matching.two_sided import DeferredAcceptance, TwoSidedMatching, deferred_acceptance

__all__ = ["DeferredAcceptance", "TwoSidedMatching", "deferred_acceptance"]

"""APEX (Braverman 2021, *Optimization-friendly generic mechanisms without money*, §2): Algorithm 1
and its charge audit, the infinitesimal Algorithm 2 (§2.2), the problem interface of the
outcome space and its optional hooks (`mechanisms.apex.hooks`), local search as the heuristic
H (`mechanisms.apex.local_search`) and the Definition 1 check (`mechanisms.apex.monotonicity`)."""

from mechanisms.apex.algorithm1 import (
    Apex,
    ApexProblem,
    ApexRoundState,
    ChargeAudit,
    ExactMenuApex,
    FiniteApex,
    FiniteArgmax,
)
from mechanisms.apex.algorithm2 import InfinitesimalApex
from mechanisms.apex.local_search import LocalSearchProblem, hill_climb
from mechanisms.apex.monotonicity import MonotonicityReport, monotonicity_check

__all__ = [
    "Apex",
    "ApexProblem",
    "ApexRoundState",
    "ChargeAudit",
    "ExactMenuApex",
    "FiniteApex",
    "FiniteArgmax",
    "InfinitesimalApex",
    "LocalSearchProblem",
    "MonotonicityReport",
    "hill_climb",
    "monotonicity_check",
]

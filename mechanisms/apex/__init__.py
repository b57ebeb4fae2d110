"""APEX (Braverman 2021, *Optimization-friendly generic mechanisms without money*, §2): Algorithm 1,
the infinitesimal Algorithm 2 (§2.2), the problem interface of the outcome space and its
optional hooks (`mechanisms.apex.hooks`)."""

from mechanisms.apex.algorithm1 import Apex, ApexProblem, ApexRoundState, ExactMenuApex, FiniteApex, FiniteArgmax
from mechanisms.apex.algorithm2 import InfinitesimalApex

__all__ = ["Apex", "ApexProblem", "ApexRoundState", "ExactMenuApex", "FiniteApex", "FiniteArgmax", "InfinitesimalApex"]

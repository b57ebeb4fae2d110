"""APEX (Braverman, *Optimization-friendly generic mechanisms without money*, §2): Algorithm 1,
the infinitesimal Algorithm 2 (§2.2) and the problem interface of the outcome space."""

from mechanisms.apex.algorithm1 import Apex, ApexProblem, FiniteArgmax
from mechanisms.apex.algorithm2 import InfinitesimalApex

__all__ = ["Apex", "ApexProblem", "FiniteArgmax", "InfinitesimalApex"]

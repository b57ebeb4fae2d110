"""Public goods (Onyeze, Lin, Banerjee, Tardos): the monetary mechanisms Proportional, Moulin
and Potential, and the artificial-currency reduction (Algorithm 1)."""

from mechanisms.public_goods.artificial_currency import ArtificialCurrency, ExactMenuArtificialCurrency
from mechanisms.public_goods.monetary import Moulin, Proportional, dead_weight_loss
from mechanisms.public_goods.potential import Potential, PotentialEnumerator

__all__ = [
    "ArtificialCurrency",
    "ExactMenuArtificialCurrency",
    "Moulin",
    "Potential",
    "PotentialEnumerator",
    "Proportional",
    "dead_weight_loss",
]

"""One-round allocation rules and their prices: pure functions of reports (DESIGN.md §2)."""

from mechanisms.artificial_currency import ArtificialCurrency
from mechanisms.base import Mechanism, Reports, RoundResult
from mechanisms.public_goods import Moulin, Proportional, dead_weight_loss

__all__ = [
    "ArtificialCurrency",
    "Mechanism",
    "Moulin",
    "Proportional",
    "Reports",
    "RoundResult",
    "dead_weight_loss",
]

"""Single-good auctions with approximate valuations (Chiesa, Micali, Zhu)."""

from mechanisms.approx_valuations.auctions import OptimalApprox, RandomAssignment, SecondPrice

__all__ = ["OptimalApprox", "RandomAssignment", "SecondPrice"]

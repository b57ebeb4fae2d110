"""Bandits with knapsacks as a mechanism (Braverman 2021 §1.1, §2.3.3)."""

from mechanisms.bwk.instances import BanditsWithKnapsacks, hindsight_opt, lp_opt

__all__ = ["BanditsWithKnapsacks", "hindsight_opt", "lp_opt"]

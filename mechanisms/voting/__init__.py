"""Voting with cardinal preferences on the simplex (Braverman 2021 §3.1): the APEX problem, the
baselines, the one-shot rules and the eq. (28) truthfulness check."""

from mechanisms.voting.mechanisms import Plurality, QuadraticVoting, RandomizedDictatorship, SimplexVoting
from mechanisms.voting.rules import truthfulness_check

__all__ = ["Plurality", "QuadraticVoting", "RandomizedDictatorship", "SimplexVoting", "truthfulness_check"]

"""The budget ledger: token budgets per agent, charges per round, invariants (docs/architecture.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mechanisms.base import TOKEN_TOL, check_vector

#: Remaining budget below which an agent counts as depleted when the mechanism has no
#: finite maximum charge (APEX-style charges scale with the bid).
EMPTY_BUDGET = 1e-9


# np.minimum.reduce, not ndarray.min: its Python wrapper costs more than the minimum at small n.
_min = np.minimum.reduce

#: Rounds between full token-conservation checks.
CHECK_EVERY = 64


class BudgetError(RuntimeError):
    """A charge that would overdraw a budget, or a broken conservation invariant."""


class Ledger:
    """Budgets per agent. `remaining`, `spent`, `depleted_at` (first round, 0-based, after
    which the agent can no longer pay the mechanism's maximum charge p_max; -1 = never).

    Invariants (checked on every charge): no negative budget; tokens conserved,
    initial = remaining + spent.
    """

    def __init__(self, budgets: np.ndarray, p_max: float = np.inf) -> None:
        self.initial = check_vector("budgets", budgets).copy()
        self.remaining = self.initial.copy()
        self.spent = np.zeros_like(self.initial)
        self.p_max = float(p_max)
        # A fresh (n,) float temporary per round costs page faults at n = 1e5: a scratch buffer.
        self._scratch = np.empty_like(self.initial)
        # The "nothing left" level per agent when p_max is infinite; `initial` never changes.
        self._empty = EMPTY_BUDGET * np.maximum(1.0, self.initial)
        self.depleted_at = np.where(self.can_pay(), -1, 0)
        #: How many agents have depleted so far (kept incrementally: a per-round series).
        self.n_depleted = int(np.count_nonzero(self.depleted_at >= 0))
        self.rounds = 0
        # Who has not depleted yet (depleted_at < 0), and a boolean scratch buffer: the
        # per-round depletion test is two boolean passes and a count, no index arrays.
        self._live = self.depleted_at < 0
        self._mask = np.empty(self.n, dtype=bool)

    @property
    def n(self) -> int:
        return self.initial.shape[0]

    def can_pay(self) -> np.ndarray:
        """Who may still submit a non-zero report: B_i >= p_max (Onyeze et al. 2025 Algorithm 1), or,
        when charges are unbounded (APEX: they scale with the bid), any budget left at all."""
        if np.isfinite(self.p_max):
            return np.add(self.remaining, TOKEN_TOL, out=self._scratch) >= self.p_max
        return self.remaining > self._empty

    def _cannot_pay(self) -> np.ndarray:
        """~can_pay(), in one comparison (budgets are finite, so no NaN breaks the negation),
        into the boolean scratch buffer."""
        if np.isfinite(self.p_max):
            return np.less(np.add(self.remaining, TOKEN_TOL, out=self._scratch), self.p_max, out=self._mask)
        return np.less_equal(self.remaining, self._empty, out=self._mask)

    def charge(self, charges: np.ndarray, t: int) -> None:
        """Debit one round's charges; refuse (BudgetError) anything that overdraws."""
        charges = np.asarray(charges, dtype=np.float64)
        if charges.shape != (self.n,):
            raise BudgetError(f"charges must have shape ({self.n},), got {charges.shape}")
        # Few array passes on the hot path: the minimum screens NaN and negative charges, the
        # minimum of what is left screens +inf and overdraws; the slow path names the culprit.
        lo = _min(charges)
        after = np.subtract(self.remaining, charges)
        if not (lo >= -TOKEN_TOL and _min(after) >= -TOKEN_TOL):
            self._refuse(charges, after, t)
        # `remaining` is replaced, never mutated in place, so observers may hold it without copying.
        self.remaining = np.maximum(after, 0.0, out=after)
        np.add(self.spent, np.maximum(charges, 0.0) if lo < 0 else charges, out=self.spent)
        # Newly depleted: cannot pay and not depleted before. Counted first; indices only in
        # the rare rounds that have some.
        newly = np.logical_and(self._cannot_pay(), self._live, out=self._mask)
        count = int(np.count_nonzero(newly))
        if count:
            idx = np.flatnonzero(newly)
            self.depleted_at[idx] = t
            self._live[idx] = False
            self.n_depleted += count
        self.rounds += 1
        # Conservation holds by construction up to round-off; a full check every
        # CHECK_EVERY rounds (and at the end of a run) catches drift without an extra
        # O(n) pass per round. Negativity is checked every round above.
        if self.rounds % CHECK_EVERY == 0:
            self.check_invariants()

    def _refuse(self, charges: np.ndarray, after: np.ndarray, t: int) -> None:
        bad = ~np.isfinite(charges) | (charges < -TOKEN_TOL)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise BudgetError(f"round {t}: charge to agent {i} must be finite and >= 0, got {charges[i]}")
        over = after < -TOKEN_TOL * np.maximum(1.0, self.initial)
        if over.any():
            i = int(np.flatnonzero(over)[0])
            raise BudgetError(
                f"round {t}: charge {charges[i]} to agent {i} exceeds its remaining budget {self.remaining[i]}"
            )

    def state_dict(self) -> dict[str, Any]:
        """What changes as rounds are charged (checkpoints); `initial` and `p_max` come from the config."""
        return {
            "initial": self.initial.copy(),
            "remaining": self.remaining.copy(),
            "spent": self.spent.copy(),
            "depleted_at": self.depleted_at.copy(),
            "n_depleted": self.n_depleted,
            "rounds": self.rounds,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from `state_dict()` of a ledger with the same initial budgets."""
        if not np.array_equal(state["initial"], self.initial):
            raise BudgetError("the checkpoint's initial budgets differ from this run's")
        self.remaining = np.array(state["remaining"], dtype=np.float64)
        self.spent = np.array(state["spent"], dtype=np.float64)
        self.depleted_at = np.array(state["depleted_at"], dtype=self.depleted_at.dtype)
        self.n_depleted = int(state["n_depleted"])
        self.rounds = int(state["rounds"])
        self._live = self.depleted_at < 0  # derived from depleted_at, as in __init__
        self.check_invariants()

    def check_invariants(self) -> None:
        if self.remaining.min(initial=0.0) < 0:
            raise BudgetError("negative budget")
        drift = self.initial - self.remaining
        drift -= self.spent
        np.abs(drift, out=drift)
        if drift.max(initial=0.0) > TOKEN_TOL * max(1.0, float(self.initial.max(initial=0.0))):
            i = int(np.argmax(drift))
            raise BudgetError(f"tokens not conserved for agent {i}: drift {drift[i]}")

"""The budget ledger: token budgets per agent, charges per round, invariants (docs/architecture.md).

Several currencies (Braverman 2021 §2.3, Problem 13: d knapsacks): budgets (n, d) and
charges (n, d) keep every invariant per currency (no negative budget, conservation, the
depletion round). One currency keeps the (n,) layout, so its hot path is unchanged.
"""

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


def check_budgets(budgets: np.ndarray) -> np.ndarray:
    """(n,) or (n, d) budgets, finite and >= 0 (errors name `budgets` and the agent)."""
    arr = np.asarray(budgets, dtype=np.float64)
    if arr.ndim != 2:
        return check_vector("budgets", arr)
    if arr.shape[1] < 1:
        raise ValueError(f"budgets must have at least one currency column, got shape {arr.shape}")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        i, j = (int(k) for k in np.argwhere(bad)[0])
        raise ValueError(f"budgets[{i}, {j}] must be finite and >= 0, got {arr[i, j]}")
    return arr


class Ledger:
    """Budgets per agent. `remaining`, `spent`, `depleted_at` (first round, 0-based, after
    which the agent can no longer pay the mechanism's maximum charge p_max; -1 = never).

    Invariants (checked on every charge): no negative budget; tokens conserved,
    initial = remaining + spent.

    With d > 1 currencies (budgets (n, d)) every array is (n, d) and every invariant holds per
    currency: a charge (n, d) is refused if it overdraws any currency, conservation is
    checked per (agent, currency) and `depleted_at[i, j]` is the round agent i could no
    longer pay p_max in currency j. `n_depleted` counts agents depleted in at least one
    currency; the `*_total` views are the per-agent sums over currencies (the arrays
    themselves when d = 1), for the per-agent series and tables.
    """

    def __init__(self, budgets: np.ndarray, p_max: float = np.inf) -> None:
        self.initial = check_budgets(budgets).copy()
        #: The number of currencies (1 for (n,) budgets); an attribute, read every round.
        self.d = 1 if self.initial.ndim == 1 else int(self.initial.shape[1])
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
        self._mask = np.empty(self.initial.shape, dtype=bool)
        self._min = _min if self.initial.ndim == 1 else _min_all
        if self.d > 1:
            self.n_depleted = int(np.count_nonzero((self.depleted_at >= 0).any(axis=1)))

    @property
    def n(self) -> int:
        return self.initial.shape[0]

    @property
    def initial_total(self) -> np.ndarray:
        """(n,) initial budget per agent, summed over currencies."""
        return self.initial if self.initial.ndim == 1 else self.initial.sum(axis=1)

    @property
    def spent_total(self) -> np.ndarray:
        """(n,) tokens spent per agent, summed over currencies."""
        return self.spent if self.spent.ndim == 1 else self.spent.sum(axis=1)

    @property
    def remaining_total(self) -> np.ndarray:
        """(n,) remaining budget per agent, summed over currencies."""
        return self.remaining if self.remaining.ndim == 1 else self.remaining.sum(axis=1)

    @property
    def depleted_any(self) -> np.ndarray:
        """(n,) the first round agent i depleted any currency (-1 = never)."""
        if self.depleted_at.ndim == 1:
            return self.depleted_at
        hit = np.where(self.depleted_at >= 0, self.depleted_at, np.iinfo(self.depleted_at.dtype).max)
        first = hit.min(axis=1)
        return np.where(first == np.iinfo(self.depleted_at.dtype).max, -1, first)

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
        if charges.shape != self.initial.shape:
            raise BudgetError(f"charges must have shape {self.initial.shape}, got {charges.shape}")
        # Few array passes on the hot path: the minimum screens NaN and negative charges, the
        # minimum of what is left screens +inf and overdraws; the slow path names the culprit.
        lo = self._min(charges)
        after = np.subtract(self.remaining, charges)
        if not (lo >= -TOKEN_TOL and self._min(after) >= -TOKEN_TOL):
            self._refuse(charges, after, t)
        # `remaining` is replaced, never mutated in place, so observers may hold it without copying.
        self.remaining = np.maximum(after, 0.0, out=after)
        np.add(self.spent, np.maximum(charges, 0.0) if lo < 0 else charges, out=self.spent)
        # Newly depleted: cannot pay and not depleted before. Counted first; indices only in
        # the rare rounds that have some.
        newly = np.logical_and(self._cannot_pay(), self._live, out=self._mask)
        count = int(np.count_nonzero(newly))
        if count:
            if self.d > 1:
                self.depleted_at[newly] = t
                self._live[newly] = False
                self.n_depleted = int(np.count_nonzero((self.depleted_at >= 0).any(axis=1)))
            else:
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
            at = _first(bad)
            raise BudgetError(f"round {t}: charge to agent {_name(at)} must be finite and >= 0, got {charges[at]}")
        over = after < -TOKEN_TOL * np.maximum(1.0, self.initial)
        if over.any():
            at = _first(over)
            raise BudgetError(
                f"round {t}: charge {charges[at]} to agent {_name(at)} exceeds its remaining budget "
                f"{self.remaining[at]}"
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
        # Per currency: each column against its own largest budget.
        scale = np.maximum(1.0, self.initial.max(axis=0, initial=0.0))
        if (drift > TOKEN_TOL * scale).any():
            at = _first(drift > TOKEN_TOL * scale)
            raise BudgetError(f"tokens not conserved for agent {_name(at)}: drift {drift[at]}")


def _min_all(x: np.ndarray) -> Any:
    """The minimum of every entry of an (n, d) array."""
    return _min(x, axis=None)


def _first(mask: np.ndarray) -> tuple[int, ...]:
    """The index of the first True entry of a (n,) or (n, d) mask."""
    return tuple(int(k) for k in np.argwhere(mask)[0])


def _name(at: tuple[int, ...]) -> str:
    """"i" for one currency, "i in currency j" for several."""
    return str(at[0]) if len(at) == 1 else f"{at[0]} in currency {at[1]}"

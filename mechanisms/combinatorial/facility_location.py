"""Uncapacitated facility location as an APEX problem (Braverman 2021, §2.1: APEX over a
local-search H).

n clients (the players) and m candidate sites; opening site j costs c_j tokens. An outcome
is the set S of open sites, a boolean vector (m,). Client i is served by its best open
site: f_i(S) = max_{j in S} s_ij with s_ij in [0, 1] (0 if nothing is open), and the
principal pays for the sites: f_0(S) = -sum_{j in S} c_j (R = 0).

Heuristics H(F, start), F = f_0 + sum_i w_i f_i:
- `FacilityLocalSearch`: best-improvement local search from X_t over add a site, drop one,
  swap an open site for a closed one — the classic add/drop/swap neighbourhood of facility
  location (Kuehn and Hamburger 1963; Arya et al. 2004 bound its local optima); it stops at
  a local optimum, which need not be global.
- `FacilityExact`: the optimum, by enumerating the 2^m sets when m <= `ENUMERATE_SITES`
  (the (2^m, n) table of f_i is built once; then H is one matrix-vector product), else by a
  MILP (scipy.optimize.milp, HiGHS, gap 0) on the usual formulation: open y_j binary,
  assignment z_ij in [0, 1], sum_j z_ij <= 1, z_ij <= y_j.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mechanisms.base import check_vector

#: A move is taken only if it gains more than this (relative to max(1, |F|)): no cycling on round-off.
GAIN_TOL = 1e-12
#: Up to this many sites the exact H enumerates every set (4096 of them) instead of solving a MILP.
ENUMERATE_SITES = 12


class FacilityLocation:
    """The instance and its outcome space; `argmax` (H) is the subclass's.

    service: (n, m) s_ij in [0, 1], client i's utility from site j; costs: (m,) c_j >= 0."""

    #: f_i in [0, 1]: APEX caps charges at lambda_i (no budget is overdrawn).
    utility_span = 1.0
    #: Local-search move budget per call of H, as a multiple of m (a bound, not a target).
    max_moves_factor = 4

    def __init__(self, service: np.ndarray, costs: np.ndarray) -> None:
        s = np.asarray(service, dtype=np.float64)
        if s.ndim != 2 or 0 in s.shape:
            raise ValueError(f"service must be a non-empty (n, m) array, got shape {s.shape}")
        if not (np.isfinite(s).all() and s.min() >= 0 and s.max() <= 1):
            raise ValueError("service must be finite and in [0, 1]")
        self.s = s
        self.n, self.m = s.shape
        self.costs = check_vector("costs", costs, self.m)
        self._rows: Any = None
        self._table: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    # -- the problem (ApexProblem) -------------------------------------------------------
    def utilities(self, x: np.ndarray) -> np.ndarray:
        """(n,) f_i(S) = max_{j in S} s_ij (0 when S is empty)."""
        return np.where(np.asarray(x, dtype=bool)[None, :], self.s, 0.0).max(axis=1)

    def base(self, x: np.ndarray) -> float:
        """f_0(S) = -sum_{j in S} c_j."""
        return -float(self.costs @ np.asarray(x, dtype=np.float64))

    def initial(self) -> np.ndarray:
        """X_0: no site open."""
        return np.zeros(self.m, dtype=bool)

    def as_array(self, x: np.ndarray) -> np.ndarray:
        """Open sites as floats (X-bar: each site's share of rounds open)."""
        return np.asarray(x, dtype=np.float64)

    def value(self, weights: np.ndarray, x: np.ndarray) -> float:
        """F(S) = f_0(S) + sum_i w_i f_i(S)."""
        return self.base(x) + float(weights @ self.utilities(x))

    def values(self, weights: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """F of each row of masks (M, m)."""
        served = np.where(masks[:, None, :], self.s[None, :, :], 0.0).max(axis=2)  # (M, n)
        return served @ weights - masks @ self.costs

    # -- the two heuristics --------------------------------------------------------------
    def neighbours(self, x: np.ndarray) -> np.ndarray:
        """(M, m) the sets one add, drop or swap away from x (in that order)."""
        x = np.asarray(x, dtype=bool)
        eye = np.eye(self.m, dtype=bool)
        flips = x[None, :] ^ eye  # adds (closed j) and drops (open j)
        opened, closed = np.flatnonzero(x), np.flatnonzero(~x)
        swaps = np.repeat(x[None, :], opened.size * closed.size, axis=0)
        rows = np.arange(swaps.shape[0])
        swaps[rows, np.repeat(opened, closed.size)] = False
        swaps[rows, np.tile(closed, opened.size)] = True
        return np.concatenate([flips[~x], flips[x], swaps])

    def local_search(self, weights: np.ndarray, start: Any) -> np.ndarray:
        """Best-improvement local search from `start` (add, drop, swap)."""
        w = np.asarray(weights, dtype=np.float64)
        x = self.initial() if start is None else np.array(start, dtype=bool)
        fx = self.value(w, x)
        for _ in range(self.max_moves_factor * self.m):
            cand = self.neighbours(x)
            vals = self.values(w, cand)
            best = int(np.argmax(vals))
            if not vals[best] > fx + GAIN_TOL * max(1.0, abs(fx)):
                break
            x, fx = cand[best], float(vals[best])
        return x

    def exact(self, weights: np.ndarray, start: Any = None) -> np.ndarray:
        """argmax_S F(S): by enumeration for m <= ENUMERATE_SITES, else `exact_milp`."""
        if self.m > ENUMERATE_SITES:
            return self.exact_milp(weights)
        if self._table is None:
            sets = ((np.arange(2**self.m)[:, None] >> np.arange(self.m)[None, :]) & 1).astype(bool)
            served = np.stack([self.utilities(x) for x in sets])  # (2^m, n) f_i of every set
            self._table = (sets, served, -(sets @ self.costs))
        sets, utilities, base = self._table
        return sets[int(np.argmax(base + utilities @ np.asarray(weights, dtype=np.float64)))].copy()

    def exact_milp(self, weights: np.ndarray) -> np.ndarray:
        """argmax_S F(S) by a MILP (HiGHS, relative gap 0)."""
        from scipy.optimize import Bounds, milp

        n, m = self.n, self.m
        w = np.asarray(weights, dtype=np.float64)
        # Variables: y (m,), then z (n, m) raveled row-major. Maximize w_i s_ij z_ij - c_j y_j.
        objective = -np.concatenate([-self.costs, (w[:, None] * self.s).ravel()])
        res = milp(objective, constraints=self._constraints(),
                   integrality=np.concatenate([np.ones(m), np.zeros(n * m)]), bounds=Bounds(0, 1),
                   options={"mip_rel_gap": 0.0})
        if res.x is None:
            raise RuntimeError(f"facility location MILP failed: {res.message}")
        return res.x[:m] > 0.5

    def _constraints(self) -> Any:
        """The MILP's rows (built once): sum_j z_ij <= 1 and z_ij - y_j <= 0."""
        if self._rows is None:
            from scipy.optimize import LinearConstraint
            from scipy.sparse import eye, hstack, kron, vstack

            n, m = self.n, self.m
            one_site = hstack([np.zeros((n, m)), kron(eye(n), np.ones((1, m)))])
            open_only = hstack([-kron(np.ones((n, 1)), eye(m)), eye(n * m)])
            ub = np.concatenate([np.ones(n), np.zeros(n * m)])
            self._rows = LinearConstraint(vstack([one_site, open_only]).tocsr(), -np.inf, ub)
        return self._rows


class FacilityLocalSearch(FacilityLocation):
    """H = best-improvement local search from X_t (add, drop, swap a site)."""

    def argmax(self, weights: np.ndarray, start: Any = None) -> np.ndarray:
        return self.local_search(weights, start)


class FacilityExact(FacilityLocation):
    """H = the exact optimum (MILP); APEX over it is VCG with the principal's costs f_0."""

    #: HiGHS's primal feasibility tolerance bounds how far the MILP optimum may be from exact.
    tolerance = 1e-7

    def argmax(self, weights: np.ndarray, start: Any = None) -> np.ndarray:
        return self.exact(weights, start)

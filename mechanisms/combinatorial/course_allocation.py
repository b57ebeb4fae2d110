"""Course allocation as an APEX problem (Braverman 2021, §2.1: APEX over a local-search H).

n students, m courses with cap_c seats, at most k courses per student. An outcome is a
0/1 matrix x (n, m); student i's utility is additive, f_i(x) = sum_c u_ic x_ic / k with
u_ic in [0, 1], so f_i in [0, 1]. The principal adds nothing (f_0 + R = 0).

Heuristics H(F, start), F = sum_i w_i f_i:
- `CourseLocalSearch`: best-improvement local search from X_t over four moves — add a
  course, drop one, swap one course for another (student i: c -> c'), move a seat (course
  c: student i -> student j). It stops at a local optimum, which need not be global (a
  chain of three moves may be needed), so APEX over it is not locally correct.
- `CourseExact`: the optimum by a MILP (scipy.optimize.milp, HiGHS, gap 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mechanisms.base import check_vector

#: A move is taken only if it gains more than this (relative to max(1, |F|)): no cycling on round-off.
GAIN_TOL = 1e-12


class CourseAllocation:
    """The instance and its outcome space; `argmax` (H) is the subclass's.

    utilities: (n, m) u_ic in [0, 1]; capacities: (m,) seats per course (integers >= 0);
    k: at most k courses per student (>= 1)."""

    #: f_i in [0, 1]: APEX caps charges at lambda_i (no budget is overdrawn).
    utility_span = 1.0
    #: Local-search move budget per call of H, as a multiple of n * k (a bound, not a target).
    max_moves_factor = 4

    def __init__(self, utilities: np.ndarray, capacities: np.ndarray, k: int) -> None:
        u = np.asarray(utilities, dtype=np.float64)
        if u.ndim != 2 or 0 in u.shape:
            raise ValueError(f"utilities must be a non-empty (n, m) array, got shape {u.shape}")
        if not (np.isfinite(u).all() and u.min() >= 0 and u.max() <= 1):
            raise ValueError("utilities must be finite and in [0, 1]")
        cap = check_vector("capacities", capacities, u.shape[1])
        if (cap != np.round(cap)).any():
            raise ValueError(f"capacities must be integers, got {cap}")
        if int(k) != k or k < 1:
            raise ValueError(f"k must be an integer >= 1, got {k}")
        self.u = u
        self.n, self.m = u.shape
        self.capacities = cap.astype(np.int64)
        self.k = int(k)
        self._rows: Any = None

    # -- the problem (ApexProblem) -------------------------------------------------------
    def utilities(self, x: np.ndarray) -> np.ndarray:
        """(n,) f_i(x) = sum_c u_ic x_ic / k."""
        return (self.u * x).sum(axis=1) / self.k

    def base(self, x: np.ndarray) -> float:
        return 0.0

    def initial(self) -> np.ndarray:
        """X_0: nobody holds a seat."""
        return np.zeros((self.n, self.m), dtype=bool)

    def as_array(self, x: np.ndarray) -> np.ndarray:
        """The allocation as a float (n, m) array (X-bar: each seat's time share)."""
        return np.asarray(x, dtype=np.float64)

    def value(self, weights: np.ndarray, x: np.ndarray) -> float:
        """F(x) = sum_i w_i f_i(x)."""
        return float(weights @ self.utilities(x))

    def feasible(self, x: np.ndarray) -> bool:
        """At most k courses per student and cap_c students per course."""
        x = np.asarray(x, dtype=bool)
        return bool((x.sum(axis=1) <= self.k).all() and (x.sum(axis=0) <= self.capacities).all())

    # -- the two heuristics --------------------------------------------------------------
    def local_search(self, weights: np.ndarray, start: Any) -> np.ndarray:
        """Best-improvement local search from `start` (add, drop, swap, move a seat)."""
        x = self.initial() if start is None else np.array(start, dtype=bool)
        v = np.asarray(weights, dtype=np.float64)[:, None] * self.u / self.k  # F's gain per seat
        load, seats = x.sum(axis=1), x.sum(axis=0)
        tol = GAIN_TOL * max(1.0, float(v.max(initial=0.0)) * self.k * self.n)
        for _ in range(self.max_moves_factor * self.n * self.k + self.m):
            # add (i, c): a free seat, room in i's schedule.
            add = np.where(~x & (load < self.k)[:, None] & (seats < self.capacities)[None, :], v, -np.inf)
            # drop (i, c): never gains with w, u >= 0, listed for completeness of the neighbourhood.
            drop = np.where(x, -v, -np.inf)
            # swap (i: c -> c'), c' with a free seat: (n, m, m).
            swap = v[:, None, :] - v[:, :, None]
            swap = np.where(x[:, :, None] & ~x[:, None, :] & (seats < self.capacities)[None, None, :], swap, -np.inf)
            # move a seat (c: i -> j), j with room: (m, n, n).
            vt, xt = v.T, x.T
            move = vt[:, None, :] - vt[:, :, None]
            move = np.where(xt[:, :, None] & ~xt[:, None, :] & (load < self.k)[None, None, :], move, -np.inf)
            gains = (add.max(), drop.max(), swap.max(initial=-np.inf), move.max(initial=-np.inf))
            kind = int(np.argmax(gains))
            if not gains[kind] > tol:
                break
            if kind == 0:
                i, c = np.unravel_index(np.argmax(add), add.shape)
                x[i, c], load[i], seats[c] = True, load[i] + 1, seats[c] + 1
            elif kind == 1:
                i, c = np.unravel_index(np.argmax(drop), drop.shape)
                x[i, c], load[i], seats[c] = False, load[i] - 1, seats[c] - 1
            elif kind == 2:
                i, c, d = np.unravel_index(np.argmax(swap), swap.shape)
                x[i, c], x[i, d], seats[c], seats[d] = False, True, seats[c] - 1, seats[d] + 1
            else:
                c, i, j = np.unravel_index(np.argmax(move), move.shape)
                x[i, c], x[j, c], load[i], load[j] = False, True, load[i] - 1, load[j] + 1
        return x

    def exact(self, weights: np.ndarray, start: Any = None) -> np.ndarray:
        """argmax_x F(x) by a MILP (HiGHS, relative gap 0): max sum_ic v_ic x_ic subject to
        sum_c x_ic <= k, sum_i x_ic <= cap_c, x binary."""
        from scipy.optimize import Bounds, milp

        n, m = self.n, self.m
        v = (np.asarray(weights, dtype=np.float64)[:, None] * self.u / self.k).ravel()
        res = milp(-v, constraints=self._constraints(), integrality=np.ones(n * m), bounds=Bounds(0, 1),
                   options={"mip_rel_gap": 0.0})
        if res.x is None:
            raise RuntimeError(f"course allocation MILP failed: {res.message}")
        return np.round(res.x).reshape(n, m).astype(bool)

    def _constraints(self) -> Any:
        """The MILP's rows (built once: every call of H has the same constraints)."""
        if self._rows is None:
            from scipy.optimize import LinearConstraint
            from scipy.sparse import eye, kron, vstack

            n, m = self.n, self.m
            per_student = kron(eye(n), np.ones((1, m)))  # sum over c of x_ic, x raveled row-major
            per_course = kron(np.ones((1, n)), eye(m))  # sum over i of x_ic
            ub = np.concatenate([np.full(n, self.k), self.capacities]).astype(np.float64)
            self._rows = LinearConstraint(vstack([per_student, per_course]).tocsr(), -np.inf, ub)
        return self._rows


class CourseLocalSearch(CourseAllocation):
    """H = best-improvement local search from X_t (add, drop, swap, move a seat)."""

    def argmax(self, weights: np.ndarray, start: Any = None) -> np.ndarray:
        return self.local_search(weights, start)


class CourseExact(CourseAllocation):
    """H = the exact optimum (MILP); APEX over it is VCG on lambda-scaled utilities."""

    #: HiGHS's primal feasibility tolerance bounds how far the MILP optimum may be from exact.
    tolerance = 1e-7

    def argmax(self, weights: np.ndarray, start: Any = None) -> np.ndarray:
        return self.exact(weights, start)

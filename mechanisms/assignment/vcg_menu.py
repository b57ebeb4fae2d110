"""Every agent's exact unit-demand VCG menu from the one solve of the round (Braverman
§2.1.2 "Prices", §3.2.1): compiled kernels behind `AssignmentProblem`'s menu hooks.

With the others' bids fixed, agent i bidding lambda takes the item k maximizing
lambda u_ik - rho_ik and pays rho_ik, its personal price: the others' loss when i takes
k. All rho come from the round's assignment and minimal Walrasian prices p (no further
assignment solve): rho[i, k] = D[k, pi(i)] - min_k' D[k', pi(i)], D the all-pairs
shortest paths of the exchange graph on items (edge k -> l of length own_k - s_{owner(k), l},
"the owner of k moves to l"), found by Floyd-Warshall on the reduced costs, which the
prices make >= 0. Per round, O(n^3) once; then each agent's menu is its Pareto list of
items (no other item with u >= and rho <=, a handful), so a menu of K bids costs O(K P).

The kernels reproduce the earlier numpy/scipy formulation operation for operation (the
same float sums in the same order, scipy's Floyd-Warshall loop, numpy's lexsort order and
the global tie tolerance), so menus are bit-for-bit those of the per-alternative scoring
(tests/mechanisms/test_vcg_menu.py keeps that formulation as the oracle).
"""

from __future__ import annotations

import numpy as np

from mechanisms.jit import lazy_njit

KERNEL_OPTIONS = {"nogil": True, "cache": True, "error_model": "numpy"}

#: Relative tolerance of the menu's tie rule: an item scoring within TIE_TOL * max(1, max |best|)
#: of the best counts as tied, and the tied item of highest utility is taken.
TIE_TOL = 1e-12


@lazy_njit(**KERNEL_OPTIONS)
def personal_prices(s: np.ndarray, assignment: np.ndarray, prices: np.ndarray) -> np.ndarray:  # pragma: no cover
    """rho (n, n) from the scaled values s (n, n), the assignment pi (n,) and the minimal
    Walrasian prices p (n,) of the round: reduced costs max(own_k - s_{owner(k), l} - p_k + p_l,
    0), Floyd-Warshall (scipy's k-i-j loop, diagonal 0), D = dist + p_k - p_l, and
    rho[i, k] = D[k, pi(i)] minus its row minimum."""
    n = s.shape[0]
    owner = np.empty(n, np.int64)
    for i in range(n):
        owner[assignment[i]] = i
    dist = np.empty((n, n))
    for k in range(n):
        o = owner[k]
        own = s[o, k]
        for l in range(n):
            r = own - s[o, l] - prices[k] + prices[l]
            dist[k, l] = r if r >= 0.0 else 0.0  # np.maximum(r, 0.0); true values are >= 0
        dist[k, k] = 0.0
    for k in range(n):
        for i in range(n):
            d_ik = dist[i, k]
            for j in range(n):
                d = d_ik + dist[k, j]
                if d < dist[i, j]:
                    dist[i, j] = d
    rho = np.empty((n, n))
    for i in range(n):
        target = assignment[i]
        low = np.inf
        for k in range(n):
            v = dist[k, target] + prices[k] - prices[target]
            rho[i, k] = v
            if v < low:
                low = v
        for k in range(n):
            rho[i, k] = rho[i, k] - low
    return rho


@lazy_njit(**KERNEL_OPTIONS)
def pareto_lists(
    u: np.ndarray, rho: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """Each row's Pareto-undominated items (no other item with u >= and rho <=) in order of
    utility, highest first: (item_p, u_p, rho_p, count, twin), row r's first count[r]
    entries valid. The order is numpy's lexsort((rho, -u)) keeping the strict running
    minima of rho, found without sorting: the next Pareto item is the first in that order
    (u descending, then rho, then index) among the items cheaper than the last one, O(n P).
    twin[r, k] is the slot of the Pareto item that item k equals (same u and rho; its own
    slot for a Pareto item), else -1: only those items can lie on the menu's envelope."""
    m, n = u.shape
    item_p = np.zeros((m, n), np.int64)
    u_p = np.zeros((m, n))
    rho_p = np.zeros((m, n))
    count = np.zeros(m, np.int64)
    twin = np.full((m, n), -1, np.int64)
    for r in range(m):
        c = 0
        limit = np.inf
        while True:
            best = -1
            for k in range(n):
                rk = rho[r, k]
                if not rk < limit:
                    continue
                if best < 0 or u[r, k] > u[r, best] or (u[r, k] == u[r, best] and rk < rho[r, best]):
                    best = k
            if best < 0:
                break
            item_p[r, c] = best
            u_p[r, c] = u[r, best]
            rho_p[r, c] = rho[r, best]
            limit = rho[r, best]
            c += 1
        count[r] = c
        for k in range(n):
            for j in range(c):
                if u[r, k] == u_p[r, j] and rho[r, k] == rho_p[r, j]:
                    twin[r, k] = j
                    break
    return item_p, u_p, rho_p, count, twin


@lazy_njit(**KERNEL_OPTIONS)
def menu_choice(
    alternatives: np.ndarray,
    agents: np.ndarray,
    u_p: np.ndarray,
    rho_p: np.ndarray,
    count: np.ndarray,
    played_bid: np.ndarray,
    played_u: np.ndarray,
    played_rho: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """(utility, cost) (m, K) of agent agents[r] bidding alternatives[r, k]: the item of
    highest utility among those scoring lambda u - rho within the tie tolerance of the best
    (relative to the largest |best| of the whole call); a bid equal to the agent's played
    bid played_bid[a] gets the realized outcome (played_u[a], played_rho[a])."""
    m, kk = alternatives.shape
    best = np.empty((m, kk))
    top = 0.0
    for r in range(m):
        a = agents[r]
        for k in range(kk):
            lam = alternatives[r, k]
            b = -np.inf
            for j in range(count[a]):
                sc = lam * u_p[a, j] - rho_p[a, j]
                if sc > b:
                    b = sc
            best[r, k] = b
            if abs(b) > top:
                top = abs(b)
    tol = TIE_TOL * max(1.0, top)
    util = np.empty((m, kk))
    cost = np.empty((m, kk))
    for r in range(m):
        a = agents[r]
        for k in range(kk):
            lam = alternatives[r, k]
            if lam == played_bid[a]:
                util[r, k] = played_u[a]
                cost[r, k] = played_rho[a]
                continue
            floor = best[r, k] - tol
            for j in range(count[a]):
                if lam * u_p[a, j] - rho_p[a, j] >= floor:
                    util[r, k] = u_p[a, j]
                    cost[r, k] = rho_p[a, j]
                    break
    return util, cost


@lazy_njit(**KERNEL_OPTIONS)
def envelope_midpoints(
    agents: np.ndarray, u: np.ndarray, rho: np.ndarray, item_p: np.ndarray, count: np.ndarray, twin: np.ndarray
) -> np.ndarray:  # pragma: no cover
    """(m, n) per agent agents[r] and item k: the midpoint of the lambda-interval on which k
    is on the upper envelope of lambda u_k - rho_k (lambda >= 0), lower + max(lower, 1) for
    the unbounded piece, 0 for an item on no piece. Only Pareto items and their exact
    duplicates (`twin`) can be on a piece; a dominated item's interval is empty."""
    m = agents.shape[0]
    n = u.shape[1]
    out = np.zeros((m, n))
    for r in range(m):
        a = agents[r]
        for j in range(count[a]):
            k = item_p[a, j]
            lower = -np.inf
            upper = np.inf
            same = False
            for l in range(n):
                du = u[a, k] - u[a, l]
                drho = rho[a, k] - rho[a, l]
                if du > 0:
                    c = drho / du
                    if c > lower:
                        lower = c
                elif du < 0:
                    c = drho / du
                    if c < upper:
                        upper = c
                elif drho > 0:
                    same = True  # an item as useful and strictly cheaper
            lower = lower if lower >= 0.0 else 0.0
            if lower < upper and not same:
                if np.isfinite(upper):
                    out[r, k] = 0.5 * (lower + upper)
                else:
                    out[r, k] = lower + (lower if lower >= 1.0 else 1.0)
        for k in range(n):
            if twin[a, k] >= 0:
                out[r, k] = out[r, item_p[a, twin[a, k]]]
    return out


@lazy_njit(**KERNEL_OPTIONS)
def round_menus(
    s: np.ndarray, assignment: np.ndarray, prices: np.ndarray, u: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """Everything the round's menus need, in one call and few arrays (each returned array
    costs a boxing): rho (n, n); (u_p, rho_p, midpoints) stacked (3, n, n); (item_p, twin)
    stacked (2, n, n); count (n,); (played bid, u, rho of the own item) stacked (3, n)."""
    n = s.shape[0]
    rho = personal_prices(s, assignment, prices)
    item_p, u_p, rho_p, count, twin = pareto_lists(u, rho)
    floats = np.empty((3, n, n))
    floats[0] = u_p
    floats[1] = rho_p
    floats[2] = envelope_midpoints(np.arange(n), u, rho, item_p, count, twin)
    ints = np.empty((2, n, n), np.int64)
    ints[0] = item_p
    ints[1] = twin
    played = np.empty((3, n))
    for i in range(n):
        played[0, i] = weights[i]
        played[1, i] = u[i, assignment[i]]
        played[2, i] = rho[i, assignment[i]]
    return rho, floats, ints, count, played

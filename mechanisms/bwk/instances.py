"""Bandits with knapsacks (d = 1) as a mechanism: n independent copies of one instance.

Braverman 2021 §1.1 and §2.3.3: k arms, each pull yields a reward r_{a,t} and consumes a cost
c_{a,t} >= 0 from the budget B; arm 0 is conventionally the null arm (no reward, no
cost), "the option of not playing" (§2.3.3, footnote 22). Two ways to report:

- mode "arm": the report is the arm index (rounded, clipped to 0..k-1) — plain BwK;
- mode "bid": the report is a bid lambda >= 0 and the mechanism pulls
  argmax_a lambda * rbar_a - cbar_a over the round's mean rewards/costs (ties to the
  costlier arm), as APEX's heuristic H would with the player's reported utility f_i
  (Braverman 2021 §2.1.1): u(lambda) and C(lambda) are non-decreasing, and Claim 2 holds
  per round, so bang-per-buck bidding applies.

Realized rewards and costs are Bernoulli draws of the means (noise "bernoulli") or the
means themselves (noise "none"); all arms are drawn every round, so the counterfactual
menu (`menu_all`) is exact for the round just played. Means may vary by round: pass
(T, k) schedules (the toy instance of §2.3.3). The mechanism counts rounds itself:
call `run_round` once per round, in order.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from mechanisms.base import Mechanism, Reports, RoundResult
from mechanisms.jit import lazy_njit

#: Tie tolerance of the bid-mode argmax (float round-off in lambda * r - c).
TIE_TOL = 1e-12


def _as_schedule(name: str, x: np.ndarray | list) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise ValueError(f"{name} must be (k,) or (T, k), got shape {arr.shape}")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name}{list(idx)} must be finite and >= 0, got {arr[idx]}")
    return arr


class BanditsWithKnapsacks(Mechanism):
    """n players each facing the same BwK instance independently (Braverman 2021 §2.3.3, d = 1)."""

    name = "bwk"

    def __init__(
        self,
        reward_means: np.ndarray | list,
        cost_means: np.ndarray | list,
        *,
        mode: Literal["arm", "bid"] = "arm",
        noise: Literal["bernoulli", "none"] = "bernoulli",
    ) -> None:
        self.reward_means = _as_schedule("reward_means", reward_means)
        self.cost_means = _as_schedule("cost_means", cost_means)
        if self.reward_means.shape[1] != self.cost_means.shape[1]:
            raise ValueError(
                f"reward_means has {self.reward_means.shape[1]} arms but cost_means has {self.cost_means.shape[1]}"
            )
        if mode not in ("arm", "bid"):
            raise ValueError(f"mode must be 'arm' or 'bid', got {mode!r}")
        if noise not in ("bernoulli", "none"):
            raise ValueError(f"noise must be 'bernoulli' or 'none', got {noise!r}")
        if noise == "bernoulli":
            for nm, arr in (("reward_means", self.reward_means), ("cost_means", self.cost_means)):
                if (arr > 1).any():
                    raise ValueError(f"{nm} are Bernoulli means and must be <= 1, got max {arr.max()}")
        self.mode = mode
        self.noise = noise
        self.k = self.reward_means.shape[1]
        self.p_max = 1.0 if noise == "bernoulli" and self.cost_means.max() > 0 else float(self.cost_means.max())
        self.t = 0
        self._last: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def means(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(rbar, cbar) of round t (the last row repeats past the end of a schedule)."""
        return self.reward_means[min(t, self.reward_means.shape[0] - 1)], self.cost_means[
            min(t, self.cost_means.shape[0] - 1)
        ]

    def arms(self, reports: np.ndarray, t: int) -> np.ndarray:
        """The arm each report pulls in round t (any shape of reports)."""
        reports = np.asarray(reports, dtype=np.float64)
        if self.mode == "arm":
            return np.clip(np.rint(reports), 0, self.k - 1).astype(np.int64)
        rbar, cbar = self.means(t)
        score = reports[..., None] * rbar - cbar
        best = score.max(axis=-1, keepdims=True)
        # Ties go to the costlier (then more rewarding) arm: bidding exactly the
        # breakpoint buys the larger bundle, like a ">=" threshold.
        rank = np.lexsort((rbar, cbar)).argsort()
        return np.where(score >= best - TIE_TOL, rank, -1).argmax(axis=-1)

    def _draw(self, n: int, t: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        rbar, cbar = self.means(t)
        if self.noise == "none":
            return np.broadcast_to(rbar, (n, self.k)).copy(), np.broadcast_to(cbar, (n, self.k)).copy()
        return (rng.random((n, self.k)) < rbar).astype(np.float64), (rng.random((n, self.k)) < cbar).astype(
            np.float64
        )

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        bids = reports.bids
        n = bids.shape[0]
        t = self.t
        rewards, costs = self._draw(n, t, rng)
        arm = self.arms(bids, t)
        rows = np.arange(n)
        state = (np.array([t]), rewards, costs)
        self._last = state
        self.t += 1
        return RoundResult(
            outcome=arm,
            utilities=rewards[rows, arm],
            charges=costs[rows, arm],
            allocated=bool((arm > 0).any()),
            state=state,
            extras={"round": t},
        )

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Reward and cost of each alternative under the round's realized draws (`state`, the
        round's `RoundResult.state`; None: the last round played)."""
        state = self._last if state is None else state
        if state is None:
            raise RuntimeError("menu_all needs the realized draws: call run_round first")
        (t,), rewards, costs = state
        agents = np.arange(rewards.shape[0]) if agents is None else np.asarray(agents, dtype=np.int64)
        alts = np.asarray(alternatives, dtype=np.float64)
        if self.mode == "bid":
            # One compiled pass: the arm argmax_a lambda rbar_a - cbar_a of each entry (the
            # same tie rule as `arms`) and its realized draw, without (m, K, k) temporaries.
            rbar, cbar = self.means(int(t))
            rank = np.lexsort((rbar, cbar)).argsort()
            return bid_menu(np.ascontiguousarray(alts), agents, rbar, cbar, rank, rewards, costs)
        arm = self.arms(alts, int(t))
        rows = agents[:, None]
        return rewards[rows, arm], costs[rows, arm]

    def report_grid(self, k: int) -> np.ndarray:
        if self.mode == "arm":
            return np.arange(self.k, dtype=np.float64)
        return np.concatenate([[0.0], np.logspace(-2, 2, k - 1)])


@lazy_njit(nogil=True, cache=True, error_model="numpy")
def bid_menu(
    alternatives: np.ndarray,
    agents: np.ndarray,
    rbar: np.ndarray,
    cbar: np.ndarray,
    rank: np.ndarray,
    rewards: np.ndarray,
    costs: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """(reward, cost) (m, K) of agents[r] bidding alternatives[r, j] in bid mode: the arm of
    highest `rank` among those scoring lambda rbar - cbar within TIE_TOL of the best
    (`BanditsWithKnapsacks.arms`), then that arm's realized draw for the agent."""
    m, kk = alternatives.shape
    k = rbar.shape[0]
    reward = np.empty((m, kk))
    cost = np.empty((m, kk))
    for r in range(m):
        a = agents[r]
        for j in range(kk):
            lam = alternatives[r, j]
            best = -np.inf
            for arm in range(k):
                sc = lam * rbar[arm] - cbar[arm]
                if sc > best or sc != sc:  # a NaN score (lambda = inf on a free arm) is numpy's max
                    best = sc
                    if sc != sc:
                        break
            floor = best - TIE_TOL
            pick = 0
            top = -1
            for arm in range(k):
                if lam * rbar[arm] - cbar[arm] >= floor and rank[arm] > top:
                    top = rank[arm]
                    pick = arm
            reward[r, j] = rewards[a, pick]
            cost[r, j] = costs[a, pick]
    return reward, cost


def lp_opt(reward_means: np.ndarray, cost_means: np.ndarray, budget: float, horizon: int) -> float:
    """LP benchmark of stochastic BwK (Badanidiyuru et al. 2013; Braverman 2021 §1.1):
    max T sum_a x_a rbar_a  s.t.  T sum_a x_a cbar_a <= B, sum_a x_a <= 1, x >= 0
    (sum < 1 is the null arm). Solved with HiGHS."""
    from scipy.optimize import linprog

    r = np.asarray(reward_means, dtype=np.float64)
    c = np.asarray(cost_means, dtype=np.float64)
    res = linprog(
        -r * horizon,
        A_ub=np.vstack([c * horizon, np.ones_like(r)]),
        b_ub=[budget, 1.0],
        bounds=[(0, None)] * r.shape[0],
        method="highs",
    )
    if res.status != 0:
        raise RuntimeError(f"linprog failed: {res.message}")
    return float(-res.fun)


def hindsight_opt(rewards: np.ndarray, costs: np.ndarray, budget: float) -> float:
    """Best distribution over arm sequences in hindsight with expected spend <= B (the
    benchmark of Braverman 2021 Definition 3; SPEC.md §C):
    OPT = min_{r >= 0} r B + sum_t max(0, max_a (u_t(a) - r c_t(a))), the null arm being
    always available. rewards, costs: (T, k) realized per-round menus. The objective is
    convex piecewise linear in r, so its minimum is at r = 0 or at a breakpoint
    (u_a - u_b) / (c_a - c_b) of some round's upper envelope (null arm included)."""
    u = np.asarray(rewards, dtype=np.float64)
    c = np.asarray(costs, dtype=np.float64)
    if u.shape != c.shape or u.ndim != 2:
        raise ValueError(f"rewards and costs must both be (T, k), got {u.shape} and {c.shape}")
    u = np.concatenate([np.zeros((u.shape[0], 1)), u], axis=1)
    c = np.concatenate([np.zeros((c.shape[0], 1)), c], axis=1)
    pairs = np.unique(np.stack([u, c], axis=-1).reshape(-1, 2), axis=0)
    du = pairs[:, None, 0] - pairs[None, :, 0]
    dc = pairs[:, None, 1] - pairs[None, :, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        cand = du / dc
    cand = np.unique(np.concatenate([[0.0], cand[np.isfinite(cand) & (cand > 0)]]))
    best = np.inf
    for chunk in np.array_split(cand, max(1, cand.size // 256)):
        val = chunk * budget + np.maximum(0.0, (u[None] - chunk[:, None, None] * c[None]).max(axis=2)).sum(axis=1)
        best = min(best, float(val.min()))
    return best

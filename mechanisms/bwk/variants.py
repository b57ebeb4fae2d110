"""The bandits-with-knapsacks games of Braverman 2021 §2.3.3, Problem 7, variants 1-5 (d = 1).

Problem 7 lists five games with a budget B over the same per-round menus (r_{i,t}, c_{i,t}):

1. BwK, bandit feedback (only the pulled arm's reward and cost are revealed);
2. BwK, experts feedback (every arm's reward and cost are revealed after the round);
3. the stochastic closure: pull arm i with probability p in [0, 1] and experience p c_{i,t}
   and p r_{i,t};
4. the closure with experts feedback;
5. the closure with the menu revealed *before* the decision: the cost-reward game of
   eq. (24), R_t(c) = max_i min(r_{i,t} c / c_{i,t}, r_{i,t}), spend c_t with sum c_t <= B.

Feedback (1 vs 2, 3 vs 4) is a property of the learner in mechsim (`Learner.feedback`:
"bandit" or "full"; the model hands full-feedback learners the round's exact counterfactual
menu), so one mechanism serves both; `game` picks the action set:

- "arm": the report is the arm index (variants 1, 2);
- "closure": the report x in [0, k-1] is arm i = ceil(x) pulled with p = x - (i - 1), so
  x = 0 is the null arm and with k = 2 the report is p itself (variants 3, 4);
- "concave": the report is an exchange rate lambda >= 0 and the mechanism, which sees the
  round's realized menu, spends c_t in argmax_c lambda R_t(c) - c (variant 5). The paper
  leaves open how a learner that cannot see R_t plays it; this is the smallest faithful
  instance, Braverman's own reduction (§2.1.1): the player reports lambda, the principal
  optimizes on its behalf. A maximizer is always c in {0, c_{i,t}} (each piece of eq. 24 is
  linear up to its cap), so p in {0, 1} and ties go to the costlier arm.

Every game has the same benchmark, Definition 3's hindsight optimum over the realized
menus, `hindsight_opt` = min_r r B + sum_t max(0, max_i r_{i,t} - r c_{i,t}): the closure
only adds mixtures the benchmark already allows, and for the concave game the Lagrangian
dual of sum R_t(c_t) over the concave envelope of R_t is the same expression
(`concave_game_opt` computes it in closed form by water-filling, and the tests check both
against HiGHS). The mechanism keeps every agent's realized menus (`realized()`) for it.

Eq. (24) is concave, as the paper says, only when one non-null arm is undominated per round:
arms (c, r) = (1, 1) and (2, 1.5) give R(1) = 1, R(4/3) = 1, R(2) = 1.5, convex on [1, 2]
(`cost_reward` evaluates eq. 24 as written, `concave_envelope` its concave hull, which is
what mixing arms within a round buys; the benchmarks use the hull).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from mechanisms.base import Reports, RoundResult
from mechanisms.bwk.instances import BanditsWithKnapsacks

Game = Literal["arm", "closure", "concave"]
GAMES: tuple[str, ...] = ("arm", "closure", "concave")


def decode_closure(reports: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(arm, p) of closure reports x in [0, k-1]: arm ceil(x) with p = x - (arm - 1); x <= 0 is
    the null arm (arm 0, p = 0)."""
    x = np.clip(np.nan_to_num(np.asarray(reports, dtype=np.float64), nan=0.0), 0.0, k - 1.0)
    arm = np.ceil(x).astype(np.int64)
    p = np.where(arm > 0, x - (arm - 1), 0.0)
    return arm, p


def cost_reward(rewards: np.ndarray, costs: np.ndarray, c: np.ndarray | float) -> np.ndarray:
    """Eq. (24) as written: R_t(c) = max_i min(r_i c / c_i, r_i) over one round's arms (k,)
    (a free arm, c_i = 0, pays r_i at any c >= 0), at each spend c; 0 with no arm."""
    r = np.asarray(rewards, dtype=np.float64)
    cc = np.asarray(costs, dtype=np.float64)
    spend = np.asarray(c, dtype=np.float64)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        piece = np.where(cc > 0, np.minimum(r * spend / np.where(cc > 0, cc, 1.0), r), r)
    return np.maximum(piece.max(axis=-1), 0.0)


def concave_envelope(rewards: np.ndarray, costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (cost, reward) of the upper concave, non-decreasing hull of {(0, 0)} and one
    round's arms: from (0, R_t(0)) (the best free arm) up to the most rewarding arm."""
    pts = np.concatenate([[[0.0, 0.0]], np.stack([costs, rewards], axis=-1)])
    pts = pts[np.lexsort((-pts[:, 1], pts[:, 0]))]
    hull: list[np.ndarray] = []
    for p in pts:
        if hull and p[1] <= hull[-1][1]:
            continue  # costlier and not more rewarding: dominated
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], p) >= 0:
            hull.pop()
        hull.append(p)
    h = np.array(hull)
    return h[:, 0], h[:, 1]


def _cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))


def concave_game_opt(rewards: np.ndarray, costs: np.ndarray, budget: float) -> float:
    """max sum_t Rhat_t(c_t) s.t. sum_t c_t <= B, Rhat_t the concave envelope of round t's
    arms (T, k): closed form by water-filling — every round's free reward, then the hull
    segments of all rounds in decreasing slope (reward per token) until B runs out
    (Braverman 2021 §2.3.3, the concave-reward game; equal to `hindsight_opt`)."""
    u = np.asarray(rewards, dtype=np.float64)
    c = np.asarray(costs, dtype=np.float64)
    if u.shape != c.shape or u.ndim != 2:
        raise ValueError(f"rewards and costs must both be (T, k), got {u.shape} and {c.shape}")
    if not budget >= 0:
        raise ValueError(f"budget must be >= 0, got {budget}")
    total, widths, gains = 0.0, [], []
    for t in range(u.shape[0]):
        hc, hr = concave_envelope(u[t], c[t])
        total += hr[0]
        widths.append(np.diff(hc))
        gains.append(np.diff(hr))
    w, g = np.concatenate(widths), np.concatenate(gains)
    order = np.argsort(-g / w, kind="stable")
    w, g = w[order], g[order]
    filled = np.clip(budget - (np.cumsum(w) - w), 0.0, w)
    return float(total + (g * filled / w).sum())


class BwKVariants(BanditsWithKnapsacks):
    """n players each facing one BwK instance in one of Problem 7's games (Braverman 2021
    §2.3.3): `game` "arm" (variants 1-2), "closure" (3-4) or "concave" (5, eq. 24)."""

    name = "bwk-variants"

    def __init__(
        self,
        reward_means: np.ndarray | list,
        cost_means: np.ndarray | list,
        *,
        game: Game = "arm",
        noise: Literal["bernoulli", "none"] = "bernoulli",
    ) -> None:
        if game not in GAMES:
            raise ValueError(f"game must be one of {', '.join(GAMES)}, got {game!r}")
        super().__init__(reward_means, cost_means, mode="arm", noise=noise)
        self.game = game
        self.draws_r: list[np.ndarray] = []
        self.draws_c: list[np.ndarray] = []

    def choose(self, reports: np.ndarray, rewards: np.ndarray, costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(arm, p) each report (agents first: (n,) or (n, K)) plays against the agents'
        realized draws (n, k)."""
        x = np.asarray(reports, dtype=np.float64)
        if self.game == "arm":
            arm = np.clip(np.rint(np.nan_to_num(x, nan=0.0)), 0, self.k - 1).astype(np.int64)
            return arm, (arm > 0).astype(np.float64)
        if self.game == "closure":
            return decode_closure(x, self.k)
        extra = x.ndim - 1
        r = rewards.reshape(rewards.shape[:1] + (1,) * extra + rewards.shape[1:])
        c = costs.reshape(r.shape)
        score = np.nan_to_num(x[..., None] * r, nan=0.0) - c
        best = score.max(axis=-1, keepdims=True)
        # Ties to the costlier (then more rewarding) arm, as the bid mode: a ">=" threshold.
        key = c * (1.0 + r.max() + 1.0) + r
        arm = np.where(score >= best - 1e-12, key, -np.inf).argmax(axis=-1)
        return arm, (arm > 0).astype(np.float64)

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        bids = reports.bids
        n = bids.shape[0]
        t = self.t
        rewards, costs = self._draw(n, t, rng)
        arm, p = self.choose(bids, rewards, costs)
        rows = np.arange(n)
        state = (np.array([t]), rewards, costs)
        self._last = state
        self.draws_r.append(rewards)
        self.draws_c.append(costs)
        self.t += 1
        return RoundResult(
            outcome=arm,
            utilities=p * rewards[rows, arm],
            charges=p * costs[rows, arm],
            allocated=bool((p > 0).any()),
            state=state,
            extras={"round": t},
        )

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Reward and cost of each alternative (m, K) under the round's realized draws."""
        state = self._last if state is None else state
        if state is None:
            raise RuntimeError("menu_all needs the realized draws: call run_round first")
        _, rewards, costs = state
        agents = np.arange(rewards.shape[0]) if agents is None else np.asarray(agents, dtype=np.int64)
        r, c = rewards[agents], costs[agents]
        arm, p = self.choose(np.asarray(alternatives, dtype=np.float64), r, c)
        rows = np.arange(agents.shape[0])[:, None]
        return p * r[rows, arm], p * c[rows, arm]

    def realized(self) -> tuple[np.ndarray, np.ndarray]:
        """Every agent's realized menus so far: rewards and costs (n, T, k)."""
        if not self.draws_r:
            raise RuntimeError("no round played yet")
        return np.stack(self.draws_r, axis=1), np.stack(self.draws_c, axis=1)

    def report_grid(self, k: int) -> np.ndarray:
        if self.game == "arm":
            return np.arange(self.k, dtype=np.float64)
        if self.game == "closure":
            return np.linspace(0.0, self.k - 1.0, max(k, self.k))
        return np.concatenate([[0.0], np.logspace(-2, 2, k - 1)])


__all__ = ["GAMES", "BwKVariants", "concave_envelope", "concave_game_opt", "cost_reward", "decode_closure"]

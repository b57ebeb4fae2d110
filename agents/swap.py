"""Swap-regret learners: the Blum–Mansour reduction from external to swap regret.

Braverman 2021 §1.1 ("Swap regret minimization", eq. 2): swap regret compares the realized
loss with the best per-action replacement sigma: A -> A; low swap regret for every player
means the empirical joint play is an approximate correlated equilibrium (Braverman 2021 §1.3).
Blum & Mansour (JMLR 2007): run K copies of an external-regret learner, copy j proposing
the row q_j of a row-stochastic matrix Q; play the stationary distribution p = p Q; feed
copy j the gain vector scaled by p_j. Then swap regret <= sum_j regret_j.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import field_validator

from agents.base import LearnerParams
from agents.experts import (
    BASE_POLICIES,
    Exp3Policy,
    Factory,
    GridLearner,
    GridParams,
    GridPolicy,
    HedgePolicy,
    hedge_eta,
    importance_weighted_loss,
    policy_factory,
    sample_columns,
)
from agents.jit import lazy_intrinsic, lazy_njit
from agents.stationary import (
    KERNEL_OPTIONS,
    TILE,
    BoolArray,
    F64Array,
    I64Array,
    gth_block,
    gth_tiles,
    load_rows,
    n_tiles,
    stationary_distribution,
)


class SwapPolicy(GridPolicy):
    """Blum–Mansour swap-regret policy over K actions built from any base `Factory`
    (`swap_factory` picks the compiled `HedgeSwapPolicy` / `Exp3SwapPolicy` for plain
    Hedge / Exp3 copies).

    Guarantee (Blum & Mansour 2007, Thm 5): swap regret <= sum_j R_j, where R_j is copy j's
    external regret on the gains p_j * g; with Hedge copies (eta = sqrt(8 ln K / T)) this
    is <= (K + 1) sqrt(T ln K / 8) for any adaptive gain sequence in [0, 1]^K.
    `update*` use the distribution of the latest `probs()` call (the one played).
    """

    def __init__(self, n: int, k: int, horizon: int, rng: np.random.Generator, base: Factory) -> None:
        super().__init__(n, k, horizon, rng)
        self.copies = base(n * k, k, horizon, rng)
        self.full_information = self.copies.full_information
        self.p = np.full((n, k), 1.0 / k)
        self._buf: np.ndarray | None = None

    def matrix(self) -> np.ndarray:
        """Q (n, K, K): row j is copy j's proposed distribution."""
        return self.copies.probs().reshape(self.n, self.k, self.k)

    def probs(self) -> np.ndarray:
        self.p = stationary_distribution(self.matrix())
        return self.p

    def update_t(self, gains_t: np.ndarray) -> None:
        # Copy (i, j) — row i*K + j of `copies` — gets p[i, j] * g[i, :]; built action-major
        # (K, n, K) so the copies add it without a transpose.
        if self._buf is None:
            self._buf = np.empty((self.k, self.n, self.k))
        np.multiply(gains_t[:, :, None], self.p[None, :, :], out=self._buf)
        self.copies.update_t(self._buf.reshape(self.k, self.n * self.k))

    def update_bandit(
        self,
        actions: np.ndarray,
        gains: np.ndarray,
        played_prob: np.ndarray,
        weight: np.ndarray | None = None,
    ) -> None:
        # Copy j sees the importance-weighted estimate of the gain vector, scaled by p_j.
        w = self.p if weight is None else self.p * weight[:, None]
        k = self.k
        self.copies.update_bandit(
            np.repeat(actions, k), np.repeat(gains, k), np.repeat(played_prob, k), w.reshape(-1)
        )


#: |x| up to which `exp_small` is exp to double precision.
EXP_SMALL_MAX = 0.25
_EXP_DEGREE = 11
_INV_FACTORIAL = tuple(1.0 / math.factorial(k) for k in range(_EXP_DEGREE + 1))


@lazy_njit(inline="always", **KERNEL_OPTIONS)
def exp_small(x: float) -> float:  # pragma: no cover - compiled
    """exp(x) for |x| <= 1/4 by its degree-11 Taylor polynomial (Horner): the remainder is
    below 0.25^12 e^0.25 / 12! < 2e-16 relative, so the result is within 2 ulp of exp, and
    unlike a libm call the polynomial vectorizes. Hedge's factors exp(eta p_j g_a) have
    |x| <= eta, within range whenever T is not tiny (eta = sqrt(8 ln K / T) <= 1/4 for
    T >= 128 ln K)."""
    r = _INV_FACTORIAL[_EXP_DEGREE]
    for k in range(_EXP_DEGREE - 1, -1, -1):
        r = r * x + _INV_FACTORIAL[k]
    return r


@lazy_njit(**KERNEL_OPTIONS)
def _hedge_swap_round(  # pragma: no cover - compiled
    W: F64Array, gains_t: F64Array, p_t: F64Array, eta: float, small: bool, bad: BoolArray
) -> None:
    """One Blum–Mansour round over Hedge copies, tile by tile: W[b, a, j, l] *=
    exp(eta p_t[j, i] gains_t[a, i]) for agent i = b * TILE + l (copy j's Hedge update on
    the gains p_j g), then p_t <- the stationary distributions of the updated chains.
    `small`: every exponent is within EXP_SMALL_MAX, so `exp_small` is exact."""
    n_t, K, _, B = W.shape
    n = gains_t.shape[1]
    Q = np.empty((K, K, B))
    s = np.empty(B)
    x = np.empty((K, B))
    c = np.zeros(B)
    for b in range(n_t):
        i0 = b * B
        L = min(B, n - i0)
        for j in range(K):
            pj = p_t[j, i0 : i0 + L]
            for l in range(L):
                c[l] = eta * pj[l]
            for a in range(K):
                w = W[b, a, j]
                ga = gains_t[a, i0 : i0 + L]
                if small:
                    for l in range(L):
                        w[l] *= exp_small(c[l] * ga[l])
                else:
                    for l in range(L):
                        w[l] *= np.exp(c[l] * ga[l])
            load_rows(W, b, j, Q[j], s)
        gth_block(Q, s, x, p_t, bad, i0, L)


@lazy_intrinsic
def _f64_from_bits(typingctx: Any, bits: Any) -> Any:  # pragma: no cover - compile time
    """The float64 whose IEEE bit pattern is the int64 `bits` (an LLVM bitcast, so loops
    that build powers of two with it still vectorize)."""
    from numba.core import types  # compile time only: `import agents` stays free of numba

    if not isinstance(bits, types.Integer):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return types.float64(types.int64), codegen


#: Below this exponent `exp_nonpositive` returns 0 (exp(-690) ~ 3e-300): weights never subnormal.
EXP_FLUSH = -690.0
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # fdlibm's split of ln 2: k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10


@lazy_njit(inline="always", **KERNEL_OPTIONS)
def exp_nonpositive(x: float) -> float:  # pragma: no cover - compiled
    """exp(x) for x <= 0 to a few ulp, 0 below EXP_FLUSH, in vectorizable arithmetic (no
    libm call): x = k ln 2 + r, |r| <= ln2 / 2, exp(r) = exp_small(r / 2)^2, times 2^k
    built from its exponent bits."""
    y = max(x, EXP_FLUSH - 10.0)
    k = np.floor(y * _LOG2E + 0.5)
    r = (y - k * _LN2_HI) - k * _LN2_LO
    h = exp_small(0.5 * r)
    e = h * h * _f64_from_bits((np.int64(k) + 1023) << 52)  # type: ignore[call-arg]
    return e if x >= EXP_FLUSH else 0.0


@lazy_njit(**KERNEL_OPTIONS)
def _exp3_swap_round(  # pragma: no cover - compiled
    S: F64Array,
    V: F64Array,
    T: F64Array,
    p_t: F64Array,
    actions: I64Array,
    loss: F64Array,
    weight: F64Array,
    log_k: float,
    eta: float,
    adaptive: bool,
    gamma: float,
    update: bool,
    bad: BoolArray,
) -> None:
    """One Blum–Mansour round over Exp3 copies, tile by tile. S (n_tiles, K_a, K_j, TILE):
    copy j's scores; V (K_j, n): its variance sums (adaptive rate); T (K_j, n): its weight
    totals at the last solve; p_t (K, n): the distribution played.

    update: copy j of agent i = b * TILE + l gets `ExpWeights.update_bandit` with the
    importance-weighted loss loss[i] * (p_t[j, i] * weight[i]) on the played arm
    actions[i] (variance first, with the copy's own probability of that arm), and is
    recentered (max score 0). Then, in every case, each copy's row
    (1 - gamma) softmax(eta_j S_j) + gamma / K is loaded and p_t <- the chains'
    stationary distributions (GTH)."""
    n_t, K, _, B = S.shape
    n = p_t.shape[1]
    Q = np.empty((K, K, B))
    s = np.empty(B)
    x = np.empty((K, B))
    e = np.ones(B)
    sa = np.empty(B)
    lh = np.empty(B)
    m = np.empty(B)
    u = gamma / K
    for b in range(n_t):
        i0 = b * B
        L = min(B, n - i0)
        for j in range(K):
            # S[b, a, j] (one action's lanes) is contiguous, so the lane loops vectorize.
            if update:
                for l in range(L):
                    sa[l] = S[b, actions[i0 + l], j, l]
                pj = p_t[j, i0 : i0 + L]
                for l in range(L):
                    lh[l] = loss[i0 + l] * (pj[l] * weight[i0 + l])
                if adaptive:
                    Vj = V[j, i0 : i0 + L]
                    Tj = T[j, i0 : i0 + L]
                    for l in range(L):
                        z = exp_nonpositive(np.sqrt(2.0 * log_k / (K + Vj[l])) * sa[l])
                        Vj[l] += z / Tj[l] * (lh[l] * lh[l])
                for l in range(L):
                    S[b, actions[i0 + l], j, l] = sa[l] - lh[l]
                m[:] = S[b, 0, j]
                for a in range(1, K):
                    sj = S[b, a, j]
                    for l in range(B):
                        m[l] = max(m[l], sj[l])
                for a in range(K):
                    sj = S[b, a, j]
                    for l in range(B):
                        sj[l] -= m[l]
            if adaptive:
                Vj = V[j, i0 : i0 + L]
                for l in range(L):
                    e[l] = np.sqrt(2.0 * log_k / (K + Vj[l]))
            else:
                e[:] = eta
            s[:] = 0.0
            for a in range(K):
                sj = S[b, a, j]
                qa = Q[j, a]
                for l in range(B):
                    z = exp_nonpositive(e[l] * sj[l])
                    qa[l] = z
                    s[l] += z
            T[j, i0 : i0 + L] = s[:L]
            for l in range(B):
                s[l] = (1.0 - gamma) / s[l]
            for a in range(K):
                qa = Q[j, a]
                for l in range(B):
                    qa[l] = qa[l] * s[l] + u
        gth_block(Q, s, x, p_t, bad, i0, L)


class Exp3SwapPolicy(GridPolicy):
    """Blum–Mansour over K Exp3 copies (bandit feedback; Braverman 2021 §1.1, eq. 2; [BM07]),
    one compiled pass per round.

    The same algorithm as `SwapPolicy(n, k, T, rng, Exp3Policy factory)` (adaptive or
    fixed rate, exploration gamma), laid out like `HedgeSwapPolicy`: `scores`
    (n_tiles, K_a, K_j, TILE), copy j's cumulative estimated gains of action a, kept with
    maximum 0 per copy; `variance` (K_j, n), the copies' adaptive-rate sums; `p_t` (K, n),
    the distribution played. A bandit update changes one score per copy, but an adaptive
    rate changes every weight exp(eta_j S_ja), so each round takes K^2 exponentials per
    agent: `exp_nonpositive`, which vectorizes, where a libm call per weight would cost
    more than the rest of the round. Weights are float64 (the generic path's are float32)
    and those below exp(EXP_FLUSH) of their row's maximum are 0, never subnormal.
    """

    full_information = False

    def __init__(
        self,
        n: int,
        k: int,
        horizon: int,
        rng: np.random.Generator,
        eta: float | None = None,
        gamma: float = 0.0,
    ) -> None:
        super().__init__(n, k, horizon, rng)
        if eta is not None and not eta > 0:
            raise ValueError(f"eta must be > 0, got {eta}")
        if not 0.0 <= gamma < 1.0:
            raise ValueError(f"gamma must be in [0, 1), got {gamma}")
        self.adaptive = eta is None
        self.eta = 1.0 if eta is None else float(eta)
        self.gamma = float(gamma)
        self.log_k = float(np.log(max(k, 2)))
        self.scores = np.zeros((n_tiles(self.n), self.k, self.k, TILE))
        self.variance = np.zeros((self.k, self.n))
        self.p_t = np.full((self.k, self.n), 1.0 / self.k)
        self._total = np.empty((self.k, self.n))
        self._fresh = False  # whether p_t and _total belong to the current scores
        self._bad = np.zeros(self.n, dtype=np.bool_)
        self._no_actions = np.zeros(self.n, dtype=np.int64)
        self._ones = np.ones(self.n)

    def _round(self, actions: np.ndarray, loss: np.ndarray, weight: np.ndarray, update: bool) -> None:
        _exp3_swap_round(
            self.scores, self.variance, self._total, self.p_t, actions, loss, weight,
            self.log_k, self.eta, self.adaptive, self.gamma, update, self._bad,
        )  # fmt: skip
        self._fresh = True
        if self._bad.any():  # a zero pivot: weights flushed to 0 made a reducible chain
            self.p_t[:, self._bad] = stationary_distribution(self.matrix(np.flatnonzero(self._bad))).T

    def _solve(self) -> None:
        self._round(self._no_actions, self._ones, self._ones, False)

    def probs(self) -> np.ndarray:
        if not self._fresh:
            self._solve()
        return self.p_t.T

    def weights(self, agents: np.ndarray | None = None) -> np.ndarray:
        """exp(eta_j S_ja) (m, K_j, K_a) of `agents` (default: all), by numpy's exp."""
        i = np.arange(self.n) if agents is None else np.asarray(agents)
        S = self.scores[i // TILE, :, :, i % TILE].transpose(0, 2, 1)
        if not self.adaptive:
            return np.exp(self.eta * S)
        eta = np.sqrt(2.0 * self.log_k / (self.k + self.variance[:, i]))
        return np.exp(S * eta.T[:, :, None])

    def matrix(self, agents: np.ndarray | None = None) -> np.ndarray:
        """Q (m, K, K) of `agents` (default: all): row j is copy j's proposed distribution."""
        w = self.weights(agents)
        return (1.0 - self.gamma) * (w / w.sum(axis=2, keepdims=True)) + self.gamma / self.k

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return sample_columns(self.probs().T, rng)

    def update_t(self, gains_t: np.ndarray) -> None:
        # As `SwapPolicy`: copy j gets p_j * g (`Exp3Policy.update_t`); not the hot path.
        if not self._fresh:
            self._solve()
        n, k = self.n, self.k
        g = np.zeros((n_tiles(n) * TILE, k, k))  # (agent, K_j, K_a)
        g[:n] = self.p_t.T[:, :, None] * np.asarray(gains_t, dtype=np.float64).T[:, None, :]
        if self.adaptive:
            w = self.weights()
            self.variance += (w * (1.0 - g[:n]) ** 2).sum(axis=2).T / self._total
        self.scores += g.reshape(-1, TILE, k, k).transpose(0, 3, 2, 1)
        self.scores -= self.scores.max(axis=1, keepdims=True)
        self._solve()

    def update_bandit(
        self,
        actions: np.ndarray,
        gains: np.ndarray,
        played_prob: np.ndarray,
        weight: np.ndarray | None = None,
    ) -> None:
        # As `SwapPolicy` over Exp3 copies: copy j's loss estimate is l_hat * (p_j * weight).
        if not self._fresh:
            self._solve()
        loss = np.ascontiguousarray(importance_weighted_loss(gains, played_prob), dtype=np.float64)
        w = self._ones if weight is None else np.ascontiguousarray(weight, dtype=np.float64)
        self._round(np.ascontiguousarray(actions, dtype=np.int64), loss, w, True)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._fresh = False


class HedgeSwapPolicy(GridPolicy):
    """Blum–Mansour over K Hedge copies (Braverman 2021 §1.1, eq. 2; [BM07]), one compiled pass.

    The same algorithm as `SwapPolicy(n, k, T, rng, HedgePolicy factory)`, laid out for
    10^5 agents. State: `weights` (n_tiles, K_a, K_j, TILE), copy j's Hedge weight
    exp(eta S_ja) of action a up to a per-copy factor (float64, so no float32 rounding of
    the generic path); `p_t` (K, n), the distribution played. One pass per round, tile by
    tile (`_hedge_swap_round`): multiply in exp(eta p_j g_a), normalize, and solve the next
    stationary distribution by GTH (`agents.stationary`) while the tile is in cache.

    Each copy's weights are divided by their maximum only when the accumulated bound on
    eta * |gains| since the last division would exceed `RESHIFT`, so they stay within
    exp(+-RESHIFT) of 1, far from overflow; weights below `TINY` of their row maximum
    (probability < 1e-290) become 0 then, never subnormal (slow on x86).

    Guarantee (Blum & Mansour 2007, Thm 5): swap regret <= (K + 1) sqrt(T ln K / 8) with
    eta = sqrt(8 ln K / T), for any adaptive gain sequence in [0, 1]^K.
    """

    full_information = True
    RESHIFT = 300.0
    TINY = 1e-290

    def __init__(self, n: int, k: int, horizon: int, rng: np.random.Generator, eta: float | None = None) -> None:
        super().__init__(n, k, horizon, rng)
        self.eta = float(eta) if eta is not None else hedge_eta(self.k, self.horizon)
        if not self.eta > 0:
            raise ValueError(f"eta must be > 0, got {eta}")
        self.weights = np.ones((n_tiles(self.n), self.k, self.k, TILE))
        self.drift = 0.0
        self.p_t = np.full((self.k, self.n), 1.0 / self.k)
        self._fresh = False  # whether p_t is the stationary distribution of the weights
        self._bad = np.zeros(self.n, dtype=np.bool_)

    def probs(self) -> np.ndarray:
        if not self._fresh:
            gth_tiles(self.weights, self.p_t, self._bad)
            self._solved()
        return self.p_t.T

    def matrix(self, agents: np.ndarray | None = None) -> np.ndarray:
        """Q (m, K, K) of `agents` (default: all): row j is copy j's proposed distribution."""
        i = np.arange(self.n) if agents is None else np.asarray(agents)
        w = self.weights[i // TILE, :, :, i % TILE].transpose(0, 2, 1)
        return w / w.sum(axis=2, keepdims=True)

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return sample_columns(self.probs().T, rng)

    def update_t(self, gains_t: np.ndarray) -> None:
        g = np.ascontiguousarray(gains_t, dtype=np.float64)
        step = self.eta * max(float(g.max(initial=0.0)), -float(g.min(initial=0.0)))
        if self.drift + step > self.RESHIFT:
            self._renormalize()
        self.drift += step
        _hedge_swap_round(self.weights, g, self.p_t, self.eta, step <= EXP_SMALL_MAX, self._bad)
        self._solved()

    def update_bandit(
        self,
        actions: np.ndarray,
        gains: np.ndarray,
        played_prob: np.ndarray,
        weight: np.ndarray | None = None,
    ) -> None:
        # As `SwapPolicy` over Hedge copies: copy j's score of the played arm drops by p_j
        # times the importance-weighted loss (`ExpWeights.update_bandit`).
        loss_hat = importance_weighted_loss(gains, played_prob, weight)
        i = np.arange(self.n)
        self.weights[i // TILE, actions, :, i % TILE] *= np.exp(-self.eta * self.p_t * loss_hat).T
        self._renormalize()
        self._fresh = False

    def _solved(self) -> None:
        self._fresh = True
        if self._bad.any():  # a zero pivot: weights flushed to 0 made a reducible chain
            self.p_t[:, self._bad] = stationary_distribution(self.matrix(np.flatnonzero(self._bad))).T

    def _renormalize(self) -> None:
        self.weights /= self.weights.max(axis=1, keepdims=True)
        self.weights[self.weights < self.TINY] = 0.0
        self.drift = 0.0

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._fresh = False


def swap_factory(base: Factory) -> Factory:
    """A `Factory` of Blum–Mansour policies over `base` (so swap learners compose too);
    over plain Hedge or Exp3 copies, the compiled `HedgeSwapPolicy` / `Exp3SwapPolicy`."""

    def build(n: int, k: int, horizon: int, rng: np.random.Generator) -> GridPolicy:
        cls = getattr(base, "policy_cls", None)
        if cls is HedgePolicy:
            return HedgeSwapPolicy(n, k, horizon, rng, **base.kwargs)  # type: ignore[attr-defined]
        if cls is Exp3Policy:
            return Exp3SwapPolicy(n, k, horizon, rng, **base.kwargs)  # type: ignore[attr-defined]
        return SwapPolicy(n, k, horizon, rng, base)

    return build


class SwapParams(GridParams):
    """base: the external-regret learner each of the K copies runs ("hedge": full
    feedback; "exp3": bandit feedback)."""

    base: str = "hedge"

    @field_validator("base")
    @classmethod
    def _known_base(cls, v: str) -> str:
        if v not in BASE_POLICIES:
            raise ValueError(f"unknown base learner {v!r}; available: {', '.join(sorted(BASE_POLICIES))}")
        return v


class BlumMansourSwap(GridLearner):
    """Blum–Mansour swap-regret learner over the report grid (Braverman 2021 §1.1, eq. 2; [BM07]).

    Feedback: that of the base learner (full for Hedge copies, bandit for Exp3 copies).
    Guarantee: swap regret <= sum of the copies' external regrets; O(K sqrt(T log K))
    with Hedge copies, so two such players' empirical joint play converges to the set of
    correlated equilibria (Braverman 2021 §1.3). Python callers may pass any `factory`
    (e.g. `Hedge.factory(eta=...)`); TOML configs name the base with `base`.
    """

    Params = SwapParams
    params: SwapParams
    feedback = "full"  # with the default Hedge copies; per instance it follows the base

    def __init__(
        self,
        n_agents: int,
        budgets: np.ndarray,
        horizon: int,
        rng: np.random.Generator,
        params: LearnerParams | None = None,
        *,
        factory: Factory | None = None,
    ) -> None:
        self._factory = factory
        super().__init__(n_agents, budgets, horizon, rng, params)

    def make_policy(self) -> GridPolicy:
        base = self._factory or policy_factory(self.params.base, eta=self.params.eta)
        return swap_factory(base)(self.n_agents, self.n_actions, self.horizon, self.rng)

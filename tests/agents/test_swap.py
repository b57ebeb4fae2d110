"""Blum–Mansour swap regret (seed 002 §1.1 eq. 2): the stationary distribution and the
swap-regret bound on adversarial sequences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from agents import BlumMansourSwap, Hedge, make_learner
from agents.experts import HedgePolicy, policy_factory
from agents.games import external_regret, swap_regret
from agents.swap import SwapPolicy, stationary_distribution


def stochastic(raw: np.ndarray, zero_mask: np.ndarray) -> np.ndarray:
    """Row-normalize, with some entries forced to 0 (rows left empty become self-loops)."""
    q = np.where(zero_mask, 0.0, raw)
    empty = q.sum(axis=-1) == 0
    idx = np.argwhere(empty)  # (matrix, row) pairs
    q[idx[:, 0], idx[:, 1], idx[:, 1]] = 1.0
    return q / q.sum(axis=-1, keepdims=True)


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, (4, 5, 5), elements=st.floats(0.0, 1.0)),
    arrays(np.bool_, (4, 5, 5)),
)
def test_stationary_distribution_is_a_fixed_point(raw, zeros):
    """p >= 0, sum p = 1, p = p Q for arbitrary row-stochastic Q — sparse, reducible or
    periodic chains included (where power iteration can cycle or pick a class by chance)."""
    Q = stochastic(raw, zeros)
    p = stationary_distribution(Q)
    assert np.all(p >= 0)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert np.abs(np.einsum("nk,nkj->nj", p, Q) - p).max() < 1e-8


def test_stationary_distribution_of_hand_chains():
    cycle = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0.0]])  # periodic: power iteration cycles
    assert stationary_distribution(cycle) == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    two_state = np.array([[0.9, 0.1], [0.3, 0.7]])  # p = (0.75, 0.25) by detailed balance
    assert stationary_distribution(two_state) == pytest.approx([0.75, 0.25])
    p = stationary_distribution(np.eye(4))  # every p is stationary; any valid one will do
    assert p.sum() == pytest.approx(1.0) and np.all(p >= 0)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31), st.integers(2, 5), st.sampled_from(["random", "chase", "switch"]))
def test_swap_regret_bound_on_adversarial_sequences(seed, k, kind):
    """BM(Hedge): swap regret of the played distributions <= (K + 1) sqrt(T ln K / 8) for any
    adaptive gain sequence in [0, 1]^K (Blum–Mansour Thm 5 with Hedge's bound per copy)."""
    T, n = 600, 2
    rng = np.random.default_rng(seed)
    fixed = rng.random((T, n, k))
    pol = SwapPolicy(n, k, T, rng, policy_factory("hedge"))
    probs, gains = [], []
    for t in range(T):
        p = pol.probs()
        if kind == "random":
            g = fixed[t]
        elif kind == "chase":  # reward what the learner likes least
            g = np.zeros((n, k))
            g[np.arange(n), p.argmin(axis=1)] = 1.0
        else:  # the best action changes halfway: external regret is not enough here
            g = np.zeros((n, k))
            g[:, 0 if t < T // 2 else k - 1] = 1.0
        pol.update(g)
        probs.append(p)
        gains.append(g)
    bound = (k + 1) * np.sqrt(T * np.log(k) / 8)
    assert np.all(swap_regret(np.array(probs), np.array(gains)) <= bound + 1e-9)


def test_swap_regret_separates_bm_from_hedge():
    """Gains (1, 0, 0.6) in the first half, (0, 1, 0.6) in the second: Hedge follows action 0
    until cumulative action 2 overtakes it at 5T/6, then plays 2 while 1 pays more — external
    regret ~ 0 but swap regret ~ 0.4 * T/6 (swap 2 -> 1). BM(Hedge) stays below its bound."""
    T, k = 3000, 3
    rng = np.random.default_rng(0)
    seq = np.zeros((T, 1, k))
    seq[: T // 2, 0, 0] = 1.0
    seq[T // 2 :, 0, 1] = 1.0
    seq[:, 0, 2] = 0.6
    out = {}
    for name, pol in (
        ("hedge", HedgePolicy(1, k, T, rng)),
        ("bm", SwapPolicy(1, k, T, rng, policy_factory("hedge"))),
    ):
        probs = []
        for t in range(T):
            probs.append(pol.probs())
            pol.update(seq[t])
        out[name] = (external_regret(np.array(probs), seq)[0], swap_regret(np.array(probs), seq)[0])
    assert out["hedge"][0] < 0.01 * T  # low external regret ...
    assert out["hedge"][1] > 0.05 * T  # ... linear swap regret (0.4/6 T ~ 0.067 T)
    assert out["bm"][1] <= (k + 1) * np.sqrt(T * np.log(k) / 8) < 0.05 * T


def test_blum_mansour_learner_composes_any_factory():
    rng = np.random.default_rng(0)
    a = BlumMansourSwap(3, np.ones(3), 100, rng, BlumMansourSwap.Params(grid_points=4), factory=Hedge.factory(0.3))
    assert a.feedback == "full" and a.policy.copies.eta == 0.3 and a.policy.copies.n == 12
    b = make_learner("blum_mansour_swap", 3, np.ones(3), 100, rng, {"base": "exp3", "grid_points": 4})
    assert b.feedback == "bandit"
    with pytest.raises(ValueError, match="base"):
        make_learner("blum_mansour_swap", 3, np.ones(3), 100, rng, {"base": "ucb"})

"""Blum–Mansour swap regret (Braverman 2021 §1.1 eq. 2): the stationary distribution and the
swap-regret bound on adversarial sequences."""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from agents import BlumMansourSwap, Hedge, make_learner
from agents.experts import HedgePolicy, policy_factory, sample_categorical, sample_columns
from agents.games import external_regret, swap_regret
from agents.stationary import TILE, stationary_distribution
from agents.swap import (
    EXP_FLUSH,
    EXP_SMALL_MAX,
    Exp3SwapPolicy,
    HedgeSwapPolicy,
    SwapPolicy,
    exp_nonpositive,
    exp_small,
    swap_factory,
)
from mechanisms.bwk.instances import BanditsWithKnapsacks


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


def generic_bm(n, k, T, rng, eta=None):
    return SwapPolicy(n, k, T, rng, policy_factory("hedge", eta=eta))


def compiled_bm(n, k, T, rng, eta=None):
    pol = swap_factory(policy_factory("hedge", eta=eta))(n, k, T, rng)
    assert isinstance(pol, HedgeSwapPolicy)
    return pol


@settings(max_examples=15, deadline=None)
@given(
    st.integers(0, 2**31),
    st.integers(2, 5),
    st.sampled_from(["random", "chase", "switch"]),
    st.sampled_from([generic_bm, compiled_bm]),
)
def test_swap_regret_bound_on_adversarial_sequences(seed, k, kind, make):
    """BM(Hedge): swap regret of the played distributions <= (K + 1) sqrt(T ln K / 8) for any
    adaptive gain sequence in [0, 1]^K (Blum–Mansour Thm 5 with Hedge's bound per copy),
    for the generic composition and the compiled `HedgeSwapPolicy`."""
    T, n = 600, 2
    rng = np.random.default_rng(seed)
    fixed = rng.random((T, n, k))
    pol = make(n, k, T, rng)
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
    assert a.feedback == "full" and a.policy.eta == 0.3 and a.policy.n == 3
    b = make_learner("blum_mansour_swap", 3, np.ones(3), 100, rng, {"base": "exp3", "grid_points": 4})
    assert b.feedback == "bandit"
    with pytest.raises(ValueError, match="base"):
        make_learner("blum_mansour_swap", 3, np.ones(3), 100, rng, {"base": "ucb"})


def test_exp_small_is_exp_to_double_precision():
    x = np.linspace(-EXP_SMALL_MAX, EXP_SMALL_MAX, 20_001)
    approx = np.array([exp_small(v) for v in x])
    assert np.abs(approx / np.exp(x) - 1.0).max() <= 5e-16  # ~2 ulp: Horner's rounding


def exact_bm_reference(seq: np.ndarray, eta: float) -> np.ndarray:
    """BM over Hedge copies in plain float64 from the definition: copy j's scores S_j sum
    p_j g, its row is softmax(eta S_j), and p is the SVD null vector of Q^T - I."""
    T, n, k = seq.shape
    S = np.zeros((n, k, k))
    out = np.empty((T, n, k))
    for t in range(T):
        z = np.exp(eta * (S - S.max(axis=2, keepdims=True)))
        Q = z / z.sum(axis=2, keepdims=True)
        for i in range(n):
            v = scipy.linalg.svd(Q[i].T - np.eye(k))[2][-1]
            out[t, i] = v / v.sum()
        S += out[t][:, :, None] * seq[t][:, None, :]
    return out


@pytest.mark.parametrize(("k", "eta", "reshift"), [(2, None, None), (11, None, None), (5, 0.9, 4.0)])
def test_compiled_bm_follows_the_definition(k, eta, reshift, monkeypatch):
    """HedgeSwapPolicy against `exact_bm_reference`, n = TILE + 3 agents (a padded tile):
    the default rate (Taylor exponentials), and eta = 0.9 (libm exponentials) with a low
    RESHIFT so the weights are renormalized every few rounds."""
    if reshift is not None:
        monkeypatch.setattr(HedgeSwapPolicy, "RESHIFT", reshift)
    T, n = 60, TILE + 3
    rng = np.random.default_rng(k)
    seq = rng.random((T, n, k)) ** 2
    pol = compiled_bm(n, k, 2000, rng, eta)
    ref = exact_bm_reference(seq, pol.eta)
    for t in range(T):
        assert np.abs(pol.probs() - ref[t]).max() < 1e-10, t
        pol.update(seq[t])


def test_compiled_bm_matches_the_generic_composition():
    """Same gains, full and bandit updates: the compiled policy and SwapPolicy(Hedge) differ
    only by the generic path's float32 weights."""
    T, n, k = 200, 70, 6
    rng = np.random.default_rng(1)
    a, b = compiled_bm(n, k, T, rng), generic_bm(n, k, T, rng)
    for t in range(T):
        pa, pb = a.probs(), b.probs()
        assert np.abs(pa - pb).max() < 1e-5, t
        if t % 2:
            g = rng.random((n, k))
            a.update(g)
            b.update(g)
        else:
            act = sample_categorical(pa, rng)  # as played: importance weights 1/P(a) stay sane
            gain, w = rng.random(n), rng.random(n)
            a.update_bandit(act, gain, pa[np.arange(n), act], w)
            b.update_bandit(act, gain, pb[np.arange(n), act], w)


def test_compiled_bm_falls_back_on_a_reducible_chain():
    """Weights flushed to zero can leave a copy's row on its own action only (Q = I): the
    zero pivot is caught and the stationary distribution comes from the fallback."""
    pol = compiled_bm(3, 4, 100, np.random.default_rng(0))
    pol.weights[0, :, :, 1] = np.eye(4)  # agent 1: Q = I
    p = pol.probs()
    Q = pol.matrix()
    assert np.allclose(p.sum(axis=1), 1.0) and np.all(p >= 0)
    assert np.abs(np.einsum("nk,nkj->nj", p, Q) - p).max() < 1e-12


# --- Blum–Mansour over Exp3 copies: the compiled `Exp3SwapPolicy` ---------------------------


def generic_bm_exp3(n, k, T, rng, float64=True, **kw):
    """SwapPolicy over Exp3 copies; float64: with float64 weights instead of the copies'
    float32 ones, so the arithmetic is the compiled policy's up to rounding order."""
    pol = SwapPolicy(n, k, T, rng, policy_factory("exp3", **kw))
    if float64:
        pol.copies._zbuf = np.empty(pol.copies._zbuf.shape)
    return pol


def compiled_bm_exp3(n, k, T, rng, **kw):
    pol = swap_factory(policy_factory("exp3", **kw))(n, k, T, rng)
    assert isinstance(pol, Exp3SwapPolicy)
    return pol


def test_exp_nonpositive_is_exp_to_double_precision():
    x = -np.concatenate([np.linspace(0.0, -EXP_FLUSH, 200_001), np.geomspace(1e-300, 1.0, 1000), [0.0]])
    approx = np.array([exp_nonpositive(v) for v in x])
    assert np.abs(approx / np.exp(x) - 1.0).max() <= 1e-15
    assert [exp_nonpositive(v) for v in (EXP_FLUSH - 1e-9, -1e4, -np.inf)] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("kw", [{}, {"eta": 0.05}, {"gamma": 0.1}], ids=["adaptive", "fixed_eta", "gamma"])
def test_compiled_bm_exp3_matches_the_generic_composition(kw):
    """Same actions (drawn as played) and gains, bandit updates with and without weights,
    n = TILE + 3 agents: the compiled policy follows SwapPolicy(Exp3) with float64 weights
    to 1e-10 (played distributions, scores, variances), and the default float32 one to 1e-4."""
    T, n, k = 300, TILE + 3, 5
    rng = np.random.default_rng(3)
    a = compiled_bm_exp3(n, k, T, rng, **kw)
    b, c = generic_bm_exp3(n, k, T, rng, **kw), generic_bm_exp3(n, k, T, rng, float64=False, **kw)
    rows = np.arange(n)
    for t in range(T):
        pa, pb, pc = a.probs(), b.probs(), c.probs()
        assert np.abs(pa - pb).max() < 1e-10, t
        assert np.abs(pa - pc).max() < 1e-4, t
        act, _ = sample_columns(pa.T.copy(), rng)
        gain, w = rng.random(n), (rng.random(n) if t % 3 else None)
        for pol, p in ((a, pa), (b, pb), (c, pc)):
            pol.update_bandit(act, gain, p[rows, act], w)
    scores = a.scores.transpose(0, 3, 2, 1).reshape(-1, k * k)[:n]  # (agent, j * K + a)
    assert np.abs(scores - b.copies.scores.T.reshape(n, k * k)).max() < 1e-10 * max(1.0, -scores.min())
    assert np.allclose(a.variance.T.reshape(-1), b.copies.variance, rtol=1e-10, atol=0)


def test_compiled_bm_exp3_full_information_update_matches_the_generic_composition():
    T, n, k = 60, TILE + 3, 4
    rng = np.random.default_rng(4)
    a, b = compiled_bm_exp3(n, k, T, rng), generic_bm_exp3(n, k, T, rng)
    for t in range(T):
        assert np.abs(a.probs() - b.probs()).max() < 1e-10, t
        g = rng.random((n, k))
        a.update(g)
        b.update(g)


def test_blum_mansour_exp3_learners_use_the_compiled_policy():
    rng = np.random.default_rng(0)
    lr = make_learner("blum_mansour_swap", 5, np.ones(5), 100, rng, {"base": "exp3", "grid_points": 4, "eta": 0.2})
    assert isinstance(lr.policy, Exp3SwapPolicy) and lr.feedback == "bandit"
    assert not lr.policy.adaptive and lr.policy.eta == 0.2
    bwk = make_learner("lagrange_bwk", 5, np.ones(5), 100, rng, {"base": "blum_mansour_exp3"})
    assert isinstance(bwk.policy, Exp3SwapPolicy) and bwk.feedback == "bandit"


def test_blum_mansour_exp3_checkpoint_reproduces_the_future(play):
    """As tests/agents/test_learners_common.py, with Exp3 copies (bandit feedback)."""
    budgets, params = np.full(TILE + 5, 20.0), {"base": "exp3"}
    mech = (BanditsWithKnapsacks([0.0, 0.3, 0.6, 0.8], [0.0, 0.1, 0.5, 0.9], mode="bid") for _ in range(3))
    a = make_learner("blum_mansour_swap", budgets.size, budgets, 60, np.random.default_rng(1), params)
    _, _, rem = play(a, next(mech), budgets, 30, np.random.default_rng(2))
    state = a.state_dict()
    b = make_learner("blum_mansour_swap", budgets.size, budgets, 60, np.random.default_rng(99), params)
    b.load_state_dict(state)
    ra, _, _ = play(a, next(mech), rem, 30, np.random.default_rng(3), t0=30)
    rb, _, _ = play(b, next(mech), rem, 30, np.random.default_rng(3), t0=30)
    assert np.array_equal(ra, rb)


def test_compiled_bm_exp3_falls_back_on_a_reducible_chain():
    """Scores far below EXP_FLUSH flush weights to 0: agent 1's chain becomes Q = I, whose
    zero pivot is caught, and its stationary distribution comes from the fallback."""
    pol = compiled_bm_exp3(3, 4, 100, np.random.default_rng(0), eta=1.0)
    pol.scores[0, :, :, 1] = np.where(np.eye(4) > 0, 0.0, -1e4)
    pol._fresh = False
    p = pol.probs()
    assert pol._bad[1] and not pol._bad[[0, 2]].any()
    assert np.allclose(p.sum(axis=1), 1.0) and np.all(p >= 0)
    assert np.abs(np.einsum("nk,nkj->nj", p, pol.matrix()) - p).max() < 1e-12

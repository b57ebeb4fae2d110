"""Hedge and Exp3 cohorts over a finite grid (Braverman 2021 §1.1): regret bounds, sampling,
feedback plumbing, parameters."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents import Exp3, Feedback, Hedge, Observation, make_learner
from agents.experts import Exp3Policy, HedgePolicy, policy_factory, sample_categorical
from agents.games import external_regret
from mechanisms.bwk.instances import BanditsWithKnapsacks


def run_full(policy, gain_fn, T):
    probs, gains = [], []
    for t in range(T):
        p = policy.probs()
        g = gain_fn(t, p)
        policy.update(g)
        probs.append(p)
        gains.append(g)
    return np.array(probs), np.array(gains)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31), st.integers(2, 8))
def test_hedge_regret_bound_on_adversarial_sequences(seed, k):
    """Hedge with eta = sqrt(8 ln K / T): regret <= sqrt(T ln K / 2) for ANY gain sequence,
    including one that rewards whatever the learner currently likes least."""
    T, n = 400, 3
    rng = np.random.default_rng(seed)
    fixed = rng.random((T, n, k)) ** 3
    pol = HedgePolicy(n, k, T, rng)

    def adversary(t, p):
        g = fixed[t].copy()
        g[np.arange(n), p.argmin(axis=1)] = 1.0  # adaptive: chase the least-liked action
        return g

    probs, gains = run_full(pol, adversary, T)
    assert np.all(external_regret(probs, gains) <= np.sqrt(T * np.log(k) / 2) + 1e-9)


def test_hedge_concentrates_on_the_best_action():
    T = 2000
    pol = HedgePolicy(4, 3, T, np.random.default_rng(0))
    run_full(pol, lambda t, p: np.tile([0.2, 0.7, 0.5], (4, 1)), T)
    assert np.all(pol.probs()[:, 1] > 0.99)


@pytest.mark.parametrize("eta", [None, "theory"])
def test_exp3_pseudo_regret_within_the_bandit_bound(eta):
    """Bernoulli arms; mean pseudo-regret over 200 independent agents <= sqrt(2 T K ln K)
    (the fixed-rate bound; the adaptive default must not be worse)."""
    T, n, k = 3000, 200, 5
    means = np.array([0.5, 0.45, 0.6, 0.3, 0.55])
    rng = np.random.default_rng(1)
    rate = np.sqrt(2 * np.log(k) / (T * k)) if eta == "theory" else None
    pol = Exp3Policy(n, k, T, rng, eta=rate)
    chosen = np.zeros(n)
    for _ in range(T):
        p = pol.probs()
        a = sample_categorical(p, rng)
        g = (rng.random(n) < means[a]).astype(float)
        pol.update_bandit(a, g, p[np.arange(n), a])
        chosen += p @ means
    pseudo = T * means.max() - chosen
    assert pseudo.mean() <= np.sqrt(2 * T * k * np.log(k))
    assert pseudo.mean() < 0.5 * T * (means.max() - means.mean())  # it learned something


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 6))
def test_sample_categorical_matches_probabilities(seed, k):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(k), size=1)
    draws = sample_categorical(np.repeat(p, 20_000, axis=0), rng)
    freq = np.bincount(draws, minlength=k) / draws.size
    assert draws.min() >= 0 and draws.max() < k
    assert np.abs(freq - p[0]).max() < 0.02


def test_full_feedback_learner_asks_for_the_grid_menu_and_reports_on_it():
    h = Hedge.create(3, np.full(3, 10.0), 100, np.random.default_rng(0), grid=[0.0, 0.5, 1.0])
    assert h.feedback == "full"
    obs = Observation(0, np.array([1.0, 2.0, 0.5]), np.full(3, 10.0))
    reports = h.act(obs)
    alts = h.alternatives(obs)
    assert alts.shape == (3, 3) and np.allclose(alts, obs.values[:, None] * [0.0, 0.5, 1.0])
    assert all(r in alts[i] for i, r in enumerate(reports))
    with pytest.raises(ValueError, match="full feedback"):
        h.observe(Feedback(0, reports, np.zeros(3), np.zeros(3), np.full(3, 10.0)))


def test_bandit_learner_updates_only_the_played_arm():
    e = Exp3.create(1, np.array([10.0]), 100, np.random.default_rng(0), grid=[0.0, 1.0, 2.0], eta=0.1)
    assert e.feedback == "bandit" and e.alternatives(Observation(0, np.ones(1), np.ones(1))) is None
    r = e.act(Observation(0, np.ones(1), np.array([10.0])))
    a = int(e.actions[0])
    e.observe(Feedback(0, r, np.array([0.0]), np.array([0.0]), np.array([10.0])))
    p = e.policy.probs()[0]
    others = p[np.arange(3) != a]
    assert p[a] < 1 / 3  # a zero gain (loss 1) lowered the played arm ...
    assert others[0] == pytest.approx(others[1])  # ... and only it


def test_zeroed_reports_do_not_update():
    """A report the mechanism zeroed (budget below p_max) is not feedback on the action."""
    e = Exp3.create(1, np.array([0.5]), 100, np.random.default_rng(0), grid=[1.0, 2.0], eta=0.5)
    e.act(Observation(0, np.ones(1), np.array([0.5])))
    before = e.policy.scores.copy()
    e.observe(Feedback(0, np.zeros(1), np.zeros(1), np.zeros(1), np.array([0.5])))
    assert np.array_equal(e.policy.scores, before)


def test_learners_work_with_menus_of_a_real_mechanism(play):
    """Hedge on a deterministic BwK arm menu with no cost weight learns the best arm."""
    mech = BanditsWithKnapsacks([0.0, 0.3, 0.9, 0.5], [0.0, 0.0, 0.0, 0.0], mode="arm", noise="none")
    h = make_learner("hedge", 2, np.full(2, 1.0), 500, np.random.default_rng(0), {"grid": [0, 1, 2, 3]})
    reports, _, _ = play(h, mech, np.full(2, 1.0), 500, np.random.default_rng(1))
    assert np.all(reports[-50:] == 2.0)


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("hedge", {"grid_points": 1}, "grid_points"),
        ("hedge", {"grid": [0.0, -1.0]}, "grid"),
        ("hedge", {"grid_min": 2.0, "grid_max": 1.0}, "grid_min"),
        ("exp3", {"eta": 0.0}, "eta"),
        ("exp3", {"gamma": 1.0}, "gamma"),
        ("exp3", {"learning_rate": 0.1}, "learning_rate"),
        ("hedge", {"payoff_min": 1.0, "payoff_max": 1.0}, "payoff_min"),
    ],
)
def test_bad_params_name_the_field(name, params, field):
    with pytest.raises(ValueError, match=field):
        make_learner(name, 2, np.ones(2), 10, np.random.default_rng(0), params)


def test_policy_factories_by_name():
    f = policy_factory("exp3", eta=0.2)
    pol = f(4, 3, 100, np.random.default_rng(0))
    assert isinstance(pol, Exp3Policy) and pol.eta == 0.2 and pol.probs().shape == (4, 3)
    assert isinstance(Hedge.factory()(2, 5, 10, np.random.default_rng(0)), HedgePolicy)
    with pytest.raises(ValueError, match="base"):
        policy_factory("ucb")

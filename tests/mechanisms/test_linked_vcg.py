"""Linked VCG (Zhu): knapsack, ord-A, retraction, transfers, incentives, §5, §6.

Independent checks: LP optimality certificates (strong duality with the returned
prices), the R = 1 greedy and the price-basis form against the HiGHS LP, a second
(KKT, big-M) MILP formulation and random search for the Groves base, per-player LPs
for the VCG surplus terms, and hand computations of the paper's examples.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from mechanisms.linked_vcg import (
    Economy,
    LinkedVCG,
    believable_conjecture,
    c_of_z,
    delta_of_z,
    geometric_tau,
    groves_base,
    hoeffding_tail,
    incentive_check,
    lemma6_transfer,
    others_surplus_batch,
    reasonable_truthful,
    retract_rows,
    small_agents_design,
    utility_batch,
)
from mechanisms.linked_vcg.knapsack import (
    check_theta,
    efficient_by_bases,
    general_position_violation,
    marginal_player,
    ord_split,
    solve_knapsack,
    solve_knapsack_greedy,
)

SEEDS = st.integers(0, 2**32 - 1)


def random_theta(rng: np.random.Generator, n_res: int, extra: int) -> np.ndarray:
    return np.vstack([np.diag(rng.uniform(2.0, 5.0, n_res)), rng.uniform(0.2, 1.5, (extra, n_res))])


def make_instance(seed: int, n_agents: int = 3, horizon: int = 3, n_res: int = 2, extra: int = 2,
                  width: float = 0.4, beta: float = 1.0) -> tuple[LinkedVCG, np.ndarray]:  # fmt: skip
    """A random economy and truthful endowments inside the confidence set."""
    rng = np.random.default_rng(seed)
    theta = random_theta(rng, n_res, extra)
    econ = Economy(theta, rng.uniform(1.0, 4.0, n_res))
    n_types = n_res + extra
    pi = rng.uniform(0.3, 1.5, (n_agents, n_types))
    pi[:, :n_res] *= rng.random((n_agents, n_res)) < 0.3  # agents sometimes hold last-resort types
    mu = pi[:, None, :] * rng.uniform(0.5, 1.5, (n_agents, horizon, n_types))
    avg = mu.mean(axis=1)
    lo = avg * (1 - width * rng.random(avg.shape))
    hi = avg * (1 + width * rng.random(avg.shape))
    return LinkedVCG(econ, horizon, lo, hi, beta=beta), mu


# --------------------------------------------------------------------------- knapsack (§3)


def dual_value(theta, q, mu, p):
    """Dual objective of eq. (1) at prices p: q.p + sum_i mu_i (1 - p.theta_i)^+ — an upper
    bound on v(q, mu) for any p >= 0 (weak duality)."""
    slack = np.clip(1.0 - theta @ p, 0.0, None)
    keep = slack > 1e-12
    return q @ p + np.sum(mu[keep] * slack[keep])


@settings(max_examples=80, deadline=None)
@given(seed=SEEDS, n_res=st.integers(1, 3), extra=st.integers(1, 3))
def test_knapsack_lp_is_optimal_by_duality_certificate(seed, n_res, extra):
    """Primal feasible alpha and dual feasible p with equal objectives: optimal (§3 eq. 1)."""
    rng = np.random.default_rng(seed)
    theta = random_theta(rng, n_res, extra)
    q = rng.uniform(0.5, 4.0, (4, n_res))
    mu = rng.uniform(0.0, 2.0, (4, n_res + extra))
    sol = solve_knapsack(theta, q, mu)
    for b in range(4):
        a = sol.alpha[b]
        assert (a >= -1e-9).all() and (a <= mu[b] + 1e-9).all()
        assert (a @ theta <= q[b] + 1e-8).all()
        assert sol.value[b] == pytest.approx(dual_value(theta, q[b], mu[b], sol.prices[b]), abs=1e-7)


@settings(max_examples=80, deadline=None)
@given(seed=SEEDS, extra=st.integers(1, 4))
def test_greedy_r1_matches_lp(seed, extra):
    """R = 1: Lemma 1's single-price form (fill by increasing theta) equals the LP."""
    rng = np.random.default_rng(seed)
    theta = random_theta(rng, 1, extra)
    q = rng.uniform(0.5, 4.0, (5, 1))
    mu = rng.uniform(0.0, 2.0, (5, 1 + extra))
    mu[:2, 0] = np.inf  # the principal's unlimited last-resort supply
    g = solve_knapsack_greedy(theta, q, mu)
    lp = solve_knapsack(theta, q, mu)
    np.testing.assert_allclose(g.value, lp.value, atol=1e-8)
    for b in range(5):
        assert g.value[b] == pytest.approx(dual_value(theta, q[b], mu[b], g.prices[b]), abs=1e-8)


@settings(max_examples=80, deadline=None)
@given(seed=SEEDS, n_res=st.integers(2, 3), extra=st.integers(1, 3))
def test_price_basis_form_matches_lp_and_lemma1(seed, n_res, extra):
    """With unlimited last-resort supply the efficient investment is unique, exhaustive and
    linear (Lemma 1); the basis form returns it, equal to the LP's."""
    rng = np.random.default_rng(seed)
    theta = random_theta(rng, n_res, extra)
    q = rng.uniform(0.5, 4.0, (6, n_res))
    mu = rng.uniform(0.0, 2.0, (6, n_res + extra))
    mu[:, :n_res] = np.inf
    fast = efficient_by_bases(theta, q, mu)
    lp = solve_knapsack(theta, q, mu)
    np.testing.assert_allclose(fast.alpha, lp.alpha, atol=1e-7)
    np.testing.assert_allclose(fast.alpha @ theta, q, atol=1e-8)  # exhaustive
    cost = fast.prices @ theta.T
    assert (fast.prices > 0).all()
    assert np.all((cost >= 1 - 1e-9) | (np.abs(fast.alpha - mu) < 1e-8))  # p.theta < 1 => fully invested
    assert np.all((cost <= 1 + 1e-9) | (fast.alpha < 1e-8))  # p.theta > 1 => not invested


def test_figure_1a_hand_computed():
    """Zhu 2021 Fig. 1a: theta_1 = (12, 0), theta_2 = (0, 10), theta_3 = (2, 1), unlimited
    theta_1, theta_2 and 1 unit of theta_3: "invest in theta_3 projects until all such
    projects are exhausted or one of the resources is exhausted. At that point, any left
    over resources are then invested in theta_1 or theta_2". q is not given in the text;
    q = (3, 2.5) exhausts theta_3 first, q = (1, 2) exhausts resource 1 first."""
    theta = np.array([[12.0, 0.0], [0.0, 10.0], [2.0, 1.0]])
    mu = np.array([[np.inf, np.inf, 1.0], [np.inf, np.inf, 1.0]])
    sol = efficient_by_bases(theta, np.array([[3.0, 2.5], [1.0, 2.0]]), mu)
    # q = (3, 2.5): theta_3 fully (uses (2, 1)), leftovers (1, 1.5) -> 1/12 of theta_1, 0.15 of theta_2.
    np.testing.assert_allclose(sol.alpha[0], [1 / 12, 0.15, 1.0], atol=1e-12)
    # q = (1, 2): 0.5 of theta_3 uses resource 1 up, (2 - 0.5) / 10 = 0.15 of theta_2.
    np.testing.assert_allclose(sol.alpha[1], [0.0, 0.15, 0.5], atol=1e-12)
    np.testing.assert_allclose(sol.value, [1 / 12 + 1.15, 0.65], atol=1e-12)
    assert general_position_violation(theta) is None


def test_figure_1b_condition_2_violation():
    """Zhu 2021 Fig. 1b: theta_3 = (6, 5) lies on the line through theta_1 = (12, 0) and
    theta_2 = (0, 10), violating condition 2: "One could invest in 0.5 units of theta_3
    projects, or invest in 0.25 units each of theta_1 and theta_2 projects" — both exhaust
    q = (3, 2.5) and pay 0.5."""
    theta = np.array([[12.0, 0.0], [0.0, 10.0], [6.0, 5.0]])
    q = np.array([3.0, 2.5])
    np.testing.assert_allclose(0.5 * theta[2], q)
    np.testing.assert_allclose(0.25 * theta[0] + 0.25 * theta[1], q)
    sol = solve_knapsack(theta, q[None], np.array([[np.inf, np.inf, 1.0]]))
    assert sol.value[0] == pytest.approx(0.5)
    assert general_position_violation(theta) == (0, 1, 2)
    with pytest.raises(ValueError, match="condition 2"):
        Economy(theta, q)


def test_theta_validation_names_field():
    with pytest.raises(ValueError, match=r"theta\[1\] must use only resource 1"):
        check_theta(np.array([[1.0, 0.0], [0.5, 1.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="I > R"):
        check_theta(np.array([[1.0, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"theta\[2, 0\] must be finite and >= 0"):
        check_theta(np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 1.0]]))
    with pytest.raises(ValueError, match=r"q_bar\[1\] must be finite and > 0"):
        Economy(np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]), np.array([1.0, 0.0]))


def test_ord_split_and_marginal_player_by_hand():
    """§4: agent N is served first, the principal last; N(mu_t, i) is the marginal player."""
    reports = np.array([[1.0, 2.0], [1.0, 0.0], [1.0, 1.0]])  # agents 1..3, two types
    alpha = np.array([2.5, 0.5])
    split = ord_split(alpha, reports)
    # type 0: agent 3 gets 1, agent 2 gets 1, agent 1 gets 0.5; type 1: agent 3 gets 0.5.
    np.testing.assert_allclose(split, [[0, 0], [0.5, 0], [1, 0], [1, 0.5]])
    np.testing.assert_array_equal(marginal_player(alpha, reports), [1, 3])
    np.testing.assert_array_equal(marginal_player(np.array([4.0, 0.0]), reports), [0, 3])


# --------------------------------------------------------------------------- retraction (§4)


def test_retraction_cases_by_hand():
    """[mu] of §4 with T = 3, one type, mu_low = 1, mu_high = 2 (cap T mu_high = 6)."""
    lo, hi = np.array([1.0]), np.array([2.0])
    crossing = np.array([[3.0], [4.0], [5.0]])  # cum 3, 7 > 6 at t = 2 -> 6 - 3 = 3, then 0
    np.testing.assert_allclose(retract_rows(crossing, lo, hi)[:, 0], [3.0, 3.0, 0.0])
    short = np.array([[0.5], [0.5], [0.5]])  # T mu_low - cum_{T-1} = 3 - 1 = 2 at date T
    np.testing.assert_allclose(retract_rows(short, lo, hi)[:, 0], [0.5, 0.5, 2.0])
    inside = np.array([[1.0], [2.0], [1.5]])
    np.testing.assert_allclose(retract_rows(inside, lo, hi)[:, 0], [1.0, 2.0, 1.5])
    last_crosses = np.array([[1.0], [2.0], [5.0]])  # cum_{T-1} = 3 <= 6 < 8: T mu_high - 3
    np.testing.assert_allclose(retract_rows(last_crosses, lo, hi)[:, 0], [1.0, 2.0, 3.0])


@settings(max_examples=100, deadline=None)
@given(seed=SEEDS, horizon=st.integers(1, 5))
def test_retraction_lands_in_omega_and_is_adapted(seed, horizon):
    """[.] is a retraction onto Omega (identity there) and F_t-measurable (§4)."""
    rng = np.random.default_rng(seed)
    lo = rng.uniform(0.0, 1.0, (2, 3))
    hi = lo + rng.uniform(0.0, 1.0, (2, 3))
    mu = rng.exponential(1.0, (2, horizon, 3))
    r = retract_rows(mu, lo, hi)
    avg = r.mean(axis=1)
    assert (r >= -1e-12).all() and (avg >= lo - 1e-9).all() and (avg <= hi + 1e-9).all()
    np.testing.assert_allclose(retract_rows(r, lo, hi), r, atol=1e-12)
    t = int(rng.integers(0, horizon))
    other = mu.copy()
    other[:, t + 1 :] = rng.exponential(1.0, other[:, t + 1 :].shape)
    if t < horizon - 1:  # dates before T depend only on the prefix
        np.testing.assert_allclose(retract_rows(other, lo, hi)[:, : t + 1], r[:, : t + 1])


# --------------------------------------------------------------------------- transfers (§4)


def test_unlinked_transfer_matches_per_player_lps():
    """uW^n = sum_t beta^(t-T) sum_{m != n, m >= 0} v(A_t^m, mu_t^m), each v by its own LP."""
    mech, mu = make_instance(11, beta=0.9)
    alloc = mech.allocate(mu)
    theta = mech.economy.theta
    bundles = alloc.resources(theta)  # (T, N + 1, R)
    v = np.zeros((mech.horizon, mech.n_agents + 1))
    for t in range(mech.horizon):
        supplies = np.vstack([mech.economy.principal_supply(), mu[:, t]])
        v[t] = solve_knapsack(theta, bundles[t], supplies).value
    expect = [(mech.transfer_weights() * (v.sum(axis=1) - v[:, n + 1])).sum() for n in range(mech.n_agents)]
    np.testing.assert_allclose(mech.unlinked_transfers(mu), expect, rtol=1e-8)
    # The allocation is efficient: per date it pays v(q_bar, 1 mu_t + mu_t^0) by an independent LP.
    q = np.tile(mech.economy.q_bar, (mech.horizon, 1))
    best = solve_knapsack(theta, q, mu.sum(axis=0) + mech.economy.principal_supply()).value
    np.testing.assert_allclose(v.sum(axis=1), best, rtol=1e-8)


def kkt_groves_base(mech: LinkedVCG, retracted: np.ndarray, k: int) -> float:
    """An independent formulation of min_{Omega^k} uW^k: the efficient investment pinned by
    the KKT conditions of eq. (1) with big-M complementarity (binaries z, w), the ord-A
    share a = min(y, (alpha - H)^+) with a binary b. Slow; tiny instances only."""
    econ = mech.economy
    theta, q = econ.theta, econ.q_bar
    n_types, n_res, horizon = econ.n_types, econ.n_resources, mech.horizon
    c = np.delete(retracted, k, axis=0).sum(axis=0)
    h = retracted[k + 1 :].sum(axis=0)
    lo, hi = horizon * mech.mu_low[k], horizon * mech.mu_high[k]
    w = mech.transfer_weights()
    amax = np.min(np.where(theta > 0, q / np.where(theta > 0, theta, 1), np.inf), axis=1)
    pmax = 1.0 / np.min(np.where(theta > 0, theta, np.inf), axis=0)
    names = ["y", "al", "a", "s", "z", "w", "b"]
    width = len(names) * n_types + n_res
    nv = width * horizon

    def ix(t, name, i):
        return t * width + (names.index(name) * n_types + i if name != "p" else len(names) * n_types + i)

    rows, lb, ub = [], [], []
    upper, integ, cost = np.zeros(nv), np.zeros(nv), np.zeros(nv)
    for t in range(horizon):
        for i in range(n_types):
            fin = i >= n_res
            tp = {ix(t, "p", r): theta[i, r] for r in range(n_res) if theta[i, r] > 0}
            dmax = theta[i] @ pmax
            upper[[ix(t, "y", i), ix(t, "al", i), ix(t, "a", i)]] = [hi[i], amax[i], hi[i]]
            upper[[ix(t, "s", i), ix(t, "z", i), ix(t, "w", i), ix(t, "b", i)]] = [fin, 1, fin, 1]
            integ[[ix(t, "z", i), ix(t, "w", i), ix(t, "b", i)]] = 1
            cost[ix(t, "al", i)], cost[ix(t, "a", i)] = w[t], -w[t]
            cons = [
                ({**tp, ix(t, "s", i): 1}, 1, np.inf),
                ({ix(t, "al", i): 1, ix(t, "z", i): -amax[i]}, -np.inf, 0),
                ({**tp, ix(t, "s", i): 1, ix(t, "z", i): dmax}, -np.inf, 1 + dmax),
                ({ix(t, "a", i): 1, ix(t, "y", i): -1}, -np.inf, 0),
                ({ix(t, "a", i): 1, ix(t, "al", i): -1, ix(t, "b", i): amax[i] + h[t, i]}, -np.inf, amax[i]),
                ({ix(t, "a", i): 1, ix(t, "b", i): -hi[i]}, -np.inf, 0),
            ]
            if fin:
                umax = c[t, i] + hi[i]
                cons += [
                    ({ix(t, "al", i): 1, ix(t, "y", i): -1}, -np.inf, c[t, i]),
                    ({ix(t, "s", i): 1, ix(t, "w", i): -1}, -np.inf, 0),
                    ({ix(t, "y", i): 1, ix(t, "al", i): -1, ix(t, "w", i): umax}, -np.inf, umax - c[t, i]),
                ]
            for coefs, lo_, up_ in cons:
                rows.append(coefs)
                lb.append(lo_)
                ub.append(up_)
        for r in range(n_res):
            upper[ix(t, "p", r)] = pmax[r]
            rows.append({ix(t, "al", i): theta[i, r] for i in range(n_types)})
            lb.append(q[r])
            ub.append(q[r])
    for i in range(n_types):
        rows.append({ix(t, "y", i): 1.0 for t in range(horizon)})
        lb.append(lo[i])
        ub.append(hi[i])
    ri = [r for r, d in enumerate(rows) for _ in d]
    ci = [c_ for d in rows for c_ in d]
    vals = [v for d in rows for v in d.values()]
    mat = sparse.csr_matrix((vals, (ri, ci)), shape=(len(rows), nv))
    res = milp(cost, constraints=LinearConstraint(mat, lb, ub), integrality=integ,
               bounds=Bounds(np.zeros(nv), upper), options={"mip_rel_gap": 1e-9, "presolve": False})  # fmt: skip
    return float(res.fun)


@settings(max_examples=12, deadline=None)
@given(seed=SEEDS, n_res=st.integers(1, 2))
def test_groves_base_matches_kkt_milp_and_random_search(seed, n_res):
    """The Groves base (the min in lW, §4) equals an independent KKT MILP, and no random
    point of Omega^n does better."""
    mech, mu = make_instance(seed, n_agents=3, horizon=2, n_res=n_res, extra=2)
    ret = mech.retract(mu)
    rng = np.random.default_rng(seed)
    for k in range(mech.n_agents):
        base = groves_base(mech, ret, k)
        assert base.value == pytest.approx(kkt_groves_base(mech, ret, k), rel=1e-6, abs=1e-7)
        lo, hi = mech.horizon * mech.mu_low[k], mech.horizon * mech.mu_high[k]
        totals = lo + rng.random((400, lo.shape[0])) * (hi - lo)
        split = rng.dirichlet(np.full(mech.horizon, 0.5), size=(400, lo.shape[0])).transpose(0, 2, 1)
        cands = totals[:, None, :] * split
        surplus, _, _ = others_surplus_batch(mech, ret, k, cands)
        assert (surplus @ mech.transfer_weights()).min() >= base.value - 1e-7
        # The minimizer is in Omega^k and attains the value.
        assert (base.argmin.sum(axis=0) >= lo - 1e-7).all() and (base.argmin.sum(axis=0) <= hi + 1e-7).all()


@settings(max_examples=15, deadline=None)
@given(seed=SEEDS, beta=st.sampled_from([1.0, 0.8]))
def test_linked_cheaper_than_unlinked_and_limited_liability(seed, beta):
    """Theorem 1: on Omega, 0 <= lW^n <= uW^n; the proof's point mu-hat (the minimizer)
    gets lW^n = 0."""
    mech, mu = make_instance(seed, beta=beta)
    settled = mech.linked_transfers(mu)
    unlinked = mech.unlinked_transfers(mu)
    assert (settled.transfers >= 0).all()
    assert (settled.transfers <= unlinked + 1e-8).all()
    assert mech.cost(settled.transfers) <= mech.cost(unlinked) + 1e-8
    k = int(np.random.default_rng(seed).integers(mech.n_agents))
    moved = mu.copy()
    moved[k] = settled.base_argmin[k]
    assert mech.linked_transfers(moved).transfers[k] == pytest.approx(0.0, abs=1e-7)


@settings(max_examples=15, deadline=None)
@given(seed=SEEDS)
def test_limited_liability_outside_the_confidence_set(seed):
    """Reports anywhere in Omega (averages outside the intervals too) give lW >= 0."""
    mech, mu = make_instance(seed)
    rng = np.random.default_rng(seed)
    wild = mu * rng.uniform(0.0, 3.0, mu.shape)
    assert (mech.linked_transfers(wild).transfers >= 0).all()


@settings(max_examples=15, deadline=None)
@given(seed=SEEDS, beta=st.sampled_from([1.0, 0.9]))
def test_truthful_reporting_is_ex_post_optimal(seed, beta):
    """Theorem 1: for mu in Omega(T, mu_low, mu_high), no searched misreport (scalings,
    compositions, date shifts, confidence-set vertices, random inside/outside) beats the
    truth, with the others truthful — and also with the others' reports fixed arbitrarily."""
    mech, mu = make_instance(seed, beta=beta)
    rng = np.random.default_rng(seed)
    others = mu * rng.uniform(0.5, 1.5, mu.shape)
    for k in range(mech.n_agents):
        for reports in (mu, others):
            check = incentive_check(mech, reports, mu, k, rng, n_random=24)
            assert check.gain <= 1e-8 * max(1.0, mech.horizon * mech.economy.vbar()), check
            assert check.tried > 50
            # Proposition 1: unlinked VCG is ex-post IC too (others' reports not reacting).
            unlinked = incentive_check(mech, reports, mu, k, rng, n_random=8, linked=False)
            assert unlinked.gain <= 1e-8 * max(1.0, mech.horizon * mech.economy.vbar()), unlinked


def test_unlinked_vcg_not_strategy_proof_proposition_1_example():
    """§4, after Proposition 1: "consider the sigma^-n where at all dates t > 1, all agents
    m != n copy agent n's date 1 report. At date 1, agent n is better off reporting a
    sufficiently huge endowment rather than the truth." Hand-computed instance: R = 1,
    theta = (4, 1), q_bar = 10, T = 2, both agents hold 1 unit of type 1 each date; agent 2
    (served first) copies agent 1's date-1 report at date 2.
    Truth: each date V = 1 + 1 + 8/4 = 4, agent 1 gets payoff 1 + 1 and transfer 3 + 3 = 8.
    Report 100 at date 1: date 1 others get 1 (agent 2) + 0 (principal), agent 1 still
    pays off 1; date 2 the copier claims 100 and takes all 10 units (reported surplus 10),
    agent 1 gets nothing: U = 1 + 0 + 1 + 10 = 12."""
    econ = Economy(np.array([[4.0], [1.0]]), np.array([10.0]))
    mu = np.zeros((2, 2, 2))
    mu[:, :, 1] = 1.0
    mech = LinkedVCG(econ, 2, np.zeros((2, 2)), np.full((2, 2), 1e6))

    def unlinked_u(date1: float) -> float:
        reports = mu.copy()
        reports[0, 0, 1] = date1
        reports[1, 1, 1] = date1  # the copier
        alloc = mech.allocate(reports)
        pay = econ.value(alloc.resources(econ.theta)[:, 1, :], mu[0])
        return float(pay.sum() + mech.unlinked_transfers(reports, alloc)[0])

    assert unlinked_u(1.0) == pytest.approx(8.0)
    assert unlinked_u(100.0) == pytest.approx(12.0)


def test_huge_intervals_remove_the_savings_of_the_first_served_agent():
    """§4: "if mu_high >> mu_low, then the cost savings are zero". Under ord-A this holds
    for agent N (served first, he can crowd everyone out, so the base is 0); a lower
    agent cannot displace higher agents' projects of the same type, so his base can
    stay positive (recorded as a caveat in the report)."""
    mech, mu = make_instance(4)
    huge = LinkedVCG(mech.economy, mech.horizon, np.zeros_like(mech.mu_low), np.full_like(mech.mu_high, 1e4))
    settled = huge.linked_transfers(mu)
    unlinked = huge.unlinked_transfers(mu)
    assert settled.transfers[-1] == pytest.approx(unlinked[-1], rel=1e-8)
    assert settled.base[-1] == pytest.approx(0.0, abs=1e-7)


# --------------------------------------------------------------------------- Lemma 6, §6.2


def small_agent_instance() -> tuple[LinkedVCG, np.ndarray]:
    """Two big agents and a small agent 3 (served first) with identical dates, so prices
    stay put whatever agent 3 reports (Property I) and he is never marginal (II)."""
    theta = np.array([[4.0, 0.0], [0.0, 5.0], [0.5, 1.2], [1.1, 0.4], [0.9, 0.9]])
    econ = Economy(theta, np.array([12.0, 12.0]))
    horizon = 3
    big = np.array([0.0, 0.0, 6.0, 6.0, 6.0])
    small = np.array([0.0, 0.0, 0.05, 0.04, 0.03])
    mu = np.stack([np.tile(big, (horizon, 1)), np.tile(big, (horizon, 1)), np.tile(small, (horizon, 1))])
    mu[2, 1] *= 1.5
    mu[2, 2] *= 0.5
    avg = mu.mean(axis=1)
    mech = LinkedVCG(econ, horizon, 0.5 * avg, 1.5 * avg)
    return mech, mu


def test_lemma6_closed_form_and_geometric_tau_for_a_small_agent():
    """Lemma 6 (Properties I and II): lW^n = max_{Omega^n} sum_t beta^(t-T) p_t . sum_i
    (mu-hat - mu)_ti theta_i 1[n > N(mu_t, i)]; the maximizer puts T mu_high_i on tau(theta_i)
    (§6.2). Both equal the exact (MILP) linked transfer."""
    mech, mu = small_agent_instance()
    k = 2
    # Property I at the vertices of agent k's per-date report box: the price never moves.
    alloc = mech.allocate(mu)
    vertices = np.array(np.meshgrid(*[[0.0, mech.horizon * h] for h in mech.mu_high[k]])).reshape(5, -1).T
    _, _, prices = others_surplus_batch(mech, mu, k, np.repeat(vertices[:, None, :], mech.horizon, axis=1))
    np.testing.assert_allclose(prices, np.broadcast_to(alloc.prices[0], prices.shape), atol=1e-9)
    exact = mech.linked_transfers(mu).transfers[k]
    assert lemma6_transfer(mech, mu, k) == pytest.approx(exact, rel=1e-7)
    tau = geometric_tau(mech, mu, k)
    tilde = np.zeros((mech.horizon, mech.economy.n_types))
    for i, dates in enumerate(tau):
        tilde[dates[0] - 1, i] = mech.horizon * mech.mu_high[k, i]
    surplus, _, _ = others_surplus_batch(mech, mu, k, tilde[None])
    assert float(surplus[0] @ mech.transfer_weights()) == pytest.approx(groves_base(mech, mu, k).value, rel=1e-9)
    # Corollary 2 (beta = 1, constant prices): lW^n <= sum_i T (mu_high - mu_low)_i.
    assert exact <= mech.horizon * (mech.mu_high[k] - mech.mu_low[k]).sum() + 1e-9


def test_transfer_bounded_by_own_max_contribution_figure_3():
    """§4, Figure 3 (R = T = 1): the linked transfer is at most the agent's maximum
    contribution to surplus over Omega^n (Lemma 6, first part), while the unlinked one is
    everyone else's surplus. Max contribution by a fine grid over the 1-type interval."""
    theta = np.array([[3.0], [0.5], [1.0], [1.6]])
    econ = Economy(theta, np.array([6.0]))
    mu = np.array([[[0.0, 2.0, 3.0, 2.0]], [[0.0, 0.4, 0.3, 0.5]]])  # agent 2 is small
    mech = LinkedVCG(econ, 1, 0.6 * mu[:, 0], 1.4 * mu[:, 0])
    k = 1
    grid = np.linspace(0, 1, 9)
    pts = np.array(np.meshgrid(grid, grid, grid, indexing="ij")).reshape(3, -1).T
    cands = np.zeros((pts.shape[0], 1, 4))
    cands[:, 0, 1:] = mech.mu_low[k, 1:] + pts * (mech.mu_high[k, 1:] - mech.mu_low[k, 1:])
    _, own, _ = others_surplus_batch(mech, mu, k, cands)
    max_contribution = own.sum(axis=(1, 2)).max()
    settled = mech.linked_transfers(mu)
    assert settled.transfers[k] <= max_contribution + 1e-9
    assert mech.unlinked_transfers(mu)[k] > max_contribution


# --------------------------------------------------------------------------- §5


def test_delta_and_c_by_hand():
    """§5: delta(z) = z(1-z) eps^2 / ((beta^(1-T) T vbar)^2 N) ^ 1, c(z) = z eps / (beta^(1-T) T vbar) ^ 1."""
    scale = 0.5 ** (1 - 3) * 3 * 2.0  # beta = 0.5, T = 3, vbar = 2 -> 24
    assert delta_of_z(0.3, 1.0, 3, 2.0, 0.5, 4) == pytest.approx(0.3 * 0.7 / (scale**2 * 4))
    assert c_of_z(0.3, 1.0, 3, 2.0, 0.5) == pytest.approx(0.3 / scale)
    assert c_of_z(0.9, 100.0, 1, 1.0, 1.0) == 1.0
    z, c = believable_conjecture(1e-4, 1.0, 3, 2.0, 0.5, 4)
    assert delta_of_z(z, 1.0, 3, 2.0, 0.5, 4) == pytest.approx(1e-4)
    assert delta_of_z(0.99 * z, 1.0, 3, 2.0, 0.5, 4) < 1e-4  # the smallest such z
    assert c == pytest.approx(c_of_z(z, 1.0, 3, 2.0, 0.5))
    assert believable_conjecture(0.5, 1.0, 3, 2.0, 0.5, 4) == (None, 1.0)  # only the trivial one
    assert believable_conjecture(0.01, 1.0, 1, 2.0, 1.0, 1) == (None, pytest.approx(0.02))  # N = 1


def test_reasonable_truthful_condition_2_by_hand():
    """(2): truthful at t iff [P(out | mu|_s) + c] beta^(1-s) T vbar < eps for all s <= t."""
    p = np.array([0.01, 0.02, 0.2, 0.0])
    ok = reasonable_truthful(p, c=0.01, eps=1.0, vbar=10.0, beta=1.0)  # T vbar = 40: need P + c < 0.025
    np.testing.assert_array_equal(ok, [True, False, False, False])


def test_gain_outside_the_confidence_set_is_positive_but_bounded():
    """§5: outside Omega truthful reporting need not be optimal (the cap truncates a true
    endowment above T mu_high), but any gain is below the payoff range T vbar."""
    theta = np.array([[4.0], [0.5], [1.0]])
    econ = Economy(theta, np.array([2.0]))
    # Agent 1 has a cheap project every date but an average above mu_high; at date 1 the
    # other agent's projects compete, so spending the cap there wastes it.
    mu = np.array([[[0.0, 0.0, 2.0], [0.0, 0.0, 0.0]], [[0.0, 2.0, 0.0], [0.0, 2.0, 0.0]]])
    mech = LinkedVCG(econ, 2, np.array([[0.0, 0.0, 0.5], [0.0, 0.0, 0.0]]), np.array([[0, 0, 2.0], [0, 1.0, 0]]))
    assert not mech.in_confidence_set(mu)[1]
    check = incentive_check(mech, mu, mu, 1, np.random.default_rng(0))
    assert check.gain > 0.01
    assert check.gain <= mech.horizon * econ.vbar()
    u = utility_batch(mech, mu, mu[1], 1, mu[1][None])
    assert 0 <= u[0] <= mech.horizon * econ.vbar() + 1e-9


# --------------------------------------------------------------------------- §6.3


def test_small_agents_design_by_hand():
    """Proof of Theorem 2: T[k] = ceil(k^kappa), intervals [max(pi - d, 0), pi + d],
    q_bar[k] = k q_bar, c(d)[k] = (e - sqrt(e^2 - 4 k f)) / 2 with e = eps / (k vbar)."""
    base = Economy(np.array([[3.0], [0.5], [1.0]]), np.array([1.0]))
    pi = np.array([[0.0, 0.5, 0.1], [0.0, 0.2, 0.3], [0.0, 0.4, 0.4], [0.0, 0.1, 0.2]])
    f = 1e-9
    design = small_agents_design(base, pi, d=0.15, kappa=0.5, eps=1.0, tail=lambda d, t: f)
    mech = design.mechanism
    assert mech.horizon == 2
    np.testing.assert_allclose(mech.economy.q_bar, [4.0])
    np.testing.assert_allclose(mech.mu_low, np.clip(pi - 0.15, 0, None))
    np.testing.assert_allclose(mech.mu_high, pi + 0.15)
    vbar = 1.0 / 0.5  # all of q_bar on the theta = 0.5 type
    assert base.vbar() == pytest.approx(vbar)
    e = 1.0 / (4 * vbar)
    assert design.conjecture == pytest.approx((e - math.sqrt(e * e - 16 * f)) / 2)
    # One v-bar (Zhu 2021 §5): the k-model's, v(4 q_bar, inf 1) = 4 x 2 = 8, which the design names.
    assert design.vbar == pytest.approx(4 * vbar) == mech.economy.vbar()
    # Hoeffding: sum_i 2 exp(-2 T d^2 / range_i^2) over types with a positive range.
    assert hoeffding_tail(0.3, 20, np.array([0.0, 1.0, 2.0])) == pytest.approx(
        2 * math.exp(-3.6) + 2 * math.exp(-0.9)
    )
    assert hoeffding_tail(0.1, 10, np.array([0.0, 1.0, 2.0])) == 1.0  # capped


@pytest.mark.slow
def test_theorem2_cost_to_surplus_trend():
    """Theorem 2's direction on a scaled family (beta = 1, q_bar[k] = k q_bar, T[k] =
    ceil(k^kappa), d shrinking like T^-1/2): the linked cost-to-surplus ratio falls with k
    while the unlinked one grows roughly like k (each agent is paid everyone else's surplus)."""
    rng = np.random.default_rng(7)
    theta = np.array([[4.0, 0.0], [0.0, 5.0], [0.5, 1.2], [1.1, 0.4]])
    base = Economy(theta, np.array([2.0, 2.0]))
    ratios = []
    for k in (4, 16):
        horizon = math.ceil(k**0.5)
        pi = np.zeros((k, 4))
        pi[:, 2:] = rng.uniform(0.5, 1.5, (k, 2))
        design = small_agents_design(base, pi, 0.6 / horizon**0.5, 0.5, eps=0.5,
                                     tail=lambda d, t: hoeffding_tail(d, t, np.full(4, 3.0)))  # fmt: skip
        mech = design.mechanism
        mu = pi[:, None, :] * rng.uniform(0.9, 1.1, (k, horizon, 4))
        mu = retract_rows(mu, mech.mu_low, mech.mu_high)
        surplus = mech.economy.efficient(mu.sum(axis=0)).value.sum()
        linked = mech.linked_transfers(mu).transfers.sum()
        ratios.append((linked / surplus, mech.unlinked_transfers(mu).sum() / surplus))
    assert ratios[1][0] < ratios[0][0]
    assert ratios[1][1] > 2 * ratios[0][1]
    assert ratios[1][0] < 0.1 * ratios[1][1]


def test_linprog_reference_for_value_of_bundle():
    """v(A, mu) with a bundle and no last-resort supply agrees with a dense linprog."""
    rng = np.random.default_rng(2)
    theta = random_theta(rng, 2, 2)
    econ = Economy(theta, np.array([1.0, 1.0]))
    res = linprog(-np.ones(4), A_ub=theta.T, b_ub=[0.7, 0.3], bounds=[(0, 0.2), (0, 0.0), (0, 1.0), (0, 0.5)],
                  method="highs")  # fmt: skip
    assert econ.value(np.array([[0.7, 0.3]]), np.array([[0.2, 0.0, 1.0, 0.5]]))[0] == pytest.approx(-res.fun)

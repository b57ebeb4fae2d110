"""The (gamma, delta)-core of Onyeze et al. 2025 Definition 2.1 (`additive_delta`, `core_gamma`,
`core_frontier`) against LPs written here independently (scipy HiGHS, every coalition by brute
force): S is (gamma, delta)-blocking iff some x in [0, 1]^T with sum x <= alpha_S T gives every
i in S more than (1 + gamma) u_i + delta, u_i the per-round average utility."""

from itertools import combinations

import numpy as np
import pytest
from scipy.optimize import linprog

from abm.metrics.core import additive_delta, core_factor, core_frontier, core_gamma


def instance(seed: int, t: int, n: int, zero_agent: bool = False):
    rng = np.random.default_rng(seed)
    v = rng.random((t, n)) * (rng.random((t, n)) < 0.7)
    served = rng.random((t, n)) < 0.35
    if zero_agent:
        served[:, -1] = False
    shares = rng.dirichlet(np.ones(n)) * 0.6
    return v, (v * served).sum(axis=0), shares


def coalitions(n: int):
    return [s for k in range(1, n + 1) for s in combinations(range(n), k)]


def lp_delta(v, u, shares, gamma, s):
    """max_x min_{i in S} (V_i . x - (1 + gamma) U_i) / T as an LP in (x, z)."""
    t = v.shape[0]
    s = list(s)
    obj = np.zeros(t + 1)
    obj[-1] = -1.0
    a_ub = np.hstack([-v[:, s].T / t, np.ones((len(s), 1))])  # z - V_i x / T <= -(1 + gamma) u_i
    b_ub = -(1.0 + gamma) * u[s] / t
    a_ub = np.vstack([a_ub, np.append(np.ones(t), 0.0)])
    b_ub = np.append(b_ub, shares[s].sum() * t)
    res = linprog(obj, A_ub=a_ub, b_ub=b_ub, bounds=[(0, 1)] * t + [(None, None)], method="highs")
    assert res.status == 0
    return -res.fun


def lp_gamma(v, u, shares, delta, s):
    """gamma_S(delta) = max z - 1 s.t. V_i . x / T - z u_i >= delta (i in S): -inf when no x
    gives every member delta (S cannot block), inf when the members with u_i = 0 are all of S."""
    t = v.shape[0]
    s = list(s)
    obj = np.zeros(t + 1)
    obj[-1] = -1.0
    a_ub = np.hstack([-v[:, s].T / t, (u[s] / t)[:, None]])
    b_ub = np.full(len(s), -delta)
    a_ub = np.vstack([a_ub, np.append(np.ones(t), 0.0)])
    b_ub = np.append(b_ub, shares[s].sum() * t)
    res = linprog(obj, A_ub=a_ub, b_ub=b_ub, bounds=[(0, 1)] * t + [(None, 1e9)], method="highs")
    if res.status == 2:
        return -np.inf
    assert res.status == 0
    return -res.fun - 1.0


CASES = [(0, 30, 3, False), (1, 40, 4, False), (2, 25, 4, True), (3, 60, 5, False)]


@pytest.mark.parametrize(("seed", "t", "n", "zero"), CASES)
def test_additive_delta_is_the_max_over_coalitions_of_the_lp(seed, t, n, zero):
    v, u, shares = instance(seed, t, n, zero)
    g0 = core_factor(v, u, shares).gamma
    for gamma in (0.0, 0.3, 1.5) if not np.isfinite(g0) else (0.0, 0.5 * max(g0, 0.0), max(g0, 0.0) + 0.2):
        brute = max(lp_delta(v, u, shares, gamma, s) for s in coalitions(n))
        res = additive_delta(v, u, shares, gamma)
        assert res.method == "exact"
        assert res.delta == pytest.approx(max(brute, 0.0), abs=1e-8)
        if res.delta > 0:
            assert lp_delta(v, u, shares, gamma, res.coalition) == pytest.approx(res.delta, abs=1e-8)


@pytest.mark.parametrize(("seed", "t", "n", "zero"), CASES)
def test_core_gamma_is_the_max_over_coalitions_of_the_lp(seed, t, n, zero):
    v, u, shares = instance(seed, t, n, zero)
    d_max = max(lp_delta(v, u, shares, -1.0, s) for s in coalitions(n))  # nothing blocks beyond this
    for delta in (0.0, 0.01, 0.05, 0.5 * d_max):
        brute = max(-1.0, max(lp_gamma(v, u, shares, delta, s) for s in coalitions(n)))
        got = core_gamma(v, u, shares, delta)
        if np.isinf(brute) or brute > 1e8:
            assert got == np.inf
        else:
            assert got == pytest.approx(brute, abs=1e-7)


def test_delta_zero_is_the_core_factor_and_the_frontier_falls_to_zero():
    v, u, shares = instance(4, 50, 4)
    g0 = core_factor(v, u, shares).gamma
    assert core_gamma(v, u, shares, 0.0) == pytest.approx(g0, abs=1e-8)
    fr = core_frontier(v, u, shares, g0, 5)
    assert fr["gamma"][0] == 0.0 and fr["gamma"][-1] == pytest.approx(g0)
    assert fr["delta"][-1] == pytest.approx(0.0, abs=1e-9)
    assert np.all(np.diff(fr["delta"]) <= 1e-12)  # delta(gamma) is non-increasing
    # Each frontier point inverts: at delta(gamma) the core factor is gamma.
    for g, d in zip(fr["gamma"][:-1], fr["delta"][:-1], strict=True):
        assert core_gamma(v, u, shares, d) == pytest.approx(g, abs=1e-6)


def test_bad_delta_and_gamma_name_the_field():
    v, u, shares = instance(5, 10, 2)
    with pytest.raises(ValueError, match=r"^delta must be >= 0"):
        core_gamma(v, u, shares, -0.1)
    with pytest.raises(ValueError, match=r"^gamma must be >= -1"):
        additive_delta(v, u, shares, -2.0)


def test_public_goods_reports_the_frontier_on_request():
    from abm.runs.runner import run

    base = {"agents": 3, "rounds": 300, "mechanism": "moulin"}
    plain = run("public-goods", overrides=base, progress=False).summary["metrics"]["core"]
    assert "frontier" not in plain
    core = run("public-goods", overrides={**base, "core_frontier": 3}, progress=False).summary["metrics"]["core"]
    fr = core["frontier"]
    assert fr["gamma"] == pytest.approx([0.0, core["gamma"] / 2, core["gamma"]])
    assert fr["delta"][-1] == pytest.approx(0.0, abs=1e-9) and fr["delta"][0] >= fr["delta"][1] >= 0.0
    assert fr["method"] == "exact"
    # Ex ante: from 0 to the sample LP's factor (one point, delta(0) = 0, when that factor is <= 0).
    ante = core["ex_ante"]["frontier"]
    assert ante["gamma"][-1] == pytest.approx(max(core["ex_ante"]["lp_gamma"], 0.0))
    assert ante["delta"][-1] == pytest.approx(0.0, abs=1e-9)

"""A good of cost c (Onyeze et al. 2025 §3.1) and the report cap of Algorithm 1's §3.1 alternative,
against hand formulas and subset enumeration."""

from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abm import BudgetError, Ledger
from mechanisms import ArtificialCurrency, Moulin, Potential, Proportional, Reports
from mechanisms.capabilities import ExactMenu
from mechanisms.public_goods.potential import harmonic
from mechanisms.public_goods.scaled_cost import ScaledCost

RNG = np.random.default_rng(0)
bids_st = st.lists(st.floats(0.0, 3.0, allow_nan=False), min_size=1, max_size=7).map(np.array)
cost_st = st.sampled_from([0.5, 1.0, 2.5, 7.0])


def brute_moulin_cost(b: np.ndarray, c: float) -> set[int]:
    """Largest S with b_i >= c / |S| for all i in S (every subset enumerated)."""
    for size in range(len(b), 0, -1):
        for s in combinations(range(len(b)), size):
            if all(b[i] * size >= c for i in s):
                return set(s)
    return set()


def brute_potential_cost(b: np.ndarray, c: float) -> tuple[set[int], np.ndarray]:
    """Potential for a good of cost c (P(S) = c H_|S|) by enumeration: the largest set
    maximizing sum_S b - c H_|S|, and VCG payments (others' best without i minus others'
    welfare in the chosen set)."""
    n = len(b)
    subsets = [frozenset(s) for k in range(n + 1) for s in combinations(range(n), k)]

    def welfare(s: frozenset, skip: int | None = None) -> float:
        return sum(b[j] for j in s if j != skip) - c * float(harmonic(len(s)))

    best = max(welfare(s) for s in subsets)
    chosen = max((s for s in subsets if welfare(s) >= best - 1e-12), key=len)
    pay = np.zeros(n)
    for i in chosen:
        without = max(welfare(s) for s in subsets if i not in s)
        pay[i] = without - welfare(chosen, skip=i)
    return set(chosen), pay


@settings(max_examples=150, deadline=None)
@given(bids_st, cost_st)
def test_proportional_of_cost_c(b, c):
    """Served iff the total report is >= c, each paying b_i c / sum b."""
    res = ScaledCost(Proportional(), c).run_round(Reports(b, b), RNG)
    total = b.sum()
    if total >= c * (1 + 1e-12):
        assert res.allocated and res.outcome.all()
        np.testing.assert_allclose(res.charges, b * c / total, rtol=1e-12, atol=1e-300)
    elif total < c * (1 - 1e-12):
        assert not res.allocated and res.charges.sum() == 0.0


@settings(max_examples=150, deadline=None)
@given(bids_st, cost_st)
def test_moulin_of_cost_c_matches_subset_enumeration(b, c):
    res = ScaledCost(Moulin(), c).run_round(Reports(b, b), RNG)
    expected = brute_moulin_cost(b, c)
    # Float ties (b_i * |S| == c up to round-off) may go either way; random floats avoid them.
    if any(abs(b[i] * k - c) < 1e-9 for i in range(len(b)) for k in range(1, len(b) + 1)):
        return
    assert set(np.flatnonzero(res.outcome)) == expected
    if expected:
        np.testing.assert_allclose(res.charges[list(expected)], c / len(expected), rtol=1e-12)
    assert res.charges[~res.outcome].sum() == 0.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 3.0, allow_nan=False), min_size=1, max_size=5).map(np.array), cost_st)
def test_potential_of_cost_c_matches_vcg_by_enumeration(b, c):
    served, pay = brute_potential_cost(b, c)
    res = ScaledCost(Potential(), c).run_round(Reports(b, b), RNG)
    subsets = [list(s) for k in range(len(b) + 1) for s in combinations(range(len(b)), k)]
    welfare = np.sort([b[s].sum() - c * float(harmonic(len(s))) for s in subsets])
    if welfare[-1] - welfare[-2] < 1e-6:
        return  # a near-tie between allocations: either is optimal
    assert set(np.flatnonzero(res.outcome)) == served
    np.testing.assert_allclose(res.charges, pay, atol=1e-9)


@pytest.mark.parametrize("mech", [Proportional(), Moulin(), Potential()])
def test_menus_of_cost_c_equal_rerunning_and_exact_breakpoints_scale(mech):
    c = 3.5
    scaled = ScaledCost(mech, c)
    assert isinstance(scaled, ExactMenu) == isinstance(mech, ExactMenu)
    assert scaled.p_max == pytest.approx(c * mech.p_max)
    rng = np.random.default_rng(4)
    b = rng.random(6) * 2.0
    v = rng.random(6)
    reports = Reports(b, v)
    alts = np.tile(np.array([0.0, 0.3, 0.6, 1.0, 1.7, 2.5, 4.0]), (6, 1))
    u, cost = scaled.menu_all(alts, reports)
    for i in range(6):
        for k, a in enumerate(alts[i]):
            bids = b.copy()
            bids[i] = a
            res = scaled.run_round(Reports(bids, v), rng)
            assert u[i, k] == pytest.approx(res.utilities[i])
            assert cost[i, k] == pytest.approx(res.charges[i])
    if isinstance(mech, Proportional):
        others = b.sum() - b
        np.testing.assert_allclose(scaled.menu_breakpoints(reports)[:, 1], np.maximum(c - others, 0.0))


def test_cost_one_runs_the_monetary_mechanism_itself():
    m = Proportional()
    ac = ArtificialCurrency(m, np.full(4, 0.1))
    assert ac.monetary is m and ac.p_max == 1.0
    np.testing.assert_array_equal(ac.initial_budgets(30), np.full(4, 0.1) * 30)


def test_budgets_and_p_max_of_a_good_of_cost_c():
    ac = ArtificialCurrency(Moulin(), np.full(4, 0.1), cost=8.0)
    np.testing.assert_allclose(ac.initial_budgets(30), 0.1 * 30 * 8.0)  # alpha_i T c
    assert ac.p_max == 8.0 and ac.budget_rule == "p_max"
    # Algorithm 1 line 4: a budget below p_max = c zeroes the report.
    np.testing.assert_array_equal(
        ac.enforce_budget(np.array([1.0, 2.0, 3.0, 4.0]), np.array([8.0, 7.9, 24.0, 0.0])), [1.0, 0.0, 3.0, 0.0]
    )
    cap = ArtificialCurrency(Moulin(), np.full(4, 0.1), cost=8.0, budget_rule="cap")
    assert cap.p_max == np.inf
    np.testing.assert_array_equal(
        cap.enforce_budget(np.array([1.0, 2.0, 3.0, 4.0]), np.array([8.0, 0.5, 24.0, 0.0])), [1.0, 0.5, 3.0, 0.0]
    )
    with pytest.raises(ValueError, match="budget_rule"):
        ArtificialCurrency(Moulin(), np.full(4, 0.1), budget_rule="min")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cost must be finite and > 0"):
        ScaledCost(Moulin(), 0.0)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.lists(st.floats(0, 1.0), min_size=4, max_size=4), min_size=1, max_size=30),
    st.sampled_from([Proportional(), Moulin(), Potential()]),
    st.floats(0.05, 1.0),
)
def test_report_cap_never_overdraws_an_individually_rational_mechanism(rows, mech, per_agent):
    """Capping reports at the budget (§3.1's alternative to zeroing them) keeps every
    budget >= 0 for a good of cost c whatever the reports: IR means p_i <= report <= B_i.
    Budgets (alpha_i T c = 0.2 c) sit below p_max = c, so line 4's rule would zero every report."""
    n, horizon = 4, 2
    c = per_agent * n
    ac = ArtificialCurrency(mech, np.full(n, 0.1), cost=c, budget_rule="cap")
    ledger = Ledger(ac.initial_budgets(horizon), p_max=ac.p_max)
    assert (ledger.initial < c).all()
    for t, row in enumerate(rows):
        v = np.array(row)
        bids = ac.enforce_budget(v * 3.0, ledger.remaining)
        assert (bids <= ledger.remaining).all()
        try:
            ledger.charge(ac.run_round(Reports(bids, v), RNG).charges, t)
        except BudgetError as exc:  # pragma: no cover - the property under test
            pytest.fail(str(exc))
        assert (ledger.remaining >= 0).all()
    np.testing.assert_allclose(ledger.initial, ledger.remaining + ledger.spent)

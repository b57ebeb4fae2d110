"""The budget ledger and Onyeze et al. 2025 Algorithm 1's feasibility rule."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abm import BudgetError, Ledger
from mechanisms import ArtificialCurrency, Moulin, Proportional


def test_charge_records_spend_and_conserves_tokens():
    ledger = Ledger(np.array([3.0, 2.0]), p_max=1.0)
    ledger.charge(np.array([0.5, 1.0]), t=0)
    ledger.charge(np.array([1.5, 0.5]), t=1)
    assert ledger.remaining == pytest.approx([1.0, 0.5])
    assert ledger.spent == pytest.approx([2.0, 1.5])
    # Agent 1 can no longer pay p_max = 1 after round 1; agent 0 still can.
    assert list(ledger.depleted_at) == [-1, 1]
    assert list(ledger.can_pay()) == [True, False]


def test_unbounded_charges_deplete_only_when_the_budget_is_gone():
    """With p_max = inf (APEX-style charges scale with the bid), an agent is depleted
    exactly when nothing is left."""
    ledger = Ledger(np.array([2.0, 2.0, 0.0]))
    assert list(ledger.depleted_at) == [-1, -1, 0]
    ledger.charge(np.array([2.0, 1.999, 0.0]), t=4)
    assert list(ledger.depleted_at) == [4, -1, 0]


def test_overdraw_is_refused_with_agent_named():
    ledger = Ledger(np.array([1.0, 1.0]))
    with pytest.raises(BudgetError, match="agent 1"):
        ledger.charge(np.array([0.0, 1.5]), t=3)
    with pytest.raises(BudgetError, match="finite"):
        ledger.charge(np.array([np.nan, 0.0]), t=0)


def test_negative_budget_rejected_naming_field():
    with pytest.raises(ValueError, match=r"budgets\[1\] must be >= 0, got -2"):
        Ledger(np.array([1.0, -2.0]))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.floats(0, 1.0), min_size=3, max_size=3), min_size=1, max_size=40), st.data())
def test_feasibility_rule_never_lets_a_budget_go_negative(rows, data):
    """Zeroing reports once B_i < p_max (Alg. 1 line 4) keeps every budget >= 0 under any
    reports, and tokens are conserved (initial = remaining + spent)."""
    mech = ArtificialCurrency(data.draw(st.sampled_from([Proportional(), Moulin()])), np.full(3, 0.1))
    ledger = Ledger(mech.initial_budgets(20), p_max=mech.p_max)
    rng = np.random.default_rng(0)
    for t, row in enumerate(rows):
        v = np.array(row)
        bids = mech.enforce_budget(v * 3.0, ledger.remaining)
        assert np.all(bids[~ledger.can_pay()] == 0)
        from mechanisms import Reports

        ledger.charge(mech.run_round(Reports(bids, v), rng).charges, t)
        assert np.all(ledger.remaining >= 0)
    assert ledger.initial == pytest.approx(ledger.remaining + ledger.spent)


def test_shares_must_sum_to_at_most_one():
    with pytest.raises(ValueError, match="alpha <= 1"):
        ArtificialCurrency(Proportional(), np.array([0.6, 0.6]))
    with pytest.raises(ValueError, match=r"shares\[0\] must be >= 0"):
        ArtificialCurrency(Proportional(), np.array([-0.1, 0.6]))


# -- several currencies (Braverman 2021 §2.3, Problem 13) ---------------------------------
def test_two_currencies_keep_every_invariant_per_currency():
    ledger = Ledger(np.array([[3.0, 1.0], [2.0, 2.0]]), p_max=1.0)
    assert ledger.d == 2 and ledger.n == 2
    ledger.charge(np.array([[0.5, 0.0], [1.0, 1.5]]), t=0)
    ledger.charge(np.array([[1.5, 0.5], [0.0, 0.0]]), t=1)
    assert ledger.remaining == pytest.approx(np.array([[1.0, 0.5], [1.0, 0.5]]))
    assert ledger.spent == pytest.approx(np.array([[2.0, 0.5], [1.0, 1.5]]))
    # Currency 1 of agent 1 falls below p_max in round 0, of agent 0 in round 1.
    assert ledger.depleted_at.tolist() == [[-1, 1], [-1, 0]]
    assert ledger.depleted_any.tolist() == [1, 0]
    assert ledger.n_depleted == 2
    assert ledger.initial_total.tolist() == [4.0, 4.0]
    assert ledger.spent_total == pytest.approx([2.5, 2.5])
    assert ledger.remaining_total == pytest.approx([1.5, 1.5])
    ledger.check_invariants()


def test_two_currencies_refuse_an_overdraw_in_one_currency_naming_it():
    ledger = Ledger(np.array([[1.0, 1.0], [1.0, 0.5]]))
    with pytest.raises(BudgetError, match="agent 1 in currency 1"):
        ledger.charge(np.array([[0.0, 0.0], [0.5, 0.75]]), t=3)
    with pytest.raises(BudgetError, match="agent 0 in currency 1 must be finite"):
        ledger.charge(np.array([[0.0, np.nan], [0.0, 0.0]]), t=0)
    with pytest.raises(BudgetError, match=r"shape \(2, 2\)"):
        ledger.charge(np.array([0.0, 0.0]), t=0)


def test_two_currency_budgets_name_the_bad_entry():
    with pytest.raises(ValueError, match=r"budgets\[0, 1\] must be finite and >= 0, got -1"):
        Ledger(np.array([[1.0, -1.0]]))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.lists(st.floats(0.0, 1.0), min_size=12, max_size=12), st.data())
def test_several_currencies_match_one_ledger_per_currency(n, d, fractions, data):
    """A d-currency ledger is d one-currency ledgers side by side (independent per column)."""
    budgets = np.arange(1.0, n * d + 1).reshape(n, d)
    multi = Ledger(budgets, p_max=0.5)
    single = [Ledger(budgets[:, j].copy(), p_max=0.5) for j in range(d)]
    for t in range(data.draw(st.integers(1, 6))):
        share = np.resize(np.array(fractions), (n, d))
        charges = np.minimum(share * multi.remaining, multi.remaining)
        multi.charge(charges, t)
        for j, one in enumerate(single):
            one.charge(charges[:, j].copy(), t)
        fractions = fractions[1:] + fractions[:1]
    for j, one in enumerate(single):
        assert np.array_equal(multi.remaining[:, j], one.remaining)
        assert np.array_equal(multi.spent[:, j], one.spent)
        assert np.array_equal(multi.depleted_at[:, j], one.depleted_at)
    assert multi.n_depleted == int(np.count_nonzero(np.stack([o.depleted_at for o in single], 1).max(1) >= 0))
    multi.check_invariants()
    multi.load_state_dict(multi.state_dict())

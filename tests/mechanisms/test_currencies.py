"""Several currencies by block of periods (Braverman 2021 §2.3, Problem 13)."""

import numpy as np
import pytest

from abm import MechanismModel
from mechanisms import ArtificialCurrency, Proportional, Reports
from mechanisms.capabilities import OutcomeAverage, currencies
from mechanisms.currencies import BlockCurrencies, block_of, block_rounds


def test_blocks_split_the_horizon_in_order():
    assert block_of(np.arange(7), 2, 7).tolist() == [0, 0, 0, 0, 1, 1, 1]
    assert block_rounds(3, 10).tolist() == [4, 3, 3]
    assert block_rounds(2, 7).sum() == 7


def test_charges_go_to_the_currency_of_the_round_and_the_cap_reads_it():
    inner = ArtificialCurrency(Proportional(), np.full(2, 0.5))
    mech = BlockCurrencies(inner, 2, 4)
    assert currencies(mech) == 2 and mech.p_max == inner.p_max
    rng = np.random.default_rng(0)
    reports = Reports(np.array([0.8, 0.4]), np.array([0.8, 0.4]))
    for t in range(4):
        want = inner.run_round(reports, np.random.default_rng(t)).charges
        got = mech.run_round(reports, np.random.default_rng(t)).charges
        j = t * 2 // 4
        assert got.shape == (2, 2)
        assert np.array_equal(got[:, j], want) and np.all(got[:, 1 - j] == 0)
    del rng
    # Budgets: currency 0 empty, currency 1 full. In block 0 the rule zeroes the reports.
    fresh = BlockCurrencies(inner, 2, 4)
    remaining = np.array([[0.0, 5.0], [0.0, 5.0]])
    assert fresh.enforce_budget(np.array([0.8, 0.4]), remaining).tolist() == [0.0, 0.0]
    fresh.t = 2
    assert fresh.enforce_budget(np.array([0.8, 0.4]), remaining).tolist() == [0.8, 0.4]


def test_course_allocation_terms_pays_each_term_from_its_own_budget():
    """d = 2 end to end: the ledger's spend per currency equals the recorded charges of the
    rounds of that term, and no term overdraws its budget B_ij = budget * (rounds in term j)."""
    model = MechanismModel(scenario="course-allocation-terms", agents=4, rounds=20, menu_points=4,
                           **{"welfare_rounds": 3})
    assert isinstance(model.mechanism, OutcomeAverage)
    while model.running:
        model.step()
    ledger = model.ledger
    assert ledger.d == 2
    assert ledger.initial[0].tolist() == [10.0, 10.0]
    charges = model.trace.charges[:20]  # (T, n): the total over currencies per round
    term = block_of(np.arange(20), 2, 20)
    for j in range(2):
        assert ledger.spent[:, j] == pytest.approx(charges[term == j].sum(axis=0))
    assert np.all(ledger.remaining >= 0)
    assert ledger.spent[:, 1].sum() > 0  # the second term's currency is used
    ledger.check_invariants()


def test_a_mechanism_and_budgets_with_different_currencies_are_refused():
    from abm.config import ConfigError

    with pytest.raises(ConfigError, match=r"params\.terms: 3 terms need rounds >= 3"):
        MechanismModel(scenario="course-allocation-terms", agents=4, rounds=2, **{"terms": 3})


def test_the_regret_step_solves_one_budget_row_per_currency():
    """The streamed d-row strong regret of a course-allocation-terms run equals the
    whole-array `strong_regret_currencies` (itself tested against HiGHS) on the recorded
    menus, and is at most the one-row relaxation with the total budget."""
    from abm.metrics.run_metrics import end_of_run_metrics
    from abm.metrics.strong_regret import strong_regret_currencies

    model = MechanismModel(scenario="course-allocation-terms", agents=4, rounds=24, menu_points=4,
                           **{"welfare_rounds": 3})
    while model.running:
        model.step()
    metrics = end_of_run_metrics(model)
    u, c = model.menus.all_menus()
    agents = model.menus.agents
    want = strong_regret_currencies(
        u, c, model.ledger.initial[agents], model.trace.utilities[:24][:, agents],
        model.mechanism.currency_of(np.arange(24)),
    )
    table = metrics.agent_columns.set_index("agent")
    got = table.loc[agents, "strong_regret_currencies"].to_numpy()
    np.testing.assert_allclose(got, want.regret, rtol=1e-9, atol=1e-9)
    assert np.all(got <= table.loc[agents, "strong_regret"].to_numpy() + 1e-9)
    summary = metrics.summary["strong_regret"]["currencies"]
    assert summary["rows"] == 2 and summary["max"] == pytest.approx(want.regret.max())

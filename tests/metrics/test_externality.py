"""Externalities and the Pareto check on finite outcome sets (Braverman 2021 §2.3.4)."""

from __future__ import annotations

import numpy as np
import pytest

from abm.metrics.externality import empirical_distribution, externalities, pareto_check


def test_two_player_externality_is_the_others_loss_from_their_optimum() -> None:
    """§2.3.4: Ext_B(y) = o_A - U_A(y), Ext_A(y) = o_B - U_B(y). Outcomes (rows) x players
    (Alice, Bob): y0 = (1, 0), y1 = (0.2, 0.9), y2 = (0.6, 0.6). Under p = (0.5, 0, 0.5):
    U_A = 0.8, U_B = 0.3; o_A = 1, o_B = 0.9; Ext_A = 0.9 - 0.3 = 0.6, Ext_B = 1 - 0.8 = 0.2."""
    f = np.array([[1.0, 0.0], [0.2, 0.9], [0.6, 0.6]])
    ext = externalities(f, np.array([0.5, 0.0, 0.5]))
    assert ext == pytest.approx([0.6, 0.2])


def test_n_player_externality_is_the_clarke_pivot() -> None:
    """For n players Ext_i = max_o sum_{j != i} f_j(o) - E_p sum_{j != i} f_j (eq. (12))."""
    rng = np.random.default_rng(0)
    f = rng.random((7, 4))
    p = rng.dirichlet(np.ones(7))
    ext = externalities(f, p)
    for i in range(4):
        others = np.delete(f, i, axis=1).sum(axis=1)
        assert ext[i] == pytest.approx(others.max() - p @ others)


def test_pareto_check() -> None:
    f = np.array([[1.0, 0.0], [0.0, 1.0], [0.4, 0.4], [0.6, 0.6]])
    # y2 = (0.4, 0.4) is dominated by y3 = (0.6, 0.6): gain 0.4 in total, factor 1.5.
    dominated = pareto_check(f, np.array([0.0, 0.0, 1.0, 0.0]))
    assert not dominated.efficient
    assert dominated.improvement == pytest.approx(0.4)
    assert dominated.ratio_eps == pytest.approx(0.5)
    # A vertex of the frontier is efficient; nobody gains a common factor.
    top = pareto_check(f, np.array([0.0, 0.0, 0.0, 1.0]))
    assert top.efficient and top.improvement == pytest.approx(0.0, abs=1e-9)
    assert top.ratio_eps <= 1e-9
    # Mixing y0 and y1 half-half gives (0.5, 0.5), dominated by y3 by the factor 1.2.
    mix = pareto_check(f, np.array([0.5, 0.5, 0.0, 0.0]))
    assert not mix.efficient and mix.ratio_eps == pytest.approx(0.2)


def test_empirical_distribution_and_errors() -> None:
    assert empirical_distribution(np.array([0, 2, 2, 1]), 4) == pytest.approx([0.25, 0.25, 0.5, 0.0])
    with pytest.raises(ValueError, match="probability"):
        externalities(np.ones((3, 2)), np.array([0.5, 0.6, 0.0]))
    with pytest.raises(ValueError, match="outcome_index"):
        empirical_distribution(np.array([0, 5]), 3)

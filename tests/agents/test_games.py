"""CE / CCE gaps (Braverman 2021 §1.3) on hand-computed examples, and no-regret dynamics:
Blum–Mansour players approach correlated equilibria, Hedge players coarse ones."""

import numpy as np
import pytest

from agents.experts import HedgePolicy, policy_factory
from agents.games import cce_gap, ce_gap, deviation_gains, play_bimatrix
from agents.swap import swap_factory

# Chicken, actions (Stop, Go): (S,S)=(4,4), (S,G)=(1,5), (G,S)=(5,1), (G,G)=(0,0).
CHICKEN_A = np.array([[4.0, 1.0], [5.0, 0.0]])
CHICKEN_B = CHICKEN_A.T.copy()
# Shapley's game (RPS-like, general sum): fictitious play and Hedge cycle.
SHAPLEY_A = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
SHAPLEY_B = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
RANDOM_A, RANDOM_B = np.random.default_rng(1).random((2, 3, 3))


def test_chicken_traffic_light_is_a_correlated_equilibrium():
    """1/3 on (S,S), (S,G), (G,S): told S, the opponent is S or G with prob 1/2 each and
    S pays (4+1)/2 = G's (5+0)/2; told G, the opponent stops and G's 5 beats S's 4."""
    pi = np.array([[1 / 3, 1 / 3], [1 / 3, 0.0]])
    assert ce_gap(pi, CHICKEN_A, CHICKEN_B) == pytest.approx(0.0, abs=1e-12)
    assert cce_gap(pi, CHICKEN_A, CHICKEN_B) == pytest.approx(0.0, abs=1e-12)


def test_chicken_hand_computed_gaps():
    """pi = 1/2 (S,S) + 1/2 (G,G). Row told S: G instead gains 1/2 (5-4) = 0.5; told G:
    S instead gains 1/2 (1-0) = 0.5; best swap = 1.0. Fixed deviations: always S earns
    1/2*4 + 1/2*1 = 2.5, always G 1/2*5 = 2.5, vs 1/2*4 = 2 on pi: CCE gap 0.5. Symmetric."""
    pi = np.array([[0.5, 0.0], [0.0, 0.5]])
    row, col = deviation_gains(pi, CHICKEN_A, CHICKEN_B)
    assert row == pytest.approx(np.array([[0.0, 0.5], [0.5, 0.0]]))
    assert col == pytest.approx(row)
    assert ce_gap(pi, CHICKEN_A, CHICKEN_B) == pytest.approx(1.0)
    assert cce_gap(pi, CHICKEN_A, CHICKEN_B) == pytest.approx(0.5)


def test_gaps_reject_non_distributions():
    with pytest.raises(ValueError, match="probability"):
        ce_gap(np.full((2, 2), 0.3), CHICKEN_A, CHICKEN_B)


def test_shapley_uniform_off_diagonal_is_a_ce():
    """Uniform over the 6 off-diagonal profiles is a known CE of Shapley's game."""
    pi = (1 - np.eye(3)) / 6
    assert ce_gap(pi, SHAPLEY_A, SHAPLEY_B) == pytest.approx(0.0, abs=1e-12)


def _play(kind, A, B, T=20_000, n=5, seed=0):
    rng = np.random.default_rng(seed)

    def make():
        if kind == "hedge":
            return HedgePolicy(n, A.shape[0], T, rng)
        return swap_factory(policy_factory("hedge"))(n, A.shape[0], T, rng)  # the compiled HedgeSwapPolicy

    return play_bimatrix(make(), make(), A, B, T, rng)


@pytest.mark.slow
@pytest.mark.parametrize(("A", "B"), [(SHAPLEY_A, SHAPLEY_B), (RANDOM_A, RANDOM_B)], ids=["shapley", "random"])
def test_blum_mansour_players_reach_correlated_equilibrium(A, B):
    """Two BM(Hedge) players, T = 20000, 5 independent pairs: empirical joint play has
    CE gap < 0.05 (swap regret O(K sqrt(T log K)) per player)."""
    pi = _play("bm", A, B)
    assert np.all(ce_gap(pi, A, B) < 0.05)


@pytest.mark.slow
@pytest.mark.parametrize(("A", "B"), [(SHAPLEY_A, SHAPLEY_B), (RANDOM_A, RANDOM_B)], ids=["shapley", "random"])
def test_hedge_players_reach_coarse_correlated_equilibrium(A, B):
    """Two Hedge players: CCE gap < 0.05. In Shapley's game their play cycles and is far
    from any CE — the CE gap tells the two dynamics apart."""
    pi = _play("hedge", A, B)
    assert np.all(cce_gap(pi, A, B) < 0.05)
    if A is SHAPLEY_A:
        assert np.all(ce_gap(pi, A, B) > 0.05)

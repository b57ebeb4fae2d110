"""Adaptive pacing reaches the pacing equilibrium of Onyeze et al. 2025 Theorem 3.6."""

import numpy as np
import pytest

import abm
from agents import AdaptivePacing, Feedback, Observation


@pytest.mark.slow
def test_pacing_equilibrium_under_proportional():
    """n=5, i.i.d. uniform values, M_prop, T=20000: every agent's spend per round within
    5% of alpha_i and no agent depletes before 0.95 T (Theorem 3.6: C_i(beta) = alpha_i)."""
    T = 20_000
    shares = [0.05, 0.08, 0.1, 0.12, 0.15]
    res = abm.run(
        {
            "scenario": "public-goods",
            "agents": 5,
            "rounds": T,
            "seed": 11,
            "record_menus": False,
            "agent_records": "off",
            "params": {"shares": shares, "mechanism": "proportional"},
        },
        progress=False,
    )
    table = res.agent_table
    spend_per_round = table["spent"].to_numpy() / T
    assert spend_per_round == pytest.approx(np.array(shares), rel=0.05)
    dep = table["depletion_round"].to_numpy()
    assert np.all((dep == -1) | (dep >= 0.95 * T))


def test_multiplier_moves_against_overspending():
    """One subgradient step: spending above the target rate raises mu (bids shrink)."""
    learner = AdaptivePacing.create(2, np.array([10.0, 10.0]), 100, np.random.default_rng(0), step_size=0.5)
    learner.act(Observation(0, np.array([0.5, 0.5]), np.array([10.0, 10.0])))
    # Target rho = 10/100 = 0.1; agent 0 spent 0.5 (over), agent 1 spent 0 (under).
    learner.observe(Feedback(0, np.ones(2), np.zeros(2), np.array([0.5, 0.0]), np.array([9.5, 10.0])))
    assert learner.mu[0] == pytest.approx(0.5 * (0.5 - 0.1) / 0.1)
    assert learner.mu[1] == 0.0  # projected onto [mu_min = 0, mu_max]
    bids = learner.act(Observation(1, np.array([0.5, 0.5]), np.array([9.5, 10.0])))
    assert bids == pytest.approx([0.5 / 3.0, 0.5])
    assert np.all(learner.state_dict()["mu"] == learner.mu)

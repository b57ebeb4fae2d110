"""The value distributions of the public-goods scenario (Onyeze et al. 2025 §2, §6)."""

import numpy as np
import pytest

import abm
from scenarios.public_goods import CommonShockValues, HarmonicValues, UniformValues


def test_harmonic_instance_frequencies_and_support():
    """Shared round with prob 1/2 (values 1/sigma(i) - eps), else one agent's selfish
    round (e_i) with prob 1/(2n) each."""
    n, eps = 4, 0.01
    model, rng = HarmonicValues(n, eps), np.random.default_rng(0)
    draws = np.array([model.sample(t, rng) for t in range(20_000)])
    shared = np.isclose(np.sort(draws, axis=1)[:, ::-1], 1 / np.arange(1, n + 1) - eps).all(axis=1)
    assert shared.mean() == pytest.approx(0.5, abs=0.015)
    selfish = draws[~shared]
    assert np.all(selfish.sum(axis=1) == 1.0) and np.all(selfish.max(axis=1) == 1.0)
    assert np.bincount(selfish.argmax(axis=1), minlength=n) / len(draws) == pytest.approx(
        np.full(n, 1 / (2 * n)), abs=0.015
    )


def test_common_shock_correlates_agents():
    rng = np.random.default_rng(1)
    draws = np.array([CommonShockValues(2, 0.8).sample(t, rng) for t in range(5000)])
    independent = np.array([UniformValues(2).sample(t, rng) for t in range(5000)])
    assert np.corrcoef(draws.T)[0, 1] > 0.8
    assert abs(np.corrcoef(independent.T)[0, 1]) < 0.05
    assert draws.min() >= 0 and draws.max() <= 1


def test_harmonic_run_under_moulin_with_truthful_bids_skips_shared_rounds():
    """§6: with beta = 1 Moulin never allocates a shared round; each agent buys only its
    selfish rounds, so goods allocated ~ T/2 and each agent spends ~ alpha_i T."""
    res = abm.run(
        {
            "scenario": "public-goods",
            "agents": 4,
            "rounds": 4000,
            "learner": {"name": "truthful"},
            "params": {"values": "harmonic", "mechanism": "moulin"},
        },
        progress=False,
    )
    assert res.agent_table["share"].to_numpy() == pytest.approx(np.full(4, 1 / 8))
    utilities = res.agent_table["utility"].to_numpy()
    spent = res.agent_table["spent"].to_numpy()
    # Only selfish rounds are served, each at price 1 with value 1: utility == spend.
    assert utilities == pytest.approx(spent)
    assert res.summary["scenario_summary"]["goods_allocated"] == pytest.approx(2000, rel=0.1)

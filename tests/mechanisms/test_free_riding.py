"""The free-riding deviation (Onyeze et al. 2025 §1) against the focal pacing equilibrium: it pays
under Proportional when values are strongly correlated and not under the IC mechanisms
(Theorem 3.7), and its Proportional numbers match a direct computation."""

import numpy as np
import pytest

from abm.runs.runner import run
from mechanisms.public_goods import ArtificialCurrency, Moulin, Proportional
from mechanisms.public_goods.free_riding import free_riding_gain
from mechanisms.public_goods.pacing_equilibrium import pacing_equilibrium
from mechanisms.public_goods.potential import Potential
from scenarios.public_goods import CommonShockValues

N = 4
SHARES = np.full(N, 0.5 / N)


def common_shock(rho: float, draws: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = CommonShockValues(N, rho)
    return np.stack([values.sample(t, rng) for t in range(draws)])


@pytest.fixture(scope="module")
def correlated() -> np.ndarray:
    return common_shock(0.9, 20_000, 5)


def test_proportional_free_rider_gains_and_matches_the_direct_formula(correlated):
    x = correlated
    rng = np.random.default_rng(0)
    mech = ArtificialCurrency(Proportional(), SHARES)
    eq = pacing_equilibrium(mech, x, SHARES, rng)
    g = free_riding_gain(mech, x, eq, rng, quantile=0.8)
    # Proportional serves everyone iff the reports sum to >= 1 (Onyeze et al. 2025 §3.3).
    focal = x[:, 0] * ((x / eq.beta).sum(axis=1) >= 1.0)
    low = x[:, 0] <= np.quantile(x[:, 0], 0.8)
    own = np.where(low, x[:, 0] / g.beta, 0.0)
    total = own + (x[:, 1:] / eq.beta[1:]).sum(axis=1)
    deviation = x[:, 0] * (total >= 1.0)
    assert g.utility_focal == pytest.approx(focal.mean(), rel=1e-12)
    assert g.utility_deviation == pytest.approx(deviation.mean(), rel=1e-12)
    spend = np.where(total >= 1.0, own / total, 0.0).mean()
    assert spend == pytest.approx(SHARES[0], rel=0.05) and g.converged
    assert g.gain > 0.03, g  # free-riding on the high rounds buys more of the low ones


@pytest.mark.parametrize("monetary", [Moulin, Potential])
def test_ic_mechanisms_punish_the_free_rider(correlated, monetary):
    rng = np.random.default_rng(1)
    mech = ArtificialCurrency(monetary(), SHARES)
    eq = pacing_equilibrium(mech, correlated, SHARES, rng)
    g = free_riding_gain(mech, correlated, eq, rng, quantile=0.8)
    assert g.gain < -0.1, g  # a zero report is excluded: the high rounds are lost


def test_free_riding_needs_correlation_under_proportional():
    """Independent values (rho = 0): an own high value says nothing about the others, and
    dropping out of the high rounds loses them: the deviation does not pay."""
    x = common_shock(0.0, 20_000, 6)
    rng = np.random.default_rng(2)
    mech = ArtificialCurrency(Proportional(), SHARES)
    g = free_riding_gain(mech, x, pacing_equilibrium(mech, x, SHARES, rng), rng, quantile=0.8)
    assert g.gain < 0.0, g


def test_scenario_reports_the_gain():
    out = {}
    for mech in ("proportional", "moulin"):
        result = run("public-goods", overrides={
            "agents": N, "rounds": 20, "mechanism": mech, "values": "correlated", "correlation": 0.9,
            "learner.name": "value_scaling", "learner.params.beta": "equilibrium", "free_riding_quantile": 0.8,
            "equilibrium_samples": 10_000}, progress=False)  # fmt: skip
        out[mech] = result.summary["scenario_summary"]["free_riding"]
    assert out["proportional"]["gain"] > 0 > out["moulin"]["gain"]
    assert out["proportional"]["agent"] == 0 and out["proportional"]["quantile"] == 0.8

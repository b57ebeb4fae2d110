"""The focal pacing equilibrium C_i(beta) = alpha_i (Onyeze et al. 2025, Definition 3.3,
Theorem 3.6) against closed forms."""

import math

import numpy as np
import pytest

from abm.config import ConfigError
from abm.runs.runner import run
from mechanisms.public_goods import ArtificialCurrency, Moulin, Proportional
from mechanisms.public_goods.pacing_equilibrium import expected_costs, symmetric_pacing_equilibrium
from scenarios.public_goods import HarmonicValues


def harmonic_number(n: int) -> float:
    return sum(1.0 / k for k in range(1, n + 1))


@pytest.mark.parametrize("n", [2, 5])
def test_harmonic_instance_spends_its_share_on_exactly_one_to_h_n_minus_n_eps(n):
    """§6 instance under Proportional: selfish rounds (report 1 / beta) are bought iff beta <= 1,
    shared rounds (total report (H_n - n eps) / beta) iff beta <= H_n - n eps, and a shared round
    costs each agent 1/n on average: C_i = alpha_i = 1/(2n) exactly on (1, H_n - n eps]."""
    eps = 0.01
    rng = np.random.default_rng(0)
    samples = np.stack([HarmonicValues(n, eps).sample(t, rng) for t in range(20_000)])
    mech = ArtificialCurrency(Proportional(), np.full(n, 1 / (2 * n)))
    eq = symmetric_pacing_equilibrium(mech, samples, 1 / (2 * n), rng)
    lo, hi = eq.interval
    assert lo == pytest.approx(1.0, rel=1e-9)
    assert hi == pytest.approx(harmonic_number(n) - n * eps, rel=1e-9)
    assert eq.beta == pytest.approx(math.sqrt(lo * hi), rel=1e-9)
    assert np.all(np.abs(eq.costs - 1 / (2 * n)) <= 3 * eq.tolerance)
    # Outside the interval the spend jumps: every selfish round bought at beta = 1, nothing above H_n - n eps.
    at_one = expected_costs(mech, samples, np.ones(n), rng)
    assert at_one.mean() == pytest.approx(1 / n, rel=0.05)
    assert expected_costs(mech, samples, np.full(n, 1.01 * hi), rng).sum() == 0.0


@pytest.mark.parametrize(("n", "rate", "beta"), [(2, 0.25 / 2, 2 - math.sqrt(0.5)), (3, 0.5 / 3, 1.5)])
def test_uniform_values_solve_the_irwin_hall_tail(n, rate, beta):
    """Proportional on U[0,1]^n: total payment 1[sum V >= beta], so n C(beta) = P(S_n >= beta)
    = n * rate. n = 2: (2 - beta)^2 / 2 = 1/4 at beta = 2 - sqrt(1/2); n = 3: the median of S_3 is 3/2."""
    rng = np.random.default_rng(1)
    samples = rng.random((40_000, n))
    mech = ArtificialCurrency(Proportional(), np.full(n, rate))
    eq = symmetric_pacing_equilibrium(mech, samples, rate, rng)
    assert eq.beta == pytest.approx(beta, rel=0.02)
    assert eq.interval[1] / eq.interval[0] < 1.05  # continuous: a narrow band around one crossing


def test_moulin_costs_are_the_selfish_rounds_at_truthful_reports():
    """Moulin on the harmonic instance at beta = 1: shared rounds are never bought (no k agents
    report >= 1/k), selfish rounds cost 1: C_i = 1/(2n), the §6 instance's alpha_i."""
    n = 4
    rng = np.random.default_rng(2)
    samples = np.stack([HarmonicValues(n, 0.01).sample(t, rng) for t in range(20_000)])
    costs = expected_costs(ArtificialCurrency(Moulin(), np.full(n, 1 / (2 * n))), samples, np.ones(n), rng)
    assert costs == pytest.approx(np.full(n, 1 / (2 * n)), abs=0.01)


def test_unattainable_rate_is_an_error():
    rng = np.random.default_rng(3)
    mech = ArtificialCurrency(Proportional(), np.full(2, 0.5))
    with pytest.raises(ValueError, match=r"rate: no beta >= 0\.001 spends 0\.9 per round"):
        symmetric_pacing_equilibrium(mech, rng.random((1000, 2)), 0.9, rng)


def test_scenario_runs_value_scaling_at_the_equilibrium_beta():
    result = run(
        "public-goods",
        overrides={"agents": 3, "rounds": 200, "values": "harmonic", "learner.name": "value_scaling",
                   "pacing_equilibrium": True},
        progress=False,
    )  # fmt: skip
    eq = result.summary["scenario_summary"]["pacing_equilibrium"]
    assert eq["interval"] == pytest.approx([1.0, harmonic_number(3) - 0.03], rel=1e-9)
    values, reports = result.model.trace.values[:200], result.model.trace.reports[:200]
    bid = reports > 0  # zero values, and agents past depletion (p_max rule), report 0
    assert bid.mean() > 0.4
    np.testing.assert_allclose(values[bid] / reports[bid], eq["beta"], rtol=1e-12)


def test_scenario_rejects_what_one_common_beta_cannot_serve():
    base = {"agents": 2, "rounds": 10, "pacing_equilibrium": True}
    with pytest.raises(ConfigError, match=r"group 'all' must use learner value_scaling without params\.beta"):
        run("public-goods", overrides=base, progress=False)  # the TOML's adaptive_pacing
    with pytest.raises(ConfigError, match="needs equal shares"):
        run("public-goods", overrides={**base, "learner.name": "value_scaling", "shares": [0.1, 0.3]}, progress=False)

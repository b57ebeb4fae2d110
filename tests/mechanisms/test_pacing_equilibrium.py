"""The focal pacing equilibrium C_i(beta) = alpha_i (Onyeze et al. 2025, Definition 3.3,
Theorem 3.6, Theorem B.4) against closed forms and by re-simulating the spend at the solved beta."""

import math

import numpy as np
import pytest

from abm.config import ConfigError
from abm.runs.runner import run
from mechanisms.public_goods import ArtificialCurrency, Moulin, Proportional
from mechanisms.public_goods.pacing_equilibrium import expected_costs, pacing_equilibrium
from mechanisms.public_goods.potential import Potential
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
    eq = pacing_equilibrium(mech, samples, 1 / (2 * n), rng)
    lo, hi = eq.interval
    assert lo == pytest.approx(1.0, rel=1e-9)
    assert hi == pytest.approx(harmonic_number(n) - n * eps, rel=1e-9)
    assert eq.converged and eq.iterations == 0  # the symmetric middle already spends every share
    np.testing.assert_allclose(eq.beta, math.sqrt(lo * hi), rtol=1e-9)
    assert np.all(np.abs(eq.costs - 1 / (2 * n)) <= eq.tolerance)
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
    eq = pacing_equilibrium(mech, samples, rate, rng)
    np.testing.assert_allclose(eq.beta, beta, rtol=0.02)
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
        pacing_equilibrium(mech, rng.random((1000, 2)), 0.9, rng)


@pytest.mark.parametrize("monetary", [Proportional, Moulin, Potential])
def test_unequal_shares_spend_their_shares_on_fresh_samples(monetary):
    """Per-agent beta for unequal shares: the solver stops within its stated tolerance on its own
    samples, and the spend re-simulated at the solved beta on 200 000 fresh draws (common shock
    values, rho = 0.5) matches each share within that tolerance plus the fresh sample's noise."""
    from scenarios.public_goods import CommonShockValues

    rng = np.random.default_rng(11)
    shares = np.array([0.05, 0.1, 0.15, 0.2])
    values = CommonShockValues(4, 0.5)
    samples = np.stack([values.sample(t, rng) for t in range(20_000)])
    mech = ArtificialCurrency(monetary(), shares)
    eq = pacing_equilibrium(mech, samples, shares, rng)
    assert eq.converged and eq.max_residual <= 1.0
    assert np.all(np.abs(eq.costs - shares) <= eq.tolerance)
    # Smaller shares scale their values down more (beta_i falls as alpha_i grows).
    assert np.all(np.diff(eq.beta) < 0)
    fresh = np.stack([values.sample(t, rng) for t in range(200_000)])
    resim = expected_costs(mech, fresh, eq.beta, rng)
    noise = eq.tolerance * math.sqrt(20_000 / 200_000)  # the same standard errors on 10x the draws
    assert np.all(np.abs(resim - shares) <= eq.tolerance + noise), (resim, shares, eq.tolerance)


def test_fixed_agents_keep_their_beta_and_the_free_ones_spend():
    """free: agent 0 is held truthful (beta = 1) and the others solve against it."""
    rng = np.random.default_rng(12)
    shares = np.full(3, 0.5 / 3)
    samples = rng.random((20_000, 3))
    mech = ArtificialCurrency(Proportional(), shares)
    free = np.array([False, True, True])
    eq = pacing_equilibrium(mech, samples, shares, rng, beta0=1.0, free=free)
    assert eq.beta[0] == 1.0 and eq.converged
    assert np.all(np.abs(eq.costs[1:] - shares[1:]) <= eq.tolerance[1:])
    assert eq.residual[0] == 0.0


def test_bad_solver_input_names_the_field():
    rng = np.random.default_rng(13)
    mech = ArtificialCurrency(Proportional(), np.full(2, 0.25))
    x = rng.random((100, 2))
    with pytest.raises(ValueError, match=r"^beta0 must be finite and > 0"):
        pacing_equilibrium(mech, x, 0.25, rng, beta0=[1.0, -1.0])
    with pytest.raises(ValueError, match=r"^free must be a boolean mask of length 2"):
        pacing_equilibrium(mech, x, 0.25, rng, free=[False, False])
    with pytest.raises(ValueError, match=r"^rate must be finite and > 0"):
        pacing_equilibrium(mech, x, [0.25, 0.0], rng)


def test_scenario_runs_value_scaling_at_the_equilibrium_beta():
    result = run(
        "public-goods",
        overrides={"agents": 3, "rounds": 200, "values": "harmonic", "learner.name": "value_scaling",
                   "learner.params.beta": "equilibrium"},
        progress=False,
    )  # fmt: skip
    eq = result.summary["scenario_summary"]["pacing_equilibrium"]
    assert eq["scale_interval"] == pytest.approx([1.0, harmonic_number(3) - 0.03], rel=1e-9)
    assert eq["converged"] is True
    values, reports = result.model.trace.values[:200], result.model.trace.reports[:200]
    bid = reports > 0  # zero values, and agents past depletion (p_max rule), report 0
    assert bid.mean() > 0.4
    beta = np.broadcast_to(np.asarray(eq["beta"]), values.shape)
    np.testing.assert_allclose(values[bid] / reports[bid], beta[bid], rtol=1e-12)


def test_scenario_solves_unequal_shares_per_agent_and_keeps_fixed_groups():
    """Two population groups: 'fixed' plays value_scaling with an explicit per-agent beta list,
    'solved' asks for the equilibrium against it; the summary's beta is both, in agent order."""
    result = run(
        "public-goods",
        overrides={"agents": 4, "rounds": 50, "shares": [0.05, 0.1, 0.15, 0.2], "equilibrium_samples": 5000,
                   "population": [
                       {"name": "fixed", "count": 2, "learner": "value_scaling", "params": {"beta": [3.0, 2.0]}},
                       {"name": "solved", "count": 2, "learner": "value_scaling",
                        "params": {"beta": "equilibrium"}}]},
        progress=False,
    )  # fmt: skip
    eq = result.summary["scenario_summary"]["pacing_equilibrium"]
    assert eq["beta"][:2] == [3.0, 2.0]
    assert eq["converged"] is True
    tol = np.asarray(eq["tolerance"])[2:]
    assert np.all(np.abs(np.asarray(eq["expected_cost"])[2:] - [0.15, 0.2]) <= tol)
    values, reports = result.model.trace.values[:50], result.model.trace.reports[:50]
    bid = reports > 0
    beta = np.broadcast_to(np.asarray(eq["beta"]), values.shape)
    np.testing.assert_allclose(values[bid] / reports[bid], beta[bid], rtol=1e-12)


def test_scenario_rejects_what_the_equilibrium_cannot_serve():
    base = {"agents": 2, "rounds": 10, "pacing_equilibrium": True}
    with pytest.raises(ConfigError, match=r"group 'all' must use learner value_scaling without params\.beta"):
        run("public-goods", overrides=base, progress=False)  # the TOML's adaptive_pacing
    mixed = {"agents": 2, "rounds": 10, "population": [
        {"name": "a", "count": 1, "learner": "value_scaling", "params": {"beta": "equilibrium"}},
        {"name": "b", "count": 1, "learner": "adaptive_pacing"}]}  # fmt: skip
    with pytest.raises(ConfigError, match=r"group 'b' plays 'adaptive_pacing'"):
        run("public-goods", overrides=mixed, progress=False)
    with pytest.raises(ConfigError, match=r"^params.free_riding_quantile: prices a deviation"):
        run("public-goods", overrides={"agents": 2, "rounds": 10, "free_riding_quantile": 0.8}, progress=False)


def test_value_scaling_beta_lists_are_checked_per_group():
    with pytest.raises(ConfigError, match=r"^learner.params.beta: group 'all' has 3 agents but 2 entries"):
        run("public-goods", overrides={"agents": 3, "rounds": 5, "learner.name": "value_scaling",
                                       "learner.params.beta": [1.0, 2.0]}, progress=False)  # fmt: skip
    with pytest.raises(Exception, match=r"learner.params.beta"):
        run("public-goods", overrides={"agents": 2, "rounds": 5, "learner.name": "value_scaling",
                                       "learner.params.beta": [1.0, -2.0]}, progress=False)  # fmt: skip
    with pytest.raises(Exception, match=r"learner.params.beta: 'equilibrium' is solved by a scenario"):
        run("voting", overrides={"rounds": 5, "learner.name": "value_scaling",
                                 "learner.params.beta": "equilibrium"}, progress=False)  # fmt: skip


def test_many_goods_refuse_what_is_solved_for_the_single_good():
    base = {"agents": 2, "rounds": 5, "goods": 2, "mechanism": "potential"}
    with pytest.raises(ConfigError, match=r"'equilibrium': the focal pacing equilibrium is solved"):
        run("public-goods", overrides={**base, "learner.name": "value_scaling", "learner.params.beta": "equilibrium"},
            progress=False)  # fmt: skip
    with pytest.raises(ConfigError, match=r"core_frontier = 3 is for the single good"):
        run("public-goods", overrides={**base, "core_frontier": 3}, progress=False)

"""Public goods with a good whose cost grows with n (Onyeze et al. 2025 §3.1, a good of cost c)
and the large-public-goods scenario."""

import numpy as np
import pytest

import abm
from abm.config import ConfigError
from abm.model import MechanismModel
from abm.resolve import resolve_config
from abm.scenario import get_scenario
from mechanisms import Proportional


def run(agents: int, rounds: int, **params):
    overrides = {"agents": agents, "rounds": rounds, **{f"params.{k}": v for k, v in params.items()}}
    return abm.run("public-goods", overrides=overrides, progress=False)


def test_cost_per_agent_sets_the_cost_and_budgets_alpha_i_t_c():
    res = run(40, 60, cost_per_agent=0.25, budget_rule="cap")
    mech = res.model.mechanism
    assert mech.cost == pytest.approx(10.0)  # c = 0.25 * 40
    # B_i[0] = alpha_i T c = (0.5 / 40) * 60 * 10
    np.testing.assert_allclose(res.model.ledger.initial, np.full(40, 7.5))
    assert mech.p_max == np.inf


def test_cap_lets_a_large_population_pay_for_a_costly_good():
    """Budgets 7.5 < c = 10, so no agent could bid under line 4's p_max rule; capped at
    their budgets, every agent bids in round 0, and each allocated round's charges cover
    exactly c (Proportional is budget-balanced), so at most alpha T goods are allocated
    (Proposition 3.1)."""
    n, rounds = 40, 60
    cfg = resolve_config(
        "public-goods", {"agents": n, "rounds": rounds, "params.cost_per_agent": 0.25, "params.budget_rule": "cap"}
    )
    model = MechanismModel(cfg)
    allocated = 0
    for t in range(rounds):
        model.step()
        if t == 0:
            assert (model.last_reports > 0).all()
        if model.last_allocated:
            allocated += 1
            assert model.last_charges.sum() == pytest.approx(10.0)
            assert np.count_nonzero(model.last_charges) > n // 2  # many agents share the cost
        else:
            assert model.last_charges.sum() == 0.0
    assert 0 < allocated <= 0.5 * rounds
    np.testing.assert_allclose(model.ledger.spent.sum(), 10.0 * allocated)


def test_p_max_rule_with_a_costly_good_zeroes_every_report():
    """The same budgets under Algorithm 1's line 4 (B_i >= p_max = c to bid): nobody bids."""
    res = run(40, 60, cost_per_agent=0.25)
    assert res.model.mechanism.p_max == pytest.approx(10.0)
    assert res.summary["scenario_summary"]["goods_allocated"] == 0
    assert (res.rounds["mean_report"] == 0).all()


def test_default_cost_is_one_and_runs_the_monetary_mechanism_unwrapped():
    model = MechanismModel(resolve_config("public-goods", {"agents": 3, "rounds": 5}))
    assert isinstance(model.mechanism.monetary, Proportional)
    assert model.mechanism.cost == 1.0 and model.mechanism.p_max == 1.0


def test_harmonic_instance_refuses_a_cost_per_agent():
    with pytest.raises(ConfigError, match="harmonic"):
        run(4, 5, values="harmonic", cost_per_agent=0.5)


def test_large_public_goods_defaults():
    cfg = resolve_config("large-public-goods")
    assert cfg.agents == 1_000_000
    defaults = get_scenario("large-public-goods").parse_params({})  # what `mechsim describe` shows
    assert defaults.cost_per_agent == 0.25 and defaults.budget_rule == "cap"
    assert cfg.params["cost_per_agent"] == 0.25 and cfg.params["budget_rule"] == "cap"
    res = abm.run("large-public-goods", overrides={"agents": 50, "rounds": 30}, progress=False)
    assert res.model.mechanism.cost == pytest.approx(12.5)
    assert res.summary["scenario_summary"]["goods_allocated"] <= 15
    assert (res.agent_table["spent"] > 0).all()

"""public-goods with m goods and a submodular cost (Onyeze et al. 2025 §2.1, §7): the instance,
the learners' one-dimensional reports, the replayed draws of the core step, Theorem 7.2's
bound and Proposition 3.1 in the summary, and the config errors."""

import numpy as np
import pytest

import abm
from abm.config import ConfigError
from mechanisms.public_goods.goods import GoodsPotential, bundle_values
from mechanisms.public_goods.potential import harmonic


def run(agents: int = 3, rounds: int = 120, learner: str | None = None, **params):
    overrides = {"agents": agents, "rounds": rounds, **{f"params.{k}": v for k, v in params.items()}}
    if learner is not None:
        overrides["learner.name"] = learner
    return abm.run("public-goods", overrides=overrides, progress=False)


@pytest.mark.parametrize("cost", ["per_good", "cardinality", "coverage"])
def test_each_cost_family_runs_with_the_bound_and_feasibility_in_the_summary(cost):
    res = run(goods=2, cost=cost, mechanism="potential", cost_random=True, cost_pool=3)
    core = res.summary["metrics"]["core"]
    assert core["goods"] == 2 and core["method"] == "exact"
    assert core["theorem_7_2"]["gamma_bound"] == pytest.approx(harmonic(3) - 1.0)
    assert core["theorem_7_2"]["dwl_within_bound"] is True
    assert core["feasibility"]["holds"] is True
    assert core["feasibility"]["total_cost"] <= core["feasibility"]["alpha_T"] + 1e-9
    assert np.isfinite(core["gamma"]) and np.isfinite(core["ex_ante"]["lp_gamma"])
    mech = res.model.mechanism.monetary
    assert isinstance(mech, GoodsPotential) and len(mech.costs) == 3
    # Algorithm 1: B_i[0] = alpha_i T and the p_max of the many-goods mechanism.
    np.testing.assert_allclose(res.model.ledger.initial, np.full(3, 0.5 / 3 * 120))
    assert res.model.ledger.p_max == mech.p_max


def test_the_core_step_replays_the_draws_the_run_played():
    """The values stream replayed gives the run's values (the learners saw s_i = sum_k V_ik)."""
    res = run(goods=3, cost="coverage", cost_random=True, mechanism="potential")
    model = res.model
    rng = model.streams.generator("values")
    replay = np.stack([model.instance.values.draw(t, rng)[0] for t in range(120)])
    np.testing.assert_allclose(model.trace.values[:120], bundle_values(replay))


@pytest.mark.parametrize("learner", ["truthful", "value_scaling", "adaptive_pacing"])
def test_learners_report_one_scalar_per_agent(learner):
    res = run(goods=2, cost="cardinality", learner=learner, mechanism="potential")
    trace = res.model.trace
    values, reports = trace.values[:120], trace.reports[:120]
    assert reports.shape == (120, 3) and (reports >= 0).all()
    if learner == "truthful":
        live = res.model.ledger.remaining >= 0  # zeroed reports only after depletion
        assert live.all()
        active = reports > 0
        np.testing.assert_allclose(reports[active], values[active])
    assert "strong_regret" in res.summary["metrics"]


def test_one_good_with_the_default_cost_is_the_single_good():
    a = run(rounds=80, mechanism="moulin")
    b = run(rounds=80, mechanism="moulin", goods=1)
    assert a.summary["metrics"]["core"]["gamma"] == b.summary["metrics"]["core"]["gamma"]
    np.testing.assert_array_equal(a.model.trace.reports[:80], b.model.trace.reports[:80])
    assert "goods" not in a.summary["metrics"]["core"]


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"goods": 2, "mechanism": "moulin"}, "params.mechanism.*potential"),
        ({"goods": 2, "cost_weights": [0.5]}, "cost_weights"),
        ({"goods": 2, "cost_weights": [0.7, 0.7]}, "cost_weights"),
        ({"goods": 2, "values": "harmonic", "mechanism": "potential"}, "values"),
        ({"goods": 2, "cost_per_agent": 0.5, "mechanism": "potential"}, "cost_per_agent"),
        ({"goods": 6, "mechanism": "potential"}, "params.goods.*agents \\* goods"),
    ],
)
def test_bad_goods_config_names_the_field(params, match):
    with pytest.raises(ConfigError, match=match):
        run(rounds=10, **params)

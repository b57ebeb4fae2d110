"""The one-sided scenario (Braverman 2021 §3.2) end to end through `abm.runs.runner.run`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from abm.config import ConfigError
from abm.runs.runner import run
from mechanisms.assignment.hz import hz_residuals
from mechanisms.assignment.vcg import unit_demand_vcg
from scenarios.one_sided import PAPER_4X4, make_utilities, normalize


def config(**kw):
    base = {"scenario": "one-sided", "agents": 5, "rounds": 40, "seed": 3, "menu_points": 8}
    params = kw.pop("params", {})
    return {**base, **kw, "params": params}


def test_exact_run_writes_outputs_and_hz_summary(tmp_path):
    res = run(config(), out=tmp_path, progress=False)
    for name in ("rounds.parquet", "agents.parquet", "summary.json", "menus.npz"):
        assert (tmp_path / name).is_file()
    summary = json.loads((tmp_path / "summary.json").read_text())
    s = summary["scenario_summary"]
    x_bar = np.array(s["x_bar"])
    np.testing.assert_allclose(x_bar.sum(axis=0), 1.0, atol=1e-7)
    np.testing.assert_allclose(x_bar.sum(axis=1), 1.0, atol=1e-7)
    model = res.model
    apex = model.mechanism
    np.testing.assert_allclose(s["token_spend"], model.ledger.spent, atol=1e-7)
    assert (model.ledger.spent <= model.ledger.initial + 1e-9).all()  # 1 token / round on average
    np.testing.assert_allclose(s["item_prices_mean"], apex.mean_item_prices, atol=1e-7)
    # The reported HZ residuals are those of (X-bar, average prices), recomputed here.
    u = apex.problem.u
    rep = hz_residuals(u, apex.x_bar, apex.mean_item_prices, 1.0, tol=0.05)
    assert s["hz"]["best_response_gain"] == pytest.approx(rep.best_response_gain, abs=1e-9)
    assert s["hz"]["budget_violation"] == pytest.approx(rep.budget_violation, abs=1e-9)
    assert s["hz"]["clearing_error"] == pytest.approx(rep.clearing_error, abs=1e-9)
    assert s["welfare_max_assignment"] == pytest.approx(unit_demand_vcg(u).welfare)
    assert s["welfare_x_bar"] <= s["welfare_max_assignment"] + 1e-9
    # Menus recorded each round: the played column is the realized utility and charge.
    menus = np.load(tmp_path / "menus.npz")
    np.testing.assert_allclose(menus["cost"][:, :, -1].sum(axis=0), model.ledger.spent, atol=1e-7)


def test_regularized_run_and_bang_per_buck_learner():
    cfg = config(agents=4, rounds=6, learner={"name": "bang_per_buck"}, params={"heuristic": "regularized"})
    cfg["params"]["beta"] = 1e-2
    res = run(cfg, progress=False)
    s = res.summary["scenario_summary"]
    assert s["heuristic"] == "RegularizedAssignment"
    x_bar = np.array(s["x_bar"])
    assert (x_bar > 0).all()  # the barrier keeps every entry positive
    np.testing.assert_allclose(x_bar.sum(axis=1), 1.0, atol=1e-9)
    assert (res.model.ledger.remaining >= -1e-12).all()


def test_paper_instance_runs_and_checks_agent_count():
    res = run(config(agents=4, rounds=20, params={"utilities": "paper_4x4"}), progress=False)
    np.testing.assert_allclose(res.model.mechanism.problem.u, normalize(PAPER_4X4))
    with pytest.raises((ValueError, ConfigError), match="agents must be 4"):
        run(config(agents=5, rounds=2, params={"utilities": "paper_4x4"}), progress=False)
    with pytest.raises(ConfigError, match="heuristic"):
        run(config(params={"heuristic": "greedy"}), progress=False)


@pytest.mark.parametrize("kind", ["uniform", "correlated"])
def test_generated_utilities_are_normalized(kind):
    u = make_utilities(kind, 7, 0.8, np.random.default_rng(0))
    assert u.shape == (7, 7)
    np.testing.assert_allclose(u.min(axis=1), 0.0)
    np.testing.assert_allclose(u.max(axis=1), 1.0)


def test_correlated_utilities_share_item_quality():
    rng = np.random.default_rng(1)
    u = make_utilities("correlated", 60, 0.9, rng)
    col = u.mean(axis=0)
    # Strong common quality: agents agree on the ranking of items (mean pairwise rank corr).
    ranks = u.argsort(axis=1).argsort(axis=1)
    corr = np.corrcoef(ranks)[np.triu_indices(60, 1)].mean()
    assert corr > 0.8 and col.std() > 0.2


def test_regularized_verdict_uses_theorem13_prices():
    # Braverman 2021, §3.2.4: X-bar is judged at (1 - delta) C(lambda*), lambda* the eq. (47)
    # best responses, not at the mean of the unregularized per-round VCG prices.
    from mechanisms.assignment.theorem13 import theorem13_report

    cfg = config(agents=4, rounds=30, params={"utilities": "paper_4x4", "heuristic": "regularized", "beta": 1e-2})
    res = run(cfg, progress=False)
    s = res.summary["scenario_summary"]
    t13 = s["theorem13"]
    model = res.model
    u = model.mechanism.problem.u
    rep = theorem13_report(
        model.mechanism.problem, model.trace.reports, model.mechanism.x_bar.reshape(4, 4), model.ledger.initial
    )
    np.testing.assert_allclose(t13["lambda"], rep.lam, rtol=1e-9)
    assert t13["delta_full"] == pytest.approx(rep.deltas["full"].delta)
    assert t13["delta_third"] == pytest.approx(rep.deltas["third"].delta)
    prices = (1 - t13["delta_full"]) * np.array(t13["prices"])
    np.testing.assert_allclose(s["hz"]["prices"], prices, atol=1e-9)
    assert s["hz"]["price_basis"].startswith("theorem13")
    hz = hz_residuals(u, model.mechanism.x_bar.reshape(4, 4), prices, 1.0, tol=0.05)
    assert s["hz"]["best_response_gain"] == pytest.approx(hz.best_response_gain, abs=1e-9)
    assert s["hz"]["budget_violation"] <= 1e-9  # delta makes X-bar affordable
    assert s["hz"]["best_response_gain"] <= t13["delta_full"] + 1e-9
    # the exact heuristic keeps the mean per-round VCG prices
    exact = run(config(agents=4, rounds=10), progress=False).summary["scenario_summary"]
    assert exact["hz"]["price_basis"] == "mean per-round VCG prices" and "theorem13" not in exact


def test_bid_cap_caps_the_played_bids():
    cfg = config(agents=4, rounds=30, params={"utilities": "paper_4x4", "bid_cap": 1.5})
    res = run(cfg, progress=False)
    assert res.model.mechanism.bid_cap == 1.5
    assert res.model.trace.reports.max() <= 1.5
    with pytest.raises(ConfigError, match="bid_cap"):
        run(config(params={"bid_cap": 0.0}), progress=False)

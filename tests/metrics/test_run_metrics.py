"""End-of-run metrics wired into `abm.run`: outputs present, and invariants that tie the
metrics to each other and to the ledger."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import abm
from abm.metrics.depletion import budget_depletion
from abm.metrics.strong_regret import strong_regret
from abm.recording import MenuRecorder
from mechanisms.base import Reports
from mechanisms.public_goods.monetary import Proportional


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[abm.RunResult, object]:
    out = tmp_path_factory.mktemp("pg")
    res = abm.run("public-goods", overrides={"rounds": 400, "agents": 3, "seed": 7}, out=out, progress=False)
    return res, out


def test_summary_and_files(small_run) -> None:
    _, out = small_run
    met = json.loads((out / "summary.json").read_text())["metrics"]
    for key in ("strong_regret", "epsilon", "depletion", "core", "cce_gap", "ce_gap", "bid_drift"):
        assert key in met
    assert met["strong_regret"]["menu"].startswith("grid of 64 reports")
    assert met["core"]["method"] == "exact" and met["core"]["coalitions_checked"] == 7
    table = pd.read_parquet(out / "metrics.parquet")
    assert len(table) == 3
    for col in ("strong_regret", "strong_regret_per_round", "external_regret", "swap_regret", "unused_fraction"):
        assert table[col].notna().all()
    rounds = pd.read_parquet(out / "rounds.parquet")
    assert len(rounds) == 400 and rounds["epsilon"].notna().sum() >= 10
    curve = pd.read_parquet(out / "regret_curve.parquet")
    assert curve["horizon"].max() == 400
    # The per-agent series are written once, to agents.parquet (no second trace table).
    assert not (out / "trace.parquet").exists()
    series = pd.read_parquet(out / "agents.parquet")
    assert len(series) == 400 * 3 and list(series.columns)[:3] == ["round", "agent", "group"]


def test_metric_invariants(small_run) -> None:
    res, _ = small_run
    t = res.agent_table
    # The played report is in every menu, so the played sequence is LP-feasible: OPT >= U.
    assert (t["strong_regret"] >= -1e-9).all()
    # A fixed report stopped at depletion is one feasible sequence: strong >= external regret.
    assert (t["strong_regret"] >= t["external_regret"] - 1e-9).all()
    # epsilon at T is the largest per-round strong regret (prefix budget at T is B).
    eps = res.rounds["epsilon"].dropna().iloc[-1]
    assert eps == pytest.approx(t["strong_regret_per_round"].max())
    # Depletion recomputed from the traced charges agrees with the ledger.
    trace = res.model.trace
    dep = budget_depletion(trace.charges, res.model.ledger.initial, res.model.mechanism.p_max)
    assert dep.depletion_round.tolist() == t["depletion_round"].tolist()
    assert trace.utilities.sum(axis=0) == pytest.approx(t["utility"].to_numpy())


def test_run_without_menus_still_reports_depletion() -> None:
    res = abm.run(
        "public-goods", overrides={"rounds": 100, "agents": 2, "record_menus": False}, progress=False
    )
    met = res.summary["metrics"]
    assert "strong_regret" not in met and "depletion" in met
    assert "strong_regret" not in res.agent_table


class ExactProportional(Proportional):
    """Proportional plus its exact menu breakpoint: the cheapest serving report is
    max(1 - others, 0), which costs 1 - others (0 if the others already cover the good)."""

    def menu_breakpoints(self, reports: Reports, agents: np.ndarray, *, state: object = None) -> np.ndarray:
        others = reports.bids.sum() - reports.bids[agents]
        return np.maximum(1.0 - others, 0.0)[:, None]

    def breakpoints_from_statistics(self, statistics: np.ndarray) -> np.ndarray:
        # The same single breakpoint from the recorded statistic (the others' report sum).
        return np.maximum(1.0 - statistics[..., 0], 0.0)[..., None]


def test_exact_breakpoints_are_recorded_and_give_the_exact_benchmark() -> None:
    """With the breakpoint recorded, each round's menu envelope is exactly {(0, 0), (v, (1 -
    others)^+)}; the benchmark is then the fractional knapsack over rounds sorted by value per
    token, computed here independently (free rounds first, then by v / cost)."""
    rng = np.random.default_rng(1)
    t, n = 80, 3
    rec = MenuRecorder(ExactProportional(), t, n, 16)
    values = rng.random((t, n))
    bids = rng.random((t, n)) * 0.6
    for s in range(t):
        rec.record(s, Reports(bids[s], values[s]))
    u, c = rec.all_menus()
    assert u.shape == (t, n, 16 + 1 + 1)
    budget = np.full(n, 6.0)
    got = strong_regret(u, c, budget, np.zeros(n))
    grid_only = strong_regret(rec.utility.to_array(), rec.cost.to_array(), budget, np.zeros(n))
    for i in range(n):
        others = bids.sum(axis=1) - bids[:, i]
        cost = np.maximum(1.0 - others, 0.0)
        v = values[:, i]
        total = v[cost == 0].sum()
        left = budget[i]
        paid = cost > 0
        for s in np.argsort(-(v[paid] / cost[paid]), kind="stable"):
            take = min(1.0, left / cost[paid][s])
            total += take * v[paid][s]
            left -= take * cost[paid][s]
            if left <= 0:
                break
        assert got.opt[i] == pytest.approx(total, abs=1e-9)
        assert grid_only.opt[i] <= got.opt[i] + 1e-12


def test_finite_outcome_hook_reports_externalities_and_pareto() -> None:
    """APEX on a finite outcome set (FiniteArgmax): X-bar is the empirical distribution over
    outcomes, so the hook must reproduce `externalities` / `pareto_check` on it."""
    from types import SimpleNamespace

    from abm.metrics.externality import externalities, pareto_check
    from abm.metrics.pipeline import FiniteOutcomeStep, RunRecords
    from abm.recording import TraceRecorder
    from mechanisms.apex.algorithm1 import Apex, FiniteArgmax

    f = np.array([[1.0, 0.0], [0.0, 1.0], [0.4, 0.4]])  # (outcomes, players)
    mech = Apex(FiniteArgmax(f))
    trace = TraceRecorder(mech, 4, 2)
    rng = np.random.default_rng(0)
    for t, bids in enumerate(([1.0, 0.2], [0.2, 1.0], [0.3, 0.3], [1.0, 0.1])):
        res = mech.run_round(Reports(np.array(bids), np.ones(2)), rng)
        trace.record(t, np.ones(2), np.array(bids), res)
    ledger = SimpleNamespace(initial=np.ones(2), initial_total=np.ones(2))
    model = SimpleNamespace(mechanism=mech, n_agents=2, trace=trace, menus=None, ledger=ledger)
    step = FiniteOutcomeStep()
    records = RunRecords.of(model)
    assert step.applies(records)
    out = step.compute(records)
    cols, summary = out.agent_columns, out.summary
    p = mech.x_bar
    np.testing.assert_allclose(trace.outcome_path.x_bar, p)
    assert cols["externality"] == pytest.approx(externalities(f, p))
    ref = pareto_check(f, p)
    assert summary["pareto"]["efficient"] == ref.efficient
    assert summary["pareto"]["improvement"] == pytest.approx(ref.improvement)

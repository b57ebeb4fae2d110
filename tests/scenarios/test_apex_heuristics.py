"""course-allocation and facility-location (Braverman 2021, §2.1): on tiny instances the
exact-H runs charge exactly the brute-force VCG payments at the recorded bids, and the
summaries' welfare ratios are the brute-force ones; local search reports its gap."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import abm
from abm.config import ConfigError

TINY = {"agents": 3, "rounds": 12, "menu_points": 4, "record.agents": "all", "params.monotonicity_probes": 6}


def course_outcomes(problem) -> list[np.ndarray]:
    n, m = problem.n, problem.m
    bundles = [b for size in range(problem.k + 1) for b in itertools.combinations(range(m), size)]
    out = []
    for choice in itertools.product(bundles, repeat=n):
        x = np.zeros((n, m), dtype=bool)
        for i, b in enumerate(choice):
            x[i, list(b)] = True
        if problem.feasible(x):
            out.append(x)
    return out


def facility_outcomes(problem) -> list[np.ndarray]:
    return [np.array(b, dtype=bool) for b in itertools.product([False, True], repeat=problem.m)]


SCENARIOS = {
    "course-allocation": ({"params.courses": 3, "params.seats_ratio": 1.0}, course_outcomes),
    "facility-location": ({"params.sites": 4}, facility_outcomes),
}


def brute(problem, outcomes, lam):
    f = np.array([problem.utilities(x) for x in outcomes])
    total = np.array([problem.base(x) for x in outcomes]) + f @ lam
    minus = total[:, None] - f * lam[None, :]
    star = int(np.argmax(total))
    return total.max(), minus.max(axis=0) - minus[star]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_exact_runs_charge_brute_force_vcg_and_are_optimal(scenario):
    extra, enumerate_outcomes = SCENARIOS[scenario]
    result = abm.run(scenario, overrides={**TINY, **extra, "params.heuristic": "exact", "params.welfare_rounds": 12},
                     progress=False)
    model = result.model
    problem = model.mechanism.problem
    outcomes = enumerate_outcomes(problem)
    frame = result.agents.sort_values(["round", "agent"])
    bids = frame["report"].to_numpy().reshape(12, 3)
    charges = frame["charge"].to_numpy().reshape(12, 3)
    played = model.trace.outcomes
    for t in range(12):
        best, pivots = brute(problem, outcomes, bids[t])
        np.testing.assert_allclose(charges[t], pivots, atol=1e-6)
        x = played[t].reshape(np.shape(problem.initial())) > 0.5
        assert problem.value(bids[t], x) == pytest.approx(best, abs=1e-7)
    summary = result.summary["scenario_summary"]
    assert summary["welfare"]["ratio_min"] == pytest.approx(1.0, abs=1e-7)
    assert summary["charges"]["negative_rounds"] == 0
    assert summary["monotonicity"]["violations"] == 0 and summary["monotonicity"]["probes"] == 6
    assert summary["charges"]["total"] == pytest.approx(charges.sum())


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_local_search_welfare_ratio_is_the_brute_force_one(scenario):
    extra, enumerate_outcomes = SCENARIOS[scenario]
    result = abm.run(scenario, overrides={**TINY, **extra, "params.heuristic": "local_search",
                                          "params.welfare_rounds": 12}, progress=False)
    model = result.model
    problem = model.mechanism.problem
    outcomes = enumerate_outcomes(problem)
    bids = result.agents.sort_values(["round", "agent"])["report"].to_numpy().reshape(12, 3)
    played = model.trace.outcomes
    ratios = []
    for t in range(12):
        x = played[t].reshape(np.shape(problem.initial())) > 0.5
        best, _ = brute(problem, outcomes, bids[t])
        ratios.append(problem.value(bids[t], x) / best if best > 0 else 1.0)
    welfare = result.summary["scenario_summary"]["welfare"]
    assert welfare["rounds"] == 12
    assert welfare["ratio_mean"] == pytest.approx(np.mean(ratios), abs=1e-9)
    assert welfare["ratio_min"] == pytest.approx(min(ratios), abs=1e-9) and welfare["ratio_min"] <= 1 + 1e-9


def test_welfare_needs_every_agent_recorded():
    result = abm.run("course-allocation", overrides={**TINY, "agents": 4, "record.agents": 2}, progress=False)
    welfare = result.summary["scenario_summary"]["welfare"]
    assert welfare == {"computed": False, "reason": "only 2 of 4 agents recorded ([record] agents)"}


def test_an_unknown_heuristic_names_the_field():
    with pytest.raises(ConfigError, match=r"params\.heuristic: unknown mechanism 'greedy'"):
        abm.run("facility-location", overrides={**TINY, "params.heuristic": "greedy"}, progress=False)

"""Bounds before the run and mechanisms over the whole valid range (issue 15).

Bad inputs go through `abm.cli.main.main([...])`: return code 2, one stderr line naming
the field and the value, and no output directory written (every check runs before the
first round). Huge bids: Proposition 3.1 (Onyeze et al. 2025, at most alpha T goods) and
token conservation hold in whole runs of the model.
"""

from __future__ import annotations

import numpy as np
import pytest

from abm.cli.main import main
from abm.model import MechanismModel

#: (arguments after `mechsim run`, what the one error line must contain: the fields and values).
BAD_INPUTS = {
    "rounds_1e12": (["public-goods", "--rounds", "1000000000000"], ["rounds = 1000000000000", "memory"]),
    "agents_1e9": (["public-goods", "--agents", "1000000000"], ["agents = 1000000000", "memory"]),
    "menu_points_1e7": (
        ["public-goods", "--rounds", "10", "--agents", "256", "--set", "menu_points=10000000"],
        ["menu_points = 10000000", "record_menus = false"],
    ),
    "agents_true": (["public-goods", "--set", "agents=true"], ["agents", "a boolean is not a number", "True"]),
    "rounds_true": (["public-goods", "--set", "rounds=true"], ["rounds", "a boolean is not a number", "True"]),
    "seed_false": (["public-goods", "--set", "seed=false"], ["seed", "a boolean is not a number", "False"]),
    "alpha_true": (["public-goods", "--set", "alpha=true"], ["params.alpha", "a boolean is not a number", "True"]),
    "zero_shares": (["public-goods", "--agents", "2", "--set", "shares=[0,0]"], ["params.shares", "[0.0, 0.0]"]),
    "budget_1e308": (["one-sided", "--set", "budget=1e308"], ["params.budget", "1e+308"]),
    "voting_budget_1e308": (["voting", "--set", "budget=1e308"], ["params.budget", "1e+308"]),
    "bid_cap_1e300": (["approx-auction", "--set", "bid_cap=1e300"], ["params.bid_cap", "1e+300"]),
    "value_high_1e300": (["approx-auction", "--set", "value_high=1e300"], ["params.value_high", "1e+300"]),
    "memory_limit": (
        ["public-goods", "--rounds", "100", "--set", "limits.memory_fraction=1e-9"],
        ["limits.memory_fraction = 1e-09", "memory"],
    ),
    "disk_limit": (
        ["public-goods", "--rounds", "100", "--set", "limits.disk_fraction=1e-12"],
        ["limits.disk_fraction = 1e-12", "disk"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_a_bad_input_is_one_line_naming_the_field_and_value_before_the_first_round(case, tmp_path, capsys):
    args, wanted = BAD_INPUTS[case]
    out = tmp_path / "out"
    assert main(["run", *args, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for part in wanted:
        assert part in err, f"{part!r} not in {err!r}"
    assert not out.exists(), "an output directory was written for a refused run"


def test_a_tiny_bid_cap_runs_and_writes_its_results(tmp_path):
    """bid_cap = 1e-300 used to fail after the run, inside the metrics (a decreasing report
    grid), losing the results: the grid now spans [cap / 1e3, cap]."""
    out = tmp_path / "out"
    rc = main(["run", "approx-auction", "--rounds", "20", "--set", "bid_cap=1e-300",
               "--set", "worst_case_samples=0", "--out", str(out), "--quiet"])  # fmt: skip
    assert rc == 0
    assert (out / "summary.json").is_file()


@pytest.mark.parametrize("mechanism", ["proportional", "moulin", "potential"])
@pytest.mark.parametrize("bid", [1e15, 1e17, 1e308, float(np.finfo(np.float64).max)])
@pytest.mark.parametrize("budget_rule", ["p_max", "cap"])
def test_huge_bids_keep_proposition_3_1_and_conserve_tokens(mechanism, bid, budget_rule):
    """The issue's run: fixed bids of 1e308 allocated the good in all 200 rounds against
    alpha T = 100 with 0 tokens spent. Every good is paid for in full now, so at most
    alpha T goods are allocated (Onyeze et al. Proposition 3.1) and spend = goods."""
    rounds, alpha = 200, 0.5
    model = MechanismModel({
        "scenario": "public-goods", "agents": 5, "rounds": rounds, "record_menus": False,
        "learner": {"name": "fixed_bid", "params": {"bid": bid}},
        "params": {"mechanism": mechanism, "alpha": alpha, "budget_rule": budget_rule},
    })  # fmt: skip
    for _ in range(rounds):
        model.step()
    model.ledger.check_invariants()
    assert 0 < model.goods_allocated <= alpha * rounds
    # Each good costs 1 and the charges cover it (cost covering; exactly 1 a good under
    # Proportional and Moulin, at least 1 under Potential).
    spent = model.ledger.spent.sum()
    assert spent >= model.goods_allocated * (1 - 1e-9)
    if mechanism != "potential":
        np.testing.assert_allclose(spent, model.goods_allocated, rtol=1e-9)
    assert (model.ledger.remaining >= 0).all()

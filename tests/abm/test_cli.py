"""`mechsim run | list` as a user types them."""

import json

from abm.cli.main import main
from abm.scenario import SCENARIOS


def test_unknown_scenario_lists_the_available_ones(capsys):
    assert main(["run", "nonexistent", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "unknown scenario 'nonexistent'" in err and "public-goods" in err and "one-sided" in err


def test_bad_override_names_field_and_value(capsys):
    assert main(["run", "public-goods", "--set", "alpha=-1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "params.alpha" in err and "-1" in err
    assert main(["run", "public-goods", "--set", "novalue", "--quiet"]) == 2
    assert "key=value" in capsys.readouterr().err


def test_list_names_every_registered_scenario(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert set(SCENARIOS) <= {line.split()[0] for line in out.splitlines()}


def test_run_writes_results_and_prints_the_agent_table(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", "public-goods", "--rounds", "200", "--agents", "3", "--seed", "7", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "spend_ratio" in printed and "strong regret" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["rounds"], summary["agents"], summary["seed"]) == (200, 3, 7)

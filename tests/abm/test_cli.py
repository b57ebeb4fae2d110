"""`mechsim run | list` as a user types them."""

import json
from pathlib import Path

import pytest

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


def test_list_sections_and_mechanisms_by_family(capsys):
    assert main(["list", "mechanisms"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mechanisms (by family):") and "scenarios:" not in out
    for family in ("public_goods:", "voting:", "matching:", "approx_valuations:"):
        assert family in out
    assert "moulin" in out and "Moulin: serve the largest set" in out
    assert main(["list", "learners"]) == 0
    out = capsys.readouterr().out
    assert "adaptive_pacing" in out and "hedge" in out and "seed 00" not in out
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(k in out for k in ("scenarios:", "mechanisms (by family):", "learners:"))
    assert "seed 00" not in out.lower()


def test_describe_scenario_mechanism_learner(capsys):
    assert main(["describe", "public-goods"]) == 0
    out = capsys.readouterr().out
    assert "scenario public-goods" in out and "Onyeze" in out and "§3" in out
    assert "alpha" in out and "float = 0.5" in out and "total share" in out
    assert "moulin, potential, proportional" in out
    assert main(["describe", "voting"]) == 0  # docs parsed from the Params docstring where no description
    out = capsys.readouterr().out
    assert "regularizer per voter" in out and "Braverman" in out
    assert main(["describe", "moulin"]) == 0
    out = capsys.readouterr().out
    assert "mechanism moulin (family public_goods)" in out
    # other scenarios of the family (the contract plug-in's, tests/helpers.py) may be listed too
    assert "public-goods" in next(line for line in out.splitlines() if "used by:" in line)
    assert main(["describe", "learner:adaptive_pacing"]) == 0
    out = capsys.readouterr().out
    assert "step_size" in out and "feedback: bandit" in out


def test_describe_ambiguous_and_qualified_names(capsys):
    assert main(["describe", "apex"]) == 0
    out = capsys.readouterr().out
    assert "names 2 entries" in out and "family matching" in out and "family voting" in out
    assert main(["describe", "mechanism:voting/apex"]) == 0
    out = capsys.readouterr().out
    assert "family voting" in out and "family matching" not in out
    assert main(["describe", "nope-nothing"]) == 2
    assert "available:" in capsys.readouterr().err


def test_unknown_parameter_lists_the_valid_names(capsys):
    assert main(["run", "public-goods", "--set", "colour=1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "params.colour: unknown parameter 'colour'; valid names: alpha, budget_rule, core_frontier, cor" in err
    assert main(["run", "public-goods", "--set", "learner.colour=1", "--quiet"]) == 2
    assert "learner.colour: unknown parameter 'colour'; valid names: name, params" in capsys.readouterr().err


def test_errors_one_line_with_traceback_under_verbose(capsys):
    assert main(["-v", "run", "nonexistent", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "unknown scenario 'nonexistent'" in err


def test_internal_errors_are_not_swallowed(monkeypatch):
    import abm.runs.runner as runner

    def broken(*args, **kwargs):
        raise ValueError("an internal bug")

    monkeypatch.setattr(runner, "run", broken)
    with pytest.raises(ValueError, match="an internal bug"):
        main(["run", "public-goods", "--quiet"])


def test_plugin_flag_on_list_and_describe(plugin, capsys):
    assert main(["list", "--plugin", str(plugin.path)]) == 0
    out = capsys.readouterr().out
    assert plugin.scenario in out and plugin.mechanism in out and plugin.learner in out
    assert main(["describe", plugin.learner, "--plugin", str(plugin.path)]) == 0
    out = capsys.readouterr().out
    assert "multiplier" in out and "report value * multiplier" in out
    assert main(["describe", plugin.mechanism, "--plugin", str(plugin.path)]) == 0
    assert "A. User" in capsys.readouterr().out


def test_only_cli_prints():
    root = Path(__file__).resolve().parents[2] / "abm"
    offenders = [
        f"{p.relative_to(root)}:{i}"
        for p in root.rglob("*.py")
        if "cli" not in p.relative_to(root).parts
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if "print(" in line
    ]
    assert offenders == []


def test_scenario_size_errors_are_config_errors(capsys):
    assert main(["run", "two-sided", "--agents", "3", "--quiet"]) == 2
    assert "agents must be even" in capsys.readouterr().err


def test_a_number_for_a_text_field_is_the_text_and_a_boolean_is_no_number(tmp_path, capsys):
    """Issue 14: `--set params.instance=34` (two-sided) parsed as the integer 34 and was
    rejected; a field whose declared type is text takes it as "34". A boolean stays a
    boolean: `agents=true` was read as 1 agent."""
    from abm.config import to_declared_type

    out = tmp_path / "run"
    args = ["run", "two-sided", "--agents", "4", "--rounds", "3", "--quiet", "--out", str(out)]
    assert main([*args, "--set", "params.instance=34"]) == 0
    import abm

    res = abm.run("two-sided", overrides={"agents": 4, "rounds": 2, "params": {"instance": 34}}, progress=False)
    assert res.model.params.instance == "34"
    assert main(["run", "public-goods", "--set", "agents=true", "--quiet", "--out", str(out)]) == 2
    assert "agents: a boolean is not a number (got True)" in capsys.readouterr().err
    assert main(["run", "public-goods", "--set", "alpha=true", "--quiet", "--out", str(out)]) == 2
    assert "params.alpha: a boolean is not a number" in capsys.readouterr().err
    # Numbers stay numbers where the field takes one, and a Literal only takes its own texts.
    from typing import Literal

    assert to_declared_type(int, 3) == 3 and to_declared_type(float | str, 3) == 3
    assert to_declared_type(str | None, 3) == "3"
    assert to_declared_type(Literal["33", "34"], 35) == 35  # left to the validator's error
    assert to_declared_type(bool | int, True) is True and to_declared_type(str, True) is True

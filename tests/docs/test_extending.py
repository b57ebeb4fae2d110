"""docs/extending.md: every example runs, and the code the document shows is the code in
docs/examples/ (the document quotes each file whole, section by section)."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import scaled

from abm import plugins
from abm.cli.main import main
from abm.scenario import SCENARIOS, get_scenario
from agents.base import Feedback, Observation
from agents.registry import LEARNERS, LearnerParamsError, make_learner, validate_learner
from mechanisms.base import Mechanism, Reports
from mechanisms.capabilities import BudgetRule, ExactMenu
from mechanisms.registry import MECHANISMS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "extending.md"
EXAMPLES = ROOT / "docs" / "examples"
PLUGIN = EXAMPLES / "fpa_tokens.py"
#: A section of an example file starts at a line `# --8<-- [name]` (the preamble before the first).
SECTION = re.compile(r"^# --8<-- \[[a-z_]+\]$", re.M)
#: A quoted file: `<!-- file: docs/examples/X -->` on the line before a fenced block.
QUOTE = re.compile(r"^<!-- file: (\S+) -->\n```(\w+)\n(.*?)^```$", re.M | re.S)
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


@pytest.fixture(scope="module")
def fpa():
    """The plug-in, loaded as `--plugin` loads it; unregistered again after this module's
    tests unless it was loaded before (by the contract tests, say)."""
    name = plugins.module_name_for(PLUGIN)
    fresh = name not in sys.modules
    module = plugins.load_plugin(str(PLUGIN))
    yield module
    if fresh:
        SCENARIOS.pop("fpa-tokens")
        MECHANISMS.remove("fpa_tokens", "public_goods")
        LEARNERS.pop("fixed_pacing")
        for spec in [s for s, m in plugins._loaded.items() if m is module]:
            del plugins._loaded[spec]
        sys.modules.pop(name, None)


@pytest.fixture(scope="module", autouse=True)
def sweep_script(request, tmp_path_factory):
    """docs/examples/sweep_script.py with 20 rounds and one spawned worker, in its own process, started with this
    module's first test when the sweep test is selected: its spawned workers take a while
    to import mechsim, and the other tests run meanwhile."""
    if not any(item.name == "test_the_sweep_script_in_a_process_pool" for item in request.session.items):
        yield None
        return
    tmp = tmp_path_factory.mktemp("sweep_script")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "sweep_script.py"), "20", str(tmp / "sweep"), "1"],
        cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    yield proc, tmp / "sweep"
    if proc.poll() is None:  # the test did not wait for it (deselected, failed early)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """A working directory with `docs` linked in, so the doc's relative commands run as
    written and their results/ land in tmp_path."""
    (tmp_path / "docs").symlink_to(ROOT / "docs")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(*argv: str) -> None:
    assert main(list(argv)) == 0


# --- the document is the files ------------------------------------------------------------


def sections(path: Path) -> list[str]:
    text = path.read_text()
    starts = [0, *(m.start() for m in SECTION.finditer(text))]
    return [text[a:b].strip("\n") for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


def test_the_doc_quotes_every_example_file_whole_and_in_order():
    doc = DOC.read_text()
    quoted: dict[str, list[str]] = {}
    for path, _lang, body in QUOTE.findall(doc):
        quoted.setdefault(path, []).append(body.strip("\n"))
    files = sorted(p.relative_to(ROOT).as_posix() for p in EXAMPLES.iterdir() if p.suffix in (".py", ".toml"))
    assert sorted(quoted) == files
    for path, blocks in quoted.items():
        assert blocks == sections(ROOT / path), f"docs/extending.md quotes {path} out of date"


def test_every_python_block_is_a_quoted_file_or_runs(fpa, in_tmp):
    """A ```python block not quoted from a file is executed (in a tmp dir, as a user would)."""
    doc = DOC.read_text()
    quoted = {body for _p, _lang, body in QUOTE.findall(doc)}
    loose = [body for lang, body in FENCE.findall(doc) if lang == "python" and body not in quoted]
    assert loose, "the doc's Python usage example is missing"
    for body in loose:
        exec(compile(body, str(DOC), "exec"), {"__name__": "docs_extending"})
    for lang, body in FENCE.findall(doc):
        if lang == "toml" and body not in quoted:
            tomllib.loads(body)  # the pyproject snippet parses
    assert f'[project.entry-points."{plugins.ENTRY_POINT_GROUP}"]' in doc


# --- the mechanism ------------------------------------------------------------------------


def test_first_price_by_hand(fpa):
    mech = MECHANISMS.get("fpa_tokens", family="public_goods")()
    assert isinstance(mech, Mechanism) and mech.p_max == 1.0
    assert isinstance(mech, ExactMenu) and isinstance(mech, BudgetRule)  # declared by defining the members
    rng = np.random.default_rng(0)
    res = mech.run_round(Reports(np.array([0.2, 0.7, 0.5]), np.array([0.9, 0.8, 0.6])), rng)
    assert res.allocated and res.outcome.tolist() == [False, True, False]
    assert res.charges.tolist() == [0.0, 0.7, 0.0] and res.utilities.tolist() == [0.0, 0.8, 0.0]
    tie = mech.run_round(Reports(np.array([0.1, 0.6, 0.6]), np.ones(3)), rng)
    assert tie.outcome.tolist() == [False, True, False]  # a tie goes to the lowest agent id
    capped = mech.run_round(Reports(np.array([1.5, 0.9]), np.ones(2)), rng)
    assert capped.charges.tolist() == [1.0, 0.0]  # pays its report capped at p_max
    nobody = mech.run_round(Reports(np.zeros(3), np.ones(3)), rng)
    assert not nobody.allocated and not nobody.charges.any()
    # The budget rule: a report is zeroed once less than p_max is left.
    assert mech.enforce_budget(np.array([0.5, 0.5]), np.array([0.99, 1.0])).tolist() == [0.0, 0.5]
    with pytest.raises(ValueError, match=r"bids\[1\] must be finite"):
        mech.run_round(Reports(np.array([0.1, np.nan]), np.ones(2)), rng)
    with pytest.raises(ValueError, match="values must have length 2"):
        mech.run_round(Reports(np.array([0.1, 0.2]), np.ones(3)), rng)


def test_menu_is_exact_and_matches_run_round(fpa):
    mech = MECHANISMS.get("fpa_tokens", family="public_goods")()
    rng = np.random.default_rng(1)
    for n in (1, 2, 5):
        for _ in range(20):
            bids = np.round(rng.random(n) * 1.2, 1)  # ties, zeros and reports above p_max
            reports = Reports(bids, rng.random(n))
            grid = np.r_[mech.report_grid(8), 0.0, 0.5, 1.0, 1.5]
            alts = np.column_stack([np.tile(grid, (n, 1)), bids, np.roll(bids, 1)])
            u, c = mech.menu_all(alts, reports)
            gu, gc = Mechanism.menu_all(mech, alts, reports)  # the generic one: re-run per alternative
            np.testing.assert_array_equal(u, gu)
            np.testing.assert_array_equal(c, gc)
            res = mech.run_round(reports, rng)  # the menu at the played report is the round
            np.testing.assert_array_equal(u[:, -2], res.utilities)
            np.testing.assert_array_equal(c[:, -2], res.charges)
            sub = np.array([n - 1])
            np.testing.assert_array_equal(mech.menu_all(alts[sub], reports, sub)[1], c[sub])
            # Breakpoints: 0 loses; the cheapest winning report wins, the float below it loses.
            zero, cheap = mech.menu_breakpoints(reports).T
            _, bc = mech.menu_all(np.column_stack([zero, cheap, np.nextafter(cheap, 0)]), reports)
            assert not bc[:, 0].any() and not bc[:, 2].any()
            winnable = (gc > 0).any(axis=1)  # the alternatives include 1.0, the highest effective report
            np.testing.assert_array_equal(bc[:, 1] > 0, winnable)
            assert (bc[:, 1] <= np.where(gc > 0, gc, np.inf).min(axis=1)).all()  # no winning report is cheaper


# --- the APEX problem -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def projects():
    """docs/examples/apex_projects.py, loaded as `--plugin` loads it (the contract tests load
    it too, so its scenario stays registered)."""
    return plugins.load_plugin(str(EXAMPLES / "apex_projects.py"))


def test_project_selection_h_is_a_local_optimum_and_charges_follow_algorithm_1(projects):
    from itertools import product

    from mechanisms.apex import Apex

    rng = np.random.default_rng(0)
    n, m = 4, 5
    costs = rng.uniform(0.5, 1.5, m)
    problem = projects.ProjectSelection(rng.random((n, m)), costs, 0.5 * costs.sum())
    sets = [np.array(b, dtype=bool) for b in product([False, True], repeat=m)]
    feasible = [b for b in sets if costs @ b <= 0.5 * costs.sum()]
    apex = Apex(problem)
    for _ in range(8):
        lam = rng.uniform(0.0, 2.0, n)
        start = apex.x
        res = apex.run_round(Reports(lam, np.ones(n)), rng)
        x = res.outcome
        assert costs @ x <= 0.5 * costs.sum()
        # A local optimum: no feasible set one add, drop or swap away (by enumeration) is better.
        near = [y for y in feasible if (y ^ x).sum() == 1 or ((y ^ x).sum() == 2 and y.sum() == x.sum())]
        assert near and all(problem.value(lam, y) <= problem.value(lam, x) + 1e-12 for y in near)
        # Algorithm 1 with the same H: C_i = F^{-i}(H(F^{-i}, X_t)) - F^{-i}(X_{t+1}), floored at 0, capped at lambda_i.
        for i in range(n):
            w = lam.copy()
            w[i] = 0.0
            raw = problem.value(w, problem.argmax(w, start)) - problem.value(w, x)
            assert res.extras["raw_charges"][i] == pytest.approx(raw, abs=1e-12)
            assert res.charges[i] == pytest.approx(min(max(raw, 0.0), lam[i]), abs=1e-12)
    assert apex.audit.rounds == 8


# --- the learner --------------------------------------------------------------------------


def test_fixed_pacing_params_act_observe_and_state(fpa):
    with pytest.raises(LearnerParamsError, match=r"learner.params.beta: Input should be less than or equal to 1"):
        validate_learner("fixed_pacing", {"beta": 1.5})
    with pytest.raises(LearnerParamsError, match="unknown parameter; valid names: beta"):
        validate_learner("fixed_pacing", {"multiplier": 0.5})
    learner = make_learner("fixed_pacing", 3, np.array([1.0, 1.0, 0.0]), 10, np.random.default_rng(0), {"beta": 0.4})
    assert learner.feedback == "bandit" and learner.alternatives(Observation(0, np.ones(3), np.ones(3))) is None
    reports = learner.act(Observation(0, np.array([0.5, 1.0, 1.0]), np.array([1.0, 1.0, 0.0])))
    np.testing.assert_allclose(reports, [0.2, 0.4, 0.0])  # no budget left: report 0
    learner.observe(Feedback(0, reports, np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.4, 0.0]), np.ones(3)))
    state = learner.state_dict()
    assert state["wins"].tolist() == [0, 1, 0]
    fresh = make_learner("fixed_pacing", 3, np.ones(3), 10, np.random.default_rng(5), {"beta": 0.4})
    fresh.load_state_dict(state)
    assert fresh.state_dict()["wins"].tolist() == [0, 1, 0]


# --- the scenario, the CLI and the TOMLs --------------------------------------------------


def test_run_fpa_tokens_from_the_cli(fpa, tmp_path):
    out = tmp_path / "run"
    cli("run", "fpa-tokens", "--plugin", str(PLUGIN), "--rounds", "200", "--quiet", "--out", str(out))
    assert {"rounds.parquet", "agents.parquet", "metrics.parquet", "summary.json", "menus.npz"} <= {
        p.name for p in out.iterdir()
    }
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "fpa-tokens" and summary["mechanism"] == "fpa_tokens"
    assert summary["learner"] == "fixed_pacing" and summary["config"]["learner"]["params"] == {"beta": 0.5}
    alpha, rounds = summary["config"]["params"]["alpha"], 200
    per_agent = pd.read_parquet(out / "agents.parquet")
    # The ledger: at most one winner per round, charges <= p_max, and nobody overspends.
    charged = per_agent[per_agent["charge"] > 0]
    assert charged.groupby("round").size().max() == 1 and charged["charge"].max() <= 1.0
    assert per_agent["budget"].min() >= 0.0
    assert per_agent["charge"].sum() == pytest.approx(summary["total_spent"])
    assert summary["total_spent"] <= alpha * rounds + 1e-9
    table = pd.read_parquet(out / "metrics.parquet")
    assert (table["spent"] <= table["budget"] + 1e-9).all()
    assert summary["scenario_summary"]["goods_allocated"] == charged["round"].nunique()
    (tmp_path / "plots").mkdir()  # `mechsim plot` creates it
    (price,) = get_scenario("fpa-tokens").plot_panels(out, tmp_path / "plots")
    assert price.name == "fpa_price.png" and price.stat().st_size > 0


def test_every_command_of_the_doc_and_the_readme_runs(fpa, in_tmp, capsys):
    """Each `.venv/bin/mechsim ...` line of the doc, in order, from a directory like the
    repository's (runs without `--rounds` get 200 rounds; the README's command runs as is)."""
    readme = ".venv/bin/mechsim run fpa-tokens --plugin docs/examples/fpa_tokens.py --rounds 500"
    assert readme in (ROOT / "README.md").read_text()
    lines = [line.split("  #")[0].strip() for lang, body in FENCE.findall(DOC.read_text()) if lang == "bash"
             for line in body.splitlines()]
    commands = [shlex.split(line)[1:] for line in lines if line.startswith(".venv/bin/mechsim ")]
    assert readme.split()[1:] in commands and len(commands) >= 8
    for argv in commands:
        if argv[0] == "run" and "--rounds" not in argv:
            argv = [*argv, "--rounds", "200"]
        assert main(argv) == 0, (argv, capsys.readouterr().err)
        if argv == readme.split()[1:]:
            (written,) = (in_tmp / "results").glob("fpa-tokens-0-*")  # the default name carries the config's hash
            assert json.loads((written / "summary.json").read_text())["rounds"] == 500
    text = capsys.readouterr().out
    assert "fpa-tokens | mechanism fpa_tokens | learner fixed_pacing" in text
    assert "public-goods | mechanism artificial_currency[fpa_tokens]" in text
    assert "One good per round sold by a first-price auction" in text  # describe scenario:fpa-tokens
    assert "learner fixed_pacing" in text and "beta  float = 0.5" in text  # describe learner:fixed_pacing
    assert (in_tmp / "results" / "fpa" / "fpa_price.png").is_file()  # mechsim plot drew the scenario's panel


def test_the_mechanism_on_public_goods(fpa, tmp_path):
    out = tmp_path / "pg"
    cli("run", "public-goods", "--plugin", str(PLUGIN), "--set", "mechanism=fpa_tokens",
        "--rounds", "100", "--quiet", "--out", str(out))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mechanism"] == "artificial_currency[fpa_tokens]"
    charged = pd.read_parquet(out / "agents.parquet").query("charge > 0")
    assert charged.groupby("round").size().max() == 1


def test_the_mixed_population(fpa, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # `plugins = ["fpa_tokens.py"]` is relative to the TOML, not here
    out = tmp_path / "mixed"
    cli("run", str(EXAMPLES / "mixed_population.toml"), "--rounds", "150", "--set", "population.deviant.count=2",
        "--quiet", "--out", str(out))
    table = pd.read_parquet(out / "metrics.parquet")
    assert table.groupby("group", sort=False)["learner"].first().to_dict() == {
        "pacers": "adaptive_pacing", "deviant": "lagrange_bwk", "fixed": "fixed_pacing"
    }
    assert table["group"].value_counts().to_dict() == {"pacers": 4, "deviant": 2, "fixed": 3}
    assert (table.loc[table["group"] == "deviant", "budget"] == 300).all()
    assert set(pd.read_parquet(out / "agents.parquet")["group"]) == {"pacers", "deviant", "fixed"}
    groups = json.loads((out / "summary.json").read_text())["groups"]
    assert list(groups) == ["pacers", "deviant", "fixed"]
    assert groups["deviant"]["agents"] == 2 and "strong_regret_per_round_mean" in groups["fixed"]


def test_the_sweep_script_in_a_process_pool(sweep_script):
    """`import mesa` makes the pool spawn: the workers re-import the script, which only its
    `if __name__ == "__main__":` guard keeps from sweeping again."""
    proc, out = sweep_script
    stdout, stderr = proc.communicate(timeout=scaled(300))
    assert proc.returncode == 0, stderr[-3000:]
    assert stdout.count(" ok ") == 4, stdout
    manifest = (out / "manifest.jsonl").read_text().splitlines()
    assert len(manifest) == 4 and all(json.loads(line)["status"] == "ok" for line in manifest)

"""The output directory of a run (abm.runs.rundir), provenance (abm.runs.provenance) and
the CLI's error handling: one line for the project's own errors, tracebacks for bugs."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

import abm
from abm.cli.main import main
from abm.runs.provenance import ROOT, code_version, provenance
from abm.runs.rundir import FileLock, RunDir, RunDirError, default_out, run_id
from abm.runs.runner import resolve_config


def small(**over):
    return resolve_config("public-goods", {"rounds": 20, "agents": 3, "menu_points": 6, **over})


def test_default_out_names_the_config(tmp_path):
    a, b = small(), small(mechanism="moulin")
    assert default_out(a) != default_out(b) and default_out(a).name.startswith("public-goods-0-")
    assert default_out(a) == default_out(small(checkpoint_every=5))  # placement, not what it computes


def test_summary_carries_provenance_and_config_id(tmp_path):
    res = abm.run(small(), out=tmp_path / "r", progress=False)
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["config_id"] == run_id(res.config)
    prov = summary["provenance"]
    assert prov["code_version"] == code_version() and prov["dependencies"]["numpy"] == np.__version__
    git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    assert prov["git_commit"] == (git.stdout.strip() or None)
    assert set(prov) >= {"mechsim", "git_dirty", "python"}
    assert "ray" not in prov["dependencies"] or provenance()["dependencies"].get("ray")


def test_a_held_lock_refuses_a_second_run(tmp_path):
    cfg = small()
    holder = FileLock(tmp_path / ".r.lock", "a test")
    assert holder.acquire()
    try:
        with pytest.raises(RunDirError, match=r"being written by another run \(\d+ a test\)"):
            abm.run(cfg, out=tmp_path / "r", progress=False)
    finally:
        holder.release()
    abm.run(cfg, out=tmp_path / "r", progress=False)
    assert not (tmp_path / ".r.lock").exists()


def test_foreign_directories_are_never_cleared(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(RunDirError, match="not a mechsim run's results"):
        RunDir(tmp_path / "mine", small(), overwrite=True).__enter__()
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_an_unwritable_parent_fails_before_the_run(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(RunDirError, match="cannot create"):
        abm.run(small(rounds=10**7), out=tmp_path / "f" / "sub" / "r", progress=False)


def test_cli_reports_project_errors_in_one_line_and_bugs_with_a_traceback(tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("x")
    assert main(["run", "public-goods", "--rounds", "5", "--out", str(tmp_path / "file"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file" in err

    import abm.runs.runner as runner

    def bug(*a, **k):
        raise ValueError("an internal bug")

    monkeypatch.setattr(runner, "run", bug)
    with pytest.raises(ValueError, match="an internal bug"):  # not swallowed into one line
        main(["run", "public-goods", "--rounds", "5", "--out", str(tmp_path / "r"), "--quiet"])

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run", interrupted)
    assert main(["run", "public-goods", "--rounds", "5", "--out", str(tmp_path / "r"), "--quiet"]) == 130

"""`mechsim plot RESULT_DIR` writes the figures of a finished run."""

from __future__ import annotations

import pytest

import abm
from abm.cli.main import main
from abm.plotting import plot_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("run")
    abm.run("public-goods", overrides={"rounds": 300, "agents": 3}, out=out, progress=False)
    return out


def test_plot_run_writes_every_figure(run_dir, tmp_path) -> None:
    paths = plot_run(run_dir, tmp_path)
    names = sorted(p.name for p in paths)
    assert names == ["bids.png", "budget.png", "core.png", "epsilon.png", "strong_regret.png"]
    for p in paths:
        assert p.stat().st_size > 10_000
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_plot(run_dir, capsys) -> None:
    assert main(["plot", str(run_dir)]) == 0
    printed = capsys.readouterr().out.split()
    assert any(p.endswith("strong_regret.png") for p in printed)
    assert (run_dir / "epsilon.png").is_file()


def test_cli_plot_rejects_a_directory_without_a_run(tmp_path, capsys) -> None:
    assert main(["plot", str(tmp_path)]) == 2
    assert "summary.json" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("scenario", "overrides", "panel"),
    [
        ("resource-allocation", {}, "linked_vs_unlinked.png"),
        ("approx-auction", {"rounds": 60}, "welfare_vs_guarantee.png"),
        ("voting", {"rounds": 40, "agents": 12}, "voting_lottery.png"),
    ],
)
def test_scenario_panels_are_drawn(tmp_path, scenario, overrides, panel):
    """`mechsim plot` adds each scenario's own panel to the generic figures."""
    abm.run(scenario, overrides=overrides, out=tmp_path, progress=False)
    written = {p.name for p in plot_run(tmp_path)}
    assert panel in written
    assert (tmp_path / panel).stat().st_size > 10_000

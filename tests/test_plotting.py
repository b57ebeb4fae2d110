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


def _capture(monkeypatch) -> list:
    """The figures `save_figure` receives (still open), in order."""
    import abm.plotting as plotting

    figs: list = []
    real = plotting.save_figure

    def keep(fig, path):
        figs.append(fig)
        fig.savefig(path)
        return path

    monkeypatch.setattr(plotting, "save_figure", keep)
    assert real is not keep
    return figs


def test_strong_regret_says_how_many_agents_it_draws_and_draws_the_worst(monkeypatch, tmp_path) -> None:
    """Issue 14: at n = 20 the figure drew agents 0-9 without saying so, while its max line
    came from an agent not drawn. Hand-made curve: agent 15 has the largest regret."""
    import numpy as np
    import pandas as pd

    from abm.plotting import plot_strong_regret

    hs = np.array([10, 100, 1000])
    rows = [(h, a, 0.01 * a * h, 0.01 * a) for h in hs for a in range(20)]
    curve = pd.DataFrame(rows, columns=["horizon", "agent", "strong_regret", "strong_regret_per_round"])
    curve.loc[curve["agent"] == 15, ["strong_regret", "strong_regret_per_round"]] *= 10
    summary = {"scenario": "public-goods", "mechanism": "moulin", "learner": "hedge", "agents": 20, "rounds": 1000,
               "seed": 4}
    figs = _capture(monkeypatch)
    plot_strong_regret(curve, summary, tmp_path)
    ax = figs[0].axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert "agent 15 (max at T)" in labels and "agent 10" not in labels and "agent 9" in labels
    assert ax.get_legend().get_title().get_text() == "first 10 of 20 agents + agent 15"
    title = figs[0]._suptitle.get_text()
    assert all(s in title for s in ("public-goods", "moulin", "hedge", "n=20", "T=1000", "random seed 4"))


def test_round_off_is_drawn_as_zero(monkeypatch, tmp_path) -> None:
    """Values within ZERO_TOL x their scale of zero are 0 (a linked VCG run's regret is
    1e-15): a flat line at 0, not noise with 1e-15 ticks."""
    import numpy as np
    import pandas as pd

    from abm.plotting import ZERO_TOL, plot_strong_regret, snap_zero

    np.testing.assert_array_equal(snap_zero([1e-15, -3e-12, 0.5, 2e-9], 1.0), [0.0, 0.0, 0.5, 2e-9])
    assert snap_zero([5e-7], 1000.0)[0] == 0.0 and ZERO_TOL * 1000 > 5e-7
    curve = pd.DataFrame({"horizon": [10, 100, 10, 100], "agent": [0, 0, 1, 1],
                          "strong_regret": [1e-15, -2e-14, 3e-15, 0.0],
                          "strong_regret_per_round": [1e-16, -2e-16, 3e-16, 0.0]})
    figs = _capture(monkeypatch)
    plot_strong_regret(curve, {"agents": 2}, tmp_path)
    for ax in figs[0].axes:
        for line in ax.get_lines():
            assert not np.any(np.asarray(line.get_ydata(), dtype=float))


@pytest.mark.parametrize(
    ("scenario", "overrides"),
    [
        ("resource-allocation", {}),
        ("approx-auction", {"rounds": 30}),
        ("voting", {"rounds": 20, "agents": 4}),
        ("two-sided", {"rounds": 3, "agents": 4, "record_menus": False}),
    ],
)
def test_every_scenario_panel_names_the_run(monkeypatch, tmp_path, scenario, overrides) -> None:
    """Issue 14: scenario panels lacked the run identity (scenario, mechanism, learner, n, T, seed)."""
    res = abm.run(scenario, overrides=overrides, out=tmp_path, progress=False)
    from abm.scenario import get_scenario

    figs = _capture(monkeypatch)
    get_scenario(scenario).plot_panels(tmp_path, tmp_path)
    s = res.summary
    for fig in figs:
        texts = [fig._suptitle.get_text() if fig._suptitle else ""] + [ax.get_title() for ax in fig.axes]
        text = " ".join(texts)
        for part in (s["scenario"], str(s["mechanism"]), str(s["learner"]), f"n={s['agents']}",
                     f"T={s['rounds']}", f"random seed {s['seed']}"):
            assert part in text, (part, text)
        assert "seed 00" not in text.lower()

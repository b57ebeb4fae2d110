"""The regret study: the statistics against hand values and synthetic power laws, and an
end-to-end study whose numbers are recomputed from direct runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from abm.cli.main import main
from abm.config import ConfigError
from abm.runs.runner import run
from abm.runs.study import geometric_grid, loglog_fit, mean_ci, parse_horizons, run_regret, run_study


def test_geometric_grid():
    assert geometric_grid(100, 10_000, 3) == [100, 1000, 10_000]
    assert geometric_grid(10, 10, 4) == [10]
    g = geometric_grid(50, 3000, 6)
    assert g[0] == 50 and g[-1] == 3000 and len(g) == 6
    ratios = np.diff(np.log(g))
    assert np.allclose(ratios, ratios.mean(), rtol=0.02)  # evenly spaced in log T
    for bad in [(0, 10, 3), (10, 5, 3), (10, 20, 0)]:
        with pytest.raises(ValueError):
            geometric_grid(*bad)


def test_parse_horizons():
    assert parse_horizons("300,100,1000") == [100, 300, 1000]
    assert parse_horizons("100:10000:3") == [100, 1000, 10_000]
    with pytest.raises(ConfigError, match="--horizons"):
        parse_horizons("a,b")


def test_mean_ci_by_hand():
    # x = 1, 2, 3: mean 2, s = 1, t_{0.975, 2} = 4.302653 (t table), half-width 4.302653 / sqrt(3)
    m, lo, hi = mean_ci(np.array([1.0, 2.0, 3.0]))
    assert m == 2.0
    assert hi - m == pytest.approx(4.302653 / np.sqrt(3), rel=1e-6)
    assert m - lo == pytest.approx(hi - m)
    m1, lo1, hi1 = mean_ci(np.array([5.0]))
    assert m1 == 5.0 and np.isnan(lo1) and np.isnan(hi1)


def test_loglog_fit_recovers_power_laws():
    T = np.repeat([100, 300, 1000, 3000], 5).astype(float)
    exact = loglog_fit(T, 2.5 * T**0.5)
    assert exact["slope"] == pytest.approx(0.5, abs=1e-12)
    assert exact["intercept"] == pytest.approx(np.log(2.5), abs=1e-12)
    assert exact["slope_hi"] - exact["slope_lo"] == pytest.approx(0.0, abs=1e-6)  # no scatter: no width
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(200):  # the 95% interval covers the true slope about 95% of the time
        fit = loglog_fit(T, 2.5 * T**0.7 * np.exp(0.2 * rng.standard_normal(T.size)))
        hits += fit["slope_lo"] <= 0.7 <= fit["slope_hi"]
    assert 0.88 <= hits / 200 <= 0.99
    dropped = loglog_fit(np.array([10.0, 10, 100, 100]), np.array([1.0, 0.0, 3.0, -1.0]))
    assert dropped["n_nonpositive"] == 2 and np.isnan(dropped["slope"])  # 2 points: no fit


def test_run_regret_reads_metrics(tmp_path):
    pd.DataFrame({"agent": [0, 1, 2], "strong_regret": [1.0, 4.0, np.nan]}).to_parquet(tmp_path / "metrics.parquet")
    assert run_regret(tmp_path, "mean") == 2.5
    assert run_regret(tmp_path, "max") == 4.0
    pd.DataFrame({"agent": [0]}).to_parquet(tmp_path / "metrics.parquet")
    with pytest.raises(ValueError, match="strong_regret"):
        run_regret(tmp_path, "mean")


def test_study_end_to_end(tmp_path):
    horizons, learners = [20, 40, 80], ["adaptive_pacing", "truthful"]
    options = {"scenario": "public-goods", "horizons": "20,40,80", "learners": learners, "agents": 3}
    study = run_study("regret", seeds=2, options=options, out=tmp_path, executor="serial", progress=False)
    table, fits = study.findings.tables["regret_table"], study.findings.tables["regret_fits"]
    assert len(study.runs) == 2 * 3 * 2
    assert list(table.columns[:6]) == ["learner", "T", "seeds", "regret_mean", "ci_lo", "ci_hi"]
    assert len(table) == 6 and set(table["seeds"]) == {2}
    # Recompute from direct runs: one (learner, T) cell and every learner's slope.
    direct = {}
    for learner in learners:
        for T in horizons:
            for seed in (0, 1):
                r = run(
                    "public-goods",
                    overrides={"rounds": T, "seed": seed, "agents": 3, "learner": {"name": learner}},
                    progress=False,
                )
                direct[learner, T, seed] = float(np.nanmean(r.agent_table["strong_regret"]))
    for row in study.runs.itertuples():
        assert row.regret == pytest.approx(direct[row.learner, row.rounds, row.seed], rel=1e-12)
    cell = table.set_index(["learner", "T"]).loc[("truthful", 40)]
    pair = [direct["truthful", 40, 0], direct["truthful", 40, 1]]
    assert cell["regret_mean"] == pytest.approx(np.mean(pair))
    assert cell["per_round_mean"] == pytest.approx(np.mean(pair) / 40)
    for learner in learners:
        xs = [(T, direct[learner, T, s]) for T in horizons for s in (0, 1)]
        ref = stats.linregress(np.log([x[0] for x in xs]), np.log([x[1] for x in xs]))
        fit = fits.set_index("learner").loc[learner]
        assert fit["slope"] == pytest.approx(ref.slope, rel=1e-9)
        assert fit["slope_lo"] < fit["slope"] < fit["slope_hi"]
        claim = next(c for c in study.findings.claims if c.quantity.startswith(learner))
        assert claim.holds is bool(fit["slope_hi"] < 1)
    assert (tmp_path / "regret.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "regret.pdf").read_bytes()[:5] == b"%PDF-"
    report = (tmp_path / "report.md").read_text()
    assert "Braverman 2021, Definition 3" in report and "![regret](regret.png)" in report
    summary = pd.read_csv(tmp_path / "summary.csv")
    sel = (summary["metric"] == "regret") & (summary["rounds"] == 40) & (summary["learner.name"] == "truthful")
    cell = summary[sel]
    assert float(cell["mean"].iloc[0]) == pytest.approx(np.mean(pair)) and int(cell["n"].iloc[0]) == 2
    assert len(pd.read_parquet(tmp_path / "runs.parquet")) == 12
    # Resumable: a second call recomputes nothing.
    lines = (tmp_path / "sweeps" / "regret" / "manifest.jsonl").read_text()
    run_study("regret", seeds=2, options=options, out=tmp_path, executor="serial", progress=False, plot=False)
    assert (tmp_path / "sweeps" / "regret" / "manifest.jsonl").read_text() == lines


def test_study_cli(tmp_path, capsys):
    code = main(
        ["study", "regret", "--scenario", "public-goods", "--horizons", "20,60", "--seeds", "2", "--agents", "2",
         "--executor", "serial", "--out", str(tmp_path), "--quiet"]
    )
    assert code in (0, 1)  # 1: a claim does not hold (two horizons of truthful bidders need not show o(T))
    printed = capsys.readouterr().out
    assert "report" in printed and (tmp_path / "regret.png").is_file() and (tmp_path / "report.md").is_file()


def test_study_cli_lists_and_helps(capsys):
    assert main(["study"]) == 0
    assert "regret" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["study", "regret", "--help"])
    assert "--horizons" in capsys.readouterr().out


def test_study_rejects_bad_input(tmp_path):
    with pytest.raises(ConfigError, match="horizons"):
        run_study("regret", options={"horizons": ""}, out=tmp_path)
    with pytest.raises(ConfigError, match="aggregate"):
        run_study("regret", options={"aggregate": "median"}, out=tmp_path)
    with pytest.raises(ConfigError, match="unknown scenario"):
        run_study("regret", options={"scenario": "no-such-scenario"}, out=tmp_path)
    with pytest.raises(ConfigError, match="no option 'colour'"):
        run_study("regret", options={"colour": 1}, out=tmp_path)
    with pytest.raises(ConfigError, match="unknown study"):
        run_study("no-such-study", out=tmp_path)
    with pytest.raises(ConfigError, match="seeds"):
        run_study("regret", seeds=0, out=tmp_path)
    assert not any(tmp_path.iterdir())  # nothing ran, nothing written

"""The study framework on a toy study: parts as sweeps, measured columns, aggregates
recomputed from the runs, claims in report.md, figures, resume, the CLI's exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from abm.cli.main import main
from abm.runs.study import STUDIES, Claim, Findings, Part, Study, StudyData, register_study, run_study
from abm.runs.study.figures import line_ci
from mechanisms.registry import ONYEZE, cite


@dataclass
class ToyStudy(Study):
    """Goods allocated against alpha, two mechanisms."""

    name: ClassVar[str] = "test-toy"
    citation: ClassVar[Any] = cite(ONYEZE, "Proposition 3.1")
    metrics: ClassVar[tuple[str, ...]] = ("scenario_summary.goods_allocated", "goods_per_bound")
    rounds: int = field(default=60, metadata={"help": "horizon"})
    fail: bool = field(default=False, metadata={"help": "make the claim fail"})

    def parts(self, quick: bool) -> list[Part]:
        return [
            Part("prop", "public-goods", {"alpha": [0.2, 0.6]},
                 {"rounds": self.rounds, "agents": 3, "record.save_menus": False}, seeds=2),
            Part("moulin", "public-goods", {"alpha": [0.6]},
                 {"rounds": self.rounds, "agents": 3, "mechanism": "moulin"}, seeds=2),
        ]

    def measure(self, part: Part, run_dir: Path, row: dict[str, Any]) -> dict[str, float]:
        rounds = pd.read_parquet(run_dir / "rounds.parquet")
        return {"goods_per_bound": float(len(rounds)) / row["scenario_summary.goods_bound_alpha_T"]}

    def analyse(self, data: StudyData) -> Findings:
        worst = float(data.runs["scenario_summary.goods_allocated"].max()
                      / data.runs["scenario_summary.goods_bound_alpha_T"].max())
        ok = all(data.runs["scenario_summary.goods_allocated"] <= data.runs["scenario_summary.goods_bound_alpha_T"])
        return Findings([Claim("goods allocated / alpha T", "<= 1", self.citation, f"{worst:.3f}",
                               ok and not self.fail)], ["a note"], {"extra": pd.DataFrame({"x": [1.5]})})

    def plot(self, data: StudyData, fig: Any) -> None:
        line_ci(fig.add_subplot(), data.part("prop"), "alpha", "scenario_summary.goods_allocated")


@pytest.fixture
def toy():
    register_study(ToyStudy)
    yield ToyStudy
    STUDIES.pop("test-toy")


def test_toy_study_outputs(tmp_path, toy):
    result = run_study("test-toy", out=tmp_path, executor="serial", progress=False)
    runs = result.runs
    assert len(runs) == 2 * 2 + 1 * 2 and set(runs["part"]) == {"prop", "moulin"}
    assert {"run_id", "path", "seed", "alpha", "metrics.strong_regret.max", "goods_per_bound"} <= set(runs.columns)
    assert np.allclose(runs["goods_per_bound"], 60 / runs["scenario_summary.goods_bound_alpha_T"])
    summary = pd.read_csv(tmp_path / "summary.csv")
    for (part, alpha), cell in runs.groupby(["part", "alpha"]):
        row = summary[(summary["part"] == part) & (summary["alpha"] == alpha)
                      & (summary["metric"] == "scenario_summary.goods_allocated")]
        values = cell["scenario_summary.goods_allocated"].to_numpy(dtype=float)
        assert float(row["mean"].iloc[0]) == pytest.approx(values.mean())
        half = 12.706204736 * values.std(ddof=1) / np.sqrt(2)  # t_{0.975, 1}
        assert float(row["ci_hi"].iloc[0]) == pytest.approx(values.mean() + half)
    data = StudyData(runs, result.summary, result.study.parts(False), False, None, tmp_path)
    prop = runs[(runs["part"] == "prop") & (runs["alpha"] == 0.6)]["scenario_summary.goods_allocated"]
    assert data.mean("prop", "scenario_summary.goods_allocated", alpha=0.6) == pytest.approx(prop.mean())
    assert np.isnan(data.mean("moulin", "scenario_summary.goods_allocated", alpha=0.2))  # no such point
    stored = pd.read_parquet(tmp_path / "runs.parquet")
    assert len(stored) == len(runs) and "metrics.core.gamma" in stored
    report = (tmp_path / "report.md").read_text()
    assert "| goods allocated / alpha T | <= 1 | Onyeze et al. 2025, Proposition 3.1 |" in report
    assert "a note" in report and "![test-toy](test-toy.png)" in report and "## extra" in report
    assert (tmp_path / "extra.csv").read_text().startswith("x\n1.5")
    assert {p.name for p in result.figures} == {"test-toy.png", "test-toy.pdf"}
    assert result.findings.holds
    # Resume: the second run starts no run and gives the same table.
    again = run_study("test-toy", out=tmp_path, executor="serial", progress=False, plot=False)
    pd.testing.assert_frame_equal(again.runs, runs)


def test_toy_study_cli_exit_code_and_options(tmp_path, toy, capsys):
    assert main(["study", "test-toy", "--executor", "serial", "--out", str(tmp_path), "--quiet",
                 "--rounds", "40", "--fail", "true", "--seeds", "1"]) == 1
    out = capsys.readouterr().out
    assert "report" in out
    runs = pd.read_parquet(tmp_path / "runs.parquet")
    assert set(runs["rounds"]) == {40} and len(runs) == 3
    assert "**NO**" in (tmp_path / "report.md").read_text()


def test_study_cli_rejects_bad_option(tmp_path, toy, capsys):
    with pytest.raises(SystemExit):
        main(["study", "test-toy", "--rounds", "many"])
    assert "--rounds" in capsys.readouterr().err
    assert main(["study", "test-toy", "--set", "agents=0", "--out", str(tmp_path)]) == 2
    assert "agents" in capsys.readouterr().err
    assert not (tmp_path / "runs.parquet").exists()


def test_plot_sweep_and_study_dirs(tmp_path, toy, capsys):
    run_study("test-toy", out=tmp_path, executor="serial", progress=False, plot=False)
    sweep_dir = tmp_path / "sweeps" / "prop"
    assert main(["plot", str(sweep_dir), "--x", "alpha", "--y", "scenario_summary.goods_allocated"]) == 0
    assert (sweep_dir / "scenario_summary.goods_allocated-vs-alpha.png").is_file()
    assert main(["plot", str(tmp_path), "--x", "alpha", "--y", "goods_per_bound", "--hue", "part",
                 "--out", str(tmp_path / "figs")]) == 0
    assert (tmp_path / "figs" / "goods_per_bound-vs-alpha-by-part.pdf").is_file()
    capsys.readouterr()
    assert main(["plot", str(sweep_dir), "--x", "alpha", "--y", "no.such.metric"]) == 2
    assert "no column 'no.such.metric'" in capsys.readouterr().err
    assert main(["plot", str(sweep_dir), "--x", "alpha"]) == 2

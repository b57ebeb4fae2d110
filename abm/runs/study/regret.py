"""The `regret` study: strong regret against the horizon T, on log-log axes.

For a scenario, horizons T on a geometric grid and S seeds per T (and optionally several
learners), every (learner, T, seed) is one run. Each run's per-agent strong regret
(Braverman 2021, Definition 3; metrics.parquet) is averaged over agents (or its max taken:
Lemma 4's epsilon is a max over players), one number per run. Per T: mean and a 95%
Student-t interval over seeds. Per learner: the least-squares slope b of log(regret) on
log(T) with a 95% CI — regret ~ T^b, so regret/T ~ T^(b-1); b < 1 is no-regret (vanishing
per-round regret), b = 1/2 the sqrt(T) rate of Hedge/EXP3-type learners.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from abm.config import ConfigError
from abm.runs.study.base import Claim, Findings, Part, Study, StudyData, register_study
from abm.runs.study.stats import fmt_ci, geometric_grid, loglog_fit, mean_ci
from mechanisms.registry import BRAVERMAN, Citation, cite

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DEFINITION_3 = cite(BRAVERMAN, "Definition 3, Lemma 4")


def parse_horizons(text: str) -> list[int]:
    """`100,300,1000` or a geometric grid `100:3000:5` (t_min:t_max:points)."""
    try:
        if ":" in text:
            t_min, t_max, points = (int(x) for x in text.split(":"))
            return geometric_grid(t_min, t_max, points)
        horizons = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError as exc:
        raise ConfigError(f"--horizons: expected T1,T2,... or TMIN:TMAX:POINTS, got {text!r} ({exc})") from None
    if not horizons or horizons[0] < 1:
        raise ConfigError(f"--horizons: expected integers >= 1, got {text!r}")
    return horizons


def run_regret(path: str | Path, aggregate: str) -> float:
    """One run's strong regret from its metrics.parquet: mean or max over recorded agents."""
    import pandas as pd

    table = pd.read_parquet(Path(path) / "metrics.parquet")
    if "strong_regret" not in table:
        raise ValueError(f"{path}/metrics.parquet has no strong_regret column (menus not recorded?)")
    values = table["strong_regret"].to_numpy(dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError(f"{path}/metrics.parquet: no agent has a strong regret value")
    return float(values.mean() if aggregate == "mean" else values.max())


@register_study
@dataclass
class RegretStudy(Study):
    """Strong regret vs the horizon T on log-log axes: per-T means with CIs, fitted slopes, reference slopes."""

    name: ClassVar[str] = "regret"
    citation: ClassVar[Citation | None] = DEFINITION_3
    metrics: ClassVar[tuple[str, ...]] = ("regret", "regret_per_round")

    scenario: str = field(default="voting", metadata={"help": "scenario name (see `mechsim list`)"})
    horizons: str = field(default="100:3000:5", metadata={"help": "T1,T2,... or TMIN:TMAX:POINTS"})
    learners: list[str] = field(default_factory=list, metadata={
        "help": "comma-separated learner names to compare (default: the scenario's)"})
    agents: int | None = field(default=None, metadata={"help": "number of agents n (default: the scenario's)"})
    aggregate: str = field(default="mean", metadata={"help": "over agents, per run: mean or max"})

    def __post_init__(self) -> None:
        from abm.scenario import get_scenario

        if self.aggregate not in ("mean", "max"):
            raise ConfigError(f"aggregate must be 'mean' or 'max', got {self.aggregate!r}")
        get_scenario(self.scenario)
        parse_horizons(self.horizons)

    def parts(self, quick: bool) -> list[Part]:
        horizons = geometric_grid(40, 320, 3) if quick else parse_horizons(self.horizons)
        axes: dict[str, list[Any]] = {"rounds": horizons}
        overrides: dict[str, Any] = {"record_menus": True}
        if self.learners:
            axes["learner.name"] = list(self.learners)
            overrides["learner.params"] = {}  # the scenario's learner's parameters do not fit the others
        if self.agents is not None:
            overrides["agents"] = self.agents
        return [Part("regret", self.scenario, axes, overrides, seeds=2 if quick else 5)]

    def measure(self, part: Part, run_dir: Path, row: dict[str, Any]) -> dict[str, float]:
        regret = run_regret(run_dir, self.aggregate)
        return {"regret": regret, "regret_per_round": regret / float(row["rounds"])}

    def analyse(self, data: StudyData) -> Findings:
        import pandas as pd

        runs = data.runs
        rows = []
        for (learner, horizon), g in runs.groupby(["learner", "rounds"], sort=True):
            T = int(horizon)  # type: ignore[call-overload]
            m, lo, hi = mean_ci(g["regret"].to_numpy())
            rows.append({"learner": learner, "T": T, "seeds": len(g), "regret_mean": m, "ci_lo": lo,
                         "ci_hi": hi, "per_round_mean": m / T, "per_round_ci_lo": lo / T, "per_round_ci_hi": hi / T})
        table = pd.DataFrame(rows)
        fits = pd.DataFrame([
            {"learner": lr, **loglog_fit(g["rounds"].to_numpy(), g["regret"].to_numpy())}
            for lr, g in runs.groupby("learner")
        ])
        claims = []
        for f in fits.to_dict(orient="records"):
            claims.append(Claim(
                quantity=f"{f['learner']}: slope b of strong regret ~ T^b "
                f"({self.scenario}, {self.aggregate} over agents)",
                paper="b < 1 (the whole 95% CI): strong regret o(T), so ε(T) → 0 for no-regret learners",
                citation=DEFINITION_3,
                measured=fmt_ci(f["slope"], f["slope_lo"], f["slope_hi"]),
                holds=bool(f["slope_hi"] < 1) if np.isfinite(f["slope_hi"]) else None,
            ))
        notes = [
            "Slope b is fitted to strong regret itself; the figure plots regret/T, whose slope is b − 1 "
            "(the reference lines: T^(−1/2), the √T rate of Hedge/EXP3-type learners, and T^0, linear regret)."
        ]
        return Findings(claims, notes, {"regret_table": table, "regret_fits": fits})

    def plot(self, data: StudyData, fig: Figure) -> None:
        tables = (data.findings or self.analyse(data)).tables
        table, fits = tables["regret_table"], tables["regret_fits"].set_index("learner")
        ax = fig.add_subplot()
        for learner, g in table.groupby("learner", sort=True):
            y = g["per_round_mean"].to_numpy()
            lo = np.clip(y - g["per_round_ci_lo"].to_numpy(), 0, None)
            hi = np.clip(g["per_round_ci_hi"].to_numpy() - y, 0, None)
            yerr = np.nan_to_num(np.vstack([np.minimum(lo, y * 0.999), hi]))
            bars = ax.errorbar(g["T"], y, yerr=yerr, fmt="o", capsize=3, label=f"{learner}: mean, 95% CI")
            f = fits.loc[learner]
            if np.isfinite(f["slope"]):
                ts = np.geomspace(g["T"].min(), g["T"].max(), 50)
                ax.plot(ts, np.exp(f["intercept"]) * ts ** (f["slope"] - 1), "-", color=bars[0].get_color(),
                        label=f"{learner} fit: regret/T ~ T^{f['slope'] - 1:.2f} "
                        f"[{f['slope_lo'] - 1:.2f}, {f['slope_hi'] - 1:.2f}]")
        if len(table):
            t0, y0 = float(table["T"].min()), float(table.sort_values("T")["per_round_mean"].iloc[0])
            ts = np.geomspace(t0, float(table["T"].max()), 20)
            if y0 > 0:
                ax.plot(ts, y0 * (ts / t0) ** -0.5, ":", color="grey", label="reference T^(−1/2)")
                ax.plot(ts, y0 * (ts / t0) ** 0.0, "--", color="grey", lw=0.8, label="reference T^0 (linear regret)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("horizon T")
        ax.set_ylabel(f"strong regret / T ({self.aggregate} over agents)")
        runs = data.runs
        n = ", ".join(str(v) for v in sorted(runs["agents"].unique())) if "agents" in runs else "?"
        mech = ", ".join(str(v) for v in sorted(runs["mechanism"].unique())) if "mechanism" in runs else "?"
        seeds = int(runs.groupby(["learner", "rounds"]).size().max()) if len(runs) else 0
        ax.set_title(f"{self.scenario} ({mech}): strong regret / T, n = {n}, {seeds} seeds per T, "
                     f"{self.aggregate} over agents", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, which="both")


"""The `apex-local-search` study: APEX over local search against APEX over the exact optimum
(Braverman 2021, abstract and §2.1: APEX "can be combined with any optimization algorithm
that is based on local search"; Definition 1, eq. 13), against the number of players n.

Per scenario (course-allocation, facility-location), heuristic (local_search, exact) and n,
seeds runs of the scenario report: the welfare ratio F_t(X_{t+1}) / max F_t (max by the
MILP), the rate of rounds with a negative raw charge C_{i,t} < 0, the Definition 1
violation rate, strong regret per round (Definition 3) and the mechanism's seconds per
round. Claims: with the exact H every sampled round is optimal, no raw charge is negative
and eq. (13) is never violated (the paper's Example: an exact maximizer is monotone); the
local search's numbers are reported beside them (informational: the paper makes no claim).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from abm.runs.study.base import Claim, Findings, Part, Study, StudyData, register_study
from abm.runs.study.stats import fmt_ci, mean_ci
from mechanisms.registry import BRAVERMAN, Citation, cite

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SECTION_2_1 = cite(BRAVERMAN, "§2.1, Algorithm 1, Definition 1")
WELFARE = "scenario_summary.welfare.ratio_mean"
NEGATIVE = "scenario_summary.charges.negative_round_rate"
MONOTONICITY = "scenario_summary.monotonicity.rate"
REGRET = "metrics.strong_regret.max_per_round"
SECONDS = "scenario_summary.per_round_seconds"
HEURISTIC = "params.heuristic"
#: The figure's panels and the table's columns: (run column, axis label, table column).
PANELS = (
    (WELFARE, "F(X) / max F (welfare ratio)", "welfare_ratio"),
    (NEGATIVE, "rounds with a negative charge", "negative_charge_rate"),
    (MONOTONICITY, "eq. (13) violation rate", "monotonicity_violation_rate"),
    (REGRET, "strong regret / T (max over players)", "strong_regret_per_round"),
    (SECONDS, "mechanism seconds per round", "per_round_seconds"),
)


@register_study
@dataclass
class ApexLocalSearch(Study):
    """APEX over local search vs the exact H against n: welfare ratio, negative charges, eq. (13), regret, time."""

    name: ClassVar[str] = "apex-local-search"
    citation: ClassVar[Citation | None] = SECTION_2_1
    metrics: ClassVar[tuple[str, ...]] = tuple(column for column, _, _ in PANELS)

    agents: list[int] = field(default_factory=lambda: [6, 12, 18, 24], metadata={
        "help": "comma-separated numbers of players n"})
    rounds: int = field(default=200, metadata={"help": "horizon T of every run"})
    scenarios: list[str] = field(default_factory=lambda: ["course-allocation", "facility-location"], metadata={
        "help": "comma-separated scenarios with a heuristic parameter (local_search | exact)"})

    def parts(self, quick: bool) -> list[Part]:
        agents = [3, 6] if quick else list(self.agents)
        rounds = 12 if quick else self.rounds
        overrides: dict[str, Any] = {
            "rounds": rounds,
            "menu_points": 4 if quick else 8,
            # Menus re-run H (a MILP for exact) per grid point: every 4th / 3rd round, regret scaled by T / S.
            "record.menu_every": 4 if quick else 3,
            "params.welfare_rounds": 3 if quick else 20,
            "params.monotonicity_probes": 4 if quick else 16,
        }
        return [
            Part(scenario, scenario, {"agents": agents, HEURISTIC: ["local_search", "exact"]}, overrides,
                 seeds=1 if quick else 3)
            for scenario in self.scenarios
        ]

    def analyse(self, data: StudyData) -> Findings:
        import pandas as pd

        claims, rows = [], []
        for part in data.parts:
            runs = data.part(part.name)
            for (heuristic, n), g in runs.groupby([HEURISTIC, "agents"], sort=True):
                row: dict[str, Any] = {"scenario": part.name, "heuristic": heuristic, "agents": n, "runs": len(g)}
                for column, _, short in PANELS:
                    row[short] = float(g[column].mean())
                row["worst_welfare_ratio"] = float(g["scenario_summary.welfare.ratio_min"].min())
                row["most_negative_charge"] = float(g["scenario_summary.charges.most_negative"].min())
                rows.append(row)
            exact = runs[runs[HEURISTIC] == "exact"]
            local = runs[runs[HEURISTIC] == "local_search"]
            if len(exact):
                worst = float(exact["scenario_summary.welfare.ratio_min"].min())
                claims.append(Claim(f"{part.name}, exact H: worst F(X) / max F over sampled rounds",
                                    "1 (H maximizes F)", SECTION_2_1, f"{worst:.9f}", bool(worst >= 1 - 1e-7)))
                neg = int(exact["scenario_summary.charges.negative_rounds"].sum())
                claims.append(Claim(f"{part.name}, exact H: rounds with a negative charge C_i,t < 0",
                                    "0 (C_i,t is a Clarke pivot, >= 0)", SECTION_2_1, str(neg), neg == 0))
                viol = int(exact["scenario_summary.monotonicity.violations"].sum())
                claims.append(Claim(f"{part.name}, exact H: Definition 1 (eq. 13) violations",
                                    "0 (an exact maximizer is monotone, §2.1.1 Example)", SECTION_2_1,
                                    f"{viol} of {int(exact['scenario_summary.monotonicity.probes'].sum())} probes",
                                    viol == 0))
            if len(local):
                top = local[local["agents"] == local["agents"].max()]
                for column, label in ((WELFARE, "welfare ratio F(X) / max F"),
                                      (NEGATIVE, "rate of rounds with a negative charge"),
                                      (MONOTONICITY, "eq. (13) violation rate")):
                    m, lo, hi = mean_ci(top[column].to_numpy(dtype=np.float64))
                    claims.append(Claim(f"{part.name}, local search, n = {int(top['agents'].iloc[0])}: {label}",
                                        "no claim (local search need not be locally correct)", SECTION_2_1,
                                        fmt_ci(m, lo, hi), None))
                ratio = float(local[WELFARE].max())
                claims.append(Claim(f"{part.name}, local search: largest welfare ratio of a run",
                                    "<= 1 (the MILP is the optimum)", SECTION_2_1, f"{ratio:.9f}",
                                    bool(ratio <= 1 + 1e-7)))
        notes = [
            "Negative charges are possible when H is not locally correct: X_{t+1}, found for F_t, can score "
            "higher on F_t^{-i} than the X^{-i}_{t+1} that the local search found for F_t^{-i} itself. The "
            "ledger pays no refunds, so they are floored at 0 and counted (Apex.audit); the table's "
            "most_negative_charge is the smallest raw C_i,t.",
            f"Strong regret is estimated from the menus of every {'fourth' if data.quick else 'third'} round "
            "(record.menu_every) and scaled by T / S; seconds per round are the mechanism's own (H for "
            "X_{t+1} and every X^{-i}_{t+1}), measured on this machine, not a benchmark.",
        ]
        return Findings(claims, notes, {"apex_local_search": pd.DataFrame(rows)})

    def plot(self, data: StudyData, fig: Figure) -> None:
        from abm.runs.study.figures import line_ci

        runs = data.runs.assign(variant=data.runs["part"] + ", " + data.runs[HEURISTIC])
        axes = fig.subplots(1, len(PANELS), squeeze=False)[0]
        for ax, (column, label, _) in zip(axes, PANELS, strict=True):
            line_ci(ax, runs, "agents", column, "variant")
            ax.set_ylabel(label, fontsize=7)
            ax.set_xlabel("players n", fontsize=7)
            ax.tick_params(labelsize=6)
            if column == SECONDS:
                ax.set_yscale("log")
        axes[0].legend(fontsize=6)
        fig.set_size_inches(3.2 * len(PANELS), 3.0)

"""End-of-run metrics of one finished `MechanismModel`: what `abm.runs.runner.run` adds to
metrics.parquet (one row per agent), rounds.parquet (per-round series), summary.json and
extra tables (regret_curve.parquet). The metrics are the steps of
`abm.metrics.pipeline` (chosen by what was recorded and by the mechanism's declared
capabilities) plus the scenario's own `ScenarioInstance.metric_steps`; each metric is a
pure function in its own module (docs/architecture.md "Metrics").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from abm.metrics.pipeline import FINAL_STEPS, GENERIC_STEPS, MetricStep, RunRecords, run_pipeline


@dataclass
class RunMetrics:
    """agent_columns: one row per agent (column `agent` to merge on); round_columns: one row
    per round; summary: JSON-able; tables: extra Parquet tables by file stem."""

    agent_columns: pd.DataFrame
    round_columns: pd.DataFrame
    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def metric_steps(model: Any) -> list[MetricStep]:
    """The pipeline of `model`: the generic steps, the scenario's hooks, the final steps."""
    return [*GENERIC_STEPS, *model.instance.metric_steps, *FINAL_STEPS]


def end_of_run_metrics(model: Any) -> RunMetrics:
    """Every metric the records of `model` allow (menus -> regret; values -> core; ...)."""
    started = time.perf_counter()
    records = RunRecords.of(model)
    agents = records.agents
    summary: dict[str, Any] = {"traced_agents": int(agents.shape[0])}
    if records.t_done == 0:
        return RunMetrics(pd.DataFrame({"agent": agents}), pd.DataFrame(index=range(0)), summary)
    out = run_pipeline(records, metric_steps(model))
    summary |= out.summary
    summary["runtime_s"] = round(time.perf_counter() - started, 3)
    cols: dict[str, np.ndarray] = {"agent": agents, **out.agent_columns}
    return RunMetrics(pd.DataFrame(cols), pd.DataFrame(out.round_columns), summary, out.tables)

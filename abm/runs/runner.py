"""Run one configuration end to end: build the model, step it T times with a progress
bar, collect, and write `rounds.parquet`, `agents.parquet`, `metrics.parquet`,
`summary.json` (and `menus.npz` when menus are recorded). docs/architecture.md."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from abm.config import ConfigError, RunConfig
from abm.metrics import end_of_run_metrics
from abm.model import MechanismModel
from abm.recording.frames import AGENT_SERIES_COLUMNS, agent_series_tables
from abm.resolve import resolve_config
from abm.runs.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from abm.runs.outputs import write_outputs

log = logging.getLogger(__name__)

#: Where a checkpointed run's records spill, inside its output directory.
RECORDS_DIR = ".records"


@dataclass
class RunResult:
    """Per-round series, the per-agent end-of-run table and the summary; `agents`, the
    recorded agents' per-round series, is loaded from the model's records on access."""

    config: RunConfig
    rounds: pd.DataFrame
    agent_table: pd.DataFrame
    summary: dict[str, Any]
    model: MechanismModel = field(repr=False)
    #: Extra per-run tables written as <name>.parquet (regret_curve: abm.metrics).
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def agents(self) -> pd.DataFrame:
        """One row per round and recorded agent (`record.agents`): what agents.parquet holds."""
        frames = [pa_table.to_pandas() for pa_table in agent_series_tables(self.model)]
        if not frames:
            return pd.DataFrame(columns=list(AGENT_SERIES_COLUMNS))
        return pd.concat(frames, ignore_index=True)


def agent_table(model: MechanismModel) -> pd.DataFrame:
    """One row per agent: initial budget, spend ratio, utility, depletion round, plus the
    scenario's per-agent info (e.g. share alpha_i)."""
    ledger = model.ledger
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(ledger.initial > 0, ledger.spent / ledger.initial, np.nan)
    table = pd.DataFrame(
        {
            "agent": np.arange(model.n_agents),
            "group": model.group_names,
            "learner": np.asarray([g.learner for g in model.groups], dtype=object)[model.agent_group],
            **{k: np.asarray(v) for k, v in model.instance.agent_info.items()},
            "budget": ledger.initial,
            "spent": ledger.spent,
            "spend_ratio": ratio,
            "utility": model.cum_utility,
            "depletion_round": ledger.depleted_at,
        }
    )
    return table


def round_frame(model: MechanismModel) -> pd.DataFrame:
    """The DataCollector's model-level series as a per-round table. Mesa step s >= 1 is the
    state after round s - 1 (rounds are 0-based like `depletion_round`); step 0, the
    initial state collected at construction, is not a round and is left out."""
    rounds = model.datacollector.get_model_vars_dataframe().iloc[1:].reset_index(drop=True)
    rounds.insert(0, "round", np.arange(len(rounds)))
    return rounds


def run(
    config: str | Path | dict[str, Any] | RunConfig,
    *,
    overrides: dict[str, Any] | None = None,
    out: str | Path | None = None,
    progress: bool = True,
) -> RunResult:
    """Simulate `config` for its T rounds; write results to `out` when given.

    With `checkpoint_every` > 0 and an `out` directory, the whole model is checkpointed
    there every that many rounds, and a run whose directory holds a checkpoint of the
    same config resumes from it (nothing computed before the checkpoint is redone)."""
    cfg = resolve_config(config, overrides)
    started = time.perf_counter()
    ckpt = Path(out) / CHECKPOINT if out is not None and cfg.checkpoint_every else None
    model = load_checkpoint(ckpt, cfg) if ckpt is not None else None
    if model is None:
        # A checkpointed run spills beside its checkpoint, where a resumed run finds the
        # records; any other run spills to a temporary directory (SpillDir).
        model = MechanismModel(cfg, spill_dir=str(ckpt.parent / RECORDS_DIR) if ckpt is not None else None)
    try:
        bar = tqdm(
            range(model.steps, cfg.rounds),
            initial=model.steps,
            total=cfg.rounds,
            desc=f"{cfg.scenario} seed={cfg.seed}",
            disable=not progress,
            unit="round",
        )
        for _ in bar:
            model.step()
            if ckpt is not None and model.running and model.steps % cfg.checkpoint_every == 0:
                save_checkpoint(model, ckpt)
    finally:
        model.backend.close()
    model.ledger.check_invariants()
    elapsed = time.perf_counter() - started
    rounds = round_frame(model)
    table = agent_table(model)
    metrics = end_of_run_metrics(model)
    table = table.merge(metrics.agent_columns, on="agent", how="left")
    rounds = pd.concat([rounds, metrics.round_columns], axis=1)
    summary = {
        "scenario": cfg.scenario,
        "seed": cfg.seed,
        "rounds": cfg.rounds,
        "agents": model.n_agents,
        "mechanism": model.mechanism.name,
        "learner": cfg.learner.name if cfg.population is None else "population",
        "population": [{"group": g.name, "learner": g.learner, "agents": g.size} for g in model.groups],
        "runtime_s": round(elapsed, 3),
        "rounds_per_s": round(cfg.rounds / max(elapsed, 1e-9), 1),
        "total_utility": float(model.cum_utility.sum()),
        "total_spent": float(model.ledger.spent.sum()),
        "n_depleted": model.ledger.n_depleted,
        "config": cfg.model_dump(mode="json"),
    }
    summary["recorded_agents"] = int(model.trace.agents.shape[0])
    if model.menus is not None:
        summary["menus"] = {
            "recorded_agents": int(model.menus.agents.shape[0]),
            "alternatives": f"mechanism report grid ({model.menus.grid.shape[0]} points) + the played report",
            "every": model.menus.every,
            "stored": (
                "per-agent statistic (MenuStatistic: mechanism.menu_statistic), menus rebuilt for the metrics"
                if model.menus.statistic is not None else "menus"
            ),
        }
    if model.instance.summarize is not None:
        summary["scenario_summary"] = model.instance.summarize(model)
    summary["metrics"] = metrics.summary
    summary["groups"] = group_summary(table)
    result = RunResult(cfg, rounds, table, summary, model, metrics.tables)
    if out is not None:
        write_outputs(result, Path(out))
        if ckpt is not None:
            model.spill.cleanup()  # the checkpoint is gone too: nothing can resume from them
    return result


#: Per-agent columns summarized per population group: (column, aggregations).
GROUP_COLUMNS = (
    ("utility", ("mean", "min", "max")),
    ("spend_ratio", ("mean",)),
    ("strong_regret_per_round", ("mean", "max")),
    ("spend_rate_error_final", ("mean", "max")),
)


def group_summary(table: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per population group: agents, depleted agents, and utility, spend ratio, strong
    regret per round and spend-rate error (over the agents those metrics cover: strong
    regret and spend rates are computed for the traced agents only)."""
    out: dict[str, dict[str, Any]] = {}
    for name, rows in table.groupby("group", sort=False):
        entry: dict[str, Any] = {
            "learner": str(rows["learner"].iloc[0]),
            "agents": len(rows),
            "n_depleted": int((rows["depletion_round"] >= 0).sum()),
        }
        for col, aggs in GROUP_COLUMNS:
            if col not in rows:
                continue
            values = rows[col].dropna()
            entry[f"{col}_agents"] = len(values)
            for agg in aggs:
                entry[f"{col}_{agg}"] = float(values.agg(agg)) if len(values) else None
        out[str(name)] = entry
    return out


__all__ = [
    "CHECKPOINT",
    "ConfigError",
    "RunResult",
    "agent_table",
    "load_checkpoint",
    "resolve_config",
    "run",
    "save_checkpoint",
    "write_outputs",
]

"""Run one configuration end to end: build the model, step it T times with a progress
bar, collect, and write `rounds.parquet`, `agents.parquet`, `metrics.parquet`,
`summary.json` (and `menus.npz` when menus are recorded). DESIGN.md §4."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from abm.config import ConfigError, RunConfig, apply_overrides, load_toml
from abm.metrics import end_of_run_metrics
from abm.model import MechanismModel
from abm.plugins import with_plugins
from abm.scenario import get_scenario

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """Per-round series, per-agent series, the per-agent end-of-run table and the summary."""

    config: RunConfig
    rounds: pd.DataFrame
    agents: pd.DataFrame
    agent_table: pd.DataFrame
    summary: dict[str, Any]
    model: MechanismModel = field(repr=False)
    #: Extra per-run tables written as <name>.parquet (regret_curve, trace: abm.metrics).
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def resolve_config(
    target: str | Path | dict[str, Any] | RunConfig, overrides: dict[str, Any] | None = None
) -> RunConfig:
    """A scenario name (its TOML defaults), a TOML path, a dict or a RunConfig, plus
    dotted overrides (`rounds`, `learner.name`, `mechanism` = `params.mechanism`, ...)."""
    root = None
    if isinstance(target, RunConfig):
        data = target.model_dump()
    elif isinstance(target, dict):
        data = target
    else:
        text = str(target)
        path = Path(text)
        is_file = text.endswith(".toml") or path.is_file()
        root = path.parent if is_file else None
        data = load_toml(path if is_file else get_scenario(text).toml)
    return RunConfig.from_mapping(with_plugins(apply_overrides(data, overrides or {}), root))


def agent_table(model: MechanismModel) -> pd.DataFrame:
    """One row per agent: initial budget, spend ratio, utility, depletion round, plus the
    scenario's per-agent info (e.g. share alpha_i)."""
    ledger = model.ledger
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(ledger.initial > 0, ledger.spent / ledger.initial, np.nan)
    table = pd.DataFrame(
        {
            "agent": np.arange(model.n_agents),
            **{k: np.asarray(v) for k, v in model.instance.agent_info.items()},
            "budget": ledger.initial,
            "spent": ledger.spent,
            "spend_ratio": ratio,
            "utility": model.cum_utility,
            "depletion_round": ledger.depleted_at,
        }
    )
    return table


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
        model = MechanismModel(cfg)
    try:
        bar = tqdm(
            range(model.t, cfg.rounds),
            initial=model.t,
            total=cfg.rounds,
            desc=f"{cfg.scenario} seed={cfg.seed}",
            disable=not progress,
            unit="round",
        )
        for _ in bar:
            model.step()
            if ckpt is not None and model.t % cfg.checkpoint_every == 0 and model.t < cfg.rounds:
                save_checkpoint(model, ckpt)
    finally:
        model.backend.close()
    model.ledger.check_invariants()
    elapsed = time.perf_counter() - started
    rounds = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    rounds.insert(0, "round", np.arange(len(rounds)))
    agents = (
        model.datacollector.get_agent_vars_dataframe() if model.datacollector.agent_reporters else pd.DataFrame()
    )
    if len(agents):
        agents = agents.reset_index().rename(columns={"Step": "round", "AgentID": "agent"})
        agents["round"] -= 1  # Mesa counts steps from 1; rounds are 0-based like depletion_round
        agents["agent"] -= 1  # Mesa unique_ids start at 1; agent ids are array indices
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
        "learner": cfg.learner.name,
        "runtime_s": round(elapsed, 3),
        "rounds_per_s": round(cfg.rounds / max(elapsed, 1e-9), 1),
        "total_utility": float(model.cum_utility.sum()),
        "total_spent": float(model.ledger.spent.sum()),
        "n_depleted": model.ledger.n_depleted,
        "config": cfg.model_dump(mode="json"),
    }
    if model.menus is not None:
        summary["menus"] = {
            "recorded_agents": int(model.menus.agents.shape[0]),
            "alternatives": f"mechanism report grid ({model.menus.grid.shape[0]} points) + the played report",
        }
    if model.instance.summarize is not None:
        summary["scenario_summary"] = model.instance.summarize(model)
    summary["metrics"] = metrics.summary
    result = RunResult(cfg, rounds, agents, table, summary, model, metrics.tables)
    if out is not None:
        write_outputs(result, Path(out))
    return result


#: File name of a run's resumable checkpoint inside its output directory.
CHECKPOINT = "checkpoint.pkl"


def save_checkpoint(model: MechanismModel, path: Path) -> None:
    """Pickle the whole model (learners, ledger, RNG states, records) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        cloudpickle.dump(model, fh)
    os.replace(tmp, path)


def load_checkpoint(path: Path, cfg: RunConfig) -> MechanismModel | None:
    """The checkpointed model if `path` holds one for this very config, else None."""
    if not path.is_file():
        return None
    with path.open("rb") as fh:
        model = cloudpickle.load(fh)
    if model.config != cfg:
        log.warning("ignoring %s: it was written for a different config", path)
        return None
    log.info("resuming %s from round %d", cfg.scenario, model.t)
    return model


def write_outputs(result: RunResult, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    result.rounds.to_parquet(out / "rounds.parquet", index=False)
    result.agents.to_parquet(out / "agents.parquet", index=False)
    result.agent_table.to_parquet(out / "metrics.parquet", index=False)
    for name, frame in result.tables.items():
        frame.to_parquet(out / f"{name}.parquet", index=False)
    if result.model.menus is not None:
        result.model.menus.save(str(out / "menus.npz"))
    (out / "summary.json").write_text(json.dumps(_jsonable(result.summary), indent=2) + "\n")
    (out / CHECKPOINT).unlink(missing_ok=True)
    log.info("wrote results to %s", out)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


__all__ = ["ConfigError", "RunResult", "agent_table", "resolve_config", "run", "write_outputs"]

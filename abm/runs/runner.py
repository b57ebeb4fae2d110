"""Run one configuration end to end: build the model, step it T times with a progress
bar, collect, and write `rounds.parquet`, `agents.parquet`, `metrics.parquet`,
`summary.json` (and `menus.npz` when menus are recorded). docs/architecture.md."""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from abm.config import ConfigError, RunConfig
from abm.ledger import BudgetError
from abm.metrics import end_of_run_metrics
from abm.model import MechanismModel
from abm.recording.frames import AGENT_SERIES_COLUMNS, agent_series_tables
from abm.recording.store import SpillError
from abm.resolve import resolve_config
from abm.runs.checkpoint import CHECKPOINT, CheckpointError, load_checkpoint, save_checkpoint
from abm.runs.outputs import write_outputs
from abm.runs.provenance import code_version, provenance
from abm.runs.rundir import RunDir, RunDirError, run_id
from abm.scenario import get_scenario

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


def currency_summary(ledger: Any) -> dict[str, Any]:
    """Per currency (d > 1): the tokens issued and spent and the agents depleted in it."""
    return {
        "d": ledger.d,
        "budget": ledger.initial.sum(axis=0).tolist(),
        "spent": ledger.spent.sum(axis=0).tolist(),
        "n_depleted": (ledger.depleted_at >= 0).sum(axis=0).tolist(),
    }


def agent_table(model: MechanismModel) -> pd.DataFrame:
    """One row per agent: initial budget, spend ratio, utility, depletion round, plus the
    scenario's per-agent info (e.g. share alpha_i)."""
    ledger = model.ledger
    budget, spent = ledger.initial_total, ledger.spent_total
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(budget > 0, spent / budget, np.nan)
    table = pd.DataFrame(
        {
            "agent": np.arange(model.n_agents),
            "group": model.group_names,
            "learner": np.asarray([g.learner for g in model.groups], dtype=object)[model.agent_group],
            **{k: np.asarray(v) for k, v in model.instance.agent_info.items()},
            "budget": budget,
            "spent": spent,
            "spend_ratio": ratio,
            "utility": model.cum_utility,
            "depletion_round": ledger.depleted_any,
        }
    )
    if ledger.d > 1:
        # Several currencies: the totals above, and each currency's own columns.
        for j in range(ledger.d):
            table[f"budget_{j}"] = ledger.initial[:, j]
            table[f"spent_{j}"] = ledger.spent[:, j]
            table[f"depletion_round_{j}"] = ledger.depleted_at[:, j]
    return table


def round_frame(model: MechanismModel) -> pd.DataFrame:
    """The DataCollector's model-level series as a per-round table. Mesa step s >= 1 is the
    state after round s - 1 (rounds are 0-based like `depletion_round`); step 0, the
    initial state collected at construction, is not a round and is left out."""
    rounds = model.datacollector.get_model_vars_dataframe().iloc[1:].reset_index(drop=True)
    rounds.insert(0, "round", np.arange(len(rounds)))
    return rounds


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped a run between two rounds: `round` rounds of `rounds` were
    played; `checkpoint` is the checkpoint saved then (None when the run does not
    checkpoint: nothing is kept)."""

    def __init__(self, round: int, rounds: int, checkpoint: Path | None) -> None:
        super().__init__(f"interrupted at round {round} of {rounds}")
        self.round, self.rounds, self.checkpoint = round, rounds, checkpoint


@contextlib.contextmanager
def sigint_between_rounds() -> Iterator[list[bool]]:
    """Turn the first Ctrl-C into a flag the round loop reads after the round in progress
    (a model is never checkpointed half-way through a round); a second Ctrl-C interrupts
    at once. Only where Python's default handler is installed in the main thread (a
    sweep's workers ignore SIGINT: their driver stops them)."""
    flag: list[bool] = []
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield flag
        return

    def handler(signum: int, frame: Any) -> None:
        flag.append(True)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def run(
    config: str | Path | dict[str, Any] | RunConfig,
    *,
    overrides: dict[str, Any] | None = None,
    out: str | Path | None = None,
    progress: bool = True,
    restart: bool = False,
    overwrite: bool = False,
) -> RunResult:
    """Simulate `config` for its T rounds; write results to `out` when given.

    `out` is checked and locked before the first round (`abm.runs.rundir`: a file, an
    unwritable place, another config's results — unless `overwrite` — or a directory
    another run is writing are refused with a `RunDirError`); the files are written beside
    it and renamed into place when complete.

    With `checkpoint_every` > 0 and an `out`, the model's state is checkpointed every that
    many rounds (`abm.runs.checkpoint`), and a rerun of the same config resumes from it
    (nothing computed before the checkpoint is redone; the results are the same bytes as
    an uninterrupted run's). A checkpoint that is damaged or was written by other code
    raises `CheckpointError`; `restart` discards it. Ctrl-C stops between rounds, saves a
    checkpoint when checkpointing and raises `RunInterrupted`."""
    cfg = resolve_config(config, overrides)
    # The user's config errors before the output directory's: they name what to fix first.
    get_scenario(cfg.scenario).parse_params(cfg.params)
    if out is None:
        return _simulate(cfg, MechanismModel(cfg), None, progress, time.perf_counter())
    with RunDir(Path(out), cfg, overwrite=overwrite) as rundir:
        started = time.perf_counter()
        model = _resume_or_build(cfg, rundir, restart)
        try:
            result = _simulate(cfg, model, rundir.work / CHECKPOINT if cfg.checkpoint_every else None,
                               progress, started)
        except RunInterrupted as exc:
            if exc.checkpoint is None:
                rundir.discard_work()  # nothing to resume from
            raise
        except BaseException:
            if not cfg.checkpoint_every:
                rundir.discard_work()
            raise
        write_outputs(result, rundir.work)
        (rundir.work / CHECKPOINT).unlink(missing_ok=True)
        shutil.rmtree(rundir.work / RECORDS_DIR, ignore_errors=True)
        rundir.commit()
        return result


def _checkpoint_expect(config_id: str) -> dict[str, Any]:
    """What a checkpoint's header must say to be resumed by this run."""
    return {"code_version": code_version(), "config_id": config_id}


def _resume_or_build(cfg: RunConfig, rundir: RunDir, restart: bool) -> MechanismModel:
    """The model resumed from the working directory's checkpoint, or a fresh one (in a
    fresh working directory). A checkpointed run spills its records there too, where a
    resumed run finds them; any other run spills to a temporary directory (SpillDir)."""
    path = rundir.work / CHECKPOINT
    if cfg.checkpoint_every and not restart:
        loaded = load_checkpoint(path, _checkpoint_expect(rundir.config_id))
        if loaded is not None:
            head, state = loaded
            model = MechanismModel(cfg, spill_dir=str(rundir.work / RECORDS_DIR))
            try:
                model.load_state_dict(state)
                if model.t != head.get("round"):
                    raise ValueError(f"its state is at round {model.t}, its header says {head.get('round')}")
            except (KeyError, ValueError, TypeError, SpillError, BudgetError) as exc:
                model.backend.close()
                raise CheckpointError(path, f"does not fit this run ({exc})") from None
            log.info("resuming %s from round %d (%s)", cfg.scenario, model.t, path)
            return model
    rundir.fresh_work()
    spill = str(rundir.work / RECORDS_DIR) if cfg.checkpoint_every else None
    return MechanismModel(cfg, spill_dir=spill)


def _save(model: MechanismModel, path: Path, config_id: str) -> None:
    header = {**_checkpoint_expect(config_id), "round": model.t, "provenance": provenance()}
    save_checkpoint(path, model.state_dict(), header)


def _simulate(
    cfg: RunConfig, model: MechanismModel, ckpt: Path | None, progress: bool, started: float
) -> RunResult:
    """Step `model` to the horizon (checkpointing into `ckpt`), then the metrics and summary."""
    config_id = run_id(cfg)
    try:
        with sigint_between_rounds() as interrupted:
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
                    _save(model, ckpt, config_id)
                if interrupted and model.running:
                    bar.close()
                    if ckpt is not None:
                        _save(model, ckpt, config_id)
                    raise RunInterrupted(model.t, cfg.rounds, ckpt)
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
    if model.ledger.d > 1:
        summary["currencies"] = currency_summary(model.ledger)
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
    summary["config_id"] = config_id
    summary["provenance"] = provenance()
    return RunResult(cfg, rounds, table, summary, model, metrics.tables)


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
    "CheckpointError",
    "ConfigError",
    "RunDirError",
    "RunInterrupted",
    "RunResult",
    "agent_table",
    "load_checkpoint",
    "resolve_config",
    "run",
    "save_checkpoint",
    "sigint_between_rounds",
    "write_outputs",
]

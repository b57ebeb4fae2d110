"""A finished run's files: rounds, agents and metrics Parquet tables, extra tables, menus
and summary.json (docs/config.md "Outputs")."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from abm.runs.checkpoint import CHECKPOINT

if TYPE_CHECKING:
    from abm.runs.runner import RunResult

log = logging.getLogger(__name__)


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

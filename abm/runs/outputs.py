"""A finished run's files: rounds, agents and metrics Parquet tables, extra tables, menus
and summary.json (docs/config.md "Outputs"). The recorded series are streamed from the
model's chunked records: agents.parquet one row group per chunk, menus.npz compressed
member by member."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from abm import jsonio
from abm.recording import write_npz
from abm.recording.frames import AGENT_SERIES_COLUMNS, agent_series_tables
from abm.runs.checkpoint import CHECKPOINT

if TYPE_CHECKING:
    from abm.model import MechanismModel
    from abm.runs.runner import RunResult


log = logging.getLogger(__name__)


def write_outputs(result: RunResult, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    result.rounds.to_parquet(out / "rounds.parquet", index=False)
    write_agent_series(result.model, out / "agents.parquet")
    result.agent_table.to_parquet(out / "metrics.parquet", index=False)
    for name, frame in result.tables.items():
        frame.to_parquet(out / f"{name}.parquet", index=False)
    if result.model.menus is not None and result.config.record.save_menus:
        write_npz(out / "menus.npz", result.model.menus.arrays())
    (out / "summary.json").write_text(jsonio.dumps(result.summary, indent=2) + "\n")
    (out / CHECKPOINT).unlink(missing_ok=True)
    log.info("wrote results to %s", out)


def write_agent_series(model: MechanismModel, path: Path) -> None:
    """agents.parquet, one row group per recorded chunk (zstd), never loaded whole."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    try:
        for table in agent_series_tables(model):
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table)
        if writer is None:
            empty = {name: pa.array([], type=pa.float64()) for name in AGENT_SERIES_COLUMNS}
            empty |= {"round": pa.array([], pa.int64()), "agent": pa.array([], pa.int64()),
                      "group": pa.array([], pa.string())}
            pq.write_table(pa.table(empty), path)
    finally:
        if writer is not None:
            writer.close()

"""The recorded agents' per-round series as Arrow tables, chunk by chunk: what
agents.parquet holds and what Mesa's agent-level views (`ModelSeriesCollector`) read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from abm.recording.series import SERIES

if TYPE_CHECKING:
    import pyarrow as pa

#: Columns of agents.parquet: `budget` is the budget left after the round.
AGENT_SERIES_COLUMNS = ("round", "agent", "group", *SERIES, "budget")


def agent_series_tables(model: Any) -> Iterator[pa.Table]:
    """agents.parquet's rows (AGENT_SERIES_COLUMNS) as one Arrow table per recorded chunk."""
    import pyarrow as pa

    trace = model.trace
    ids = trace.agents
    m = ids.shape[0]
    if m == 0 or trace.rounds == 0:
        return
    names = pa.array([g.name for g in model.groups])
    codes = pa.DictionaryArray.from_arrays(pa.array(model.agent_group[ids].astype(np.int32)), names)
    left = model.ledger.initial_total[ids].astype(np.float64)
    columns = [trace.columns[name] for name in SERIES]
    step = columns[0].chunk_rows
    for lo in range(0, trace.rounds, step):
        hi = min(lo + step, trace.rounds)
        blocks = [col.read(lo, hi) for col in columns]
        remaining = left[None, :] - np.cumsum(blocks[SERIES.index("charge")], axis=0)
        left = remaining[-1]
        yield pa.table(
            {
                "round": np.repeat(np.arange(lo, hi, dtype=np.int64), m),
                "agent": np.tile(ids.astype(np.int64), hi - lo),
                "group": pa.concat_arrays([codes] * (hi - lo)),
                **{name: block.ravel() for name, block in zip(SERIES, blocks, strict=True)},
                "budget": remaining.ravel(),
            }
        )


def remaining_budgets(model: Any) -> np.ndarray:
    """(T, m) budget of each recorded agent after each round."""
    trace = model.trace
    return model.ledger.initial_total[trace.agents][None, :] - np.cumsum(trace.charges, axis=0)

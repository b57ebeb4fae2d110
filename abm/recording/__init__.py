"""What a run records, columnar and chunked to disk as it goes (docs/architecture.md
"Recording"): Mesa's DataCollector for the model-level series (`collector`), the
per-agent series and the outcome path X-bar (`series`), and the counterfactual menus the
regret metrics need (`menus`), all on the spill store (`store`). What is recorded follows
the mechanism's declared capabilities (`mechanisms.capabilities`): exact menus for
`ExactMenu`, the outcome vector for `OutcomeAverage`, item prices from
`RoundResult.item_prices`."""

from abm.recording.collector import MODEL_REPORTERS, ModelSeriesCollector
from abm.recording.menus import MENU_MAX_AGENTS, MenuRecorder, agent_ids
from abm.recording.series import (
    OUTCOME_PATH_POINTS,
    SERIES,
    TRACE_OUTCOME_MAX,
    TRACE_OUTCOME_SIZE,
    OutcomePath,
    TraceRecorder,
    checkpoints,
    prefix_sums,
)
from abm.recording.store import CHUNK_BYTES, SpillArray, SpillDir, SpillError, write_npz

__all__ = [
    "CHUNK_BYTES",
    "MENU_MAX_AGENTS",
    "MODEL_REPORTERS",
    "OUTCOME_PATH_POINTS",
    "SERIES",
    "TRACE_OUTCOME_MAX",
    "TRACE_OUTCOME_SIZE",
    "MenuRecorder",
    "ModelSeriesCollector",
    "OutcomePath",
    "SpillArray",
    "SpillDir",
    "SpillError",
    "TraceRecorder",
    "agent_ids",
    "checkpoints",
    "prefix_sums",
    "write_npz",
]

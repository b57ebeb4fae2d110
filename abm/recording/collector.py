"""Mesa's DataCollector for the model-level series, stored columnar (docs/architecture.md
"Recording"): one float64 row per collect, chunked to disk like every other record, so
Mesa users still find `model.datacollector` (and `mesa.batch_run` its `model_vars`)
while memory stays flat in T. Per-agent series are not Mesa agent reporters (no
per-agent loop per round): they are the columnar `TraceRecorder` (record.agents), which
`_agent_records` and `get_agent_vars_dataframe()` present in Mesa's layout on request."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import mesa
import numpy as np

from abm.recording.store import SpillArray, SpillDir

if TYPE_CHECKING:
    import pandas as pd


# np.add.reduce, not ndarray.sum/mean: their Python wrappers cost more than the sum at small n.
_sum = np.add.reduce


def _allocated(m: Any) -> float:
    return float(m.last_allocated)


def _total_charged(m: Any) -> float:
    return _sum(m.last_charges)


def _total_utility(m: Any) -> float:
    return _sum(m.last_utilities)


def _mean_report(m: Any) -> float:
    return _sum(m.last_reports) / m.last_reports.shape[0]


def _mean_budget_remaining(m: Any) -> float:
    left = m.ledger.remaining_total
    return _sum(left) / left.shape[0]


def _n_depleted(m: Any) -> float:
    return m.ledger.n_depleted


#: Model-level series: name -> (reporter, dtype of its column).
MODEL_REPORTERS: dict[str, tuple[Callable[[Any], float], str]] = {
    "allocated": (_allocated, "bool"),
    "total_charged": (_total_charged, "float64"),
    "total_utility": (_total_utility, "float64"),
    "mean_report": (_mean_report, "float64"),
    "mean_budget_remaining": (_mean_budget_remaining, "float64"),
    "n_depleted": (_n_depleted, "int64"),
}


#: Agent-level names as Mesa's agent reporters, read from the recorded series.
AGENT_REPORTERS = ("report", "charge", "utility", "budget")


class AgentRecords(Mapping[int, list[tuple[Any, ...]]]):
    """Mesa's `_agent_records` view of the recorded series: Mesa step s -> one tuple
    (s, unique_id, report, charge, utility, budget left) per recorded agent; step 0 is the
    state before the first round. Built on first access (for `mesa.batch_run`)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self._rows: np.ndarray | None = None

    def _table(self) -> np.ndarray:
        if self._rows is None:
            from abm.recording.frames import remaining_budgets

            trace = self.model.trace
            m, t = trace.agents.shape[0], trace.rounds
            rows = np.zeros((t + 1, m, 4))
            rows[0, :, 3] = self.model.ledger.initial_total[trace.agents]
            rows[1:, :, 0], rows[1:, :, 1], rows[1:, :, 2] = trace.reports, trace.charges, trace.utilities
            rows[1:, :, 3] = remaining_budgets(self.model)
            self._rows = rows
        return self._rows

    def __getitem__(self, step: int) -> list[tuple[Any, ...]]:
        rows = self._table()
        if not 0 <= step < rows.shape[0]:
            raise KeyError(step)
        ids = self.model.trace.agents + 1  # Mesa unique_ids start at 1
        return [(step, int(i), *map(float, r)) for i, r in zip(ids, rows[step], strict=True)]

    def __iter__(self) -> Iterator[int]:
        return iter(range(self._table().shape[0]))

    def __len__(self) -> int:
        return self.model.trace.rounds + 1


class ModelSeriesCollector(mesa.DataCollector):
    """A `mesa.DataCollector` whose model reporters (MODEL_REPORTERS) write one columnar
    row per `collect`; `model_vars` and `get_model_vars_dataframe()` read them back."""

    def __init__(self, spill: SpillDir | None = None) -> None:
        self._names = tuple(MODEL_REPORTERS)
        self._fns = tuple(fn for fn, _ in MODEL_REPORTERS.values())
        self._series = SpillArray("model_series", (len(self._names),), spill if spill is not None else SpillDir())
        self._collected = 0
        #: The model collected from (set by `collect`), whose trace the agent-level views read.
        self._model: Any = None
        self._view: AgentRecords | None = None
        super().__init__(model_reporters={name: fn for name, (fn, _) in MODEL_REPORTERS.items()})

    @property
    def model_vars(self) -> dict[str, np.ndarray]:
        """Column per reporter, one entry per collect (Mesa's layout, as arrays)."""
        data = self._series.to_array(self._collected)
        return {
            name: data[:, j].astype(MODEL_REPORTERS[name][1]) for j, name in enumerate(self._names)
        }

    @model_vars.setter
    def model_vars(self, value: dict[str, Any]) -> None:
        # mesa.DataCollector.__init__ assigns an empty dict; the columns live in `_series`.
        pass

    def _new_model_reporter(self, name: str, reporter: Any) -> None:
        self.model_reporters[name] = reporter

    @property
    def _agent_records(self) -> Mapping[int, list[tuple[Any, ...]]]:
        model = self._model
        if model is None:
            return {}
        view = self._view
        if view is None or view.model is not model or len(view) != self._collected:
            view = self._view = AgentRecords(model)  # rebuilt only after more rounds were collected
        return view

    @_agent_records.setter
    def _agent_records(self, value: Any) -> None:
        pass  # assigned by mesa.DataCollector.__init__; the series live in the model's trace

    @property
    def agent_reporters(self) -> dict[str, str]:
        return {name: name for name in AGENT_REPORTERS} if self._model is not None else {}

    @agent_reporters.setter
    def agent_reporters(self, value: Any) -> None:
        pass

    def get_agent_vars_dataframe(self) -> pd.DataFrame:
        """Mesa's agent-level frame (index Step, AgentID) of the recorded agents."""
        import pandas as pd

        records = self._agent_records
        rows = [row for step in records for row in records[step]]
        frame = pd.DataFrame(rows, columns=["Step", "AgentID", *AGENT_REPORTERS])
        return frame.set_index(["Step", "AgentID"])

    def state_dict(self) -> dict[str, Any]:
        """Checkpoint state: the collected rows (on the spill file and in memory)."""
        return {"collected": self._collected, "series": self._series.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._series.load_state_dict(state["series"])
        self._collected = int(state["collected"])
        self._view = None

    def collect(self, model: Any) -> None:
        self._model = model
        self._series.row(self._collected)[:] = [fn(model) for fn in self._fns]
        self._collected += 1

    def get_model_vars_dataframe(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.model_vars)

"""Per-agent series and the outcome path, columnar and chunked to disk
(docs/architecture.md "Recording"): no per-agent Python loop and no Mesa agent reporters,
memory one chunk per column whatever the horizon."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from abm.recording.menus import agent_ids, agent_selector
from abm.recording.store import SpillArray, SpillDir
from mechanisms.base import Mechanism, RoundResult, TimeAverage
from mechanisms.capabilities import OutcomeAverage

#: Outcome vectors are kept for every round only while rounds x outcome size stays below
#: this (a disk bound) and each round's outcome has at most TRACE_OUTCOME_SIZE entries
#: (copying a 1e5-agent outcome every round would cost more than the round itself). The sum
#: behind X-bar is kept whatever the size for a mechanism that declares `OutcomeAverage`;
#: an undeclared numeric outcome larger than TRACE_OUTCOME_SIZE is not traced at all.
TRACE_OUTCOME_MAX = 20_000_000
TRACE_OUTCOME_SIZE = 65_536
#: Checkpoints recorded as the run goes when the per-round outcomes are not all kept.
OUTCOME_PATH_POINTS = 200
#: Names of the per-agent series, in the order of agents.parquet.
SERIES = ("value", "report", "utility", "charge")


def checkpoints(rounds: int, points: int) -> np.ndarray:
    """min(points, rounds) rounds spread evenly over 0..rounds-1 (both ends included)."""
    if rounds < 1 or points < 1:
        raise ValueError(f"rounds and points must be >= 1, got rounds={rounds}, points={points}")
    return np.unique(np.linspace(0, rounds - 1, min(points, rounds)).round().astype(np.int64))


def prefix_sums(column: SpillArray, rounds: Iterable[int]) -> np.ndarray:
    """Sum of rows 0..r of `column` for each r of the increasing `rounds`, one pass over
    its chunks: (len(rounds), *row_shape)."""
    rs = np.asarray(list(rounds), dtype=np.int64)
    out = np.zeros((rs.shape[0], *column.row_shape))
    if rs.size == 0:
        return out
    acc = np.zeros(column.row_shape)
    g = 0
    for lo, block in column.chunks(int(rs[-1]) + 1):
        cum = np.cumsum(block, axis=0)
        hi = lo + block.shape[0]
        while g < rs.shape[0] and rs[g] < hi:
            out[g] = acc + cum[rs[g] - lo]
            g += 1
        acc = acc + cum[-1]
    return out


class OutcomePath:
    """The outcome path of a run (Braverman 2021 §2.1.2): the running sum behind the time average
    X-bar_t = (1/t) sum_{s<=t} X_s (eq. 16), the mean bids and the
    per-round outcomes as vectors (every round, chunked to disk, while small; else
    OUTCOME_PATH_POINTS checkpoints), for the scenario summaries, `plot_panels` and the
    convergence metrics.

    The outcome vector is the mechanism's `outcome_array(outcome)` when it declares
    `OutcomeAverage`, else the outcome itself if it is a numeric array; anything else is
    not traced (`recorded` is False)."""

    def __init__(self, mechanism: Mechanism, rounds: int, spill: SpillDir | None = None) -> None:
        self.mechanism = mechanism
        # Resolved once: an isinstance check against a runtime Protocol is too slow per round.
        self._declared = mechanism if isinstance(mechanism, OutcomeAverage) else None
        self.horizon = max(int(rounds), 1)
        self.spill = spill
        self.t = 0
        self.recorded = True
        #: The running sums behind X-bar and the mean bids.
        self.outcome = TimeAverage("x_bar")
        self.bids = TimeAverage("mean_bids")
        self._last: np.ndarray | None = None
        #: The outcome vector of every round, or None when too large (or not traced).
        self.series: SpillArray | None = None
        self._live = checkpoints(self.horizon, OUTCOME_PATH_POINTS)
        self._live_rounds: list[int] = []
        self._live_outcomes: list[np.ndarray] = []
        self._live_means: list[np.ndarray] = []

    def _vector(self, outcome: Any) -> np.ndarray | None:
        # Not converted to float64 here: the running sum and the spill rows cast as they
        # copy, so a (1e5,) served vector costs no extra temporary per round.
        if self._declared is not None:
            x = np.asarray(self._declared.outcome_array(outcome))
            return (x if x.dtype.kind in "biuf" else x.astype(np.float64)).ravel()
        if isinstance(outcome, np.ndarray) and outcome.ndim >= 1 and outcome.dtype.kind in "biuf":
            return outcome.ravel()
        return None

    def record(self, t: int, bids: np.ndarray, result: RoundResult) -> None:
        self.bids.add(bids)
        self.t = t + 1
        if not self.recorded:
            return
        x = self._vector(result.outcome)
        if x is not None and self._declared is None and x.size > TRACE_OUTCOME_SIZE:
            x = None  # an undeclared outcome this large (a 1e5-agent served vector) is not traced
        if x is None or (self.outcome.total is not None and x.shape != self.outcome.total.shape):
            self.recorded, self.outcome, self.series, self._last = False, TimeAverage("x_bar"), None, None
            return
        if self.outcome.total is None and x.size * self.horizon <= TRACE_OUTCOME_MAX and x.size <= TRACE_OUTCOME_SIZE:
            self.spill = self.spill if self.spill is not None else SpillDir()
            self.series = SpillArray("outcomes", (x.size,), self.spill)
        self.outcome.add(x)
        self._last = x
        if self.series is not None:
            self.series.row(t)[...] = x
        elif t in self._live and x.size * OUTCOME_PATH_POINTS <= TRACE_OUTCOME_MAX:
            self._live_rounds.append(t)
            self._live_outcomes.append(x.astype(np.float64))
            self._live_means.append(self.outcome.mean)

    def state_dict(self) -> dict[str, Any]:
        """The running sums, the last outcome and the live checkpoints (the per-round
        outcomes are on the spill file: `series`)."""
        return {
            "t": self.t,
            "recorded": self.recorded,
            "outcome": _average_state(self.outcome),
            "bids": _average_state(self.bids),
            "last": None if self._last is None else np.array(self._last),
            "series": None if self.series is None else self.series.state_dict(),
            "live_rounds": list(self._live_rounds),
            "live_outcomes": [np.array(x) for x in self._live_outcomes],
            "live_means": [np.array(x) for x in self._live_means],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.t, self.recorded = int(state["t"]), bool(state["recorded"])
        _load_average(self.outcome, state["outcome"])
        _load_average(self.bids, state["bids"])
        self._last = state["last"]
        self.series = None
        if state["series"] is not None:
            self.spill = self.spill if self.spill is not None else SpillDir()
            self.series = SpillArray("outcomes", tuple(state["series"]["row_shape"]), self.spill)
            self.series.load_state_dict(state["series"])
        self._live_rounds = [int(r) for r in state["live_rounds"]]
        self._live_outcomes = list(state["live_outcomes"])
        self._live_means = list(state["live_means"])

    @property
    def last_outcome(self) -> np.ndarray | None:
        """The last round's outcome vector (None before the first, or when not traced)."""
        return None if self._last is None else self._last.astype(np.float64)

    @property
    def outcomes(self) -> np.ndarray | None:
        """(T, size) outcome vectors of every round, loaded whole (None if not kept)."""
        return None if self.series is None else self.series.to_array(self.t)

    @property
    def x_bar(self) -> np.ndarray:
        """Time-average outcome vector over the rounds played (§2.1.2, eq. 16); a ValueError
        if no outcome was recorded (no round run, or outcomes not traced)."""
        return self.outcome.mean

    @property
    def mean_bids(self) -> np.ndarray:
        """(n,) every agent's mean (budget-feasible) bid over the rounds played."""
        return self.bids.mean

    def trace(self, points: int, shape: tuple[int, ...] | None = None) -> dict[str, Any]:
        """JSON-ready checkpoints — `rounds` (0-based), the `outcome` at each and the
        `running_mean` X-bar at each — at min(points, T) rounds spread over the horizon T
        (of those played); outcomes reshaped to `shape` if given."""
        if self.outcome.total is None:
            raise ValueError("trace: no outcome has been recorded")
        if self.series is not None:
            rounds = [int(r) for r in checkpoints(self.horizon, points) if r < self.t]
            outcomes = [self.series.read(r, r + 1)[0] for r in rounds]
            sums = prefix_sums(self.series, rounds)
            means = [sums[g] / (r + 1) for g, r in enumerate(rounds)]
        else:
            keep = checkpoints(len(self._live_rounds), points) if self._live_rounds else np.zeros(0, dtype=np.int64)
            rounds = [self._live_rounds[k] for k in keep]
            outcomes = [self._live_outcomes[k] for k in keep]
            means = [self._live_means[k] for k in keep]

        def out(x: np.ndarray) -> list:
            return (x if shape is None else x.reshape(shape)).tolist()

        return {
            "rounds": rounds,
            "outcome": [out(x) for x in outcomes],
            "running_mean": [out(x) for x in means],
        }


def _average_state(avg: TimeAverage) -> dict[str, Any]:
    return {"total": None if avg.total is None else avg.total.copy(), "count": avg.count}


def _load_average(avg: TimeAverage, state: dict[str, Any]) -> None:
    avg.total = None if state["total"] is None else np.array(state["total"], dtype=np.float64)
    avg.count = int(state["count"])


class TraceRecorder:
    """Per-round series of the recorded agents (`agents`: ids, or an int: the first that
    many) — true values, reports, realized utilities and charges, SpillArrays of rows (m,)
    in `columns` — the item prices when the mechanism reports them
    (`RoundResult.item_prices`), and the run's `OutcomePath` (`outcome_path`: X-bar, mean
    bids, the outcome per round as a vector)."""

    def __init__(
        self,
        mechanism: Mechanism,
        rounds: int,
        agents: int | np.ndarray,
        spill: SpillDir | None = None,
        chunk_rows: int | None = None,
    ) -> None:
        self.mechanism = mechanism
        self.agents = agent_ids(agents)
        self.spill = spill if spill is not None else SpillDir()
        m = self.agents.shape[0]
        self._sel = agent_selector(self.agents)
        self.columns = {name: SpillArray(name, (m,), self.spill, chunk_rows) for name in SERIES}
        self.price_series: SpillArray | None = None
        self.outcome_path = OutcomePath(mechanism, rounds, self.spill)
        self.rounds = 0

    def _load(self, name: str) -> np.ndarray:
        return self.columns[name].to_array(self.rounds)

    # Whole (T, m) series, loaded from the chunks (memory T x m: stream `columns` instead).
    @property
    def values(self) -> np.ndarray:
        return self._load("value")

    @property
    def reports(self) -> np.ndarray:
        return self._load("report")

    @property
    def utilities(self) -> np.ndarray:
        return self._load("utility")

    @property
    def charges(self) -> np.ndarray:
        return self._load("charge")

    @property
    def prices(self) -> np.ndarray | None:
        """(T, J) item prices per round, NaN in rounds without them (None if none)."""
        return None if self.price_series is None else self.price_series.to_array(self.rounds)

    @property
    def mean_item_prices(self) -> np.ndarray | None:
        """Mean of `RoundResult.item_prices` over the rounds that had them (None if the
        mechanism has none)."""
        if self.price_series is None:
            return None
        total, count = np.zeros(self.price_series.row_shape), 0
        for _, rows in self.price_series.chunks(self.rounds):
            ok = ~np.isnan(rows).any(axis=1)
            total += rows[ok].sum(axis=0)
            count += int(ok.sum())
        return total / count if count else np.full(self.price_series.row_shape, np.nan)

    @property
    def outcomes(self) -> np.ndarray | None:
        """(T, size) outcome vectors of every round (None if not kept; see `OutcomePath`)."""
        return self.outcome_path.outcomes

    def state_dict(self) -> dict[str, Any]:
        """Checkpoint state: every column's, the prices' and the outcome path's."""
        return {
            "rounds": self.rounds,
            "columns": {name: col.state_dict() for name, col in self.columns.items()},
            "prices": None if self.price_series is None else self.price_series.state_dict(),
            "outcome_path": self.outcome_path.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rounds = int(state["rounds"])
        for name, col in self.columns.items():
            col.load_state_dict(state["columns"][name])
        self.price_series = None
        if state["prices"] is not None:
            self.price_series = SpillArray("item_prices", tuple(state["prices"]["row_shape"]), self.spill)
            self.price_series.load_state_dict(state["prices"])
        self.outcome_path.load_state_dict(state["outcome_path"])

    def record(self, t: int, values: np.ndarray, reports: np.ndarray, result: RoundResult) -> None:
        if self.agents.size:  # no rows at all when no per-agent series are recorded
            cols, a = self.columns, self._sel
            cols["value"].row(t)[...] = values[a]
            cols["report"].row(t)[...] = reports[a]
            cols["utility"].row(t)[...] = result.utilities[a]
            cols["charge"].row(t)[...] = result.charges[a]
        prices = result.item_prices
        if prices is not None:
            prices = np.asarray(prices, dtype=np.float64).ravel()
            if self.price_series is None:
                self.price_series = SpillArray("item_prices", prices.shape, self.spill)
                for s in range(t):  # rounds before the first priced one had no prices
                    self.price_series.row(s)[...] = np.nan
            row = self.price_series.row(t)
            row[...] = prices if prices.shape == row.shape else np.nan
        elif self.price_series is not None:
            self.price_series.row(t)[...] = np.nan
        self.outcome_path.record(t, reports, result)
        self.rounds = t + 1

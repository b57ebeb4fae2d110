"""Counterfactual menus for the regret metrics (Braverman 2021 §2.1.3, Definition 3): per
recorded round and menu agent, the utility and cost of each alternative report, chunked
to disk (`abm.recording.store`) so memory does not grow with the horizon. For a
`MenuStatistic` mechanism only the per-agent statistic is stored, and the menus are
rebuilt block by block when they are read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from abm.recording.store import SpillArray, SpillColumns, SpillDir, chunk_rows_for
from mechanisms.base import Mechanism, Reports, RoundResult
from mechanisms.capabilities import ExactMenu, MenuStatistic

#: Menus are recorded for at most this many agents, to bound the work per round.
MENU_MAX_AGENTS = 256


def agent_ids(agents: int | np.ndarray) -> np.ndarray:
    """`agents` as an id array: an int n means the first n agents."""
    if isinstance(agents, int | np.integer):
        return np.arange(int(agents))
    return np.asarray(agents, dtype=np.int64)


def agent_selector(ids: np.ndarray) -> slice | np.ndarray:
    """What picks `ids` out of an (n,) array: a slice (a view, no gather) when they are the
    first len(ids) agents, else the ids themselves."""
    m = ids.shape[0]
    return slice(0, m) if np.array_equal(ids, np.arange(m)) else ids


class MenuRecorder:
    """Per recorded round s and menu agent i, the counterfactual utility and cost of each
    report on the mechanism's grid (`Mechanism.report_grid`) plus, in the last column,
    the report actually played: `utility`, `cost` of rows (m, K + 1) and `played` of rows
    (m,); for an `ExactMenu` mechanism also `exact_utility`, `exact_cost` of rows (m, J) at
    its declared breakpoints.

    What a round stores is one spill row (`store`):
    - a `MenuStatistic` mechanism: its per-agent statistic and the played report, rows
      (m, S + 1) (Proportional: the others' report sum and the value; Moulin, Potential: the
      posted price and the value). The menus are rebuilt from it a block of rounds at a time
      by `menus_from_statistics` (the exact breakpoints by `breakpoints_from_statistics`)
      when they are read, equal float for float to the round's `menu_all`;
    - otherwise the menus themselves, rows (m, 2 W + 1) with W = K + 1 + J: the W
      utilities, the W costs, the played report (one `menu_all` call per round).
    Either way the readers see the same menus: `chunks` yields (utility, cost, played)
    blocks over every alternative, and `utility` etc. stream their columns.

    `every` = k records rounds 0, k, 2k, ... only (slot s is round s k): strong regret on
    that subsample is then an estimate, labelled so by the metrics. `agents` (ids, or an
    int: the first that many) are the menu agents."""

    def __init__(
        self,
        mechanism: Mechanism,
        rounds: int,
        agents: int | np.ndarray,
        points: int,
        spill: SpillDir | None = None,
        every: int = 1,
        chunk_rows: int | None = None,
    ) -> None:
        if every < 1:
            raise ValueError(f"record.menu_every must be >= 1, got {every}")
        self.mechanism = mechanism
        self.agents = agent_ids(agents)
        if self.agents.shape[0] > MENU_MAX_AGENTS:
            raise ValueError(f"menus are recorded for at most {MENU_MAX_AGENTS} agents, got {self.agents.shape[0]}")
        self.every = int(every)
        self.horizon = int(rounds)
        self.spill = spill if spill is not None else SpillDir()
        self.chunk_rows = chunk_rows
        self.grid = np.asarray(mechanism.report_grid(points), dtype=np.float64)
        m = self.agents.shape[0]
        #: Grid reports plus the played one.
        self.k = self.grid.shape[0] + 1
        # Resolved once: an isinstance check against a runtime Protocol costs ~20 us a round.
        #: The mechanism when it declares `MenuStatistic` (then only its statistic is stored).
        self.statistic: MenuStatistic | None = mechanism if isinstance(mechanism, MenuStatistic) else None
        # Exact breakpoints when the mechanism declares them (`ExactMenu`: (m, J)
        # alternative reports, e.g. just above each price jump of a VCG menu): their menus
        # are kept beside the grid so strong regret sees the exact menu. J (and S) are known
        # from the first round, so the store is created then.
        self._exact: ExactMenu | None = mechanism if isinstance(mechanism, ExactMenu) else None
        #: Exact breakpoints per agent (0 until the first round of an `ExactMenu` mechanism).
        self.j = 0
        #: Statistic entries per agent of a `MenuStatistic` mechanism (0 until its first round).
        self.s = 0
        self.store: SpillArray | None = None
        self._alts = np.empty((m, self.k))
        self._alts[:, :-1] = self.grid
        self._sel = agent_selector(self.agents)
        self._prefix = isinstance(self._sel, slice)
        if self._exact is None and self.statistic is None:
            self._open(0)

    def _open(self, j: int, s: int = 0) -> SpillArray:
        """The store, once J (exact breakpoints) and S (statistic entries; 0: menus stored) are known."""
        m, w = self.agents.shape[0], self.k + j
        self.j, self.s = j, s
        if j:
            alts = np.empty((m, w))
            alts[:, : self.k] = self._alts
            self._alts = alts
        if s:
            self.store = SpillArray("menu_statistics", (m, s + 1), self.spill, self.chunk_rows)
        else:
            self.store = SpillArray("menus", (m, 2 * w + 1), self.spill, self.chunk_rows)
        return self.store

    @property
    def width(self) -> int:
        """Alternatives per menu row: the grid, the played report and the exact breakpoints."""
        return self.k + self.j

    @property
    def row_bytes(self) -> int:
        """Bytes stored per recorded round (0 before the first)."""
        return 0 if self.store is None else self.store.row_bytes

    def _columns(self, part: str, lo: int, hi: int) -> SpillColumns | RebuiltColumns | None:
        """Columns [lo, hi) of the alternatives of `part` ("utility" or "cost")."""
        if self.store is None:
            return None
        if self.s:
            return RebuiltColumns(self, part, slice(lo, hi))
        base = 0 if part == "utility" else self.width
        return SpillColumns(self.store, slice(base + lo, base + hi))

    @property
    def utility(self) -> SpillColumns | RebuiltColumns | None:
        """(T, m, K + 1) utility of the grid reports and the played one."""
        return self._columns("utility", 0, self.k)

    @property
    def cost(self) -> SpillColumns | RebuiltColumns | None:
        """(T, m, K + 1) cost of the grid reports and the played one."""
        return self._columns("cost", 0, self.k)

    @property
    def played(self) -> SpillColumns | None:
        """(T, m) the report played."""
        return None if self.store is None else SpillColumns(self.store, self.store.row_shape[-1] - 1)

    @property
    def exact_utility(self) -> SpillColumns | RebuiltColumns | None:
        """(T, m, J) utility at the exact breakpoints (None without an `ExactMenu` mechanism)."""
        return self._columns("utility", self.k, self.width) if self.j else None

    @property
    def exact_cost(self) -> SpillColumns | RebuiltColumns | None:
        """(T, m, J) cost at the exact breakpoints (None without an `ExactMenu` mechanism)."""
        return self._columns("cost", self.k, self.width) if self.j else None

    @property
    def slots(self) -> int:
        """Rounds recorded so far."""
        return 0 if self.store is None else self.store.rows

    def rounds_of(self, slots: int | None = None) -> np.ndarray:
        """The (0-based) round of each recorded slot."""
        return np.arange(self.slots if slots is None else slots) * self.every

    def slots_before(self, t_done: int) -> int:
        """Recorded slots among the first `t_done` rounds."""
        return min(self.slots, -(-int(t_done) // self.every))

    def record(self, t: int, reports: Reports, result: RoundResult | None = None) -> None:
        """Menus of round t (if it is a recorded round), played with `reports`; `result` is
        that round's `RoundResult` (its `state` fixes the round the menus refer to)."""
        if t % self.every:
            return
        s = t // self.every
        state = None if result is None else result.state
        agents = self.agents
        played = reports.bids[self._sel]
        store = self.store
        if self.statistic is not None:
            # Every agent, in order: no gather (agents=None reads the arrays whole).
            every = self._prefix and self.agents.shape[0] == reports.bids.shape[0]
            stat = self.statistic.menu_statistic(reports, None if every else agents, state=state)
            if store is None:
                store = self._open(np.shape(self.statistic.breakpoints_from_statistics(stat))[-1], stat.shape[1])
            elif stat.shape[1] != self.s:
                raise ValueError(f"menu_statistic gave {stat.shape[1]} entries per agent, earlier {self.s}")
            row = store.row(s)
            row[:, :-1] = stat
            row[:, -1] = played
            return
        if self._exact is not None:
            # One menu call for the grid, the played report and the exact breakpoints: each
            # (agent, alternative) is evaluated on its own, so this is the two calls' menus.
            extra = self._exact.menu_breakpoints(reports, agents, state=state)
            if store is None:
                store = self._open(np.shape(extra)[1])
            elif np.shape(extra)[1] != self.j:
                raise ValueError(f"menu_breakpoints gave {np.shape(extra)[1]} breakpoints per agent, earlier {self.j}")
            self._alts[:, self.k :] = extra
        assert store is not None
        alts = self._alts
        alts[:, self.k - 1] = played
        u, c = self.mechanism.menu_all(alts, reports, agents, state=state)
        w = alts.shape[1]
        row = store.row(s)
        row[:, :w] = u
        row[:, w:-1] = c
        row[:, -1] = played

    def block(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(utility, cost, played) of slots [lo, hi) over every recorded alternative: (s, m, W),
        (s, m, W), (s, m). Stored menus are strided read-only views of one block read
        (memory-mapped from the spill file); a `MenuStatistic` mechanism's are rebuilt from
        the block's statistics in one vectorized call (memory a few (s, m, W) arrays)."""
        assert self.store is not None
        raw = self.store.read(lo, hi, mapped=True)
        played = raw[..., -1]
        if not self.s:
            w = self.width
            return raw[..., :w], raw[..., w:-1], played
        assert self.statistic is not None
        stats = raw[..., :-1]
        alts = np.empty((*played.shape, self.width))
        alts[..., : self.k - 1] = self.grid
        alts[..., self.k - 1] = played
        if self.j:
            alts[..., self.k :] = self.statistic.breakpoints_from_statistics(stats)
        u, c = self.statistic.menus_from_statistics(stats, alts)
        return u, c, played

    def block_slots(self, entries: int = 0) -> int:
        """Slots per block of `chunks`: those of a spill chunk of the stored menus (rows of
        2 W + 1 per agent, also when only statistics are stored), or at least `entries` menu
        entries (s m W) if that is more."""
        m, w = self.agents.shape[0], self.width
        rows = self.chunk_rows or chunk_rows_for((m, 2 * w + 1))
        return max(rows, -(-entries // max(m * w, 1)))

    def state_dict(self) -> dict[str, Any]:
        """Checkpoint state: the exact breakpoints J and statistic entries S per agent (fixed
        by the first round) and the one spill array (None before the first round of an
        `ExactMenu` or `MenuStatistic` mechanism)."""
        return {"j": self.j, "s": self.s, "store": None if self.store is None else self.store.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        j, s, store = int(state["j"]), int(state["s"]), state["store"]
        if store is None:
            if self._exact is not None or self.statistic is not None:
                self.j, self.s, self.store = 0, 0, None
                self._alts = self._alts[:, : self.k]
            return
        if self.store is None or (j, s) != (self.j, self.s):
            # The row width depends on J and S, known from the checkpointed run's first round.
            self._alts = self._alts[:, : self.k]
            self._open(j, s)
        assert self.store is not None
        self.store.load_state_dict(store)

    def chunks(
        self, slots: int | None = None, entries: int = 0
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """(first slot, utility, cost, played) blocks in slot order over every recorded
        alternative — grid, played, exact breakpoints: (s, m, K + 1 [+ J]) (`block`) — for the
        first `slots` slots (all by default), of `block_slots(entries)` slots each."""
        if self.store is None:
            return
        hi = self.slots if slots is None else min(slots, self.slots)
        step = self.block_slots(entries)
        for lo in range(0, hi, step):
            yield lo, *self.block(lo, min(lo + step, hi))

    def all_menus(self) -> tuple[np.ndarray, np.ndarray]:
        """(utility, cost) over every recorded alternative, loaded whole (memory T m K:
        the metrics use `chunks`)."""
        parts = list(self.chunks())
        if not parts:
            empty = np.zeros((0, self.agents.shape[0], self.width))
            return empty, empty
        return np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])

    def arrays(self) -> dict[str, np.ndarray | SpillColumns | RebuiltColumns]:
        """What `menus.npz` holds, by name (streamed, never loaded whole): the menus, also
        when they are rebuilt from a `MenuStatistic` mechanism's statistics."""
        m = self.agents.shape[0]
        out: dict[str, np.ndarray | SpillColumns | RebuiltColumns] = {
            "agents": self.agents,
            "grid": self.grid,
            "rounds": self.rounds_of(),
            "utility": self.utility if self.utility is not None else np.zeros((0, m, self.k)),
            "cost": self.cost if self.cost is not None else np.zeros((0, m, self.k)),
            "played": self.played if self.played is not None else np.zeros((0, m)),
        }
        if self.exact_utility is not None and self.exact_cost is not None:
            out |= {"exact_utility": self.exact_utility, "exact_cost": self.exact_cost}
        return out


class RebuiltColumns:
    """Some alternatives' utility or cost of a `MenuRecorder` whose menus are rebuilt from
    statistics, read like a `SpillColumns` view of stored menus ((T, m, columns), streamed by
    `chunks`)."""

    def __init__(self, recorder: MenuRecorder, part: str, columns: slice) -> None:
        self.recorder = recorder
        self.part = 0 if part == "utility" else 1
        self.columns = columns
        self.row_shape = (recorder.agents.shape[0], len(range(recorder.width)[columns]))

    @property
    def rows(self) -> int:
        return self.recorder.slots

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.rows, *self.row_shape)

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Slots [lo, hi) of these columns, rebuilt."""
        lo, hi = max(0, int(lo)), min(int(hi), self.rows)
        if hi <= lo:
            return np.zeros((0, *self.row_shape))
        return self.recorder.block(lo, hi)[self.part][..., self.columns]

    def chunks(self, hi: int | None = None, rows: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        hi = self.rows if hi is None else min(int(hi), self.rows)
        step = int(rows) if rows else self.recorder.block_slots()
        for lo in range(0, hi, step):
            yield lo, self.read(lo, min(lo + step, hi))

    def to_array(self, hi: int | None = None) -> np.ndarray:
        return self.read(0, self.rows if hi is None else hi)

"""Counterfactual menus for the regret metrics (Braverman 2021 §2.1.3, Definition 3): per
recorded round and menu agent, the utility and cost of each alternative report, chunked
to disk (`abm.recording.store`) so memory does not grow with the horizon."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from abm.recording.store import SpillArray, SpillColumns, SpillDir
from mechanisms.base import Mechanism, Reports, RoundResult
from mechanisms.capabilities import ExactMenu

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

    All of them are columns of one spill row per round (`store`, rows (m, 2 W + 1) with
    W = K + 1 + J: the W utilities, the W costs, the played report), so a round costs one
    row write and the metrics read every alternative of a block in one read, with no
    concatenation; `utility` etc. are `SpillColumns` views of it.

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
        # Exact breakpoints when the mechanism declares them (`ExactMenu`: (m, J)
        # alternative reports, e.g. just above each price jump of a VCG menu): their menus
        # are kept beside the grid so strong regret sees the exact menu. J is known from
        # the first round, so the store is created then.
        # Resolved once: an isinstance check against a runtime Protocol costs ~20 us a round.
        self._exact: ExactMenu | None = mechanism if isinstance(mechanism, ExactMenu) else None
        #: Exact breakpoints per agent (0 until the first round of an `ExactMenu` mechanism).
        self.j = 0
        self.store: SpillArray | None = None
        self._alts = np.empty((m, self.k))
        self._alts[:, :-1] = self.grid
        self._sel = agent_selector(self.agents)
        if self._exact is None:
            self._open(0)

    def _open(self, j: int) -> SpillArray:
        m, w = self.agents.shape[0], self.k + j
        self.j = j
        if j:
            alts = np.empty((m, w))
            alts[:, : self.k] = self._alts
            self._alts = alts
        self.store = SpillArray("menus", (m, 2 * w + 1), self.spill, self.chunk_rows)
        return self.store

    @property
    def width(self) -> int:
        """Alternatives per menu row: the grid, the played report and the exact breakpoints."""
        return self.k + self.j

    def _columns(self, lo: int, hi: int) -> SpillColumns | None:
        return None if self.store is None else SpillColumns(self.store, slice(lo, hi))

    @property
    def utility(self) -> SpillColumns | None:
        """(T, m, K + 1) utility of the grid reports and the played one."""
        return self._columns(0, self.k)

    @property
    def cost(self) -> SpillColumns | None:
        """(T, m, K + 1) cost of the grid reports and the played one."""
        return self._columns(self.width, self.width + self.k)

    @property
    def played(self) -> SpillColumns | None:
        """(T, m) the report played."""
        return None if self.store is None else SpillColumns(self.store, 2 * self.width)

    @property
    def exact_utility(self) -> SpillColumns | None:
        """(T, m, J) utility at the exact breakpoints (None without an `ExactMenu` mechanism)."""
        return self._columns(self.k, self.width) if self.j else None

    @property
    def exact_cost(self) -> SpillColumns | None:
        """(T, m, J) cost at the exact breakpoints (None without an `ExactMenu` mechanism)."""
        return self._columns(self.width + self.k, 2 * self.width) if self.j else None

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

    def state_dict(self) -> dict[str, Any]:
        """Checkpoint state: the exact breakpoints per agent and the menus' one spill array
        (None before the first round of an `ExactMenu` mechanism)."""
        return {"j": self.j, "store": None if self.store is None else self.store.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        j, store = int(state["j"]), state["store"]
        if store is None:
            if self._exact is not None:
                self.j, self.store = 0, None
            return
        if self.store is None or j != self.j:
            # The row width depends on J, known from the checkpointed run's first round.
            self._alts = self._alts[:, : self.k]
            self._open(j)
        assert self.store is not None
        self.store.load_state_dict(store)

    def chunks(
        self, slots: int | None = None, entries: int = 0
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """(first slot, utility, cost, played) blocks in slot order over every recorded
        alternative — grid, played, exact breakpoints: (s, m, K + 1 [+ J]), strided read-only
        views of one block read (memory-mapped from the spill file) — for the first `slots`
        slots (all by default); blocks of one spill chunk, or of at least `entries` menu
        entries (s m W) if that is more."""
        if self.store is None:
            return
        hi = self.slots if slots is None else min(slots, self.slots)
        w = self.width
        per_slot = self.agents.shape[0] * w
        step = max(self.store.chunk_rows, -(-entries // max(per_slot, 1)))
        for lo in range(0, hi, step):
            block = self.store.read(lo, min(lo + step, hi), mapped=True)
            yield lo, block[..., :w], block[..., w:-1], block[..., -1]

    def all_menus(self) -> tuple[np.ndarray, np.ndarray]:
        """(utility, cost) over every recorded alternative, loaded whole (memory T m K:
        the metrics use `chunks`)."""
        parts = list(self.chunks())
        if not parts:
            empty = np.zeros((0, self.agents.shape[0], self.width))
            return empty, empty
        return np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])

    def arrays(self) -> dict[str, np.ndarray | SpillColumns]:
        """What `menus.npz` holds, by name (spilled columns are streamed, never loaded whole)."""
        m = self.agents.shape[0]
        out: dict[str, np.ndarray | SpillColumns] = {
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

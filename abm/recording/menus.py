"""Counterfactual menus for the regret metrics (Braverman 2021 §2.1.3, Definition 3): per
recorded round and menu agent, the utility and cost of each alternative report, chunked
to disk (`abm.recording.store`) so memory does not grow with the horizon."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from abm.recording.store import SpillArray, SpillDir
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
    the report actually played: SpillArrays `utility`, `cost` of rows (m, K + 1) and
    `played` of rows (m,); for an `ExactMenu` mechanism also `exact_utility`,
    `exact_cost` of rows (m, J) at its declared breakpoints.

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
        m, k = self.agents.shape[0], self.grid.shape[0] + 1
        self.utility = SpillArray("menu_utility", (m, k), self.spill, chunk_rows)
        self.cost = SpillArray("menu_cost", (m, k), self.spill, chunk_rows)
        self.played = SpillArray("menu_played", (m,), self.spill, chunk_rows)
        # Exact breakpoints when the mechanism declares them (`ExactMenu`: (m, J)
        # alternative reports, e.g. just above each price jump of a VCG menu): their menus
        # are kept beside the grid so strong regret sees the exact menu.
        # Resolved once: an isinstance check against a runtime Protocol costs ~20 us a round.
        self._exact: ExactMenu | None = mechanism if isinstance(mechanism, ExactMenu) else None
        self.exact_utility: SpillArray | None = None
        self.exact_cost: SpillArray | None = None
        self._alts = np.empty((m, k))
        self._alts[:, :-1] = self.grid
        self._sel = agent_selector(self.agents)

    @property
    def slots(self) -> int:
        """Rounds recorded so far."""
        return self.played.rows

    @property
    def width(self) -> int:
        """Alternatives per menu row: the grid, the played report and the exact breakpoints."""
        return self.utility.row_shape[1] + (0 if self.exact_utility is None else self.exact_utility.row_shape[1])

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
        played = reports.bids[self._sel]
        alts = self._alts
        alts[:, -1] = played
        k = alts.shape[1]
        if self._exact is not None:
            # One menu call for the grid, the played report and the exact breakpoints: each
            # (agent, alternative) is evaluated on its own, so this is the two calls' menus.
            extra = np.asarray(self._exact.menu_breakpoints(reports, self.agents, state=state), dtype=np.float64)
            alts = np.concatenate([alts, extra], axis=1)
        u, c = self.mechanism.menu_all(alts, reports, self.agents, state=state)
        self.utility.row(s)[...] = u[:, :k]
        self.cost.row(s)[...] = c[:, :k]
        self.played.row(s)[...] = played
        if self._exact is not None:
            if self.exact_utility is None or self.exact_cost is None:
                self.exact_utility = SpillArray("menu_exact_utility", u[:, k:].shape, self.spill, self.chunk_rows)
                self.exact_cost = SpillArray("menu_exact_cost", c[:, k:].shape, self.spill, self.chunk_rows)
            self.exact_utility.row(s)[...] = u[:, k:]
            self.exact_cost.row(s)[...] = c[:, k:]

    def state_dict(self) -> dict[str, Any]:
        """Checkpoint state: the menus' spill arrays (the exact ones once they exist)."""
        arrays = {"utility": self.utility, "cost": self.cost, "played": self.played,
                  "exact_utility": self.exact_utility, "exact_cost": self.exact_cost}
        return {name: None if arr is None else arr.state_dict() for name, arr in arrays.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.utility.load_state_dict(state["utility"])
        self.cost.load_state_dict(state["cost"])
        self.played.load_state_dict(state["played"])
        self.exact_utility = self.exact_cost = None
        if state["exact_utility"] is not None and state["exact_cost"] is not None:
            shape = tuple(state["exact_utility"]["row_shape"])
            self.exact_utility = SpillArray("menu_exact_utility", shape, self.spill, self.chunk_rows)
            self.exact_cost = SpillArray("menu_exact_cost", shape, self.spill, self.chunk_rows)
            self.exact_utility.load_state_dict(state["exact_utility"])
            self.exact_cost.load_state_dict(state["exact_cost"])

    def chunks(
        self, slots: int | None = None, entries: int = 0
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """(first slot, utility, cost, played) blocks in slot order over every recorded
        alternative — grid, played, exact breakpoints: (s, m, K + 1 [+ J]) — for the first
        `slots` slots (all by default); blocks of one spill chunk, or of at least `entries`
        menu entries (s m K) if that is more."""
        hi = self.slots if slots is None else min(slots, self.slots)
        per_slot = self.agents.shape[0] * self.utility.row_shape[1]
        step = max(self.utility.chunk_rows, -(-entries // max(per_slot, 1)))
        for lo in range(0, hi, step):
            top = min(lo + step, hi)
            u, c = self.utility.read(lo, top), self.cost.read(lo, top)
            if self.exact_utility is not None and self.exact_cost is not None:
                u = np.concatenate([u, self.exact_utility.read(lo, top)], axis=2)
                c = np.concatenate([c, self.exact_cost.read(lo, top)], axis=2)
            yield lo, u, c, self.played.read(lo, top)

    def all_menus(self) -> tuple[np.ndarray, np.ndarray]:
        """(utility, cost) over every recorded alternative, loaded whole (memory T m K:
        the metrics use `chunks`)."""
        parts = list(self.chunks())
        if not parts:
            k = self.utility.row_shape[1] + (0 if self.exact_utility is None else self.exact_utility.row_shape[1])
            empty = np.zeros((0, self.agents.shape[0], k))
            return empty, empty
        return np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])

    def arrays(self) -> dict[str, np.ndarray | SpillArray]:
        """What `menus.npz` holds, by name (SpillArrays are streamed, never loaded whole)."""
        out: dict[str, np.ndarray | SpillArray] = {
            "agents": self.agents,
            "grid": self.grid,
            "rounds": self.rounds_of(),
            "utility": self.utility,
            "cost": self.cost,
            "played": self.played,
        }
        if self.exact_utility is not None and self.exact_cost is not None:
            out |= {"exact_utility": self.exact_utility, "exact_cost": self.exact_cost}
        return out

"""Bounds before the run (docs/config.md "Limits"): what a validated config will record,
estimated from its sizes alone, against the machine's memory and disk.

Records spill to disk in chunks of about 1 MB per column as the run goes
(`abm.recording.store`), so two budgets apply, each to its own part:

- disk (the spill directory, then the output files): every recorded row — the model
  series, the recorded agents' per-agent series and the menus — 8 bytes per float;
- memory: what the run holds whole — the per-agent state of every agent (the model's
  and ledger's vectors, a Mesa agent object, the learner's state), the chunk buffers,
  and at the end of the run the recorded agents' per-agent series, which the metrics
  load as (T, m) arrays, and the per-round table.

A run whose estimate exceeds `limits.memory_fraction` of the available memory or
`limits.disk_fraction` of the free disk is refused before the first round, with one line
naming the fields, the estimate and what to change.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from abm.config import ConfigError, RunConfig
from abm.recording.menus import MENU_MAX_AGENTS
from abm.recording.store import CHUNK_BYTES

#: Bytes of one recorded float.
FLOAT = 8
#: Per-agent floats the model keeps whole: reports, charges, utilities, cumulative utility,
#: the ledger's initial, remaining, spent and scratch vectors, values, budgets, group ids, ...
AGENT_FLOATS = 16
#: A Mesa `BidderAgent` object and its registration (measured: about 6 s and ~1 KB per agent
#: at 10^6 agents, docs/architecture.md "Scale").
AGENT_OBJECT_BYTES = 1024
#: Learner state per agent and report-grid point (a grid learner keeps a few (n, K) arrays).
LEARNER_FLOATS_PER_POINT = 4
#: Columns of the model series (`abm.recording.collector`) and of the per-round table.
MODEL_COLUMNS = 16
#: Per-agent series columns (`abm.recording.series.SERIES`) plus the budget left.
SERIES_COLUMNS = 5
#: The metrics hold a few (T, m) arrays of the per-agent series at once.
SERIES_COPIES = 3
#: Exact breakpoints per menu agent and round assumed for an `ExactMenu` mechanism (two
#: for the posted-price mechanisms; the estimate is of the order of magnitude).
EXACT_POINTS = 4
#: Chunk buffers in memory: one chunk (`CHUNK_BYTES`) per spilled column.
SPILLED_COLUMNS = 12


#: Copies of one menu row (m menu agents x (K + 1) points) held while a round's menus are
#: computed and recorded: the utility and cost chunk rows (a chunk holds at least one row),
#: the alternatives and the mechanism's temporaries.
MENU_ROW_COPIES = 8


@dataclass(frozen=True)
class RecordEstimate:
    """Bytes a run will hold in memory and write to disk, estimated from its config, each
    split into its parts, keyed by the config fields that set them."""

    memory: dict[str, float]
    disk: dict[str, float]

    @property
    def memory_total(self) -> float:
        return sum(self.memory.values())

    @property
    def disk_total(self) -> float:
        return sum(self.disk.values())


def estimate(cfg: RunConfig) -> RecordEstimate:
    """The record estimate of `cfg` (see the module docstring for what counts where)."""
    n, T = cfg.agents, cfg.rounds
    recorded = _recorded_agents(cfg)
    series = float(T) * recorded * SERIES_COLUMNS * FLOAT
    menu_agents = min(recorded, MENU_MAX_AGENTS) if cfg.record_menus else 0
    menu_rounds = -(-T // cfg.record.menu_every)
    menu_row = float(menu_agents) * ((cfg.menu_points + 1) * 2 + 1 + 2 * EXACT_POINTS) * FLOAT
    model = float(T) * MODEL_COLUMNS * FLOAT
    per_agent = AGENT_FLOATS * FLOAT + AGENT_OBJECT_BYTES + LEARNER_FLOATS_PER_POINT * cfg.menu_points * FLOAT
    memory = {
        "agents (per-agent state)": float(n) * per_agent,
        "rounds x record.agents (per-agent series the metrics load)": SERIES_COPIES * series,
        "menu_points (a round's menu rows)": MENU_ROW_COPIES * menu_row,
        "rounds (the per-round table)": 2 * model + SPILLED_COLUMNS * CHUNK_BYTES,
    }
    disk = {
        "rounds x menu_points / record.menu_every (menus)": menu_rounds * menu_row,
        "rounds x record.agents (per-agent series)": series,
        "rounds (model series)": model,
    }
    return RecordEstimate(memory, disk)


def _recorded_agents(cfg: RunConfig) -> int:
    ids = cfg.record.agents
    if ids == "all":
        return cfg.agents
    if isinstance(ids, list):
        return len(ids)
    return min(int(ids), cfg.agents)


def available_memory() -> float:
    """MemAvailable of /proc/meminfo (Linux), else free physical pages; inf if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


def free_disk(path: str | Path | None) -> float:
    """Free bytes on the file system of `path` (its nearest existing parent), or of the
    spill directory's base (MECHSIM_SPILL_DIR or the system temporary directory)."""
    p = Path(path) if path is not None else Path(os.environ.get("MECHSIM_SPILL_DIR") or tempfile.gettempdir())
    p = p.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return float(shutil.disk_usage(p).free)
    except OSError:
        return float("inf")


def _size(x: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if x < 1024 or unit == "PB":
            return f"{x:.3g} {unit}"
        x /= 1024
    return f"{x:.3g} PB"


def check_resources(cfg: RunConfig, spill_dir: str | Path | None = None) -> RecordEstimate:
    """Refuse (ConfigError, one line) a run whose record estimate exceeds the limits:
    `limits.memory_fraction` of the available memory, `limits.disk_fraction` of the free
    disk where the records spill. Returns the estimate."""
    est = estimate(cfg)
    sizes = (
        f"agents = {cfg.agents}, rounds = {cfg.rounds}, menu_points = {cfg.menu_points}, "
        f"record.agents = {cfg.record.agents!r}, record.menu_every = {cfg.record.menu_every}"
    )
    checks = (
        ("in memory", est.memory, cfg.limits.memory_fraction, available_memory(), "available memory",
         "limits.memory_fraction"),
        ("on disk", est.disk, cfg.limits.disk_fraction, free_disk(spill_dir), "free disk", "limits.disk_fraction"),
    )  # fmt: skip
    for where, parts, fraction, capacity, of_what, field in checks:
        total = sum(parts.values())
        if total > fraction * capacity:
            part, largest = max(parts.items(), key=lambda kv: kv[1])
            raise ConfigError(
                f"{sizes}: the run would hold about {_size(total)} {where}, more than {field} = {fraction:g} of "
                f"the {_size(capacity)} {of_what} (largest part: {_size(largest)} from {part}); lower those "
                f"fields{', or set record_menus = false' if 'menu' in part else ''} (or raise {field})"
            )
    return est

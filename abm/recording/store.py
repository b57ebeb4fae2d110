"""Chunked per-round columns that spill to disk as the run goes (docs/architecture.md
"Recording"): memory holds one chunk per column whatever the horizon T.

A `SpillArray` is a (T, *row_shape) array written one round at a time. The current chunk
of `chunk_rows` rows lives in memory; a full chunk is appended to a raw file in the run's
`SpillDir` and the buffer is reused. Readers iterate the chunks in round order
(`chunks`) or load a range (`read`). Raw little-endian float64 on a local disk is the
cheapest format to append (no compression on the hot path); outputs are compressed when a
run's files are written (`abm.runs.outputs`).

A checkpoint keeps a SpillArray by reference (`state_dict`): the rows flushed to its file
and the in-memory tail. Loading it (`load_state_dict`, into the array of a model rebuilt
on the same spill directory) checks that the file still holds those rows and truncates
anything a crashed run appended after the checkpoint, so a resumed run never reads rows
it did not write.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

log = logging.getLogger(__name__)

#: Bytes held in memory per column before a chunk is flushed to disk.
CHUNK_BYTES = 1 << 20
#: Environment variable naming the directory under which runs without an output
#: directory spill their records (default: the system temporary directory).
SPILL_ENV = "MECHSIM_SPILL_DIR"


class SpillError(RuntimeError):
    """A spill file that does not hold the rows its recorder wrote (deleted or truncated)."""


class SpillDir:
    """Where one model's columns spill. A temporary directory (removed when the model is
    garbage-collected or the process exits) unless `path` is given, e.g. inside the run's
    output directory, where checkpoints can find it again."""

    def __init__(self, path: str | Path | None = None) -> None:
        if path is None:
            base = os.environ.get(SPILL_ENV) or None
            self.path = Path(tempfile.mkdtemp(prefix="mechsim-records-", dir=base))
            self.owned = True
        else:
            self.path = Path(path)
            self.owned = False
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), True) if self.owned else None

    def file(self, name: str) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        return self.path / f"{name}.f64"

    def cleanup(self) -> None:
        """Remove the spill files now (a temporary directory entirely)."""
        if self._finalizer is not None:
            self._finalizer()
        elif self.path.is_dir():
            for f in self.path.glob("*.f64"):
                f.unlink(missing_ok=True)


def chunk_rows_for(row_shape: tuple[int, ...], chunk_bytes: int | None = None) -> int:
    """Rows per chunk so one chunk of float64 rows takes about `chunk_bytes` (CHUNK_BYTES)."""
    row = int(np.prod(row_shape, dtype=np.int64)) * 8
    return max(1, (CHUNK_BYTES if chunk_bytes is None else chunk_bytes) // max(row, 1))


class _HasRows(Protocol):
    @property
    def rows(self) -> int: ...

    @property
    def row_shape(self) -> tuple[int, ...]: ...


class _Rows:
    """`shape` and `row_bytes` of a per-round float64 record with `rows` and `row_shape`."""

    @property
    def shape(self: _HasRows) -> tuple[int, ...]:
        return (self.rows, *self.row_shape)

    @property
    def row_bytes(self: _HasRows) -> int:
        return int(np.prod(self.row_shape, dtype=np.int64)) * 8


class SpillArray(_Rows):
    """A (T, *row_shape) float64 column of per-round rows, chunked to disk.

    `row(t)` is the writable row of round t, which must lie in the current chunk (rounds
    are recorded in order; a round may be rewritten until its chunk is flushed). `rows`
    counts the rows written so far (the highest t written + 1)."""

    def __init__(
        self, name: str, row_shape: tuple[int, ...], spill: SpillDir, chunk_rows: int | None = None
    ) -> None:
        self.name = name
        self.row_shape = tuple(int(s) for s in row_shape)
        self.spill = spill
        self.chunk_rows = int(chunk_rows) if chunk_rows else chunk_rows_for(self.row_shape)
        self.flushed = 0
        self.rows = 0
        self._buf = np.zeros((self.chunk_rows, *self.row_shape))
        self._path: Path | None = None

    def row(self, t: int) -> np.ndarray:
        """The writable row of round t (the next round, or one in the current chunk)."""
        if t < self.flushed:
            raise SpillError(f"{self.name}: round {t} was already flushed to disk (rounds go in order)")
        while t >= self.flushed + self.chunk_rows:
            self._flush()
        self.rows = max(self.rows, t + 1)
        return self._buf[t - self.flushed]

    def _flush(self) -> None:
        if self._path is None:
            self._path = self.spill.file(self.name)
            self._path.write_bytes(b"")
        with self._path.open("ab") as fh:
            self._buf.tofile(fh)
        self.flushed += self.chunk_rows
        self._buf.fill(0.0)

    def chunks(self, hi: int | None = None, rows: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(first round, block) pairs covering rounds [0, hi) in order, blocks of at most
        `rows` rows (default: the chunk size); blocks from disk are fresh arrays, the
        in-memory tail is a read-only view."""
        hi = self.rows if hi is None else min(int(hi), self.rows)
        step = int(rows) if rows else self.chunk_rows
        lo = 0
        while lo < hi:
            top = min(lo + step, hi)
            yield lo, self.read(lo, top)
            lo = top

    def read(self, lo: int, hi: int, *, mapped: bool = False) -> np.ndarray:
        """Rows [lo, hi) as a (hi - lo, *row_shape) array. `mapped`: rows on disk come as a
        read-only memory map of the spill file (no copy out of the page cache: for a reader
        that streams a block and drops it, not one that keeps it past a truncating resume)."""
        lo, hi = max(0, int(lo)), min(int(hi), self.rows)
        if hi <= lo:
            return np.zeros((0, *self.row_shape))
        parts = []
        if lo < self.flushed:
            top = min(hi, self.flushed)
            parts.append(self._map_disk(lo, top) if mapped else self._read_disk(lo, top))
            lo = top
        if lo < hi:
            view = self._buf[lo - self.flushed : hi - self.flushed]
            if not parts:
                view = view.view()
                view.flags.writeable = False
                return view
            parts.append(view)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _read_disk(self, lo: int, hi: int) -> np.ndarray:
        assert self._path is not None
        count = (hi - lo) * int(np.prod(self.row_shape, dtype=np.int64))
        with self._path.open("rb") as fh:
            fh.seek(lo * self.row_bytes)
            data = np.fromfile(fh, dtype=np.float64, count=count)
        if data.size != count:
            raise SpillError(f"{self.name}: spill file {self._path} ends before round {hi} (truncated or deleted)")
        return data.reshape(hi - lo, *self.row_shape)

    def _map_disk(self, lo: int, hi: int) -> np.ndarray:
        assert self._path is not None
        size = self._path.stat().st_size if self._path.is_file() else -1
        if size < hi * self.row_bytes:
            raise SpillError(f"{self.name}: spill file {self._path} ends before round {hi} (truncated or deleted)")
        return np.memmap(self._path, dtype=np.float64, mode="r", offset=lo * self.row_bytes,
                         shape=(hi - lo, *self.row_shape))

    def to_array(self, hi: int | None = None) -> np.ndarray:
        """Rounds [0, hi) loaded as one array (memory T x row size: prefer `chunks`)."""
        return self.read(0, self.rows if hi is None else hi)

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps: the shape, the rows flushed to the file and the tail."""
        return {
            "row_shape": list(self.row_shape),
            "chunk_rows": self.chunk_rows,
            "flushed": self.flushed,
            "rows": self.rows,
            "on_disk": self._path is not None,
            "tail": self._buf[: max(0, self.rows - self.flushed)].copy(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from `state_dict()`: the file must hold the flushed rows (SpillError if
        not); rows appended after the checkpoint are cut off."""
        shape = tuple(int(s) for s in state["row_shape"])
        if shape != self.row_shape:
            raise SpillError(f"{self.name}: the checkpoint has rows of shape {shape}, this run {self.row_shape}")
        self.chunk_rows, self.flushed, self.rows = int(state["chunk_rows"]), int(state["flushed"]), int(state["rows"])
        tail = np.asarray(state["tail"], dtype=np.float64)
        self._buf = np.zeros((self.chunk_rows, *self.row_shape))
        self._buf[: tail.shape[0]] = tail
        self._path = self.spill.file(self.name) if state["on_disk"] else None
        if self._path is not None:
            expected = self.flushed * self.row_bytes
            size = self._path.stat().st_size if self._path.is_file() else -1
            if size < expected:
                raise SpillError(
                    f"{self.name}: spill file {self._path} holds {max(size, 0)} bytes, the checkpoint needs {expected}"
                )
            if size > expected:
                # Rows a run appended after this checkpoint was written: the resumed run redoes them.
                with self._path.open("r+b") as fh:
                    fh.truncate(expected)


class SpillColumns(_Rows):
    """A read-only view of some last-axis columns of a `SpillArray` (`columns`: a slice, or
    an int for one column, which drops that axis), read like one: several records of one
    round share a spill row (one row call and one file per recorder instead of one per
    record), and each is still streamed, saved and counted on its own."""

    def __init__(self, base: SpillArray, columns: slice | int) -> None:
        self.base = base
        self.columns = columns
        *lead, last = base.row_shape
        self.row_shape = tuple(lead) if isinstance(columns, int) else (*lead, len(range(last)[columns]))

    @property
    def rows(self) -> int:
        return self.base.rows

    @property
    def flushed(self) -> int:
        return self.base.flushed

    @property
    def chunk_rows(self) -> int:
        return self.base.chunk_rows

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Rows [lo, hi) of these columns (a strided view of the base's block)."""
        return self.base.read(lo, hi)[..., self.columns]

    def chunks(self, hi: int | None = None, rows: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        for lo, block in self.base.chunks(hi, rows):
            yield lo, block[..., self.columns]

    def to_array(self, hi: int | None = None) -> np.ndarray:
        return self.read(0, self.rows if hi is None else hi)


@runtime_checkable
class ChunkedColumn(Protocol):
    """A (T, *row_shape) per-round column read in round-ordered blocks: a `SpillArray`, a
    `SpillColumns` view, or menus rebuilt from recorded statistics
    (`abm.recording.menus.RebuiltColumns`)."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    def chunks(self, hi: int | None = None, rows: int | None = None) -> Iterator[tuple[int, np.ndarray]]: ...


#: zlib level of the compressed outputs (1: several times faster than the default 6 and
#: within a few percent of its size on float64 menus).
NPZ_COMPRESSLEVEL = 1


def write_npz(path: str | Path, arrays: Mapping[str, np.ndarray | ChunkedColumn]) -> None:
    """A compressed .npz (what `np.load` reads) written member by member, chunked columns
    (`ChunkedColumn`) streamed block by block, so no array is loaded whole."""
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=NPZ_COMPRESSLEVEL) as zf:
        for name, arr in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
                if isinstance(arr, ChunkedColumn):
                    header = {"descr": "<f8", "fortran_order": False, "shape": arr.shape}
                    np.lib.format.write_array_header_2_0(fh, header)
                    for _, block in arr.chunks():
                        fh.write(np.ascontiguousarray(block, dtype="<f8").tobytes())
                else:
                    np.lib.format.write_array(fh, np.asarray(arr), allow_pickle=False)

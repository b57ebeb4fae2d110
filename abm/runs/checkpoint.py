"""Resumable checkpoints of a run (docs/architecture.md "Checkpoints").

A checkpoint is the model's `state_dict()` — the components' own state dicts (learners,
ledger, random streams, recorders, the mechanism's round state) — never a pickle of the
model: on resume the model is rebuilt from the config by the code and only the data is
loaded back. The file is written atomically (a unique temporary name, fsync, rename):

    MECHSIM-CHECKPOINT
    {"format": 1, "code_version": ..., "config": <run id>, "round": t, "payload_sha256": ..., ...}
    <payload: an uncompressed .npz of the state's arrays plus its JSON skeleton>

The header names the format version, the code version (`abm.runs.provenance`), the
config and the round; the payload carries a SHA-256 checksum. Loading checks all of them
and raises `CheckpointError` — one line naming the file, what is wrong and the choices
(`--restart` discards it) — for a damaged, truncated or foreign file: never a silent
resume, never a resume under other code or another config.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np

#: File name of a run's resumable checkpoint inside its working directory.
CHECKPOINT = "checkpoint.ckpt"
MAGIC = b"MECHSIM-CHECKPOINT\n"
#: Version of the file layout and of the state dicts' structure; bump on any change.
FORMAT_VERSION = 1
_TREE = "__tree__"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed: damaged, or written by other code or for
    another config. The message is one line naming the file and what to do."""

    def __init__(
        self, path: Path, problem: str, remedy: str = "rerun with --restart to discard it and start over"
    ) -> None:
        super().__init__(f"checkpoint {path}: {problem}; {remedy}")
        self.path = path


# --- the state tree <-> JSON skeleton + arrays ------------------------------------------


def _encode(x: Any, arrays: list[np.ndarray], where: str) -> Any:
    if x is None or isinstance(x, bool | int | float | str):
        return x
    if isinstance(x, np.ndarray):
        if x.dtype.hasobject:
            raise TypeError(f"{where}: an object array cannot be checkpointed without pickle")
        arrays.append(x)
        return {"A": len(arrays) - 1}
    if isinstance(x, np.generic):
        arrays.append(np.asarray(x))
        return {"S": len(arrays) - 1}
    if isinstance(x, complex):
        return {"C": [x.real, x.imag]}
    if isinstance(x, tuple):
        return {"T": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(x)]}
    if isinstance(x, list):
        return {"L": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(x)]}
    if isinstance(x, dict):
        return {"D": [[_encode(k, arrays, where), _encode(v, arrays, f"{where}.{k}")] for k, v in x.items()]}
    raise TypeError(f"{where}: a {type(x).__name__} is not checkpoint data")


def _decode(x: Any, arrays: dict[str, np.ndarray]) -> Any:
    if not isinstance(x, dict):
        return x
    (tag, value), = x.items()
    if tag == "A":
        return arrays[f"a{value}"]
    if tag == "S":
        return arrays[f"a{value}"][()]
    if tag == "C":
        return complex(*value)
    if tag == "T":
        return tuple(_decode(v, arrays) for v in value)
    if tag == "L":
        return [_decode(v, arrays) for v in value]
    if tag == "D":
        return {_decode(k, arrays): _decode(v, arrays) for k, v in value}
    raise ValueError(f"unknown tag {tag!r}")


def encode_state(state: dict[str, Any]) -> bytes:
    """The payload: the state's arrays and its JSON skeleton in one uncompressed .npz."""
    arrays: list[np.ndarray] = []
    tree = json.dumps(_encode(state, arrays, "state")).encode()
    members = {f"a{i}": a for i, a in enumerate(arrays)}
    members[_TREE] = np.frombuffer(tree, dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **members)
    return buf.getvalue()


def decode_state(payload: bytes) -> dict[str, Any]:
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    tree = json.loads(arrays.pop(_TREE).tobytes())
    state = _decode(tree, arrays)
    assert isinstance(state, dict)
    return state


# --- the file ------------------------------------------------------------------------------


def save_checkpoint(path: Path, state: dict[str, Any], header: dict[str, Any]) -> None:
    """Write `state` with `header` (code version, config, round) to `path` atomically."""
    payload = encode_state(state)
    head = {"format": FORMAT_VERSION, **header, "payload_bytes": len(payload),
            "payload_sha256": hashlib.sha256(payload).hexdigest()}
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique temporary name: two processes never share one (the run lock keeps them apart anyway).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with tmp.open("wb") as fh:
            fh.write(MAGIC)
            fh.write(json.dumps(head, sort_keys=True).encode() + b"\n")
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_header(path: Path) -> tuple[dict[str, Any], bytes]:
    """The header and payload of the checkpoint at `path`, checked (format, size,
    checksum); CheckpointError when it is not a whole checkpoint of this format."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(path, f"cannot be read ({exc.strerror})") from None
    if not data.startswith(MAGIC):
        raise CheckpointError(path, "is not a mechsim checkpoint (damaged, or written by an older mechsim)")
    line, sep, payload = data[len(MAGIC):].partition(b"\n")
    try:
        head = json.loads(line) if sep else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        head = None
    if not isinstance(head, dict):
        raise CheckpointError(path, "has a damaged header")
    if head.get("format") != FORMAT_VERSION:
        raise CheckpointError(
            path, f"has format version {head.get('format')!r}, this mechsim reads version {FORMAT_VERSION}"
        )
    if len(payload) != head.get("payload_bytes"):
        raise CheckpointError(path, f"is truncated or damaged ({len(payload)} payload bytes, the header says "
                                    f"{head.get('payload_bytes')})")
    if hashlib.sha256(payload).hexdigest() != head.get("payload_sha256"):
        raise CheckpointError(path, "is damaged (its payload does not match its SHA-256 checksum)")
    return head, payload


def load_checkpoint(path: Path, expect: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(header, state) of the checkpoint at `path` (None if there is none), after checking
    that every entry of `expect` (code version, config id) matches its header."""
    if not path.is_file():
        return None
    head, payload = read_header(path)
    for key, want in expect.items():
        if head.get(key) != want:
            raise CheckpointError(path, f"was written with {key} {head.get(key)!r}, this run has {want!r}")
    try:
        return head, decode_state(payload)
    except (ValueError, KeyError, OSError) as exc:  # a checksum-valid payload this code cannot read
        raise CheckpointError(path, f"cannot be decoded ({exc})") from None

"""A run's output directory, made safe (docs/config.md "Outputs"): checked before the
first round, locked against a second writer, written beside the target and renamed
into place only when complete.

For `--out D` (parent P, name N):
- `P/.N.lock` — an advisory `flock` held for the whole run: a second run on D fails at
  once with a message naming the holder (the lock dies with its process, SIGKILL too);
- `P/.N.partial/` — the working directory: the outputs as they are written and, for a
  checkpointed run, its checkpoint and the spilled records (`.records/`), where a rerun
  of the same config finds them;
- D itself is replaced by the working directory in two renames once every file is
  written, so it never holds a half-written run nor files of an earlier one.

D may be new, empty, or hold the results of this very config (they are replaced); the
results of another config are refused unless `overwrite` (which clears them first); a
directory that holds no mechsim results at all is never cleared.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from abm.config import ConfigError, RunConfig

log = logging.getLogger(__name__)

#: Config fields that say where (and from which plug-in paths) a run executes and how often
#: it checkpoints, not what it computes: left out of the run id, so moving a checkout or a
#: plug-in file keeps resume working.
PLACEMENT_FIELDS = ("backend", "address", "shards", "plugins", "checkpoint_every")
#: The file whose `config_id` says which config a results directory holds.
SUMMARY = "summary.json"
#: Files a results directory of an older mechsim may hold instead of a summary.
LEGACY_MARKERS = ("checkpoint.pkl",)


class RunDirError(ConfigError):
    """An unusable output directory (a file, not writable, another config's results, or
    locked by another run): one line naming the directory and what to do."""


def run_id(config: RunConfig) -> str:
    """A stable id of what a run computes: a hash of its config minus placement fields."""
    data = config.model_dump(mode="json", exclude=set(PLACEMENT_FIELDS))
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def default_out(config: RunConfig, root: Path = Path("results")) -> Path:
    """`results/<scenario>-<seed>-<hash>`: runs of different configs never share a directory."""
    return root / f"{config.scenario}-{config.seed}-{run_id(config)[:8]}"


class FileLock:
    """An exclusive advisory lock on `path` (`flock`), released when the holder's process
    ends however it ends. The file records the holder (pid, what it does) for the message
    a second writer gets."""

    def __init__(self, path: Path, holder: str) -> None:
        self.path = path
        self.holder = holder
        self._fd: int | None = None

    def acquire(self, blocking: bool = False) -> bool:
        """True once held; False when another process holds it (and not `blocking`)."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    return False
                raise
            # The holder before us may have removed the file as it let go: lock the current one.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {self.holder}\n".encode())
        self._fd = fd
        return True

    def held_by(self) -> str:
        """The holder as it recorded itself ("" if unknown)."""
        try:
            return self.path.read_text().strip()
        except OSError:
            return ""

    def release(self, remove: bool = True) -> None:
        if self._fd is None:
            return
        if remove:
            self.path.unlink(missing_ok=True)  # while held, so no one locks a file we then delete
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


class RunDir:
    """The target directory of one run, its lock and its working directory (module doc).
    Use as a context manager: entering checks the target and takes the lock."""

    def __init__(self, target: Path, config: RunConfig, *, overwrite: bool = False) -> None:
        self.target = Path(target)
        self.config = config
        self.config_id = run_id(config)
        self.overwrite = overwrite
        parent, name = self.target.parent, self.target.name
        if not name or name in (".", ".."):
            raise RunDirError(f"--out {target}: name a directory for the run's results (not {target!s})")
        self.work = parent / f".{name}.partial"
        self.lock = FileLock(parent / f".{name}.lock", f"mechsim run {config.scenario} seed={config.seed}")

    def __enter__(self) -> RunDir:
        self.check()
        if not self.lock.acquire():
            holder = self.lock.held_by()
            raise RunDirError(
                f"--out {self.target} is being written by another run ({holder or 'unknown process'}); "
                "wait for it to finish or choose another --out"
            )
        try:
            self._check_contents()
        except BaseException:
            self.lock.release()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.lock.release()

    def check(self) -> None:
        """Before anything runs: the target is a directory or absent, its parent can be
        created and written."""
        target, parent = self.target, self.target.parent
        if target.exists() and not target.is_dir():
            raise RunDirError(f"--out {target} is a file, not a directory; choose a directory")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunDirError(f"--out {target}: cannot create {parent} ({exc.strerror or exc})") from None
        if not parent.is_dir():
            raise RunDirError(f"--out {target}: {parent} is not a directory")
        probe = parent / f".{target.name}.probe-{uuid.uuid4().hex[:8]}"
        try:
            probe.write_bytes(b"")
        except OSError as exc:
            raise RunDirError(f"--out {target}: cannot write in {parent} ({exc.strerror or exc})") from None
        probe.unlink(missing_ok=True)

    def holds(self) -> str:
        """What the target holds: "nothing", "this" (results of this config), "other"
        (another config's results) or "foreign" (files that are not mechsim results)."""
        target = self.target
        if not target.is_dir() or not any(target.iterdir()):
            return "nothing"
        summary = target / SUMMARY
        if summary.is_file():
            try:
                held = json.loads(summary.read_text()).get("config_id")
            except (OSError, ValueError, AttributeError):
                held = None
            return "this" if held == self.config_id else "other"
        if any((target / m).exists() for m in LEGACY_MARKERS):
            return "other"
        return "foreign"

    def _check_contents(self) -> None:
        holds = self.holds()
        if holds == "foreign":
            raise RunDirError(
                f"--out {self.target} holds files that are not a mechsim run's results; "
                "choose a new or empty directory"
            )
        if holds == "other":
            if not self.overwrite:
                raise RunDirError(
                    f"--out {self.target} holds the results of another config; choose another --out, "
                    "or pass --overwrite to replace them"
                )
            log.warning("--overwrite: clearing %s", self.target)
            shutil.rmtree(self.target)

    def fresh_work(self) -> Path:
        """An empty working directory (whatever an earlier attempt left is removed)."""
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        return self.work

    def discard_work(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)

    def commit(self) -> None:
        """Put the finished working directory in the target's place (two renames)."""
        old = None
        if self.target.exists():
            old = self.target.with_name(f".{self.target.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(self.target, old)
        os.replace(self.work, self.target)
        if old is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(old)

"""Where a result came from: the package version, the git commit and dirty flag of the
checkout (when there is one), a hash of the code itself, Python and the key dependency
versions (docs/config.md "Provenance"). summary.json, the sweep manifest and checkpoints
carry it; `code_version()` is what resume compares.

Dependency versions are read from the installed distributions' metadata, never by
importing them (Ray only when this process has already imported it)."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

#: The project's packages: what `code_version()` hashes.
CODE_PACKAGES = ("abm", "agents", "mechanisms", "scenarios")
#: Dependencies whose versions are recorded (ray only when imported: importing it costs seconds).
DEPENDENCIES = ("numpy", "scipy", "mesa", "pandas", "pyarrow", "pydantic")
ROOT = Path(__file__).resolve().parents[2]


def package_version() -> str | None:
    """The installed mechsim version (None when run from a checkout that is not installed)."""
    try:
        return importlib.metadata.version("mechsim")
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


@functools.cache
def code_commit() -> str | None:
    """The short commit of the checkout this code runs from (None outside a git clone)."""
    out = _git("rev-parse", "--short", "HEAD")
    return out.strip() or None if out is not None else None


def git_dirty() -> bool | None:
    """Whether the checkout has uncommitted changes to tracked files (None outside git)."""
    out = _git("status", "--porcelain", "--untracked-files=no")
    return None if out is None else bool(out.strip())


@functools.cache
def code_version() -> str:
    """A hash of the project's source files (CODE_PACKAGES, *.py and *.toml): it changes
    with any edit, committed or not, and needs no git. Checkpoints refuse to resume under
    another code version; a sweep warns about runs recorded by one (`--rerun-changed`)."""
    digest = hashlib.sha256()
    for package in CODE_PACKAGES:
        base = ROOT / package
        for path in sorted(p for p in base.rglob("*") if p.suffix in (".py", ".toml") and p.is_file()):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def dependency_versions() -> dict[str, str | None]:
    """Installed versions of DEPENDENCIES (and of ray when this process imported it)."""
    names = [*DEPENDENCIES, *(["ray"] if "ray" in sys.modules else [])]
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def provenance() -> dict[str, Any]:
    """Everything above, JSON-ready: what summary.json["provenance"] and the manifest hold."""
    return {
        "mechsim": package_version(),
        "code_version": code_version(),
        "git_commit": code_commit(),
        "git_dirty": git_dirty(),
        "python": platform.python_version(),
        "dependencies": dependency_versions(),
    }

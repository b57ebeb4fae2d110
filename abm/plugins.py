"""User plug-ins: modules that register scenarios, mechanisms and learners (docs/architecture.md).

A plug-in is named by a spec: a module name (`mypkg.mechsim_ext`) or a path to a `.py`
file. A file is imported under a stable module name derived from its file name and its
content (`mechsim_plugin_<stem>_<hash>`), so process-pool and Ray workers that load the
same file get the same module name. Installed packages declare plug-ins in the entry-point
group `mechsim.plugins`; each entry point's object is a module (imported) or a callable
(called once). The built-in `scenarios` package is loaded the same way, first.

Loading is idempotent per process: a spec already loaded is not imported again.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from abm.config import ConfigError

log = logging.getLogger(__name__)

#: Entry-point group of installed plug-ins.
ENTRY_POINT_GROUP = "mechsim.plugins"
#: The built-in scenarios, loaded as the first plug-in.
BUILTIN = "scenarios"

_loaded: dict[str, ModuleType] = {}
_entry_points_done = False


class PluginError(ConfigError):
    """A plug-in that cannot be found or fails to import (the message names the spec)."""


def is_file_spec(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def module_name_for(path: Path) -> str:
    """The stable module name of a plug-in file: its stem and a hash of its content."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    stem = "".join(c if c.isalnum() or c == "_" else "_" for c in path.stem)
    return f"mechsim_plugin_{stem}_{digest}"


def resolve_spec(spec: str, root: str | Path | None = None) -> str:
    """A file spec made absolute (relative to `root`, default the working directory); a
    module name unchanged."""
    spec = str(spec).strip()
    if not is_file_spec(spec):
        return spec
    path = Path(spec).expanduser()
    if not path.is_absolute():
        path = Path(root if root is not None else Path.cwd()) / path
    return str(path.resolve())


def _find_file(spec: str) -> Path:
    path = Path(spec).expanduser()
    if path.is_file():
        return path.resolve()
    # A Ray worker on another node: the file arrived through runtime_env py_modules, whose
    # directories are on sys.path.
    for entry in sys.path:
        candidate = Path(entry or ".") / path.name
        if candidate.is_file():
            return candidate.resolve()
        candidate = Path(entry or ".") / path.stem / path.name
        if candidate.is_file():
            return candidate.resolve()
    raise PluginError(f"plugins: plug-in file not found: {spec}")


def load_plugin(spec: str) -> ModuleType:
    """Import one plug-in (a module name or a `.py` path); returns its module."""
    spec = str(spec).strip()
    if not spec:
        raise PluginError("plugins: empty plug-in name")
    if spec in _loaded:
        return _loaded[spec]
    if is_file_spec(spec):
        path = _find_file(spec)
        name = module_name_for(path)
        module = sys.modules.get(name)
        if module is None:
            module_spec = importlib.util.spec_from_file_location(name, path)
            if module_spec is None or module_spec.loader is None:
                raise PluginError(f"plugins: cannot import {spec} (not a Python file?)")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            try:
                module_spec.loader.exec_module(module)
            except ConfigError:
                del sys.modules[name]
                raise
            except Exception as exc:
                del sys.modules[name]
                raise PluginError(f"plugins: importing {spec} failed: {type(exc).__name__}: {exc}") from exc
    else:
        try:
            module = importlib.import_module(spec)
        except ModuleNotFoundError as exc:
            if exc.name is not None and spec.startswith(exc.name):
                raise PluginError(f"plugins: no module named {spec!r} (a module name or a .py file)") from None
            raise
    _loaded[spec] = module
    log.info("loaded plug-in %s", spec)
    return module


def load_entry_points() -> list[str]:
    """Load every `mechsim.plugins` entry point once per process; returns their names."""
    global _entry_points_done
    if _entry_points_done:
        return []
    _entry_points_done = True
    names = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as exc:
            raise PluginError(f"plugins: entry point {ep.name!r} ({ep.value}) failed: {exc}") from exc
        if not isinstance(obj, ModuleType) and callable(obj):
            obj()
        names.append(ep.name)
        log.info("loaded plug-in entry point %s = %s", ep.name, ep.value)
    return names


def load_builtin() -> None:
    """The built-in scenarios, then the installed entry points (each once per process)."""
    if BUILTIN not in _loaded:
        _loaded[BUILTIN] = importlib.import_module(BUILTIN)
    load_entry_points()


def load_plugins(specs: Iterable[str] = ()) -> list[ModuleType]:
    """The built-in scenarios, the entry points and then `specs` in order."""
    load_builtin()
    return [load_plugin(s) for s in specs]


def loaded_plugins() -> list[str]:
    """Specs loaded so far (the built-in package first)."""
    return list(_loaded)


def ray_py_modules(specs: Iterable[str]) -> list[Any]:
    """What Ray's `runtime_env={"py_modules": [...]}` needs to ship `specs` to workers on
    other nodes: the `.py` file of a file plug-in, the package directory (or module file)
    of a module plug-in."""
    out: list[Any] = []
    for spec in specs:
        if is_file_spec(spec):
            out.append(str(_find_file(spec)))
            continue
        module = load_plugin(spec)
        top = sys.modules[module.__name__.split(".")[0]]
        top_spec = top.__spec__
        paths = list(top_spec.submodule_search_locations or []) if top_spec is not None else []
        if paths:  # a package: its directory
            out.append(paths[0])
        elif top.__file__:
            out.append(top.__file__)
    return out


__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "PluginError",
    "load_builtin",
    "load_entry_points",
    "load_plugin",
    "load_plugins",
    "loaded_plugins",
    "module_name_for",
    "ray_py_modules",
    "resolve_spec",
    "with_plugins",
]


def with_plugins(data: dict[str, Any], root: str | Path | None = None) -> dict[str, Any]:
    """A config mapping with its `plugins` made absolute (relative to `root`, the config
    file's directory) and loaded, so the names in it can be looked up."""
    specs = data.get("plugins") or []
    if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
        raise PluginError(f"plugins: expected a list of module names or .py paths, got {specs!r}")
    resolved = [resolve_spec(s, root) for s in specs]
    load_plugins(resolved)
    return {**data, "plugins": resolved} if specs else data

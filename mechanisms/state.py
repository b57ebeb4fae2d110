"""The data state of an object graph, without its code: what a checkpoint keeps of a
mechanism (its round state: APEX's X_t and averages, a wrapper's counters) or of a value
model, to be loaded back into the same objects rebuilt from the run's config.

`state_of(obj)` walks the object's attributes and keeps plain data — None, bools, numbers,
strings, numpy arrays and scalars, random generators (their bit-generator state), and
lists, tuples and dicts of those — and recurses into the attributes of nested objects
(a wrapper's inner mechanism, APEX's problem). Functions, classes and modules are code,
rebuilt from the config, and are skipped. `load_state(obj, state)` writes the data back
in place (arrays into the existing buffers when their shape and dtype agree, so aliases
between objects survive), and raises `StateError` naming the attribute when the state
does not fit the object (it was written by other code or for another config).

Attributes a class lists in `transient_state` (caches) are neither saved nor loaded.

Dependency-free (numpy only): `mechanisms` never imports `abm`.
"""

from __future__ import annotations

import random
import types
from typing import Any

import numpy as np

#: Leaf types kept as they are.
_SCALARS = (type(None), bool, int, float, str, complex, np.generic)
#: Types that are code (rebuilt from the config), never state.
_CODE = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType, type, property)


class StateError(ValueError):
    """A saved state that does not fit the object it is loaded into."""


def state_of(obj: Any) -> dict[str, Any]:
    """The data attributes of `obj`, recursively (see the module docstring)."""
    out = _encode_object(obj, set(), type(obj).__name__)
    assert isinstance(out, dict)
    return out


def load_state(obj: Any, state: dict[str, Any]) -> None:
    """Write `state` (from `state_of` of an object built the same way) back into `obj`."""
    _restore_object(obj, state, type(obj).__name__, set())


#: Class attribute naming instance attributes that are caches, not state (rebuilt on
#: demand, e.g. the last round's unit conversion): `transient_state = ("_last",)`.
TRANSIENT = "transient_state"


def _attributes(obj: Any) -> dict[str, Any]:
    names: dict[str, Any] = dict(vars(obj)) if hasattr(obj, "__dict__") else {}
    for cls in type(obj).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if slot not in ("__dict__", "__weakref__") and hasattr(obj, slot):
                names.setdefault(slot, getattr(obj, slot))
    for name in getattr(type(obj), TRANSIENT, ()):
        names.pop(name, None)
    return names


def _is_leaf(x: Any) -> bool:
    return isinstance(x, (*_SCALARS, np.ndarray))


def _encode(x: Any, seen: set[int], where: str) -> Any:
    if isinstance(x, np.ndarray):
        return {"__array__": x.copy()}
    if isinstance(x, _SCALARS):
        return x
    if isinstance(x, np.random.Generator):
        return {"__rng__": x.bit_generator.state}
    if isinstance(x, random.Random):
        return {"__random__": x.getstate()}
    if isinstance(x, list | tuple):
        return {"__seq__": [_encode(v, seen, f"{where}[{i}]") for i, v in enumerate(x)], "tuple": isinstance(x, tuple)}
    if isinstance(x, dict):
        return {"__map__": [(k, _encode(v, seen, f"{where}[{k!r}]")) for k, v in x.items() if _keyable(k)]}
    if isinstance(x, _CODE) or (callable(x) and not hasattr(x, "__dict__")):
        return {"__code__": True}
    return _encode_object(x, seen, where)


def _keyable(k: Any) -> bool:
    return isinstance(k, _SCALARS)


def _encode_object(obj: Any, seen: set[int], where: str) -> Any:
    if id(obj) in seen:
        return {"__seen__": True}  # kept at its first path; loaded there, in place
    seen.add(id(obj))
    return {"__object__": type(obj).__qualname__, "attrs": {
        name: _encode(value, seen, f"{where}.{name}")
        for name, value in _attributes(obj).items()
        if not isinstance(value, _CODE)
    }}


def _decode_plain(x: Any) -> Any:
    """A saved value that holds no object: rebuilt whole."""
    if isinstance(x, dict):
        if "__array__" in x:
            return x["__array__"].copy()
        if "__seq__" in x:
            items = [_decode_plain(v) for v in x["__seq__"]]
            return tuple(items) if x["tuple"] else items
        if "__map__" in x:
            return {k: _decode_plain(v) for k, v in x["__map__"]}
    return x


def _restore(current: Any, saved: Any, where: str, seen: set[int]) -> Any:
    """The value to hold after loading `saved` over `current` (objects restored in place)."""
    if isinstance(saved, dict):
        if "__seen__" in saved or "__code__" in saved:
            return current
        if "__array__" in saved:
            arr = saved["__array__"]
            if isinstance(current, np.ndarray) and current.shape == arr.shape and current.dtype == arr.dtype \
                    and current.flags.writeable:
                current[...] = arr
                return current
            return arr.copy()
        if "__rng__" in saved:
            if not isinstance(current, np.random.Generator):
                raise StateError(
                    f"{where}: the checkpoint holds a random generator, the object {type(current).__name__}"
                )
            current.bit_generator.state = saved["__rng__"]
            return current
        if "__random__" in saved:
            if not isinstance(current, random.Random):
                raise StateError(f"{where}: the checkpoint holds a random.Random, the object {type(current).__name__}")
            current.setstate(saved["__random__"])
            return current
        if "__seq__" in saved:
            items = saved["__seq__"]
            if isinstance(current, list | tuple) and len(current) == len(items):
                pairs = enumerate(zip(current, items, strict=True))
                out = [_restore(c, s, f"{where}[{i}]", seen) for i, (c, s) in pairs]
                if isinstance(current, list):
                    current[:] = out
                    return current
                return tuple(out)
            if any(_holds_object(s) for s in items):
                raise StateError(f"{where}: the checkpoint holds {len(items)} entries, the object {_size(current)}")
            return _decode_plain(saved)
        if "__map__" in saved:
            entries = saved["__map__"]
            if isinstance(current, dict):
                for k, s in entries:
                    if k in current or not _holds_object(s):
                        current[k] = _restore(current.get(k), s, f"{where}[{k!r}]", seen)
                    else:
                        raise StateError(f"{where}: the checkpoint holds key {k!r} the object lacks")
                for k in [k for k in current if _keyable(k) and k not in dict(entries)]:
                    del current[k]
                return current
            return _decode_plain(saved)
        if "__object__" in saved:
            if current is None or _is_leaf(current) or type(current).__qualname__ != saved["__object__"]:
                raise StateError(
                    f"{where}: the checkpoint holds a {saved['__object__']}, the object {type(current).__name__}"
                )
            _restore_object(current, saved, where, seen)
            return current
    return saved


def _restore_object(obj: Any, saved: dict[str, Any], where: str, seen: set[int]) -> None:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if saved.get("__object__") != type(obj).__qualname__:
        raise StateError(f"{where}: the checkpoint holds a {saved.get('__object__')}, the object {type(obj).__name__}")
    attrs = saved["attrs"]
    current = _attributes(obj)
    for name, value in attrs.items():
        if name not in current and _holds_object(value):
            raise StateError(f"{where}.{name}: the object has no such attribute")
        new = _restore(current.get(name), value, f"{where}.{name}", seen)
        if name not in current or new is not current[name]:
            object.__setattr__(obj, name, new)


def _holds_object(x: Any) -> bool:
    if not isinstance(x, dict):
        return False
    if "__object__" in x or "__rng__" in x or "__random__" in x:
        return True
    if "__seq__" in x:
        return any(_holds_object(v) for v in x["__seq__"])
    if "__map__" in x:
        return any(_holds_object(v) for _, v in x["__map__"])
    return False


def _size(x: Any) -> str:
    return f"{len(x)}" if isinstance(x, list | tuple) else type(x).__name__

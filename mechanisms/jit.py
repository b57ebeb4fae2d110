"""Compiled kernels without importing numba up front: `lazy_njit(**options)` is
`numba.njit(**options)`, but numba is imported (and the kernel compiled, or loaded from
numba's disk cache) on the kernel's first call, not when its module is imported.

Importing numba alone costs about 0.3 s of CPU, which `import agents` / `import mechanisms`
(and so `mechsim list`, which registers every learner and mechanism) would otherwise pay.
One helper for both packages (`agents.jit` re-exports it): the learners' kernels and the
mechanisms' (unit-demand VCG menus). A kernel that calls another
lazy kernel works as with `numba.njit`: when it is compiled, each lazy kernel among its
globals is replaced by that kernel's numba dispatcher (in a copy of the globals, so the
module keeps its `LazyKernel`), which is what numba sees with eager `numba.njit`, inlining
(`inline="always"`) included.
"""

from __future__ import annotations

import functools
import threading
import types
from collections.abc import Callable
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

_lock = threading.RLock()


class LazyKernel:
    """A `numba.njit` kernel built on first use; calling it calls the compiled kernel."""

    def __init__(self, py_func: Callable[..., Any], options: dict[str, Any]) -> None:
        self.py_func = py_func
        self.options = options
        self._dispatcher: Any = None
        functools.update_wrapper(self, py_func)

    @property
    def dispatcher(self) -> Any:
        """The numba dispatcher (`numba.njit(**options)(py_func)`), created once."""
        if self._dispatcher is None:
            with _lock:
                if self._dispatcher is None:
                    self._dispatcher = self._build()
        return self._dispatcher

    def _build(self) -> Any:
        import numba

        func = self.py_func
        scope = func.__globals__
        kernels = {
            name: obj.dispatcher for name in func.__code__.co_names if isinstance(obj := scope.get(name), LazyKernel)
        }
        if kernels:
            # Same code, qualified name and file (numba's cache key), globals with dispatchers.
            globals_ = {**scope, **kernels}
            func = types.FunctionType(func.__code__, globals_, func.__name__, func.__defaults__, func.__closure__)
            func.__qualname__ = self.py_func.__qualname__
            func.__kwdefaults__ = self.py_func.__kwdefaults__
            func.__annotations__ = self.py_func.__annotations__
            func.__doc__ = self.py_func.__doc__
        return numba.njit(**self.options)(func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.dispatcher(*args, **kwargs)

    def __repr__(self) -> str:
        state = "compiled" if self._dispatcher is not None else "not yet compiled"
        return f"<lazy numba kernel {self.py_func.__module__}.{self.py_func.__qualname__} ({state})>"


class LazyIntrinsic(LazyKernel):
    """A numba `@intrinsic`, created (numba imported) when a kernel using it is compiled:
    `_build` of that kernel swaps it for the intrinsic like any lazy kernel."""

    def _build(self) -> Any:
        from numba.extending import intrinsic

        return intrinsic(self.py_func)


def lazy_intrinsic(func: F) -> F:
    """Decorator: `numba.extending.intrinsic`, applied when a kernel that calls it compiles."""
    return cast(F, LazyIntrinsic(func, {}))


def lazy_njit(**options: Any) -> Callable[[F], F]:
    """Decorator: `numba.njit(**options)`, imported and applied on the first call."""

    def deco(func: F) -> F:
        return cast(F, LazyKernel(func, dict(options)))

    return deco


__all__ = ["LazyIntrinsic", "LazyKernel", "lazy_intrinsic", "lazy_njit"]

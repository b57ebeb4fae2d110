"""The learners' compiled kernels use the one lazy numba helper, `mechanisms.jit` (shared
with the mechanisms' kernels, like `mechanisms.lazy` for the package namespaces)."""

from mechanisms.jit import LazyIntrinsic, LazyKernel, lazy_intrinsic, lazy_njit

__all__ = ["LazyIntrinsic", "LazyKernel", "lazy_intrinsic", "lazy_njit"]

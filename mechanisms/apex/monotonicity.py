"""Definition 1 (monotonicity, eq. 13) of a heuristic H, tested empirically
(Braverman 2021, §2.1.1).

H is monotone if for every F, F~ and start x_t, with x = H(F, x_t) and x~ = H(F~, x_t),

    F(x) - F(x~) >= F~(x) - F~(x~).                                        (13)

An exact maximizer satisfies it (the paper's Example: add F(x) >= F(x~) and
F~(x~) >= F~(x)). `monotonicity_check` probes it where APEX uses H: F = base + sum_j w_j f_j,
and F~ the same with one player's weight w_i replaced by w_i' (a random factor in
[1/spread, spread], or a random weight when w_i = 0). Then F - F~ = (w_i - w_i') f_i and
(13) reads (w_i - w_i') (f_i(x) - f_i(x~)) >= 0: raising one's own bid never lowers one's
own utility. A probe violates (13) when the right side exceeds the left by more than tol;
the violation is that excess, in units of F (tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

Heuristic = Callable[[np.ndarray, Any], Any]


@dataclass(frozen=True)
class MonotonicityReport:
    """probes: pairs (F, F~) tried; violations: how many broke eq. (13); rate = violations /
    probes; worst: the largest violation F~(x) - F~(x~) - (F(x) - F(x~)) (0 if none);
    mean: its mean over the violating probes (0 if none)."""

    probes: int
    violations: int
    rate: float
    worst: float
    mean: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def monotonicity_check(
    heuristic: Heuristic | None,
    problem: Any,
    weights: np.ndarray,
    start: Any,
    *,
    probes: int = 16,
    rng: np.random.Generator | None = None,
    spread: float = 4.0,
    tol: float = 1e-9,
) -> MonotonicityReport:
    """Test eq. (13) for H (`heuristic(weights, start) -> x`; None: `problem.argmax`) on
    `probes` random perturbations of one player's weight around `weights`, all from the
    same `start`. `problem` supplies `utilities(x)` (n,) and `base(x)`."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size == 0 or not (np.isfinite(w).all() and (w >= 0).all()):
        raise ValueError(f"weights must be a non-empty vector of finite numbers >= 0, got {weights!r}")
    if probes < 1:
        raise ValueError(f"probes must be >= 1, got {probes}")
    if not spread > 1:
        raise ValueError(f"spread must be > 1, got {spread}")
    h: Heuristic = problem.argmax if heuristic is None else heuristic
    rng = np.random.default_rng(0) if rng is None else rng
    n = w.size
    x = h(w, start)
    f_x = np.asarray(problem.utilities(x), dtype=np.float64)
    typical = float(w.mean()) if w.any() else 1.0
    excess = np.zeros(probes)
    for p in range(probes):
        i = int(rng.integers(n))
        w_alt = w.copy()
        w_alt[i] = w[i] * spread ** rng.uniform(-1.0, 1.0) if w[i] > 0 else rng.uniform(0.0, spread * typical)
        f_alt = np.asarray(problem.utilities(h(w_alt, start)), dtype=np.float64)
        # lhs - rhs of (13) = (w_i - w_i') (f_i(x) - f_i(x~)); base and the others' terms cancel.
        excess[p] = -(w[i] - w_alt[i]) * (f_x[i] - f_alt[i])
    bad = excess > tol * max(1.0, float(w.max()))
    return MonotonicityReport(
        probes=probes,
        violations=int(bad.sum()),
        rate=float(bad.mean()),
        worst=float(excess[bad].max()) if bad.any() else 0.0,
        mean=float(excess[bad].mean()) if bad.any() else 0.0,
    )

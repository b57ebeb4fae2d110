"""The statistics every study shares: horizon grids, means with Student-t intervals,
log-log slopes, and the per-cell aggregation that becomes summary.csv."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from abm.runs.study.base import Part

#: Confidence level of every interval a study reports.
CONFIDENCE = 0.95


def geometric_grid(t_min: int, t_max: int, points: int) -> list[int]:
    """`points` horizons from t_min to t_max, evenly spaced in log T, rounded, distinct."""
    if t_min < 1:
        raise ValueError(f"t_min must be >= 1, got {t_min}")
    if t_max < t_min:
        raise ValueError(f"t_max must be >= t_min ({t_min}), got {t_max}")
    if points < 1:
        raise ValueError(f"points must be >= 1, got {points}")
    return sorted({round(float(x)) for x in np.geomspace(t_min, t_max, points)})


def mean_ci(x: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval (NaN bounds with fewer than two values)."""
    from scipy import stats

    x = np.asarray(x, dtype=np.float64)
    m = float(x.mean()) if x.size else np.nan
    if x.size < 2:
        return m, np.nan, np.nan
    half = stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return m, m - half, m + half


def loglog_fit(horizons: np.ndarray, regret: np.ndarray, confidence: float = CONFIDENCE) -> dict[str, float]:
    """Slope b of log(regret) = a + b log(T) by least squares over runs, with a t-interval
    from linregress's standard error (n - 2 degrees of freedom). Runs with regret <= 0
    (no regret at all) have no logarithm and are left out; their number is reported."""
    from scipy import stats

    T = np.asarray(horizons, dtype=np.float64)
    r = np.asarray(regret, dtype=np.float64)
    keep = np.isfinite(r) & (r > 0)
    out = {"n_runs": int(keep.sum()), "n_nonpositive": int((~keep).sum())}
    if keep.sum() < 3 or np.unique(T[keep]).size < 2:
        return {**out, "slope": np.nan, "slope_lo": np.nan, "slope_hi": np.nan, "intercept": np.nan, "r2": np.nan}
    fit = stats.linregress(np.log(T[keep]), np.log(r[keep]))
    half = stats.t.ppf(0.5 + confidence / 2, keep.sum() - 2) * fit.stderr
    return {
        **out,
        "slope": float(fit.slope),
        "slope_lo": float(fit.slope - half),
        "slope_hi": float(fit.slope + half),
        "intercept": float(fit.intercept),
        "r2": float(fit.rvalue**2),
    }


def aggregate(runs: pd.DataFrame, parts: list[Part], metrics: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """Per (part, axis point, metric): the number of finite values, their mean and 95% CI.
    A metric a part's runs do not report is left out of that part."""
    import pandas as pd

    rows = []
    for part in parts:
        group = runs[runs["part"] == part.name]
        axes = list(part.axes)
        cells = group.groupby(axes, sort=True, dropna=False) if axes else [((), group)]
        for key, cell in cells:
            point = dict(zip(axes, key if isinstance(key, tuple) else (key,), strict=True))
            for metric in metrics:
                if metric not in cell:
                    continue
                x = pd.to_numeric(cell[metric], errors="coerce").to_numpy(dtype=np.float64)
                x = x[np.isfinite(x)]
                m, lo, hi = mean_ci(x)
                rows.append({"part": part.name, **point, "metric": metric, "n": int(x.size),
                             "mean": m, "ci_lo": lo, "ci_hi": hi})
    return pd.DataFrame(rows)


def fmt_ci(mean: float, lo: float, hi: float, digits: int = 3) -> str:
    """`1.68 [1.62, 1.71]` (the interval left out when there is none)."""
    if not np.isfinite(mean):
        return "n/a"
    text = f"{mean:.{digits}g}"
    return f"{text} [{lo:.{digits}g}, {hi:.{digits}g}]" if np.isfinite(lo) and np.isfinite(hi) else text

"""Figures of many runs: means with 95% intervals against an axis, one line per hue value;
used by the studies and by `mechsim plot SWEEP_DIR --x AXIS --y METRIC` (abm.cli.plot)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from abm.runs.study.stats import mean_ci

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 120


def cell_stats(frame: pd.DataFrame, x: str, y: str, hue: str | None = None) -> pd.DataFrame:
    """Per (hue, x): n, mean and 95% CI of the finite values of column `y`."""
    import pandas as pd

    for col in (x, y, hue):
        if col is not None and col not in frame:
            raise KeyError(f"no column {col!r}; columns: {', '.join(map(str, frame.columns))}")
    keys = [hue, x] if hue else [x]
    rows = []
    for key, cell in frame.groupby(keys, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        v = pd.to_numeric(cell[y], errors="coerce").to_numpy(dtype=np.float64)
        v = v[np.isfinite(v)]
        m, lo, hi = mean_ci(v)
        rows.append({**dict(zip(keys, key, strict=True)), "n": int(v.size), "mean": m, "ci_lo": lo, "ci_hi": hi})
    return pd.DataFrame(rows)


def line_ci(
    ax: Axes,
    frame: pd.DataFrame,
    x: str,
    y: str,
    hue: str | None = None,
    *,
    label: str | None = None,
    fmt: str = "o-",
    **kwargs: Any,
) -> pd.DataFrame:
    """Means of `y` against `x` (one line per value of `hue`) with 95% CI bars; returns the
    cell statistics drawn. Cells with one finite value have no bar."""
    stats = cell_stats(frame, x, y, hue)
    groups = stats.groupby(hue, sort=True) if hue else [(None, stats)]
    for h, g in groups:
        g = g.sort_values(x)
        mean = g["mean"].to_numpy()
        lo = np.nan_to_num(mean - g["ci_lo"].to_numpy(), nan=0.0)
        hi = np.nan_to_num(g["ci_hi"].to_numpy() - mean, nan=0.0)
        text = label if hue is None else f"{hue} = {h!s}" if label is None else f"{label}, {hue} = {h!s}"
        ax.errorbar(g[x], mean, yerr=np.vstack([lo, hi]), fmt=fmt, capsize=3, label=text, **kwargs)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(alpha=0.3)
    return stats


def log_x(ax: Axes, values: Any) -> None:
    """A logarithmic x axis labelled at the swept values only (minor labels of a short
    log range overlap)."""
    ticks = sorted({float(v) for v in values})
    ax.set_xscale("log")
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()


def new_figure(width: float = 10.0, height: float = 4.5) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def save(fig: Figure, stem: Path, formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
    """Write `stem.png` and `stem.pdf` (each to a temp name, then renamed into place)."""
    fig.tight_layout()
    paths = []
    for ext in formats:
        path = stem.with_name(f"{stem.name}.{ext}")  # not with_suffix: metric names hold dots
        tmp = path.with_name(f".{path.name}.tmp")
        fig.savefig(tmp, dpi=DPI, format=ext)
        tmp.replace(path)
        paths.append(path)
    return paths


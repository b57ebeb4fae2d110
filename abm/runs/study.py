"""Regret-convergence study: strong regret vs the horizon T, on log-log axes.

For a scenario, horizons T on a geometric grid and S seeds per T (and optionally several
learners), every (learner, T, seed) is one run of a sweep (`abm.runs.sweep`: parallel,
resumable). Each run's per-agent strong regret (Braverman 2021, Definition 3, computed by
`abm.metrics` into metrics.parquet) is averaged over agents (or its max taken: Lemma 4's
epsilon is a max over players), giving one number per run. Per T: mean and a 95%
Student-t confidence interval over seeds. Per learner: the least-squares slope of
log(regret) on log(T) over all runs (scipy.stats.linregress) with a 95% CI from its
standard error — slope b means regret ~ T^b and regret/T ~ T^(b-1); b < 1 is no-regret
(vanishing per-round regret), b = 1/2 the sqrt(T) rate of Hedge/EXP3-type learners.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from abm import jsonio
from abm.config import ConfigError
from abm.scenario import get_scenario
from mechanisms.registry import BRAVERMAN, Registry, cite

if TYPE_CHECKING:
    import pandas as pd

    from abm.runs.sweep import Executor

# pandas, scipy.stats and the sweep machinery are imported inside the functions that use
# them: `mechsim --help` and `mechsim list` read STUDIES without paying for them.

log = logging.getLogger(__name__)

Aggregate = Literal["mean", "max"]
#: Confidence level of every interval the study reports.
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


@dataclass(frozen=True)
class RegretStudy:
    """runs: one row per (learner, T, seed) with its regret; table: per (learner, T) the
    mean, 95% CI and regret/T; fits: per learner the log-log slope with its 95% CI."""

    runs: pd.DataFrame
    table: pd.DataFrame
    fits: pd.DataFrame
    out: Path
    plot: Path | None


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


def run_regret(path: str | Path, aggregate: Aggregate) -> float:
    """One run's strong regret from its metrics.parquet: mean or max over traced agents."""
    import pandas as pd

    table = pd.read_parquet(Path(path) / "metrics.parquet")
    if "strong_regret" not in table:
        raise ValueError(f"{path}/metrics.parquet has no strong_regret column (menus not recorded?)")
    values = table["strong_regret"].to_numpy(dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError(f"{path}/metrics.parquet: no agent has a strong regret value")
    return float(values.mean() if aggregate == "mean" else values.max())


def regret_study(
    scenario: str,
    horizons: list[int],
    seeds: int | list[int] = 5,
    learners: list[str] | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    aggregate: Aggregate = "mean",
    out: str | Path = "results/regret-study",
    executor: Executor = "auto",
    workers: int | None = None,
    address: str | None = None,
    max_retries: int = 2,
    plot: bool = True,
    progress: bool = True,
) -> RegretStudy:
    """Run the (learner x T x seed) grid as a resumable sweep under `out/sweep`, then write
    `regret_runs.csv`, `regret_table.csv`, `regret_fits.csv`, `study.json` and
    `regret_study.png` (regret/T vs T, log-log, with each learner's fitted line)."""
    import pandas as pd

    from abm.runs.sweep import sweep

    horizons = sorted({int(t) for t in horizons})
    if not horizons or horizons[0] < 1:
        raise ValueError(f"horizons must be integers >= 1, got {horizons}")
    if aggregate not in ("mean", "max"):
        raise ValueError(f"aggregate must be 'mean' or 'max', got {aggregate!r}")
    get_scenario(scenario)
    axes: dict[str, list[Any]] = {"rounds": horizons}
    base_overrides = dict(overrides or {})
    if learners:
        # Learner parameters of the scenario's default learner do not fit the others.
        axes["learner.name"] = list(learners)
        base_overrides.setdefault("learner.params", {})
    base_overrides["record_menus"] = True
    out = Path(out)
    frame = sweep(
        {"base": scenario, "seeds": seeds, "overrides": base_overrides, "axes": axes},
        out=out / "sweep",
        executor=executor,
        workers=workers,
        address=address,
        max_retries=max_retries,
        progress=progress,
    )
    failed = frame[frame["status"] != "ok"]
    if len(failed):
        log.warning("%d runs failed and are left out of the study: %s", len(failed), list(failed["error"]))
    ok = frame[frame["status"] == "ok"]
    if ok.empty:
        raise RuntimeError(f"every run of the study failed; see {out / 'sweep' / 'manifest.jsonl'}")
    runs = pd.DataFrame(
        {
            "learner": ok["learner.name"] if "learner.name" in ok else ok.get("learner", "default"),
            "T": ok["rounds"].astype(int),
            "seed": ok["seed"].astype(int),
            "regret": [run_regret(p, aggregate) for p in ok["path"]],
        }
    )
    runs["regret_per_round"] = runs["regret"] / runs["T"]
    rows = []
    for (learner, _), g in runs.groupby(["learner", "T"], sort=True):
        T = int(g["T"].iloc[0])
        m, lo, hi = mean_ci(g["regret"].to_numpy())
        rows.append(
            {"learner": learner, "T": T, "seeds": len(g), "regret_mean": m, "ci_lo": lo, "ci_hi": hi}
            | {"per_round_mean": m / T, "per_round_ci_lo": lo / T, "per_round_ci_hi": hi / T}
        )
    table = pd.DataFrame(rows)
    fits = pd.DataFrame(
        [{"learner": lr, **loglog_fit(g["T"].to_numpy(), g["regret"].to_numpy())} for lr, g in runs.groupby("learner")]
    )
    out.mkdir(parents=True, exist_ok=True)
    runs.to_csv(out / "regret_runs.csv", index=False)
    table.to_csv(out / "regret_table.csv", index=False)
    fits.to_csv(out / "regret_fits.csv", index=False)
    meta = {
        "scenario": scenario,
        "horizons": horizons,
        "seeds": seeds,
        "aggregate": aggregate,
        "confidence": CONFIDENCE,
        "overrides": base_overrides,
        "failed_runs": len(failed),
        "fits": fits.to_dict(orient="records"),
    }
    (out / "study.json").write_text(jsonio.dumps(meta, indent=1, default=str) + "\n")
    png = plot_study(table, fits, out / "regret_study.png", title=f"{scenario}: strong regret / T") if plot else None
    return RegretStudy(runs, table, fits, out, png)


def plot_study(table: pd.DataFrame, fits: pd.DataFrame, path: Path, title: str = "") -> Path:
    """regret/T vs T on log-log axes: per-T means with 95% CI bars and the fitted line
    regret/T = exp(a) T^(b - 1) of each learner."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for learner, g in table.groupby("learner", sort=True):
        y = g["per_round_mean"].to_numpy()
        lo = np.clip(y - g["per_round_ci_lo"].to_numpy(), 0, None)
        hi = np.clip(g["per_round_ci_hi"].to_numpy() - y, 0, None)
        yerr = np.nan_to_num(np.vstack([np.minimum(lo, y * 0.999), hi]))
        bars = ax.errorbar(g["T"], y, yerr=yerr, fmt="o", capsize=3, label=str(learner))
        f = fits.set_index("learner").loc[learner]
        if np.isfinite(f["slope"]):
            ts = np.geomspace(g["T"].min(), g["T"].max(), 50)
            ax.plot(
                ts, np.exp(f["intercept"]) * ts ** (f["slope"] - 1), "-", color=bars[0].get_color(),
                label=f"{learner} fit: regret ~ T^{f['slope']:.2f} [{f['slope_lo']:.2f}, {f['slope_hi']:.2f}]",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("horizon T")
    ax.set_ylabel("strong regret / T")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# --- command line ----------------------------------------------------------------------


def parse_horizons(text: str) -> list[int]:
    """`100,300,1000` or a geometric grid `100:3000:5` (t_min:t_max:points)."""
    try:
        if ":" in text:
            t_min, t_max, points = (int(x) for x in text.split(":"))
            return geometric_grid(t_min, t_max, points)
        return sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError as exc:
        raise ConfigError(f"--horizons: expected T1,T2,... or TMIN:TMAX:POINTS, got {text!r} ({exc})") from None


#: Studies by name (`mechsim study NAME`): a sweep + aggregation + figure each.
STUDIES: Registry[Callable[..., Any]] = Registry("study", "study")
STUDIES.add(
    "regret",
    regret_study,
    doc="Strong regret vs the horizon T on log-log axes: table, fitted slope with CI, PNG.",
    citation=cite(BRAVERMAN, "Definition 3"),
)

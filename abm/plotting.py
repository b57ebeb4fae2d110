"""Figures of a finished run (`mechsim plot RESULT_DIR`): reads the files `abm.runs.runner` wrote
(summary.json, rounds.parquet, metrics.parquet, regret_curve.parquet, agents.parquet) and
writes PNGs beside them (matplotlib Agg, no display). Plotting never runs inside a
simulation (docs/architecture.md: keep plotting out of the simulation script)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from abm import jsonio
from abm.config import ConfigError
from abm.scenario import find_scenario

if TYPE_CHECKING:
    import matplotlib.pyplot as plt

log = logging.getLogger(__name__)

#: At most this many agents get their own line; the rest show through the max/mean lines.
MAX_LINES = 10
DPI = 120
#: Values within ZERO_TOL x their scale (the run's payoff bound M, times t for totals) of zero
#: are round-off (a linked VCG run's regret is 1e-15): drawn as 0, not as a noisy curve.
ZERO_TOL = 1e-9


def snap_zero(values: Any, scale: Any = 1.0) -> np.ndarray:
    """`values` with the entries within ZERO_TOL x max(1, |scale|) of zero set to 0 (scale a
    number or an array broadcast against values)."""
    x = np.asarray(values, dtype=np.float64)
    tol = ZERO_TOL * np.maximum(1.0, np.abs(np.asarray(scale, dtype=np.float64)))
    return np.where(np.abs(x) <= tol, 0.0, x)


def payoff_scale(summary: dict[str, Any]) -> float:
    """The run's payoff bound M (strong regret's), 1 when it has none."""
    bound = summary.get("metrics", {}).get("strong_regret", {}).get("payoff_bound")
    return float(bound) if isinstance(bound, int | float) and np.isfinite(bound) else 1.0


def agents_label(shown: int, total: int, run_agents: Any = None) -> str:
    """Legend title of a figure that draws some agents: "first 10 of 20 agents"."""
    text = f"first {shown} of {total} agents" if shown < total else f"all {total} agents"
    if isinstance(run_agents, int) and run_agents > total:
        text += f" (recorded; n = {run_agents})"
    return text


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, imported on first use so `mechsim run` does not pay
    for it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot

    return matplotlib.pyplot


#: Agents whose per-round series the budget and bid figures draw.
PLOT_AGENTS = 10


def _plot_trace(run_dir: Path) -> pd.DataFrame | None:
    """The first PLOT_AGENTS recorded agents' rows of agents.parquet (`remaining` = the
    budget left after the round), read without loading the other agents; runs written
    before agents.parquet held every series keep theirs in trace.parquet."""
    path = run_dir / "agents.parquet"
    if not path.is_file():
        return _load(run_dir, "trace")
    import pyarrow.parquet as pq

    ids = np.unique(pq.read_table(path, columns=["agent"]).column("agent").to_numpy())[:PLOT_AGENTS]
    if ids.size == 0:
        return None
    frame = pq.read_table(path, filters=[("agent", "in", ids.tolist())]).to_pandas()
    return frame.rename(columns={"budget": "remaining"})


def _load(run_dir: Path, name: str) -> pd.DataFrame | None:
    path = run_dir / f"{name}.parquet"
    return pd.read_parquet(path) if path.is_file() else None


def figure_title(summary: dict[str, Any], what: str) -> str:
    """`what` over the run's identity: scenario, mechanism, learner, n, T and random seed."""
    return (
        f"{what}\n{summary.get('scenario', '?')} | {summary.get('mechanism', '?')} | "
        f"{summary.get('learner', '?')} | n={summary.get('agents', '?')} T={summary.get('rounds', '?')} | "
        f"random seed {summary.get('seed', '?')}"
    )


def _smooth(x: pd.Series, window: int) -> pd.Series:
    return x.rolling(window, min_periods=1).mean()


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    """A finished run's summary.json; a clear error when `run_dir` is not one."""
    path = Path(run_dir) / "summary.json"
    if not path.is_file():
        raise ConfigError(f"RESULT_DIR {run_dir} has no summary.json (not a finished run directory)")
    return jsonio.loads(path.read_text())


def output_dir(run_dir: str | Path, out: str | Path | None) -> Path:
    """Where figures go: `out`, else the run directory itself (created if missing)."""
    target = Path(out) if out is not None else Path(run_dir)
    target.mkdir(parents=True, exist_ok=True)
    return target


def save_figure(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    pyplot().close(fig)
    return path


def plot_strong_regret(curve: pd.DataFrame, summary: dict[str, Any], out: Path) -> Path:
    """Strong regret vs t per agent and its max: in utility units and per round. The first
    MAX_LINES agents get a line, and so does the agent with the largest regret at the last
    horizon (whose line the max follows there), whatever its id; the legend says which."""
    fig, axes = pyplot().subplots(1, 2, figsize=(12, 4.5))
    m = payoff_scale(summary)
    curve = curve.assign(
        strong_regret=snap_zero(curve["strong_regret"], m * curve["horizon"].to_numpy()),
        strong_regret_per_round=snap_zero(curve["strong_regret_per_round"], m),
    )
    agents = sorted(curve["agent"].unique())
    last = curve[curve["horizon"] == curve["horizon"].max()]
    worst = last.loc[last["strong_regret"].idxmax(), "agent"]
    drawn = agents[:MAX_LINES]
    for a in [*drawn, *([worst] if worst not in drawn else [])]:
        d = curve[curve["agent"] == a]
        tag = f"agent {a}" + (" (max at T)" if a == worst else "")
        axes[0].plot(d["horizon"], d["strong_regret"], lw=1, alpha=0.8, label=tag)
        axes[1].plot(d["horizon"], d["strong_regret_per_round"], lw=1, alpha=0.8, label=tag)
    mx = curve.groupby("horizon")[["strong_regret", "strong_regret_per_round"]].max()
    axes[0].plot(mx.index, mx["strong_regret"], "k-", lw=2.2, label=f"max over the {len(agents)} agents")
    axes[1].plot(mx.index, mx["strong_regret_per_round"], "k-", lw=2.2, label=f"max over the {len(agents)} agents")
    axes[0].set_ylabel("strong regret OPT_t - U_t (utility)")
    axes[1].set_ylabel("strong regret per round (OPT_t - U_t) / t")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("horizon t (rounds)")
        ax.grid(alpha=0.3)
        ax.axhline(0, color="grey", lw=0.8)
    title = agents_label(len(drawn), len(agents), summary.get("agents"))
    if worst not in drawn:
        title += f" + agent {worst}"
    axes[0].legend(fontsize=8, ncol=2, title=title, title_fontsize=8)
    fig.suptitle(
        figure_title(summary, "Strong regret (Braverman 2021 Definition 3) of the t-round prefix"), fontsize=10
    )
    return save_figure(fig, out / "strong_regret.png")


def plot_epsilon(rounds: pd.DataFrame, summary: dict[str, Any], out: Path) -> Path:
    """epsilon(t) = max_i strong regret_i(t) / (t M) and the Lemma 4 dominance 2 epsilon(t);
    beside it the distance of the running outcome X-bar_t to the final X-bar, when recorded."""
    d = rounds.dropna(subset=["epsilon"])
    t = d["round"] + 1
    drift = "outcome_distance" in rounds
    fig, axes = pyplot().subplots(1, 2 if drift else 1, figsize=(13 if drift else 7, 4.5), squeeze=False)
    ax = axes[0, 0]
    eps = snap_zero(d["epsilon"])  # already in payoff-bound units
    ax.plot(t, eps, "o-", ms=3, label="epsilon(t) = max_i strong regret_i / (t M)")
    ax.plot(t, 2 * eps, "--", label="2 epsilon(t): Lemma 4 dominance gap per round")
    ax.set_xscale("log")
    ax.set_xlabel("horizon t (rounds)")
    ax.set_ylabel("epsilon (payoff-bound units per round)")
    ax.grid(alpha=0.3)
    ax.axhline(0, color="grey", lw=0.8)
    ax.legend(fontsize=8)
    if drift:
        ax = axes[0, 1]
        ax.plot(rounds["round"] + 1, rounds["outcome_distance"], lw=1.2)
        ax.set_xscale("log")
        ax.set_xlabel("round t")
        ax.set_ylabel("L1 distance |X-bar_t - X-bar_T|")
        ax.set_title("running average outcome vs final (Braverman 2021 §2.1.2)", fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(figure_title(summary, "Equilibrium convergence (Braverman 2021 Lemma 4)"), fontsize=10)
    return save_figure(fig, out / "epsilon.png")


def plot_budget(trace: pd.DataFrame, rounds: pd.DataFrame, summary: dict[str, Any], out: Path) -> Path:
    """Remaining budget per agent vs t, and the spend-rate error |S_t/t - B/T|."""
    fig, axes = pyplot().subplots(1, 2, figsize=(12, 4.5))
    for a, d in list(trace.groupby("agent"))[:MAX_LINES]:
        axes[0].plot(d["round"], d["remaining"], lw=1, label=f"agent {a}")
    horizon = int(summary.get("rounds", len(rounds)))
    first = trace[trace["round"] == 0]
    if len(first):
        b0 = float((first["remaining"] + first["charge"]).mean())
        axes[0].plot([0, horizon], [b0, 0], "k:", lw=1.2, label="even spending B (1 - t/T)")
    axes[0].set_xlabel("round t")
    axes[0].set_ylabel("remaining budget (tokens)")
    axes[0].legend(fontsize=8, ncol=2, title=_trace_label(trace, summary), title_fontsize=8)
    if "spend_rate_error_max" in rounds:
        axes[1].plot(rounds["round"] + 1, rounds["spend_rate_error_max"], label="max over agents")
        axes[1].plot(rounds["round"] + 1, rounds["spend_rate_error_mean"], label="mean over agents")
        axes[1].set_yscale("log")
        axes[1].set_xscale("log")
        axes[1].legend(fontsize=8)
    axes[1].set_xlabel("round t")
    axes[1].set_ylabel("spend-rate error |S_t / t - B / T| (tokens/round)")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(figure_title(summary, "Budget depletion"), fontsize=10)
    return save_figure(fig, out / "budget.png")


def _trace_label(trace: pd.DataFrame, summary: dict[str, Any]) -> str:
    """"first 10 of n agents" for the agents `_plot_trace` read (the first recorded ones)."""
    recorded = summary.get("metrics", {}).get("traced_agents", summary.get("agents"))
    shown = int(trace["agent"].nunique())
    total = recorded if isinstance(recorded, int) else shown
    return agents_label(shown, total, summary.get("agents"))


def plot_bids(trace: pd.DataFrame, rounds: pd.DataFrame, summary: dict[str, Any], out: Path) -> Path:
    """Reports (bids / lambda_{i,t}) per agent vs t, smoothed, and, for value reports, the
    implied value-scaling multiplier beta = V / report (Onyeze et al. 2025 §3.2); bid drift below."""
    window = max(10, int(summary.get("rounds", 1000)) // 100)
    has_values = trace["value"].abs().sum() > 0 and (trace["value"] != trace["report"]).any()
    fig, axes = pyplot().subplots(1, 3 if has_values else 2, figsize=(17 if has_values else 12, 4.5))
    for a, d in list(trace.groupby("agent"))[:MAX_LINES]:
        axes[0].plot(d["round"], _smooth(d["report"], window), lw=1, label=f"agent {a}")
        if has_values:
            ok = (d["report"] > 0) & (d["value"] > 0)
            beta = (d["value"] / d["report"]).where(ok)
            axes[2].plot(d["round"], beta.rolling(window, min_periods=1).median(), lw=1, label=f"agent {a}")
    axes[0].set_xlabel("round t")
    axes[0].set_ylabel(f"report (bid), rolling mean over {window} rounds")
    axes[0].legend(fontsize=8, ncol=2, title=_trace_label(trace, summary), title_fontsize=8)
    if "bid_drift_mean" in rounds:
        axes[1].plot(rounds["round"], snap_zero(rounds["bid_drift_mean"]),
                     label="mean over agents of rolling std(report_i)")  # fmt: skip
        axes[1].plot(rounds["round"], snap_zero(rounds["avg_bid_drift"]), label="rolling std of the average report")
        axes[1].legend(fontsize=8)
    axes[1].set_xlabel("round t")
    axes[1].set_ylabel("bid drift (rolling std)")
    if has_values:
        axes[2].set_xlabel("round t")
        axes[2].set_ylabel(f"beta = V / report (median, {window} rounds)")
        axes[2].legend(fontsize=8, ncol=2)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(figure_title(summary, "Bids and multipliers"), fontsize=10)
    return save_figure(fig, out / "bids.png")


def plot_prices(rounds: pd.DataFrame, summary: dict[str, Any], out: Path) -> Path | None:
    """Per-round item prices vs t (one-sided allocation: VCG prices of the lambda-scaled market,
    Braverman 2021 §3.2), and the HZ residuals of (X-bar_t, mean prices up to t) when recorded."""
    cols = [c for c in rounds.columns if c.startswith("price_")]
    if not cols:
        return None
    hz = [c for c in ("hz_best_response_gain", "hz_clearing_error", "hz_budget_violation") if c in rounds]
    window = max(10, len(rounds) // 100)
    fig, axes = pyplot().subplots(1, 2 if hz else 1, figsize=(13 if hz else 8, 4.5), squeeze=False)
    ax = axes[0, 0]
    for c in cols[:MAX_LINES]:
        ax.plot(rounds["round"], _smooth(rounds[c], window), lw=1.2, label=f"item {c.split('_', 1)[1]}")
    ax.set_xlabel("round t")
    ax.set_ylabel(f"item price (tokens), rolling mean over {window} rounds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2, title=f"first {min(len(cols), MAX_LINES)} of {len(cols)} items", title_fontsize=8)
    if hz:
        ax = axes[0, 1]
        for c in hz:
            d = rounds.dropna(subset=[c])
            ax.plot(d["round"] + 1, d[c], "o-", ms=3, label=c.removeprefix("hz_").replace("_", " "))
        ax.set_xscale("log")
        ax.set_xlabel("horizon t (rounds)")
        ax.set_ylabel("HZ residual of (X-bar_t, mean prices)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(figure_title(summary, "Item prices and HZ equilibrium residuals (Braverman 2021 §3.2)"), fontsize=10)
    return save_figure(fig, out / "prices.png")


def plot_core(table: pd.DataFrame, summary: dict[str, Any], out: Path) -> Path | None:
    """Core factor (Onyeze et al. 2025 Definition 2.1): per-agent singleton gamma, the ex-post gamma over
    coalitions and the ex-ante factors (Lemma 4.2 half-space bound, LP on samples)."""
    core = summary.get("metrics", {}).get("core")
    if not core or "core_gamma_singleton" not in table:
        return None
    fig, axes = pyplot().subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [2, 1]})
    shown = table.head(40)
    axes[0].bar(shown["agent"].astype(str), shown["core_gamma_singleton"], color="tab:blue")
    axes[0].axhline(0, color="grey", lw=0.8)
    axes[0].set_xlabel("agent i")
    axes[0].set_ylabel("gamma({i}): best own-share alternative / U_i - 1")
    axes[0].set_title("singleton coalitions", fontsize=9)
    labels = ["ex post gamma"]
    vals = [core["gamma"] if core["gamma"] is not None else np.nan]
    ex = core.get("ex_ante")
    if ex:
        labels += ["ex ante (LP)", "ex ante (Lemma 4.2)"]
        vals += [ex["lp_gamma"], ex["halfspace_gamma"]]
    bars = axes[1].bar(labels, vals, color=["tab:red", "tab:green", "tab:olive"][: len(vals)])
    axes[1].bar_label(bars, fmt="%.3g", fontsize=8)
    n = int(summary.get("agents", 1))
    h_n = float(np.sum(1.0 / np.arange(1, n + 1)))
    axes[1].axhline(h_n - 1, color="k", ls="--", lw=1, label=f"H_n - 1 = {h_n - 1:.3f} (IC bound, Cor. 5.4)")
    axes[1].axhline(0, color="grey", lw=0.8)
    axes[1].set_ylabel("core factor gamma")
    blocking = core["blocking_coalition"]
    shown_coalition = str(blocking) if len(blocking) <= 8 else f"{len(blocking)} agents"
    bracket = "" if core["method"] == "exact" else f", <= {core.get('gamma_upper', np.nan):.3g}"
    axes[1].set_title(
        f"max over {core['coalitions_checked']} coalitions ({core['method']}{bracket}); blocking: {shown_coalition}",
        fontsize=8,
    )
    axes[1].legend(fontsize=8)
    axes[1].tick_params(axis="x", labelsize=8)
    for ax in axes:
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(figure_title(summary, "Approximate core factor (Onyeze et al. 2025 Definition 2.1)"), fontsize=10)
    return save_figure(fig, out / "core.png")


def plot_run(run_dir: str | Path, out: str | Path | None = None) -> list[Path]:
    """Write every figure the run's files allow; returns the PNG paths."""
    run_dir = Path(run_dir)
    summary = read_summary(run_dir)
    target = output_dir(run_dir, out)
    rounds = _load(run_dir, "rounds")
    table = _load(run_dir, "metrics")
    curve = _load(run_dir, "regret_curve")
    trace = _plot_trace(run_dir)
    written: list[Path | None] = []
    if curve is not None and len(curve):
        written.append(plot_strong_regret(curve, summary, target))
    if rounds is not None and "epsilon" in rounds and rounds["epsilon"].notna().any():
        written.append(plot_epsilon(rounds, summary, target))
    if trace is not None and rounds is not None and len(trace):
        written.append(plot_budget(trace, rounds, summary, target))
        written.append(plot_bids(trace, rounds, summary, target))
    if rounds is not None:
        written.append(plot_prices(rounds, summary, target))
    if table is not None:
        written.append(plot_core(table, summary, target))
    # Scenario-specific panels, through the scenario registry: only when the run's scenario is
    # registered here (its plug-in loaded); otherwise the generic figures alone.
    scenario = find_scenario(str(summary.get("scenario", "")))
    if scenario is not None:
        written.extend(scenario.plot_panels(run_dir, target))
    else:
        log.info("scenario %r is not registered here: generic figures only", summary.get("scenario"))
    paths = [p for p in written if p is not None]
    log.info("wrote %d figures to %s", len(paths), target)
    return paths

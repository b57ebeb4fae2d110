"""Two-sided matching with cardinal utilities (Braverman 2021 §3.3).

m hospitals and m doctors — all 2m of them players (agents 0..m-1 hospitals, m..2m-1
doctors; `agents` must be even) — each with a budget and a bid lambda per round.
Mechanisms:
- `apex`: Algorithm 1 on fractional matchings, F = sum_{h,d} X_hd (lambda_h uh[h, d] +
  lambda_d ud[d, h]) + eta H(X) maximized by Sinkhorn, VCG token charges per player;
- `da_hospitals` / `da_doctors`: Gale–Shapley deferred acceptance, the ordinal baseline
  (token-free; the outcome ignores the bids).
Instances: `random` (i.i.d. uniform), `correlated` (common desirability: u = c q + (1 - c)
noise, q a quality per partner), `33` and `34` (the §3.3 2 x 2 examples; agents = 4) and
`assortative` (everyone ranks partners by index, utility i from partner i).

The summary compares the time-average outcome X-bar with both stable matchings on
blocking pairs (count and mass, via the stable-matching polytope), total normalized
utility and the per-player externality of §2.3.4; `plot_panels` draws the pair-probability
matrix X-bar with the stable matchings marked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from abm.config import ConfigError, RunConfig
from abm.scenario import BUDGET_PER_ROUND_MAX, Scenario, ScenarioInstance, ScenarioParams, register_scenario
from mechanisms.matching.two_sided import (
    assortative,
    blocking_pairs,
    deferred_acceptance,
    externalities,
    instance_33,
    normalize_rows,
    permutation_matrix,
    player_utilities,
)
from mechanisms.registry import BRAVERMAN, cite
from scenarios.values import UnitValues

INSTANCES = ("random", "correlated", "33", "34", "assortative")


class TwoSidedParams(ScenarioParams):
    """mechanism: apex | da_hospitals | da_doctors. instance: one of INSTANCES.
    correlation: weight c of the common quality in `correlated`. eta: entropy regularizer.
    budget: tokens per player per round (B_i = budget * T). trace_points: checkpoints."""

    mechanism: str = Field(default="apex", description="the matching mechanism (`mechsim list mechanisms`)")
    instance: Literal["random", "correlated", "33", "34", "assortative"] = "correlated"
    correlation: float = Field(default=0.5, ge=0.0, le=1.0)
    eta: float = Field(default=0.05, gt=0.0)
    budget: float = Field(default=0.2, gt=0.0, le=BUDGET_PER_ROUND_MAX)
    trace_points: int = Field(default=20, ge=1)


def make_market(instance: str, m: int, correlation: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(uh, ud) raw utilities of the named instance for m hospitals and m doctors."""
    if instance in ("33", "34"):
        if m != 2:
            raise ConfigError(
                f"params.instance = {instance!r} has 2 hospitals and 2 doctors: agents must be 4, got {2 * m}"
            )
        uh, ud = instance_33()
        return (normalize_rows(uh), normalize_rows(ud)) if instance == "34" else (uh, ud)
    if instance == "assortative":
        return assortative(m)
    if instance == "random":
        return rng.random((m, m)), rng.random((m, m))
    q_doctors, q_hospitals = rng.random(m), rng.random(m)
    uh = correlation * q_doctors[None, :] + (1 - correlation) * rng.random((m, m))
    ud = correlation * q_hospitals[None, :] + (1 - correlation) * rng.random((m, m))
    return uh, ud


def outcome_metrics(uh: np.ndarray, ud: np.ndarray, x: np.ndarray) -> dict[str, Any]:
    """Blocking pairs (count, mass), total normalized utility and §2.3.4 externalities."""
    count, mass = blocking_pairs(uh, ud, x)
    ext = externalities(uh, ud, x)
    return {
        "blocking_pairs": count,
        "blocking_mass": mass,
        "total_utility": float(player_utilities(uh, ud, x).sum()),
        "externality": ext.tolist(),
        "externality_mean": float(ext.mean()),
        "externality_spread": float(ext.max() - ext.min()),
    }


def summarize(model: Any, uh_raw: np.ndarray, ud_raw: np.ndarray, points: int) -> dict[str, Any]:
    path = model.trace.outcome_path
    uh, ud = normalize_rows(uh_raw), normalize_rows(ud_raw)
    m = uh.shape[0]
    x_bar = path.x_bar.reshape(m, m)
    da = {side: deferred_acceptance(uh, ud, side) for side in ("hospitals", "doctors")}
    return {
        "hospitals": int(uh.shape[0]),
        "pair_probability": x_bar.tolist(),
        "stable_matching_hospitals": da["hospitals"].tolist(),
        "stable_matching_doctors": da["doctors"].tolist(),
        "outcome": outcome_metrics(uh, ud, x_bar),
        "da_hospitals": outcome_metrics(uh, ud, permutation_matrix(da["hospitals"])),
        "da_doctors": outcome_metrics(uh, ud, permutation_matrix(da["doctors"])),
        "mean_bid_hospitals": float(path.mean_bids[:m].mean()),
        "mean_bid_doctors": float(path.mean_bids[m:].mean()),
        "trace": path.trace(points, shape=(m, m)),
    }


class TwoSided(Scenario):
    """Braverman 2021 §3.3: APEX on fractional matchings versus Gale–Shapley."""

    name = "two-sided"
    Params = TwoSidedParams
    mechanism_family = "matching"
    citation = cite(BRAVERMAN, "§3.3")
    toml = Path(__file__).with_name("two_sided.toml")

    def build(self, config: RunConfig, params: Any, seed: np.random.SeedSequence) -> ScenarioInstance:
        n, T = config.agents, config.rounds
        if n % 2:
            raise ConfigError(f"agents must be even (m hospitals + m doctors), got {n}")
        m = n // 2
        uh, ud = make_market(params.instance, m, params.correlation, np.random.default_rng(seed))
        mechanism = self.make_mechanism(params, uh, ud, params.eta)
        side = np.array(["hospital"] * m + ["doctor"] * m)
        return ScenarioInstance(
            mechanism=mechanism,
            budgets=np.full(n, params.budget * T),
            values=UnitValues(n),
            agent_info={"side": side, "index": np.concatenate([np.arange(m), np.arange(m)])},
            learner_defaults={"adaptive_pacing": {"mu_min": -0.9}},
            summarize=lambda model: summarize(model, uh, ud, params.trace_points),
        )

    def plot_panels(self, run_dir: Path, out: Path) -> list[Path]:
        return plot_panels(run_dir, out)


register_scenario(TwoSided())


def plot_panels(result_dir: str | Path, out: str | Path | None = None) -> list[Path]:
    """Draw the pair-probability matrix X-bar (hospitals x doctors) with the hospital-
    and doctor-proposing stable matchings marked; returns the written PNG paths."""
    from abm.plotting import figure_title, output_dir, pyplot, read_summary, save_figure

    summary = read_summary(result_dir)
    s = summary["scenario_summary"]
    x = np.asarray(s["pair_probability"])
    m = x.shape[0]
    fig, ax = pyplot().subplots(figsize=(5.5, 4.5))
    im = ax.imshow(x, cmap="viridis", vmin=0.0, vmax=1.0)
    fig.colorbar(im, ax=ax, label="P(h, d matched)")
    rows = np.arange(m)
    ax.scatter(s["stable_matching_hospitals"], rows, marker="o", facecolors="none", edgecolors="w", s=160,
               label="DA (hospitals propose)")
    ax.scatter(s["stable_matching_doctors"], rows, marker="x", color="r", s=60, label="DA (doctors propose)")
    ax.set_xlabel("doctor")
    ax.set_ylabel("hospital")
    metrics = s["outcome"]
    ax.set_title(
        figure_title(
            summary,
            f"Pairs X-bar (Braverman 2021 §3.3): blocking mass {metrics['blocking_mass']:.2f}, "
            f"utility {metrics['total_utility']:.2f}",
        ),
        fontsize=8,
    )
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8)
    return [save_figure(fig, output_dir(result_dir, out) / "two_sided_pairs.png")]

"""Single-good auctions with approximate valuations (Chiesa, Micali, Zhu 2012).

Each round one good; agent i's true value TV_i is hidden from it: it sees x_i (its
observation `values`) and knows only TV_i in K_i = [(1 - delta) x_i, (1 + delta) x_i].
Learners bid from x_i; the mechanism scores (quasi-linear) utilities and welfare with TV_i. The summary
reports achieved social welfare / maximum social welfare against each theorem's bound;
the study `approx-delta` sweeps delta (`delta_sweep` and scripts/approx_auction_sweep.py run it).
The mechanism the loop plays, `ApproxKnowledgeAuction` (the chosen auction scored with
TV_i), lives in `mechanisms.approx_valuations.knowledge`; this module holds the value model.

Money: the slides' auctions charge money. Bids are capped at bid_cap (default
2 (1 + delta) value_high) and every budget is T * bid_cap, so no charge (<= the bid) can
ever make a budget bind; charges still go through the ledger.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from abm.config import ConfigError, RunConfig
from abm.scenario import BUDGET_PER_ROUND_MAX, Scenario, ScenarioInstance, ScenarioParams, ValueModel, register_scenario
from mechanisms.approx_valuations.auctions import (
    APPROX_MECHANISMS,
    ApproxAuction,
    make_approx_mechanism,
    worst_case_ratio,
)
from mechanisms.approx_valuations.knowledge import MECHANISM_ORDER, ApproxKnowledgeAuction
from mechanisms.registry import CHIESA, cite

if TYPE_CHECKING:
    import pandas as pd


class ApproxAuctionParams(ScenarioParams):
    """mechanism: second_price | random | optimal (M_f of Def. E.2). delta: relative
    inaccuracy (the slides' example: 40%). x_i ~ U[value_low, value_high]; truth: TV_i
    uniform in K_i, or at a random end of K_i (`endpoints`). bid_cap: None = 2 (1 + delta)
    value_high. worst_case_samples: size of the adversarial search in the summary (0 = off)."""

    mechanism: str = Field(
        default="optimal",
        description="the auction (family approx_valuations: second_price, random, optimal = M_f of Def. E.2)",
    )
    delta: float = Field(default=0.4, ge=0.0, lt=1.0)
    value_low: float = Field(default=0.1, gt=0.0)
    value_high: float = Field(default=1.0, gt=0.0, le=BUDGET_PER_ROUND_MAX)
    truth: Literal["uniform", "endpoints"] = "uniform"
    bid_cap: float | None = Field(default=None, gt=0.0, le=BUDGET_PER_ROUND_MAX)
    worst_case_samples: int = Field(default=5000, ge=0)

    @model_validator(mode="after")
    def _check(self) -> ApproxAuctionParams:
        if self.value_low > self.value_high:
            raise ValueError(f"value_low ({self.value_low}) must be <= value_high ({self.value_high})")
        if self.mechanism == "optimal" and self.delta == 0.0:
            raise ValueError("delta must be > 0 for mechanism 'optimal' (D_delta = 0 at delta = 0)")
        return self


class ApproxKnowledgeValues(ValueModel):
    """Draws x_i ~ U[low, high] and TV_i in K_i; returns x_i (what agent i knows) and keeps
    TV_i in `true_values` for the mechanism of the same round."""

    def __init__(self, n: int, delta: float, low: float, high: float, truth: str) -> None:
        self.n, self.delta, self.low, self.high, self.truth = n, delta, low, high, truth
        self.true_values = np.zeros(n)
        self.knowledge = np.zeros(n)

    def sample(self, t: int, rng: np.random.Generator) -> np.ndarray:
        x = rng.uniform(self.low, self.high, self.n)
        u = rng.uniform(-1.0, 1.0, self.n) if self.truth == "uniform" else rng.choice([-1.0, 1.0], self.n)
        self.knowledge = x
        self.true_values = x * (1.0 + self.delta * u)
        return x.copy()


class ApproxAuctionScenario(Scenario):
    """Chiesa, Micali, Zhu 2012: second price, random assignment and the optimal probabilistic
    M_f with bidders who know their value only within relative inaccuracy delta."""

    name = "approx-auction"
    Params = ApproxAuctionParams
    mechanism_family = "approx_valuations"
    citation = cite(CHIESA, "Thm 1-5")
    toml = Path(__file__).with_name("approx_auction.toml")

    def build(self, config: RunConfig, params: Any, seed: np.random.SeedSequence) -> ScenarioInstance:
        n, T = config.agents, config.rounds
        bid_cap = params.bid_cap if params.bid_cap is not None else 2.0 * (1.0 + params.delta) * params.value_high
        values = ApproxKnowledgeValues(n, params.delta, params.value_low, params.value_high, params.truth)
        inner = self.make_mechanism(params, params.delta, bid_cap)
        if not isinstance(inner, ApproxAuction):  # the family's factories return one
            raise ConfigError(
                f"params.mechanism: {params.mechanism!r} builds a {type(inner).__name__}, not an ApproxAuction"
            )
        mechanism = ApproxKnowledgeAuction(inner, values, T, params.delta)
        search_rng = np.random.default_rng(seed)

        def summarize(model: Any) -> dict[str, Any]:
            worst: dict[str, float] = {}
            if params.worst_case_samples > 0:
                for name in MECHANISM_ORDER:
                    if name == "optimal" and params.delta == 0.0:
                        continue
                    mech = make_approx_mechanism(name, params.delta)
                    found = worst_case_ratio(mech, params.delta, n, search_rng, samples=params.worst_case_samples)
                    worst[name] = found.ratio
            return mechanism.summary(n, worst)

        return ScenarioInstance(
            mechanism=mechanism,
            # T * bid_cap: the whole horizon of maximal charges, so budgets never bind.
            budgets=np.full(n, T * bid_cap),
            values=values,
            agent_info={},
            summarize=summarize,
            # Undominated bids lie in K_i = x_i [1 - delta, 1 + delta] (slide "Tool #2").
            undominated=(1.0 - params.delta, 1.0 + params.delta),
        )

    def plot_panels(self, run_dir: Path, out: Path) -> list[Path]:
        return plot_panels(run_dir, out)


register_scenario(ApproxAuctionScenario())


# ---------------------------------------------------------------------------------------
# The delta sweep: the study `approx-delta` (scenarios/studies/approx_delta.py) with bids = x_i.


def delta_sweep(
    deltas: list[float] | np.ndarray,
    n_values: list[int] | np.ndarray,
    *,
    samples: int = 5000,
    instances: int = 2000,
    value_low: float = 0.1,
    value_high: float = 1.0,
    seed: int = 0,
    out: str | Path | None = None,
) -> pd.DataFrame:
    """For every (delta, n, mechanism): the guarantee eps(delta, n), the lowest SW/MSW the
    adversarial search finds with bids in K_i (`worst_case`), and the mean and minimum
    SW/MSW over `instances` rounds when everyone bids its knowledge x_i with TV_i uniform
    in K_i (`truthful_mean_ratio`, `truthful_min_ratio`): the study `approx-delta` with the
    `truthful` learner and one seed (its outputs in `out`, else a temporary directory)."""
    import tempfile

    from abm.runs.study import run_study

    options = {
        "deltas": [float(d) for d in deltas], "agents": [int(n) for n in n_values], "learners": ["truthful"],
        "samples": samples, "search_seed": seed, "rounds": instances,
    }
    overrides = {"params.value_low": value_low, "params.value_high": value_high}
    with tempfile.TemporaryDirectory() as scratch:
        result = run_study(
            "approx-delta", seeds=1, out=out if out is not None else scratch, options=options, overrides=overrides,
            executor="serial", plot=False, progress=False,
        )
    return result.findings.tables["delta_sweep"]


def plot_delta_sweep(table: pd.DataFrame, path: str | Path) -> Path:
    """The study's figure (`draw_delta_sweep`) of a `delta_sweep` table, as a PNG at `path`."""
    from abm.runs.study.figures import DPI, new_figure
    from scenarios.studies.approx_delta import draw_delta_sweep

    learners = [c.removesuffix("_mean_ratio") for c in table.columns if c.endswith("_mean_ratio")]
    fig = new_figure()
    draw_delta_sweep(fig, table, learners)
    fig.suptitle("Approximate valuations (Chiesa, Micali, Zhu 2012): welfare ratio against delta", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path


__all__ = [
    "APPROX_MECHANISMS",
    "ApproxAuctionParams",
    "ApproxAuctionScenario",
    "ApproxKnowledgeValues",
    "delta_sweep",
    "plot_delta_sweep",
]


def plot_panels(result_dir: str | Path, out: str | Path | None = None) -> list[Path]:
    """`mechsim plot` panel: per mechanism, the welfare ratio achieved on the played bids,
    the worst round with bids in K_i, the worst case the search found, and the theorem's
    guarantee (Chiesa–Micali–Zhu 2012, Thms 1-4)."""
    from abm.plotting import figure_title, output_dir, pyplot, read_summary, save_figure

    summary = read_summary(result_dir)
    s = summary["scenario_summary"]
    by = s["by_mechanism"]
    names = list(by)
    x = np.arange(len(names))
    series = (
        ("welfare_ratio_on_played_bids", "SW / MSW on the played bids"),
        ("min_round_ratio_bids_in_K", "worst round (bids in K_i)"),
        ("worst_case_found", "worst case found by search"),
        ("guarantee", "theorem's guarantee"),
    )
    fig, ax = pyplot().subplots(figsize=(9, 4.5))
    width = 0.8 / len(series)
    for j, (key, label) in enumerate(series):
        ax.bar(x + (j - 1.5) * width, [by[m][key] for m in names], width=width, label=label)
    ax.set_xticks(x, names)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("social welfare / maximum social welfare")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    ax.set_title(figure_title(summary, f"Approximate valuations, delta = {s['delta']}"))
    return [save_figure(fig, output_dir(result_dir, out) / "welfare_vs_guarantee.png")]

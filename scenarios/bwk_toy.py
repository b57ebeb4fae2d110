"""Bandits-with-knapsacks instances of Braverman 2021 §2.3.3: the toy example and a stochastic one.

`bwk-toy` — a zero arm and an arm of cost 1; budget B = T/2; reward 1 in rounds
t < T/2, then 2 for all later rounds (`second_half_reward = 2`) or 0 (`= 0`). The player
must decide how much to spend before learning which: spending a fraction x of the first
half earns ratio x against OPT = T/2 in the "0" scenario and 1 - x/2 against OPT = T in
the "2" scenario, so no algorithm has worst-case ratio above 2/3 (at x = 2/3). Reports
are bids lambda (APEX style, values 1): the costly arm is pulled iff lambda * r_t >= 1.

`bwk-stochastic` — k arms with Bernoulli rewards and costs, B = budget_fraction * T,
reports are arm indices ("arm": plain BwK) or bids ("bid": the mechanism picks the arm
maximizing lambda rbar - cbar); the benchmark is the LP optimum over the means.

Agents are independent copies of the instance (one agent = one seed), so a cohort of n
agents is n replications. `compare_learners()` prints every registered learner's ratio
in both toy scenarios; the study `bwk-ratio` (scenarios/studies/bwk_ratio.py) measures
both instances over seeds, with intervals and its figure.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from abm.config import RunConfig
from abm.scenario import Scenario, ScenarioInstance, ScenarioParams, register_scenario
from mechanisms.bwk.instances import BanditsWithKnapsacks, hindsight_opt, lp_opt
from mechanisms.registry import BRAVERMAN, cite
from scenarios.values import UnitValues

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: No algorithm beats this worst-case ratio on the toy instance (Braverman 2021 §2.3.3).
TOY_RATIO_BOUND = 2.0 / 3.0


class BwKToyParams(ScenarioParams):
    """second_half_reward: r_t for t >= T/2 (Braverman 2021: 2 or 0). budget_fraction: B / T."""

    second_half_reward: float = Field(default=2.0, ge=0.0)
    budget_fraction: float = Field(default=0.5, gt=0.0, le=1.0)


def toy_schedule(rounds: int, second_half_reward: float) -> tuple[np.ndarray, np.ndarray]:
    """(T, 2) reward and cost schedules: arm 0 null, arm 1 costs 1 and pays 1 then r2."""
    half = rounds // 2
    rewards = np.zeros((rounds, 2))
    rewards[:half, 1] = 1.0
    rewards[half:, 1] = second_half_reward
    costs = np.zeros((rounds, 2))
    costs[:, 1] = 1.0
    return rewards, costs


def _ratio_summary(model: Any, opt: np.ndarray) -> dict[str, Any]:
    """Per agent ALG / OPT, and the additive regret (OPT - ALG) / T averaged over agents
    (Braverman 2021 §2.3.3 states both: the best ratio and the best additive regret)."""
    util = model.cum_utility
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(opt > 0, util / opt, np.nan)
    return {
        "opt": opt.tolist(),
        "ratio": ratio.tolist(),
        "ratio_mean": float(np.nanmean(ratio)) if np.isfinite(ratio).any() else float("nan"),
        "ratio_min": float(np.nanmin(ratio)) if np.isfinite(ratio).any() else float("nan"),
        "regret_per_round_mean": float(np.mean(opt - util) / model.config.rounds),
    }


def _grid_defaults(grid: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: dict(grid) for name in ("hedge", "exp3", "blum_mansour_swap", "lagrange_bwk")}


class BwKToy(Scenario):
    """Braverman 2021 §2.3.3 toy instance of bandits with knapsacks (deterministic; bid reports)."""

    name = "bwk-toy"
    Params = BwKToyParams
    citation = cite(BRAVERMAN, "§2.3.3")
    toml = Path(__file__).with_name("bwk_toy.toml")

    def build(self, config: RunConfig, params: Any, seed: np.random.SeedSequence) -> ScenarioInstance:
        n, T = config.agents, config.rounds
        rewards, costs = toy_schedule(T, params.second_half_reward)
        mechanism = BanditsWithKnapsacks(rewards, costs, mode="bid", noise="none")
        budget = params.budget_fraction * T
        opt = np.full(n, hindsight_opt(rewards, costs, budget))
        return ScenarioInstance(
            mechanism=mechanism,
            budgets=np.full(n, budget),
            values=UnitValues(n),
            # Bid grid for the grid learners: 0..2 in steps of 0.25 contains both break-
            # points of the instance (lambda = 1 in the first half, 1/2 in the second).
            learner_defaults=_grid_defaults({"grid_min": 0.0, "grid_max": 2.0, "grid_points": 9}),
            summarize=lambda model: {
                "second_half_reward": params.second_half_reward,
                **_ratio_summary(model, opt),
            },
        )


#: Default stochastic instance: null arm, two hull arms the LP optimum mixes at B = T/4,
#: a high-reward arm that is poor value per token, and a dominated arm.
DEFAULT_REWARDS = (0.0, 0.3, 0.6, 0.8, 0.35)
DEFAULT_COSTS = (0.0, 0.1, 0.5, 0.9, 0.4)


class BwKStochasticParams(ScenarioParams):
    """reward_means / cost_means: Bernoulli means per arm (arm 0 should be the null arm).
    budget_fraction: B / T. mode: "arm" (report = arm index) or "bid" (report = lambda)."""

    reward_means: list[float] = Field(default_factory=lambda: list(DEFAULT_REWARDS))
    cost_means: list[float] = Field(default_factory=lambda: list(DEFAULT_COSTS))
    budget_fraction: float = Field(default=0.25, gt=0.0, le=1.0)
    mode: Literal["arm", "bid"] = "arm"

    @model_validator(mode="after")
    def _check(self) -> BwKStochasticParams:
        check_arms(self.reward_means, self.cost_means)
        return self


def check_arms(reward_means: list[float], cost_means: list[float]) -> None:
    """As many cost as reward means, each a Bernoulli mean in [0, 1]."""
    if len(reward_means) != len(cost_means):
        raise ValueError(f"reward_means has {len(reward_means)} arms but cost_means has {len(cost_means)}")
    for name, means in (("reward_means", reward_means), ("cost_means", cost_means)):
        for i, x in enumerate(means):
            if not 0.0 <= x <= 1.0:
                raise ValueError(f"{name}[{i}] must be a Bernoulli mean in [0, 1], got {x}")


class BwKStochastic(Scenario):
    """Stochastic BwK with Bernoulli arms; the benchmark is the LP optimum over the means."""

    name = "bwk-stochastic"
    Params = BwKStochasticParams
    citation = cite(BRAVERMAN, "§1.1, §2.3.3")
    toml = Path(__file__).with_name("bwk_stochastic.toml")

    def build(self, config: RunConfig, params: Any, seed: np.random.SeedSequence) -> ScenarioInstance:
        n, T = config.agents, config.rounds
        r = np.asarray(params.reward_means)
        c = np.asarray(params.cost_means)
        mechanism = BanditsWithKnapsacks(r, c, mode=params.mode, noise="bernoulli")
        budget = params.budget_fraction * T
        opt = np.full(n, lp_opt(r, c, budget, T))
        k = r.shape[0]
        grid = (
            {"grid_min": 0.0, "grid_max": float(k - 1), "grid_points": k}
            if params.mode == "arm"
            else {"grid_min": 0.0, "grid_max": 4.0, "grid_points": 17}
        )
        return ScenarioInstance(
            mechanism=mechanism,
            budgets=np.full(n, budget),
            values=UnitValues(n),
            learner_defaults=_grid_defaults(grid),
            summarize=lambda model: _ratio_summary(model, opt),
        )


register_scenario(BwKToy())
register_scenario(BwKStochastic())


def toy_summaries(
    learner: str, *, rounds: int = 2000, agents: int = 4, seed: int = 0, params: dict | None = None
) -> dict[float, dict[str, Any]]:
    """The scenario summary of `learner` in the toy's two scenarios: {2.0: ..., 0.0: ...}."""
    from abm.runs.runner import run  # the runner imports the scenario registry

    out = {}
    for r2 in (2.0, 0.0):
        res = run(
            {
                "scenario": "bwk-toy",
                "rounds": rounds,
                "agents": agents,
                "seed": seed,
                "record_menus": False,
                "agent_records": "off",
                "learner": {"name": learner, "params": params or {}},
                "params": {"second_half_reward": r2},
            },
            progress=False,
        )
        out[r2] = res.summary["scenario_summary"]
    return out


def toy_ratios(
    learner: str,
    *,
    rounds: int = 2000,
    agents: int = 4,
    seed: int = 0,
    params: dict | None = None,
    key: str = "ratio_mean",
) -> dict[float, float]:
    """Mean ratio ALG / OPT of `learner` in the toy's two scenarios: {2.0: ..., 0.0: ...}
    (`key`: another entry of the scenario summary, e.g. "regret_per_round_mean")."""
    runs = toy_summaries(learner, rounds=rounds, agents=agents, seed=seed, params=params)
    return {r2: summary[key] for r2, summary in runs.items()}


def toy_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per learner, from runs with columns learner, seed, second_half_reward, ratio and
    regret_per_round: the mean ratio in each second half, the worst case (per seed the
    smaller of the two ratios: the first halves are identical, so a seed is one strategy
    facing both continuations; Braverman 2021 §2.3.3: at most 2/3), its 95% interval over
    seeds, and the worst additive regret per round (the larger of the two)."""
    import pandas as pd

    from abm.runs.study.stats import mean_ci

    per_seed = runs.groupby(["learner", "seed"]).agg(worst=("ratio", "min"), regret=("regret_per_round", "max"))
    halves: dict[Any, float] = runs.groupby(["learner", "second_half_reward"])["ratio"].mean().to_dict()
    rows = []
    for key, cell in per_seed.groupby(level="learner", sort=True):
        name = key[0] if isinstance(key, tuple) else key
        worst, lo, hi = mean_ci(cell["worst"].to_numpy())
        rows.append({
            "learner": name,
            "ratio_r2=2": halves[(name, 2.0)],
            "ratio_r2=0": halves[(name, 0.0)],
            "worst": worst,
            "worst_lo": lo,
            "worst_hi": hi,
            "worst_regret_per_round": float(cell["regret"].mean()),
            "seeds": len(cell),
        })
    return pd.DataFrame(rows).set_index("learner")


def compare_learners(
    learners: list[str] | None = None,
    *,
    rounds: int = 2000,
    agents: int = 4,
    seed: int = 0,
    show: bool = True,
) -> pd.DataFrame:
    """Every learner's ratio in both toy scenarios and its worst case (Braverman 2021 §2.3.3:
    no algorithm's worst case exceeds 2/3), one seed, as `toy_table`; prints it when `show`.
    The study `bwk-ratio` does the same over seeds, with intervals and the figure."""
    import pandas as pd

    from agents import LEARNERS

    names = learners if learners is not None else sorted(LEARNERS)
    rows = []
    for name in names:
        rows += [
            {"learner": name, "seed": seed, "second_half_reward": r2, "ratio": s["ratio_mean"],
             "regret_per_round": s["regret_per_round_mean"]}
            for r2, s in toy_summaries(name, rounds=rounds, agents=agents, seed=seed).items()
        ]
    table = toy_table(pd.DataFrame(rows))[["ratio_r2=2", "ratio_r2=0", "worst", "worst_regret_per_round"]]
    if show:
        print(f"Braverman 2021 §2.3.3 toy BwK, T={rounds}, {agents} agents; no algorithm's worst case > 2/3")
        print(table.to_string(float_format=lambda x: f"{x:.3f}"))
    return table


if __name__ == "__main__":
    compare_learners()

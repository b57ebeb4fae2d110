"""`bwk-variants`: the bandits-with-knapsacks games of Braverman 2021 §2.3.3, Problem 7, variants 2-5.

One instance, one game per run (`params.game`, `mechanisms.bwk.variants.BwKVariants`):
"arm" (report = arm index: variant 1 with a bandit learner, variant 2 with an experts one),
"closure" (report x = arm - 1 + p: variants 3 and 4 likewise) and "concave" (report = exchange
rate lambda; the mechanism sees the round's realized menu and spends argmax lambda R_t(c) - c
of eq. 24: variant 5). Feedback is the learner's: e.g. `lagrange_bwk` with `base = "exp3"`
(bandit) or `base = "hedge"` (experts) — the same algorithm in both feedback models.

`instance`: "stochastic" — the Bernoulli arms of `bwk-stochastic`, B = budget_fraction T
(`noise = "none"` plays the means: a deterministic stationary menu); "toy" — the §2.3.3 toy
(B = T/2, the costly arm pays 1, then `second_half_reward`), deterministic. The benchmark of
every game is Definition 3's hindsight optimum over each agent's realized menus
(`hindsight_opt`; for the concave game the same number, `concave_game_opt`); the summary
also gives the ratio to the LP over the means (`lp_opt`, the stochastic-BwK benchmark).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from abm.config import RunConfig
from abm.scenario import Scenario, ScenarioInstance, ScenarioParams, register_scenario
from mechanisms.bwk.instances import hindsight_opt, lp_opt
from mechanisms.bwk.variants import BwKVariants
from mechanisms.registry import BRAVERMAN, cite
from scenarios.bwk_toy import DEFAULT_COSTS, DEFAULT_REWARDS, check_arms, toy_schedule
from scenarios.values import UnitValues

#: Problem 7's variant number of each (game, learner feedback).
VARIANT = {("arm", "bandit"): 1, ("arm", "full"): 2, ("closure", "bandit"): 3, ("closure", "full"): 4,
           ("concave", "bandit"): 5, ("concave", "full"): 5}


class BwKVariantsParams(ScenarioParams):
    """game: "arm" | "closure" | "concave" (Problem 7's action sets). instance: "stochastic" |
    "toy". reward_means / cost_means / noise: the stochastic arms (arm 0 the null arm).
    budget_fraction: B / T (None: 1/4 stochastic, 1/2 toy). second_half_reward: the toy's r_t
    for t >= T/2."""

    game: Literal["arm", "closure", "concave"] = "arm"
    instance: Literal["stochastic", "toy"] = "stochastic"
    reward_means: list[float] = Field(default_factory=lambda: list(DEFAULT_REWARDS))
    cost_means: list[float] = Field(default_factory=lambda: list(DEFAULT_COSTS))
    noise: Literal["bernoulli", "none"] = "bernoulli"
    budget_fraction: float | None = Field(default=None, gt=0.0, le=1.0)
    second_half_reward: float = Field(default=2.0, ge=0.0)

    @model_validator(mode="after")
    def _check(self) -> BwKVariantsParams:
        check_arms(self.reward_means, self.cost_means)
        return self


def _grid(game: str, k: int, bid_max: float) -> dict[str, Any]:
    if game == "arm":
        return {"grid_min": 0.0, "grid_max": float(k - 1), "grid_points": k}
    if game == "closure":  # p in steps of 1/8 on every arm
        return {"grid_min": 0.0, "grid_max": float(k - 1), "grid_points": 8 * (k - 1) + 1}
    return {"grid_min": 0.0, "grid_max": bid_max, "grid_points": 17}


class BwKVariantsScenario(Scenario):
    """Braverman 2021 §2.3.3 Problem 7: BwK, its stochastic closure and the concave game (eq. 24)."""

    name = "bwk-variants"
    Params = BwKVariantsParams
    citation = cite(BRAVERMAN, "§2.3.3, Problem 7")
    toml = Path(__file__).with_name("bwk_variants.toml")

    def build(self, config: RunConfig, params: Any, seed: np.random.SeedSequence) -> ScenarioInstance:
        n, T = config.agents, config.rounds
        noise: Literal["bernoulli", "none"]
        if params.instance == "toy":
            rewards, costs = toy_schedule(T, params.second_half_reward)
            noise, frac, bid_max = "none", params.budget_fraction or 0.5, 2.0
            r_max = max(1.0, params.second_half_reward)
        else:
            rewards, costs = np.asarray(params.reward_means), np.asarray(params.cost_means)
            noise, frac, bid_max, r_max = params.noise, params.budget_fraction or 0.25, 4.0, 1.0
        mechanism = BwKVariants(rewards, costs, game=params.game, noise=noise)
        budget = frac * T
        lp = (hindsight_opt(rewards, costs, budget) if params.instance == "toy"
              else lp_opt(rewards, costs, budget, T))
        grid = _grid(params.game, mechanism.k, bid_max)
        defaults = {name: dict(grid) for name in ("hedge", "exp3", "blum_mansour_swap")}
        defaults["lagrange_bwk"] = {**grid, "reward_max": r_max}

        def summarize(model: Any) -> dict[str, Any]:
            got_r, got_c = mechanism.realized()
            opt = np.array([hindsight_opt(got_r[i], got_c[i], budget) for i in range(n)])
            util = model.cum_utility
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(opt > 0, util / opt, np.nan)
            return {
                "game": params.game,
                "instance": params.instance,
                "opt": opt.tolist(),
                "ratio": ratio.tolist(),
                "ratio_mean": float(np.nanmean(ratio)) if np.isfinite(ratio).any() else float("nan"),
                "regret_per_round_mean": float(np.mean(opt - util) / T),
                "lp_opt": lp,
                "ratio_lp_mean": float(np.mean(util) / lp) if lp > 0 else float("nan"),
            }

        return ScenarioInstance(
            mechanism=mechanism,
            budgets=np.full(n, budget),
            values=UnitValues(n),
            learner_defaults=defaults,
            summarize=summarize,
        )


register_scenario(BwKVariantsScenario())

__all__ = ["VARIANT", "BwKVariantsParams", "BwKVariantsScenario"]

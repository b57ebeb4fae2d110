"""A mechsim plug-in (docs/extending.md quotes every section of this file):

- `fpa_tokens`, a first-price auction charged in tokens, in the `public_goods` family;
- `fixed_pacing`, a learner that reports value * beta every round;
- `fpa-tokens`, a scenario that sells one good per round by `fpa_tokens` to budgeted bidders.

    mechsim run fpa-tokens --plugin docs/examples/fpa_tokens.py --rounds 500
    mechsim run public-goods --plugin docs/examples/fpa_tokens.py --set mechanism=fpa_tokens
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from abm.config import RunConfig
from abm.scenario import Scenario, ScenarioInstance, ScenarioParams, register_scenario
from agents.base import Feedback, Learner, LearnerParams, Observation
from agents.registry import register_learner
from mechanisms.base import Mechanism, Reports, RoundResult, check_vector
from mechanisms.registry import register_mechanism
from scenarios.public_goods import CommonShockValues, UniformValues


# --8<-- [mechanism]
@register_mechanism("fpa_tokens", family="public_goods")  # factory of the family: ()
class FirstPriceTokens(Mechanism):
    """First-price auction in tokens: the highest report wins the good and pays it (reports
    capped at p_max = 1); a tie goes to the lowest agent id; all reports 0: nobody wins."""

    name = "fpa_tokens"
    p_max = 1.0  # the largest charge: enforce_budget zeroes the report of anyone with less left

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        bids = np.minimum(check_vector("bids", reports.bids), self.p_max)
        values = check_vector("values", reports.values, bids.shape[0])
        won = np.zeros(bids.shape[0], dtype=bool)
        if bids.max(initial=0.0) > 0:
            won[np.argmax(bids)] = True  # argmax: the first of the highest reports
        return RoundResult(outcome=won, utilities=values * won, charges=bids * won, allocated=bool(won.any()))

    def rivals(self, reports: Reports, agents: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per agent (all if None): the others' best capped report, whether it wins a tie with it."""
        bids = np.minimum(reports.bids, self.p_max)
        agents = np.arange(bids.shape[0]) if agents is None else np.asarray(agents)
        best, rest = int(np.argmax(bids)), bids.copy()
        rest[best] = -np.inf
        second = int(np.argmax(rest))
        top = np.where(agents == best, rest[second], bids[best])
        return top, agents < np.where(agents == best, second, best), agents

    def menu_all(self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None,
                 *, state: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Exact and vectorized: agent i wins with report b iff b > 0 and b beats the others."""
        top, wins_tie, agents = self.rivals(reports, agents)
        b = np.minimum(alternatives, self.p_max)
        won = (b > 0) & ((b > top[:, None]) | ((b == top[:, None]) & wins_tie[:, None]))
        return reports.values[agents][:, None] * won, b * won

    def menu_breakpoints(self, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None) -> np.ndarray:
        """ExactMenu: the only undominated reports are 0 and the cheapest winning report."""
        top, wins_tie, _ = self.rivals(reports, agents)
        cheapest = np.clip(np.where(wins_tie, top, np.nextafter(top, np.inf)), np.nextafter(0, 1), self.p_max)
        return np.stack([np.zeros_like(cheapest), cheapest], axis=1)


# --8<-- [learner]
class FixedPacingParams(LearnerParams):
    """Parameters of fixed_pacing (validated: unknown keys, NaN and beta outside (0, 1] are errors)."""

    beta: float = Field(default=0.5, gt=0.0, le=1.0, description="report value * beta")


@register_learner("fixed_pacing")
class FixedPacing(Learner):
    """Fixed-multiplier pacing: report value * beta every round, never learn (bandit feedback)."""

    feedback = "bandit"  # sees its own utility and charge; "full" learners also get a menu
    Params = FixedPacingParams
    params: FixedPacingParams

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wins = np.zeros(self.n_agents, dtype=np.int64)  # an ndarray: saved by state_dict()

    def _act(self, obs: Observation) -> np.ndarray:
        return obs.values * self.params.beta  # the base class zeroes negative and unaffordable reports

    def _observe(self, feedback: Feedback) -> None:
        self.wins += feedback.charge > 0


# --8<-- [scenario]
class FpaTokensParams(ScenarioParams):
    """Parameters of fpa-tokens (`mechsim describe fpa-tokens`)."""

    mechanism: str = Field(default="fpa_tokens", description="a public_goods mechanism (`mechsim list mechanisms`)")
    alpha: float = Field(default=0.5, gt=0.0, le=1.0, description="budgets alpha / n * T tokens per agent")
    values: Literal["uniform", "correlated"] = Field(default="uniform", description="U[0, 1] or a common shock")
    correlation: float = Field(default=0.5, ge=0.0, le=1.0, description="rho of the correlated values")


class FpaTokens(Scenario):
    """One good per round sold by a first-price auction for tokens; budgets alpha / n * T."""

    name = "fpa-tokens"
    Params = FpaTokensParams
    mechanism_family = "public_goods"  # params.mechanism is looked up in this family
    toml = Path(__file__).with_name("fpa_tokens.toml")  # `mechsim run fpa-tokens` starts from it
    group_overrides = frozenset({"budget"})  # a [[population]] group may set `budget`

    def build(self, config: RunConfig, params: Any, seed: np.random.SeedSequence) -> ScenarioInstance:
        n = config.agents
        values = UniformValues(n) if params.values == "uniform" else CommonShockValues(n, params.correlation)
        return ScenarioInstance(
            mechanism=self.make_mechanism(params),  # the family's factory: no arguments
            budgets=np.full(n, params.alpha / n * config.rounds),
            values=values,
            summarize=lambda model: {"goods_allocated": int(model.goods_allocated)},
        )

    def plot_panels(self, run_dir: Path, out: Path) -> list[Path]:
        """`mechsim plot` adds this figure to the generic ones: the price paid per round."""
        from abm.plotting import pyplot, save_figure  # matplotlib only when plotting

        rounds = pd.read_parquet(run_dir / "rounds.parquet")
        fig, ax = pyplot().subplots(figsize=(6, 3))
        ax.plot(rounds["round"], rounds["total_charged"], lw=0.5)
        ax.set(xlabel="round", ylabel="winning bid (tokens)", title="fpa-tokens: price per round")
        return [save_figure(fig, out / "fpa_price.png")]


register_scenario(FpaTokens())

"""Voting with cardinal preferences on the simplex (Braverman 2021 §3.1, Problem 16).

n voters (the agents), k alternatives, outcome a lottery p in Delta_k. Voters' utilities
are fixed (normalized to min 0 / max 1); each round every voter bids an intensity lambda
and the mechanism picks the lottery:
- `apex`: Algorithm 1 with R(p) = eta_total H(p), eta_total = eta * n (the regularizer
  grows with the electorate, so one voter's influence is O(1/n): the large market of
  §2.2), and exact VCG token charges (n + 1 softmax solves, batched);
- `apex2`: Algorithm 2, the same outcome with quadratic prices (one solve);
- baselines: `plurality` (majority for k = 2), `dictatorship` (randomized dictatorship),
  `quadratic` (quadratic voting on the simplex, same outcome map, identity price form).
Budgets: `budget` tokens per round for the whole electorate, split equally
(B_i = budget * T / n): with eta_total = eta * n an APEX charge is about
lambda^2 Var_p(u_i) / (2 eta n), so the budget-binding lambda does not depend on n.

Profiles: `random` (i.i.d. uniform utilities), `compromise` (§3.1: half the voters
A >= C >> B, half B >= C >> A — randomized dictatorship never picks C), `intensity`
(§3.1: u_1 = (12, 11, -23), u_2 = (11, 12, -23), u_3 = (2, 1, -3), u_4 = (1, 2, -3) in
equal numbers).

The summary reports the time-average lottery X-bar (§2.1.2), welfare, the §2.3.4
externalities, the lotteries of every rule on the sincere profile, and the empirical
(eps, delta)-truthfulness of eq. (28) for sampled voters — for APEX on the outcome the
learners reached (X-bar, the others' played bids held fixed), not on a one-shot rule;
`plot_panels` draws the lottery over time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from abm.config import RunConfig
from abm.scenario import BUDGET_PER_ROUND_MAX, Scenario, ScenarioInstance, ScenarioParams, register_scenario
from mechanisms.registry import BRAVERMAN, cite
from mechanisms.voting.mechanisms import normalize_utilities, voting_externalities
from mechanisms.voting.rules import (
    Rule,
    apex_rule,
    dictatorship_rule,
    plurality_rule,
    quadratic_rule,
    realized_truthfulness_check,
    truthfulness_check,
)
from scenarios.values import UnitValues

#: §3.1's "A >= C >> B" and "B >= C >> A" voters (alternatives A, B, C).
COMPROMISE_TYPES = np.array([[1.0, 0.0, 0.9], [0.0, 1.0, 0.9]])
#: §3.1's intensity example: u_1 and u_3 agree on A vs B, u_1 hates C much more.
INTENSITY_TYPES = np.array([[12.0, 11.0, -23.0], [11.0, 12.0, -23.0], [2.0, 1.0, -3.0], [1.0, 2.0, -3.0]])

#: The built-in mechanisms of the `voting` family (plug-ins may add more).
MECHANISMS = ("apex", "apex2", "plurality", "dictatorship", "quadratic")


class VotingParams(ScenarioParams):
    """mechanism: one of MECHANISMS. alternatives: k (default 4 for `random`, 3 for the
    §3.1 profiles, which fix it). eta: regularizer per voter (eta_total = eta * n).
    budget: tokens per round for the electorate (B_i = budget * T / n).
    truth_*: the eq. (28) check — voters sampled, delta, misreport grid resolution and
    random directions (0 voters disables it). trace_points: checkpoints of the lottery path."""

    mechanism: str = Field(default="apex", description="the voting mechanism (`mechsim list mechanisms`)")
    alternatives: int | None = Field(default=None, ge=2, le=50)
    profile: Literal["random", "compromise", "intensity"] = "random"
    eta: float = Field(default=0.05, gt=0.0)
    budget: float = Field(default=0.1, gt=0.0, le=BUDGET_PER_ROUND_MAX)
    truth_voters: int = Field(default=3, ge=0)
    truth_delta: float = Field(default=0.0, ge=0.0)
    truth_grid: int = Field(default=2, ge=1, le=10)
    truth_random: int = Field(default=32, ge=0)
    trace_points: int = Field(default=200, ge=1)

    @model_validator(mode="after")
    def _check(self) -> VotingParams:
        fixed = {"compromise": 3, "intensity": 3}.get(self.profile)
        if fixed is not None and self.alternatives not in (None, fixed):
            raise ValueError(f"alternatives must be {fixed} for profile {self.profile!r}, got {self.alternatives}")
        return self

    @property
    def k(self) -> int:
        return self.alternatives if self.alternatives is not None else (4 if self.profile == "random" else 3)


def make_profile(profile: str, n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """(n, k) raw utilities of the named profile (types of the §3.1 examples in turn)."""
    if profile == "random":
        return rng.random((n, k))
    types = COMPROMISE_TYPES if profile == "compromise" else INTENSITY_TYPES
    return types[np.arange(n) % len(types)]


def reference_rules(eta_total: float, per_voter_budget: float) -> dict[str, Rule]:
    """Each mechanism's one-shot rule on a reported profile (the sincere-profile comparisons,
    and eq. (28) for the mechanisms without bids to replay):
    APEX (both algorithms) at Algorithm 2's competitive equilibrium with per-round spend
    `per_voter_budget`, quadratic voting at the same spend, and the token-free rules."""
    apex = apex_rule(eta_total, per_voter_budget)
    return {
        "apex": apex,
        "apex2": apex,
        "plurality": plurality_rule,
        "dictatorship": dictatorship_rule,
        "quadratic": quadratic_rule(eta_total, per_voter_budget),
    }


#: Mechanisms whose outcome is APEX's map p = softmax(sum_j lambda_j u_j / eta_total): eq. (28)
#: is evaluated on the outcome their learners reached (`realized_truthfulness_check`).
REALIZED_TRUTH = frozenset({"apex", "apex2"})


def truthfulness_summary(
    model: Any, params: VotingParams, raw: np.ndarray, u: np.ndarray, rules: dict[str, Rule], eta_total: float,
    seed: np.random.SeedSequence,
) -> dict[str, Any] | None:
    """Empirical (eps, delta)-truthfulness of eq. (28) (Braverman 2021 §3.1) for sampled voters.
    For APEX (Algorithms 1 and 2) on the outcome the run reached: X-bar, the others' bids of
    every round held fixed, the deviation at the voter's own spend. For the other built-in
    rules, which have no bids to hold (plurality, dictatorship) or a closed form (quadratic),
    on their one-shot rule at the sincere profile; None for a plug-in mechanism without one."""
    rng = np.random.default_rng(seed)
    trace, path = model.trace, model.trace.outcome_path
    realized = params.mechanism in REALIZED_TRUTH and path.outcomes is not None
    pool = np.asarray(trace.agents) if realized else np.arange(u.shape[0])  # voters whose bids were recorded
    if not realized and params.mechanism not in rules:
        return None
    voters = np.sort(rng.choice(pool, size=min(params.truth_voters, pool.size), replace=False))
    if realized:
        cols = np.searchsorted(np.asarray(trace.agents), voters)
        rep = realized_truthfulness_check(
            path.outcomes, trace.reports[: trace.rounds][:, cols], u, voters, eta_total, rng,
            grid=params.truth_grid, random=params.truth_random,
        )
        evaluated_on = (
            "the run's realized outcome: M(u_-i, u_i) = X-bar; a misreport or abstention replays every round "
            "with the others' played bids and the voter's own spend (Algorithm 2's price at the round's lottery)"
        )
    else:
        rep = truthfulness_check(rules[params.mechanism], raw, voters, rng, grid=params.truth_grid,
                                 random=params.truth_random)  # fmt: skip
        evaluated_on = f"the one-shot rule of {params.mechanism} on the sincere profile"
    eps = rep.epsilon(params.truth_delta)
    return {
        "rule": params.mechanism,
        "evaluated_on": evaluated_on,
        "delta": params.truth_delta,
        "voters": voters.tolist(),
        "benefit_misreport": rep.benefit_misreport.tolist(),
        "benefit_voting": rep.benefit_voting.tolist(),
        "best_misreport": rep.best_misreport.tolist(),
        "epsilon": eps.tolist(),
        "epsilon_max": float(np.nanmax(eps)) if (~np.isnan(eps)).any() else float("nan"),
        "candidates": rep.candidates,
        "unsolved": rep.unsolved,
    }


def summarize(
    model: Any, params: VotingParams, raw: np.ndarray, eta_total: float, b: float, seed: np.random.SeedSequence
) -> dict[str, Any]:
    path = model.trace.outcome_path
    u = normalize_utilities(raw)
    x_bar = path.x_bar
    ext = voting_externalities(u, x_bar)
    rules = reference_rules(eta_total, b)
    sincere = {}
    for name in ("apex", "quadratic", "plurality", "dictatorship"):
        p = rules[name](raw)
        sincere[name] = {"lottery": p.tolist(), "welfare": float((u @ p).mean())}
    out: dict[str, Any] = {
        "profile": params.profile,
        "alternatives": int(u.shape[1]),
        "eta_total": eta_total,
        "budget_per_voter_round": b,
        "lottery_mean": x_bar.tolist(),
        "lottery_last": path.last_outcome.tolist(),
        "welfare": float((u @ x_bar).mean()),
        "externality_mean": float(ext.mean()),
        "externality_max": float(ext.max()),
        "mean_bid": float(path.mean_bids.mean()),
        "sincere_rules": sincere,
        "trace": path.trace(params.trace_points),
    }
    if params.truth_voters > 0:
        truth = truthfulness_summary(model, params, raw, u, rules, eta_total, seed)
        if truth is not None:
            out["truthfulness"] = truth
    return out


class Voting(Scenario):
    """Braverman 2021 §3.1: APEX (Algorithms 1 and 2) and baselines on the simplex."""

    name = "voting"
    Params = VotingParams
    mechanism_family = "voting"
    citation = cite(BRAVERMAN, "§3.1")
    toml = Path(__file__).with_name("voting.toml")

    def build(self, config: RunConfig, params: Any, seed: np.random.SeedSequence) -> ScenarioInstance:
        n, T = config.agents, config.rounds
        ss_profile, ss_truth = seed.spawn(2)
        raw = make_profile(params.profile, n, params.k, np.random.default_rng(ss_profile))
        eta_total = params.eta * n
        b = params.budget / n
        mechanism = self.make_mechanism(params, raw, eta_total)
        u = normalize_utilities(raw)
        return ScenarioInstance(
            mechanism=mechanism,
            budgets=np.full(n, b * T),
            values=UnitValues(n),
            agent_info={"favorite": u.argmax(axis=1)},
            learner_defaults={"adaptive_pacing": {"mu_min": -0.9}},
            summarize=lambda model: summarize(model, params, raw, eta_total, b, ss_truth),
        )

    def plot_panels(self, run_dir: Path, out: Path) -> list[Path]:
        return plot_panels(run_dir, out)


register_scenario(Voting())


def plot_panels(result_dir: str | Path, out: str | Path | None = None) -> list[Path]:
    """Draw the outcome lottery over time (stacked per-round lottery, and the running mean
    X-bar) from summary.json; returns the written PNG paths."""
    from abm.plotting import figure_title, output_dir, pyplot, read_summary, save_figure

    summary = read_summary(result_dir)
    s = summary["scenario_summary"]
    rounds = np.asarray(s["trace"]["rounds"])
    fig, axes = pyplot().subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, key, title in zip(
        axes, ("outcome", "running_mean"), ("lottery X_t per round", "time average X-bar"), strict=True
    ):
        lot = np.asarray(s["trace"][key])
        ax.stackplot(rounds, lot.T, labels=[chr(ord("A") + j) if j < 26 else str(j) for j in range(lot.shape[1])])
        ax.set_title(f"{summary['mechanism']}: {title}")
        ax.set_xlabel("round")
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("probability")
    axes[1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), title="alternative")
    fig.suptitle(figure_title(summary, "Outcome lottery (Braverman 2021 §3.1)"), fontsize=10)
    return [save_figure(fig, output_dir(result_dir, out) / "voting_lottery.png")]

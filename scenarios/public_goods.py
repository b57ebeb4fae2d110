"""Public goods with artificial currency (Onyeze, Lin, Banerjee, Tardos): one excludable good of cost 1 per
round, agents with shares alpha_i, budgets alpha_i * T, a monetary mechanism run on
credits (Algorithm 1), and value-scaling / pacing bidders (§3.2-3.3). With `cost_per_agent`
the good costs c = cost_per_agent * n and budgets are alpha_i * T * c (§3.1's good of cost
c), so a large population shares it: `large-public-goods`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from abm.config import ConfigError, RunConfig
from abm.scenario import (
    Scenario,
    ScenarioInstance,
    ScenarioParams,
    UnknownNameConfigError,
    ValueModel,
    register_scenario,
)
from agents.pacing import EQUILIBRIUM
from mechanisms.public_goods.artificial_currency import ArtificialCurrency
from mechanisms.public_goods.pacing_equilibrium import PacingEquilibrium, pacing_equilibrium
from mechanisms.registry import MECHANISMS, ONYEZE, Entry, UnknownNameError, canonical, cite


class PublicGoodsParams(ScenarioParams):
    """Parameters of the public-goods scenario (Onyeze et al. 2025 §3, §6)."""

    mechanism: str = Field(
        default="proportional",
        description="the monetary mechanism M of Algorithm 1 (family public_goods: `mechsim list mechanisms`)",
    )
    alpha: float = Field(default=0.5, gt=0.0, le=1.0, description="total share; equal shares alpha/n")
    shares: list[float] | None = Field(default=None, description="explicit shares alpha_i (sum <= 1), one per agent")
    values: Literal["uniform", "correlated", "harmonic"] = Field(
        default="uniform",
        description="value distribution: uniform on [0,1], correlated (V_i = (1 - rho) U_i + rho Z) or "
        "harmonic (the §6 lower-bound instance, alpha_i = 1/(2n))",
    )
    correlation: float = Field(default=0.5, ge=0.0, le=1.0, description="rho of the correlated values")
    harmonic_eps: float = Field(default=0.01, gt=0.0, lt=0.5, description="eps of the harmonic instance")
    cost_per_agent: float | None = Field(
        default=None,
        gt=0.0,
        description="the good's cost per agent: c = cost_per_agent * n, so the good needs a constant "
        "fraction of the agents to pay for it (§3.1, a good of cost c); budgets alpha_i * T * c. "
        "None: c = 1, the paper's normalization",
    )
    budget_rule: Literal["p_max", "cap"] = Field(
        default="p_max",
        description="budget feasibility: p_max zeroes a report once B_i < p_max (Algorithm 1, line 4); "
        "cap takes min(report, B_i) (§3.1's alternative). With a cost growing in n only cap lets "
        "agents with budgets below p_max = c bid",
    )

    goods: int = Field(
        default=1,
        ge=1,
        description="m, the public goods each round (Onyeze et al. 2025 §2.1, §7): values V_i in [0, 1]^m, "
        "additive; a report scales the agent's value vector (learners observe sum_k V_ik). goods = 1 with "
        "the default cost is the single good of cost 1; otherwise the mechanism is one of family many_goods",
    )
    cost: Literal["per_good", "cardinality", "coverage"] = Field(
        default="per_good",
        description="the submodular allocation cost c(A) on agent-good pairs: per_good (sum of the weights of "
        "the goods allocated), cardinality ((|A| / (n m))^cost_exponent) or coverage (pairs cover random "
        "elements of weight 1/coverage_elements)",
    )
    cost_weights: list[float] | None = Field(
        default=None, description="per_good: the weight w_k of each good (sum <= 1); None: 1/m each"
    )
    cost_exponent: float = Field(
        default=0.5, gt=0.0, le=1.0, description="cardinality: the exponent e of (|A|/(n m))^e"
    )
    coverage_elements: int = Field(default=4, ge=1, description="coverage: the number of elements")
    coverage_density: float = Field(
        default=0.5, gt=0.0, le=1.0, description="coverage: the probability a pair covers an element"
    )
    cost_random: bool = Field(
        default=False,
        description="draw the cost at random each round: from a pool of cost_pool draws of the cost family "
        "(per_good weights times U[0.5, 1], cardinality exponent ~ U[cost_exponent, 1], a fresh coverage "
        "incidence), one picked uniformly per round",
    )
    cost_pool: int = Field(default=8, ge=1, description="the number of costs a random cost is drawn from")

    pacing_equilibrium: bool = Field(
        default=False,
        description="every group plays value_scaling at the focal pacing equilibrium (Onyeze et al. 2025 "
        "Definition 3.3, Theorems 3.6-3.7, B.4): beta_i with C_i(beta) = alpha_i, solved on samples of the "
        "value distribution (mechanisms.public_goods.pacing_equilibrium); the same as learner.params.beta = "
        "'equilibrium' in every group, and needs every group on value_scaling without its own beta",
    )
    core_frontier: int = Field(
        default=0, ge=0, le=50,
        description="points gamma of the (gamma, delta)-core frontier (Onyeze et al. 2025 Definition 2.1) in the "
        "core metric, ex post and ex ante: metrics.core.frontier (runs of at most 6 agents; 0: not computed)",
    )  # fmt: skip
    equilibrium_samples: int = Field(
        default=20_000, ge=100,
        description="draws of the value distribution the focal pacing equilibrium is solved on (common random "
        "numbers; the tolerance is 3 standard errors of each agent's sampled mean payment)",
    )  # fmt: skip
    free_riding_quantile: float | None = Field(
        default=None, gt=0.0, lt=1.0,
        description="price the free-riding deviation (Onyeze et al. 2025 §1) at the focal equilibrium: agent 0 "
        "reports 0 when its value is above this quantile of its values and re-solves its scale to spend its "
        "share; scenario_summary.free_riding.gain is its relative gain in value served "
        "(mechanisms.public_goods.free_riding). Needs a solved equilibrium",
    )  # fmt: skip

    @model_validator(mode="after")
    def _check(self) -> PublicGoodsParams:
        if self.shares is not None:
            for i, s in enumerate(self.shares):
                if not s >= 0:
                    raise ValueError(f"params.shares[{i}] must be >= 0, got {s}")
            if sum(self.shares) > 1.0 + 1e-12:
                raise ValueError(f"params.shares must sum to alpha <= 1, got sum {sum(self.shares)}")
            if not sum(self.shares) > 0:
                raise ValueError(f"params.shares: alpha = sum(shares) must be > 0 (no budget), got {self.shares}")
        if self.values == "harmonic" and self.cost_per_agent is not None:
            raise ValueError("the harmonic instance (§6) is defined for a good of cost 1: unset cost_per_agent")
        if self.cost_weights is not None:
            if len(self.cost_weights) != self.goods:
                raise ValueError(f"cost_weights has {len(self.cost_weights)} entries but goods = {self.goods}")
            for k, w in enumerate(self.cost_weights):
                if not w > 0:
                    raise ValueError(f"cost_weights[{k}] must be > 0, got {w}")
            if sum(self.cost_weights) > 1.0 + 1e-12:
                raise ValueError(f"cost_weights must sum to <= 1 (costs lie in [0, 1]), got {sum(self.cost_weights)}")
        if self.many_goods:
            for name, bad in (
                ("values", self.values == "harmonic"),
                ("cost_per_agent", self.cost_per_agent is not None),
                ("pacing_equilibrium", self.pacing_equilibrium),
                ("free_riding_quantile", self.free_riding_quantile is not None),
                ("core_frontier", self.core_frontier > 0),
            ):
                if bad:
                    raise ValueError(
                        f"{name} = {getattr(self, name)!r} is for the single good: with goods = {self.goods} and "
                        f"cost {self.cost!r} leave it at its default"
                    )
        return self

    @property
    def many_goods(self) -> bool:
        """Whether this is §7's general setting rather than the single good of cost 1 (§3)."""
        return self.goods > 1 or self.cost != "per_good" or self.cost_random or self.cost_weights is not None


class UniformValues(ValueModel):
    """V_i[t] ~ U[0, 1] independently across agents and rounds."""

    def __init__(self, n: int) -> None:
        self.n = n

    def sample(self, t: int, rng: np.random.Generator) -> np.ndarray:
        return rng.random(self.n)


class CommonShockValues(ValueModel):
    """V_i[t] = (1 - rho) U_i + rho Z with a round-wide shock Z (Onyeze et al. 2025 allows values
    arbitrarily correlated across agents, i.i.d. over rounds). With rho near 1 an agent's own high
    value says the others value the good highly too: the setting of the paper's free-riding
    motivation (§1), priced by `params.free_riding_quantile` (mechanisms.public_goods.free_riding)."""

    def __init__(self, n: int, rho: float) -> None:
        self.n, self.rho = n, rho

    def sample(self, t: int, rng: np.random.Generator) -> np.ndarray:
        return (1.0 - self.rho) * rng.random(self.n) + self.rho * rng.random()


class HarmonicValues(ValueModel):
    """Onyeze et al. 2025 §6 lower-bound instance: with probability alpha = 1/2 a shared round with
    values 1/sigma(i) - eps (sigma a fresh random permutation of 1..n), otherwise agent
    i's selfish round (value 1 for i, 0 for the others) with probability alpha_i = 1/(2n)."""

    def __init__(self, n: int, eps: float) -> None:
        self.n, self.eps = n, eps

    def sample(self, t: int, rng: np.random.Generator) -> np.ndarray:
        if rng.random() < 0.5:
            return 1.0 / (rng.permutation(self.n) + 1.0) - self.eps
        v = np.zeros(self.n)
        v[rng.integers(self.n)] = 1.0
        return v


#: Learners whose play is a fixed value scaling V_i / beta_i (the profiles C_i(beta) is defined on).
FIXED_SCALING = {canonical("value_scaling"): None, canonical("truthful"): 1.0}


def equilibrium_groups(config: RunConfig, params: PublicGoodsParams) -> tuple[np.ndarray, np.ndarray] | None:
    """(beta0, free) of the focal pacing equilibrium a run asks for: the agents whose value_scaling
    beta is "equilibrium" (every group with `params.pacing_equilibrium`) are solved for, the
    others keep their fixed scaling (value_scaling's beta, truthful's 1). None when no group asks;
    a ConfigError naming the field when a group's play is not a fixed value scaling (C_i(beta)
    of Definition 3.3 is then undefined)."""
    groups = config.groups()
    if params.pacing_equilibrium:
        for g in groups:
            if canonical(g.learner) != canonical("value_scaling") or "beta" in g.params:
                raise ConfigError(
                    f"params.pacing_equilibrium: group {g.name!r} must use learner value_scaling without params.beta "
                    f"(the equilibrium sets it), got learner {g.learner!r} with params {g.params}"
                )
    wanted = params.pacing_equilibrium or any(
        canonical(g.learner) == canonical("value_scaling") and g.params.get("beta") == EQUILIBRIUM for g in groups
    )
    if not wanted:
        return None
    beta0 = np.ones(config.agents)
    free = np.zeros(config.agents, dtype=bool)
    for g in groups:
        kind = canonical(g.learner)
        if kind not in FIXED_SCALING:
            raise ConfigError(
                f"learner.params.beta = 'equilibrium': group {g.name!r} plays {g.learner!r}, but C_i(beta) "
                "(Onyeze et al. 2025 Definition 3.3) needs every group on a fixed value scaling "
                "(value_scaling or truthful)"
            )
        beta = g.params.get("beta", 1.0) if FIXED_SCALING[kind] is None else FIXED_SCALING[kind]
        if params.pacing_equilibrium or beta == EQUILIBRIUM:
            free[g.span] = True
        else:
            beta0[g.span] = beta  # a number or one per agent (checked by the learner's params)
    return beta0, free


def focal_pacing(
    mechanism: ArtificialCurrency, values: ValueModel, beta0: np.ndarray, free: np.ndarray, samples: int,
    seed: np.random.SeedSequence,
) -> tuple[PacingEquilibrium, np.ndarray, np.random.Generator]:  # fmt: skip
    """The focal pacing equilibrium (Onyeze et al. 2025 Definition 3.3, Theorem B.4) on `samples`
    draws from the scenario's seed: (equilibrium, the draws, the generator after them)."""
    rng = np.random.default_rng(seed)
    draws = np.stack([values.sample(i, rng) for i in range(samples)])
    rates = mechanism.initial_budgets(1)
    try:
        return pacing_equilibrium(mechanism, draws, rates, rng, beta0=beta0, free=free), draws, rng
    except ValueError as exc:
        raise ConfigError(f"learner.params.beta = 'equilibrium': {exc}") from None


class PublicGoods(Scenario):
    """Onyeze et al. 2025 §3: Algorithm 1 on a single good with Proportional, Moulin, Potential
    (or any mechanism of the public_goods family); pacing bidders by default."""

    name = "public-goods"
    Params = PublicGoodsParams
    mechanism_family = "public_goods"
    citation = cite(ONYEZE, "§3, Algorithm 1")
    toml = Path(__file__).with_name("public_goods.toml")
    # Budgets are alpha_i * T (Algorithm 1, line 1): a group sets its share, not its budget.
    group_overrides = frozenset({"share"})

    def parse_params(self, raw: dict[str, Any]) -> ScenarioParams:
        params = super().parse_params(raw)
        if getattr(params, "many_goods", False):
            self.goods_entry(params)  # a single-good-only mechanism names params.mechanism
        return params

    def goods_entry(self, params: Any) -> Entry[Any]:
        """The `many_goods` family entry of params.mechanism (Onyeze et al. 2025 §7)."""
        try:
            return MECHANISMS.entry(params.mechanism, "many_goods", field="params.mechanism")
        except UnknownNameError as exc:
            raise UnknownNameConfigError(
                f"invalid config: with goods = {params.goods} and cost {params.cost!r}: {exc}"
            ) from None

    def build(self, config: RunConfig, params: Any, seed: np.random.SeedSequence) -> ScenarioInstance:
        if params.many_goods:
            return self.build_goods(config, params, seed)
        # Imported when a run is built, not when the scenario registers (`mechsim list`).
        from abm.metrics.pipeline import CoreFactorStep

        n = config.agents
        if params.values == "harmonic":
            shares = np.full(n, 1.0 / (2 * n))
            values: ValueModel = HarmonicValues(n, params.harmonic_eps)
        else:
            if params.shares is not None:
                if len(params.shares) != n:
                    raise ConfigError(f"params.shares has {len(params.shares)} entries but agents = {n}")
                shares = np.asarray(params.shares, dtype=float)
            else:
                shares = np.full(n, params.alpha / n)
            values = UniformValues(n) if params.values == "uniform" else CommonShockValues(n, params.correlation)
        shares = group_shares(config, shares)
        cost = 1.0 if params.cost_per_agent is None else params.cost_per_agent * n
        mechanism = ArtificialCurrency(self.make_mechanism(params), shares, cost=cost, budget_rule=params.budget_rule)
        # Value scaling lives in beta in R_+ (Onyeze et al. 2025 §3.2): allow overbidding down to beta = 0.1.
        learner_defaults: dict[str, dict[str, Any]] = {"adaptive_pacing": {"mu_min": -0.9}}
        extra: dict[str, Any] = {}
        group_params: dict[str, dict[str, Any]] = {}
        plan = equilibrium_groups(config, params)
        if plan is None and params.free_riding_quantile is not None:
            raise ConfigError(
                "params.free_riding_quantile: prices a deviation from the focal pacing equilibrium; set "
                "learner.params.beta = 'equilibrium' (or params.pacing_equilibrium = true)"
            )
        if plan is not None:
            eq, draws, rng = focal_pacing(mechanism, values, *plan, params.equilibrium_samples, seed)
            free = plan[1]
            group_params = {g.name: {"beta": eq.beta[g.span].tolist()} for g in config.groups() if free[g.span].any()}
            extra["pacing_equilibrium"] = eq.report()
            if params.free_riding_quantile is not None:
                from mechanisms.public_goods.free_riding import free_riding_gain

                gain = free_riding_gain(mechanism, draws, eq, rng, quantile=params.free_riding_quantile)
                extra["free_riding"] = gain.report()
        return ScenarioInstance(
            mechanism=mechanism,
            budgets=mechanism.initial_budgets(config.rounds),
            values=values,
            agent_info={"share": shares},
            learner_defaults=learner_defaults,
            group_params=group_params,
            summarize=lambda model: {
                "alpha": float(shares.sum()),
                "goods_allocated": int(model.goods_allocated),
                "goods_bound_alpha_T": float(shares.sum() * config.rounds),
                **extra,
            },
            # Ex-post core factor (Definition 2.1) and the ex-ante core (Lemma 4.2).
            metric_steps=[CoreFactorStep(shares, frontier_points=params.core_frontier)],
        )


    def build_goods(self, config: RunConfig, params: Any, seed: np.random.SeedSequence) -> ScenarioInstance:
        """§7's setting: m goods, a submodular cost (fixed or drawn each round from a pool), the
        many_goods mechanism on artificial currency (Algorithm 1 with its p_max)."""
        from abm.metrics.core_goods import GoodsCoreStep
        from mechanisms.public_goods.goods import GoodsArtificialCurrency
        from scenarios.goods import GoodsValues, cost_pool

        n, m = config.agents, params.goods
        if equilibrium_groups(config, params) is not None:
            raise ConfigError(
                f"learner.params.beta = 'equilibrium': the focal pacing equilibrium is solved for the single good; "
                f"with goods = {m} and cost {params.cost!r} give beta as a number or one per agent"
            )
        shares = group_shares(config, self.goods_shares(params, n))
        rng = np.random.default_rng(seed)
        pool = cost_pool(params, n, m, rng)
        try:
            monetary = self.goods_entry(params).obj(pool)
        except ValueError as exc:
            raise ConfigError(f"params.goods: {exc}") from None
        mechanism = GoodsArtificialCurrency(monetary, shares, budget_rule=params.budget_rule)
        rho = params.correlation if params.values == "correlated" else 0.0
        values = GoodsValues(n, m, rho, len(pool))
        return ScenarioInstance(
            mechanism=mechanism,
            budgets=mechanism.initial_budgets(config.rounds),
            values=values,
            agent_info={"share": shares},
            learner_defaults={"adaptive_pacing": {"mu_min": -0.9}},
            summarize=lambda model: {
                "alpha": float(shares.sum()),
                "goods": m,
                "cost": params.cost,
                "cost_pool": len(pool),
                "p_max": monetary.p_max,
                "rounds_allocated": int(model.goods_allocated),
            },
            metric_steps=[GoodsCoreStep(shares, monetary)],
        )

    @staticmethod
    def goods_shares(params: Any, n: int) -> np.ndarray:
        if params.shares is None:
            return np.full(n, params.alpha / n)
        if len(params.shares) != n:
            raise ConfigError(f"params.shares has {len(params.shares)} entries but agents = {n}")
        return np.asarray(params.shares, dtype=float)


def group_shares(config: RunConfig, shares: np.ndarray) -> np.ndarray:
    """The shares with each population group's `share` override applied (sum <= 1 checked)."""
    shares = shares.copy()
    for g in config.groups():
        if g.share is not None:
            shares[g.span] = g.share
    if shares.sum() > 1.0 + 1e-12:
        raise ConfigError(f"population: shares must sum to alpha <= 1, got sum(shares) = {shares.sum():.6g}")
    if not shares.sum() > 0:
        raise ConfigError("population: the groups' share overrides leave alpha = sum(shares) = 0 (no budget)")
    return shares


register_scenario(PublicGoods())


class LargePublicGoodsParams(PublicGoodsParams):
    """Parameters of large-public-goods: those of public-goods, a good of cost 0.25 n and the
    report cap by default."""

    cost_per_agent: float | None = Field(
        default=0.25, gt=0.0, description=PublicGoodsParams.model_fields["cost_per_agent"].description
    )
    budget_rule: Literal["p_max", "cap"] = Field(
        default="cap", description=PublicGoodsParams.model_fields["budget_rule"].description
    )


class LargePublicGoods(PublicGoods):
    """Onyeze et al. 2025 §3 at scale: a single good whose cost grows with n (c = cost_per_agent * n,
    so a constant fraction of a large population has to pay for it), budgets capped per
    report (§3.1), 10^6 pacing bidders by default (benchmarks/bench_large.py)."""

    name = "large-public-goods"
    Params = LargePublicGoodsParams
    citation = cite(ONYEZE, "§3.1, Algorithm 1 with a good of cost c")
    toml = Path(__file__).with_name("large_public_goods.toml")


register_scenario(LargePublicGoods())

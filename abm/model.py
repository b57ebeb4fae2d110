"""The Mesa model: one `step()` is one principal round (docs/architecture.md)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import mesa
import numpy as np

from abm.backends import Backend, LocalBackend, RayBackend, build_cohorts, population_cohorts
from abm.bounds import check_resources
from abm.config import ConfigError, GroupPlan, RunConfig, spread_ids
from abm.ledger import Ledger
from abm.plugins import load_plugins
from abm.recording import MENU_MAX_AGENTS, MenuRecorder, ModelSeriesCollector, SpillDir, TraceRecorder
from abm.resolve import resolve_config
from abm.scenario import get_scenario
from abm.streams import Streams
from agents.base import Feedback, Observation
from mechanisms.base import Reports, RoundResult
from mechanisms.capabilities import currencies
from mechanisms.state import load_state, state_of


class BidderAgent(mesa.Agent):
    """One bidder as Mesa sees it. Its learning state lives vectorized in a learner
    cohort (docs/architecture.md); these properties read the model's per-agent arrays."""

    def __init__(self, model: MechanismModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def budget(self) -> float:
        return float(self.model.ledger.remaining_total[self.index])

    @property
    def spent(self) -> float:
        return float(self.model.ledger.spent_total[self.index])

    @property
    def utility(self) -> float:
        """Cumulative realized utility so far."""
        return float(self.model.cum_utility[self.index])

    @property
    def last_report(self) -> float:
        return float(self.model.last_reports[self.index])

    @property
    def last_charge(self) -> float:
        return float(self.model.last_charges[self.index])

    @property
    def last_utility(self) -> float:
        return float(self.model.last_utilities[self.index])


class MechanismModel(mesa.Model):
    """Learning bidders against a mechanism without money, one principal round per step:
    observation -> backend.act -> mechanism.run_round -> ledger.charge ->
    backend.observe -> datacollector.collect.

    Build it from a `RunConfig` (or its dict), or from keyword parameters as Mesa's
    `batch_run` does: `MechanismModel(scenario="public-goods", agents=8, rounds=500, seed=3,
    mechanism="moulin")` — keys that are not run fields are scenario parameters.

    Clock: Mesa's `steps` counts the rounds played; inside `step()` the round being played
    is `steps - 1` (0-based, like `depletion_round`). `running` turns False at the horizon
    T and a `step()` past it plays nothing. The DataCollector collects once at
    construction (step 0: the initial state) and after every round, so model and agent
    reporters of Mesa step s both describe the state after s rounds.

    Randomness: named streams of `Streams(config.seed)` (`scenario`, `values`,
    `mechanism`, `model`, `population/<group>`), never positional spawns.

    Records (`config.record`, docs/architecture.md "Recording") spill to `spill_dir` in
    chunks as the run goes (a temporary directory by default; the runner uses one inside
    the run's output directory so checkpoints find them).
    """

    steps: int  # Mesa's step counter (set by mesa.Model)
    running: bool

    def __init__(
        self,
        config: RunConfig | dict[str, Any] | None = None,
        backend: Backend | None = None,
        *,
        spill_dir: str | None = None,
        **parameters: Any,
    ) -> None:
        self.config = _model_config(config, parameters)
        cfg = self.config
        # Bounds before the run: what it will record, against memory and disk (abm.bounds).
        check_resources(cfg, spill_dir)
        self.streams = Streams(cfg.seed)
        super().__init__(rng=self.streams.generator("model"))
        self.scenario = get_scenario(cfg.scenario)
        self.params = self.scenario.parse_params(cfg.params)
        self.groups = cfg.groups()
        self.scenario.check_group_overrides(self.groups)
        self.instance = self.scenario.build(cfg, self.params, self.streams.seed("scenario"))
        self.mechanism = self.instance.mechanism
        budgets = group_budgets(self.instance.budgets, self.groups)
        check_budgets(budgets, cfg)
        n = budgets.shape[0]
        if n != cfg.agents:
            raise ConfigError(f"scenario {cfg.scenario!r} built {n} agents but agents = {cfg.agents}")
        self.n_agents = n
        #: Population group of each agent (index into `groups`).
        self.agent_group = np.repeat(np.arange(len(self.groups)), [g.size for g in self.groups])
        self.ledger = Ledger(budgets, p_max=self.mechanism.p_max)
        check_currencies(self.ledger, self.mechanism, cfg)
        self.values_rng = self.streams.generator("values")
        self.mechanism_rng = self.streams.generator("mechanism")
        check_undominated(cfg, self.groups, self.instance.undominated)
        if backend is None:
            specs = population_cohorts(
                self.groups, self.streams, cfg.cohort_size, self.instance.learner_defaults, self.instance.undominated,
                self.instance.group_params,
            )
            if cfg.backend == "ray":
                backend = RayBackend(
                    specs, self.ledger.initial, cfg.rounds, shards=cfg.shards, address=cfg.address,
                    plugins=tuple(cfg.plugins),
                )
            else:
                backend = LocalBackend(build_cohorts(specs, self.ledger.initial, cfg.rounds), n)
        self.backend = backend
        self.last_reports = np.zeros(n)
        self.last_charges = np.zeros(n)
        self.last_utilities = np.zeros(n)
        self.cum_utility = np.zeros(n)
        self.last_result: RoundResult | None = None
        self.last_allocated = False
        self.goods_allocated = 0
        for i in range(n):
            BidderAgent(self, i)
        self.spill = SpillDir(spill_dir)
        recorded = cfg.record.agent_ids(n)
        self.trace = TraceRecorder(self.mechanism, cfg.rounds, recorded, self.spill)
        self.menus = (
            MenuRecorder(
                self.mechanism, cfg.rounds, recorded[spread_ids(recorded.shape[0], MENU_MAX_AGENTS)],
                cfg.menu_points, self.spill, every=cfg.record.menu_every,
            )
            if cfg.record_menus and recorded.size
            else None
        )
        self.datacollector = ModelSeriesCollector(self.spill)
        self.running = cfg.rounds > 0
        self.datacollector.collect(self)

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs, as the components' own state dicts (checkpoints,
        `abm.runs.checkpoint`): the clock, the random streams, the ledger, the learners,
        the mechanism's and the value model's round state, and the recorders (whose rows
        on the spill files are kept by reference). Not a pickle: the model is rebuilt
        from its config and `load_state_dict` writes the data back."""
        return {
            "steps": int(self.steps),
            "running": bool(self.running),
            "random": {
                "model": self.rng.bit_generator.state,
                "model_stdlib": self.random.getstate(),
                "values": self.values_rng.bit_generator.state,
                "mechanism": self.mechanism_rng.bit_generator.state,
            },
            "ledger": self.ledger.state_dict(),
            "agents": {
                "last_reports": self.last_reports.copy(),
                "last_charges": self.last_charges.copy(),
                "last_utilities": self.last_utilities.copy(),
                "cum_utility": self.cum_utility.copy(),
                "last_allocated": bool(self.last_allocated),
                "goods_allocated": int(self.goods_allocated),
            },
            "learners": self.backend.learner_states(),
            "mechanism": self.mechanism.state_dict(),
            "values": state_of(self.instance.values),
            "trace": self.trace.state_dict(),
            "menus": None if self.menus is None else self.menus.state_dict(),
            "datacollector": self.datacollector.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from `state_dict()` of a model built from the same config on the same
        spill directory (rows the spill files hold beyond the checkpoint are cut off)."""
        self.steps, self.running = int(state["steps"]), bool(state["running"])
        rngs = state["random"]
        self.rng.bit_generator.state = rngs["model"]
        self.random.setstate(rngs["model_stdlib"])
        self.values_rng.bit_generator.state = rngs["values"]
        self.mechanism_rng.bit_generator.state = rngs["mechanism"]
        self.ledger.load_state_dict(state["ledger"])
        agents = state["agents"]
        self.last_reports = np.array(agents["last_reports"], dtype=np.float64)
        self.last_charges = np.array(agents["last_charges"], dtype=np.float64)
        self.last_utilities = np.array(agents["last_utilities"], dtype=np.float64)
        self.cum_utility = np.array(agents["cum_utility"], dtype=np.float64)
        self.last_allocated = bool(agents["last_allocated"])
        self.goods_allocated = int(agents["goods_allocated"])
        self.last_result = None
        self.backend.load_learner_states(state["learners"])
        self.mechanism.load_state_dict(state["mechanism"])
        load_state(self.instance.values, state["values"])
        self.trace.load_state_dict(state["trace"])
        if (state["menus"] is None) != (self.menus is None):
            raise ValueError("the checkpoint's menu recording differs from this run's")
        if self.menus is not None:
            self.menus.load_state_dict(state["menus"])
        self.datacollector.load_state_dict(state["datacollector"])

    @property
    def t(self) -> int:
        """Rounds played so far (Mesa's `steps`)."""
        return int(self.steps)

    @property
    def group_names(self) -> np.ndarray:
        """(n,) the population group name of each agent."""
        return np.asarray([g.name for g in self.groups], dtype=object)[self.agent_group]

    def observation(self, t: int) -> Observation:
        """This round's private values and every agent's remaining budget."""
        return self._draw(t)[0]

    def _draw(self, t: int) -> tuple[Observation, np.ndarray, Any]:
        """(the learners' observation, the drawn values V[t], the round's context): with many
        goods V[t] is (n, m) and the learners see the scalar `ValueModel.observed(V[t])`."""
        model = self.instance.values
        values, context = model.draw(t, self.values_rng)
        return Observation(t, model.observed(values), self.ledger.remaining), values, context

    def step(self) -> None:
        """Play round `steps - 1` (Mesa has already advanced `steps`)."""
        steps = self.steps
        if not self.running or steps > self.config.rounds:
            # Past the horizon: no round is played and the clock stays at T.
            self.steps = self.config.rounds
            self.running = False
            return
        t = steps - 1
        obs, values, context = self._draw(t)
        bids, alternatives = self.backend.act(obs)
        bids = self.mechanism.enforce_budget(bids, self.ledger.remaining)
        reports = Reports(bids, values, context)
        result = self.mechanism.run_round(reports, self.mechanism_rng)
        self.ledger.charge(result.charges, t)
        feedback = Feedback(t, bids, result.utilities, result.charges, self.ledger.remaining)
        if self.ledger.d > 1:
            # Per-agent series and menus record the total over currencies; the ledger and
            # the learners' feedback keep the (n, d) charges.
            result = replace(result, charges=result.charges.sum(axis=1))
        menus = [
            None if alts is None else (alts, *self.mechanism.menu_all(alts, reports, idx, state=result.state))
            for alts, idx in zip(alternatives, self.backend.cohort_indices, strict=True)
        ]
        self.backend.observe(feedback, menus)
        self.last_reports = bids
        self.last_charges = result.charges
        self.last_utilities = result.utilities
        self.cum_utility += result.utilities
        self.last_allocated = bool(result.allocated)
        self.goods_allocated += int(self.last_allocated)
        self.last_result = result
        if self.menus is not None:
            self.menus.record(t, reports, result)
        self.trace.record(t, obs.values, bids, result)
        if steps >= self.config.rounds:
            self.running = False
        self.datacollector.collect(self)


def _model_config(config: RunConfig | dict[str, Any] | None, parameters: dict[str, Any]) -> RunConfig:
    """The run config from a RunConfig / dict, or from keyword parameters (a scenario name
    plus overrides, as `mesa.batch_run` passes them)."""
    if config is None:
        if "scenario" not in parameters:
            raise ConfigError("MechanismModel needs a config or scenario=NAME (plus keyword overrides)")
        parameters = dict(parameters)
        return resolve_config(parameters.pop("scenario"), parameters)
    if isinstance(config, RunConfig) and not parameters:
        # Validated elsewhere, perhaps in another process: its plug-ins may not be loaded here.
        load_plugins(config.plugins)
        return config
    return resolve_config(config, parameters)


def check_undominated(config: RunConfig, groups: list[GroupPlan], interval: tuple[float, float] | None) -> None:
    """Refuse `undominated = true` where the scenario declares no undominated interval."""
    if interval is not None:
        return
    for g in groups:
        if g.undominated:
            where = "learner" if config.population is None else f"population.{g.name}"
            raise ConfigError(
                f"{where}.undominated: scenario {config.scenario!r} declares no undominated report interval "
                "(approx-auction does: K_i)"
            )


def group_budgets(budgets: np.ndarray, groups: list[GroupPlan]) -> np.ndarray:
    """The scenario's initial budgets with each group's `budget` override applied."""
    out = np.array(budgets, dtype=np.float64)
    for g in groups:
        if g.budget is not None:
            out[g.span] = g.budget
    return out


def check_currencies(ledger: Ledger, mechanism: Any, cfg: RunConfig) -> None:
    """The scenario's budgets have one column per currency the mechanism charges."""
    d = currencies(mechanism)
    if d != ledger.d:
        raise ConfigError(
            f"scenario {cfg.scenario!r}: budgets have {ledger.d} currencies but mechanism "
            f"{type(mechanism).__name__} charges {d}"
        )


def check_budgets(budgets: np.ndarray, cfg: RunConfig) -> None:
    """Budgets the scenario built from the config must be finite (a budget per round times
    the horizon can leave the float range): one line naming the fields, before any round."""
    bad = ~np.isfinite(budgets)
    if bad.any():
        i = int(np.argwhere(bad)[0][0])
        params = ", ".join(f"params.{k} = {v!r}" for k, v in sorted(cfg.params.items())) or "the scenario's defaults"
        raise ConfigError(
            f"scenario {cfg.scenario!r}: the budget of agent {i} is {budgets[i]} for rounds = {cfg.rounds} and "
            f"{params}; lower the budget parameters or rounds"
        )

"""The Mesa model: one `step()` is one principal round (DESIGN.md §1)."""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np

from abm.backends import Backend, LocalBackend, RayBackend, make_cohorts
from abm.config import RunConfig
from abm.ledger import Ledger
from abm.recording import MenuRecorder, TraceRecorder, make_datacollector
from abm.scenario import get_scenario
from agents.base import Feedback, Observation
from mechanisms.base import Reports, RoundResult

#: Agent-level DataCollector records are kept automatically up to this many agent-rounds.
AUTO_AGENT_RECORDS = 5_000_000


class BidderAgent(mesa.Agent):
    """One bidder as Mesa sees it. Its learning state lives vectorized in a learner
    cohort (DESIGN.md §3); these properties read the model's per-agent arrays."""

    def __init__(self, model: MechanismModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def budget(self) -> float:
        return float(self.model.ledger.remaining[self.index])

    @property
    def spent(self) -> float:
        return float(self.model.ledger.spent[self.index])

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

    Randomness: SeedSequence(config.seed) is spawned into independent streams for the
    scenario, the values, the mechanism, the learner cohorts and Mesa's own `rng`.
    """

    def __init__(self, config: RunConfig | dict[str, Any], backend: Backend | None = None) -> None:
        self.config = config if isinstance(config, RunConfig) else RunConfig.from_mapping(config)
        cfg = self.config
        ss_scenario, ss_values, ss_mech, ss_learners, ss_model = np.random.SeedSequence(cfg.seed).spawn(5)
        super().__init__(rng=np.random.default_rng(ss_model))
        self.scenario = get_scenario(cfg.scenario)
        self.params = self.scenario.parse_params(cfg.params)
        self.instance = self.scenario.build(cfg, self.params, ss_scenario)
        self.mechanism = self.instance.mechanism
        n = self.instance.budgets.shape[0]
        self.n_agents = n
        self.ledger = Ledger(self.instance.budgets, p_max=self.mechanism.p_max)
        self.values_rng = np.random.default_rng(ss_values)
        self.mechanism_rng = np.random.default_rng(ss_mech)
        if backend is None:
            learner_params = {**self.instance.learner_defaults.get(cfg.learner.name, {}), **cfg.learner.params}
            if cfg.backend == "ray":
                backend = RayBackend(
                    cfg.learner.name, learner_params, self.ledger.initial, cfg.rounds, ss_learners,
                    cfg.cohort_size, shards=cfg.shards, address=cfg.address,
                )
            else:
                cohorts = make_cohorts(
                    cfg.learner.name, learner_params, self.ledger.initial, cfg.rounds, ss_learners, cfg.cohort_size
                )
                backend = LocalBackend(cohorts, n)
        self.backend = backend
        self.t = 0
        self.last_reports = np.zeros(n)
        self.last_charges = np.zeros(n)
        self.last_utilities = np.zeros(n)
        self.cum_utility = np.zeros(n)
        self.last_result: RoundResult | None = None
        self.goods_allocated = 0
        for i in range(n):
            BidderAgent(self, i)
        self.menus = (
            MenuRecorder(self.mechanism, cfg.rounds, n, cfg.menu_points) if cfg.record_menus else None
        )
        self.trace = TraceRecorder(self.mechanism, cfg.rounds, n)
        agent_records = cfg.agent_records == "on" or (
            cfg.agent_records == "auto" and n * cfg.rounds <= AUTO_AGENT_RECORDS
        )
        self.datacollector = make_datacollector(agent_records)

    def observation(self, t: int) -> Observation:
        """This round's private values and every agent's remaining budget."""
        values = self.instance.values.sample(t, self.values_rng)
        return Observation(t, values, self.ledger.remaining)

    def step(self) -> None:
        if self.t >= self.config.rounds:
            raise RuntimeError(f"the horizon T = {self.config.rounds} is reached")
        t = self.t
        obs = self.observation(t)
        bids, alternatives = self.backend.act(obs)
        bids = self.mechanism.enforce_budget(bids, self.ledger.remaining)
        reports = Reports(bids, obs.values)
        result = self.mechanism.run_round(reports, self.mechanism_rng)
        self.ledger.charge(result.charges, t)
        menus = [
            None if alts is None else (alts, *self.mechanism.menu_all(alts, reports, idx, state=result.state))
            for alts, idx in zip(alternatives, self.backend.cohort_indices, strict=True)
        ]
        self.backend.observe(
            Feedback(t, bids, result.utilities, result.charges, self.ledger.remaining), menus
        )
        self.last_reports = bids
        self.last_charges = result.charges
        self.last_utilities = result.utilities
        self.cum_utility += result.utilities
        self.goods_allocated += int(result.allocated)
        self.last_result = result
        if self.menus is not None:
            self.menus.record(t, reports, result)
        self.trace.record(t, obs.values, bids, result)
        self.t += 1
        self.datacollector.collect(self)

"""Where learner cohorts live and run: in process (`LocalBackend`) or in Ray actors.

docs/architecture.md. A backend holds cohorts — (agent indices, Learner) pairs fixed by the
config — and turns the model's global observation into global reports, then routes the
round's feedback (with menus for full-information cohorts) back to each cohort.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from abm.config import SINGLE_GROUP, ConfigError, GroupPlan
from abm.streams import Streams
from agents.base import Feedback, Learner, Observation, scaled_grid
from agents.registry import LEARNERS, make_learner
from agents.undominated import BidRange

log = logging.getLogger(__name__)


@dataclass
class Cohort:
    """Agents `indices` (contiguous, sorted global ids) all run `learner`; `group` is the
    population group they belong to."""

    indices: np.ndarray
    learner: Learner
    group: str = SINGLE_GROUP

    @property
    def span(self) -> slice:
        """`indices` as a slice: views instead of fancy-indexed copies on the hot path."""
        return slice(int(self.indices[0]), int(self.indices[-1]) + 1)


@dataclass(frozen=True)
class CohortSpec:
    """What builds one cohort anywhere (in process or in a Ray shard): agents [start, stop)
    of population group `group`, its learner and params, and its own RNG stream."""

    group: str
    start: int
    stop: int
    learner: str
    params: dict[str, Any]
    seed: np.random.SeedSequence
    #: Reports clipped to values * [low, high] (`agents.undominated.BidRange`); None: unrestricted.
    bid_range: tuple[float, float] | None = None


def cohort_plan(n_agents: int, cohort_size: int) -> list[tuple[int, int]]:
    """The [start, stop) agent ranges of the cohorts of one group of `n_agents`."""
    return [(s, min(s + cohort_size, n_agents)) for s in range(0, n_agents, cohort_size)]


def group_cohorts(
    group: str, start: int, stop: int, learner: str, params: dict[str, Any],
    seed: np.random.SeedSequence, cohort_size: int, bid_range: tuple[float, float] | None = None,
) -> list[CohortSpec]:
    """A group's agents [start, stop) split into cohorts of `cohort_size`; the k-th cohort
    draws from child k of the group's own stream, so other groups never shift it. A list
    given for a per-agent field of the learner (`LearnerParams.per_agent`, e.g. value
    scaling's beta) has one entry per agent of the group; each cohort gets its slice."""
    plan = cohort_plan(stop - start, cohort_size)
    lists = _per_agent_lists(group, stop - start, learner, params)
    return [
        CohortSpec(group, start + a, start + b, learner, {**params, **_slices(lists, a, b)}, ss, bid_range)
        for (a, b), ss in zip(plan, seed.spawn(len(plan)), strict=True)
    ]


def _slices(lists: dict[str, list[Any]], a: int, b: int) -> dict[str, list[Any]]:
    return {k: v[a:b] for k, v in lists.items()}


def _per_agent_lists(group: str, size: int, learner: str, params: dict[str, Any]) -> dict[str, list[Any]]:
    """The per-agent fields of `learner` given as lists in `params`, checked to have `size` entries."""
    cls = LEARNERS.get(learner)
    fields = cls.Params.per_agent if cls is not None else frozenset()
    lists = {k: v for k, v in params.items() if k in fields and isinstance(v, list | tuple)}
    for k, v in lists.items():
        if len(v) != size:
            raise ConfigError(
                f"learner.params.{k}: group {group!r} has {size} agents but {len(v)} entries (one per agent)"
            )
    return {k: list(v) for k, v in lists.items()}


def population_cohorts(
    groups: list[GroupPlan],
    streams: Streams,
    cohort_size: int,
    defaults: dict[str, dict[str, Any]] | None = None,
    undominated: tuple[float, float] | None = None,
    resolved: dict[str, dict[str, Any]] | None = None,
) -> list[CohortSpec]:
    """Every group's cohorts in agent order. `defaults` (the scenario's learner defaults,
    by learner name) are merged under each group's own params, `resolved` (by group name:
    values the scenario computed for a group, `ScenarioInstance.group_params`) over them;
    groups with `undominated` get the scenario's undominated interval
    (`ScenarioInstance.undominated`, checked by the model before this)."""
    defaults = defaults or {}
    resolved = resolved or {}
    return [
        spec
        for g in groups
        for spec in group_cohorts(
            g.name, g.start, g.stop, g.learner,
            {**defaults.get(g.learner, {}), **g.params, **resolved.get(g.name, {})},
            streams.group(g.name), cohort_size, undominated if g.undominated else None,
        )
    ]


def cohort_learners(specs: list[CohortSpec], budgets: np.ndarray, horizon: int) -> list[Learner]:
    """One learner per spec, each on its own RNG stream (in process or in a shard), wrapped
    in `BidRange` when the spec restricts its reports."""
    out: list[Learner] = []
    for s in specs:
        learner = make_learner(
            s.learner, s.stop - s.start, budgets[s.start : s.stop], horizon, np.random.default_rng(s.seed), s.params
        )
        out.append(learner if s.bid_range is None else BidRange(learner, *s.bid_range))
    return out


def build_cohorts(specs: list[CohortSpec], budgets: np.ndarray, horizon: int) -> list[Cohort]:
    learners = cohort_learners(specs, budgets, horizon)
    return [Cohort(np.arange(s.start, s.stop), lr, s.group) for s, lr in zip(specs, learners, strict=True)]


def single_group_cohorts(
    name: str, params: dict[str, Any], n_agents: int, seed: np.random.SeedSequence, cohort_size: int
) -> list[CohortSpec]:
    """All `n_agents` in one group running learner `name`, cohorts on `seed`'s children."""
    return group_cohorts(SINGLE_GROUP, 0, n_agents, name, params, seed, cohort_size)


def make_cohorts(
    name: str,
    params: dict[str, Any],
    budgets: np.ndarray,
    horizon: int,
    seed: np.random.SeedSequence,
    cohort_size: int,
) -> list[Cohort]:
    """Split agents 0..n-1 into contiguous cohorts of `cohort_size` running one learner,
    each with its own spawned RNG stream, so results do not depend on where they run."""
    return build_cohorts(single_group_cohorts(name, params, budgets.shape[0], seed, cohort_size), budgets, horizon)


class Backend:
    """Interface: `act(obs) -> (reports (n,), alternatives per cohort)`, then
    `observe(feedback, menus)` with one (alternatives, utility, cost) or None per cohort."""

    cohort_indices: list[np.ndarray]

    def act(self, obs: Observation) -> tuple[np.ndarray, list[np.ndarray | None]]:
        raise NotImplementedError

    def observe(self, feedback: Feedback, menus: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None]) -> None:
        raise NotImplementedError

    def learner_states(self) -> list[dict[str, Any]]:
        """state_dict() of every cohort, in cohort order."""
        raise NotImplementedError

    def load_learner_states(self, states: list[dict[str, Any]]) -> None:
        """load_state_dict() into every cohort (checkpoint resume), in cohort order."""
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (actors); a no-op in process."""


class LocalBackend(Backend):
    """All cohorts in this process (the default)."""

    def __init__(self, cohorts: list[Cohort], n_agents: int) -> None:
        self.cohorts = cohorts
        self.n_agents = n_agents
        self.cohort_indices = [c.indices for c in cohorts]

    def act(self, obs: Observation) -> tuple[np.ndarray, list[np.ndarray | None]]:
        reports = np.zeros(self.n_agents)
        alts: list[np.ndarray | None] = []
        for c in self.cohorts:
            sub = obs.take(c.span)
            reports[c.span] = c.learner.act(sub)
            alts.append(c.learner.alternatives(sub) if c.learner.feedback == "full" else None)
        return reports, alts

    def observe(self, feedback: Feedback, menus: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None]) -> None:
        for c, menu in zip(self.cohorts, menus, strict=True):
            fb = feedback.take(c.span)
            c.learner.observe(fb if menu is None else fb.with_menu(*menu))

    def learner_states(self) -> list[dict[str, Any]]:
        return [c.learner.state_dict() for c in self.cohorts]

    def load_learner_states(self, states: list[dict[str, Any]]) -> None:
        _check_cohort_count(states, len(self.cohorts))
        for c, state in zip(self.cohorts, states, strict=True):
            c.learner.load_state_dict(state)


def _check_cohort_count(states: list[dict[str, Any]], cohorts: int) -> None:
    if len(states) != cohorts:
        raise ValueError(f"the checkpoint holds {len(states)} learner cohorts, this run has {cohorts}")


# --- Ray --------------------------------------------------------------------------------
# Ray is imported lazily: `import abm` must stay cheap for local runs.


def connect_ray(
    address: str | None = None,
    num_cpus: int | None = None,
    ship_code: bool = False,
    py_modules: list[Any] | None = None,
) -> bool:
    """Connect this process to Ray unless it already is; True when this call connected.

    address None starts a local Ray with `num_cpus` (default: every core); "auto",
    "host:port" or "ray://host:port" joins a running cluster (`ray start --head`).
    ship_code: send the project packages to the workers (runtime_env py_modules), for
    clusters whose nodes have the dependencies but not this checkout (docs/cluster.md).
    py_modules: more runtime_env py_modules (plug-in files and packages: abm.plugins.ray_py_modules);
    like ship_code, only when this call connects (Ray takes local py_modules per job).
    """
    import ray

    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"log_to_driver": True}
    if address is None:
        # "local": a new instance even when `ray start` left a cluster on this machine (which
        # ray.init(address=None) would join). RAY_ADDRESS in the environment still wins.
        address = "local"
        kwargs.update(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False)
    elif num_cpus is not None:
        raise ValueError(f"num_cpus = {num_cpus} applies only to a new local Ray, got address {address!r}")
    if ship_code:
        import abm
        import agents
        import mechanisms
        import scenarios

        kwargs["runtime_env"] = {"py_modules": [abm, agents, mechanisms, scenarios]}
    if py_modules:
        kwargs.setdefault("runtime_env", {"py_modules": []})["py_modules"].extend(py_modules)
    ray.init(address=address, **kwargs)
    return True


def assign_shards(plan: list[tuple[int, int]], shards: int) -> list[list[int]]:
    """Contiguous groups of whole cohorts, balanced by agent count; empty groups dropped.

    A cohort goes to the shard whose equal share of agents holds its midpoint, so shard k
    owns one contiguous agent range and slicing replaces fancy indexing."""
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    n = plan[-1][1]
    groups: list[list[int]] = [[] for _ in range(shards)]
    for i, (a, b) in enumerate(plan):
        groups[min(shards - 1, int((a + b) / 2 * shards / n))].append(i)
    return [g for g in groups if g]


#: What travels per round to a shard: round t's feedback as (t, reports | None, utility,
#: charge, budget) — reports None when the mechanism submitted exactly what the shard
#: proposed — plus one (utility, cost) menu or None per cohort; and round t+1's
#: observation as (t, values, budget | None) — budget None when it equals the feedback's.
FeedbackMsg = tuple[int, np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]
ObservationMsg = tuple[int, np.ndarray, np.ndarray | None]
MenuMsg = list[tuple[np.ndarray, np.ndarray] | None]


@dataclass(frozen=True)
class ScaledGrid:
    """A cohort's alternatives on the wire when they are values[:, None] * multipliers
    (`Learner.alternative_multipliers`): K floats back instead of an (m, K) array, which
    the driver rebuilds from the values it sent — the same products, bit for bit."""

    multipliers: np.ndarray

    def materialize(self, values: np.ndarray) -> np.ndarray:
        return scaled_grid(values, self.multipliers)


#: What comes back per shard: its reports and, per cohort, alternatives (or None).
ReplyMsg = tuple[np.ndarray, list[np.ndarray | ScaledGrid | None]]


class ShardWorker:
    """The body of one Ray actor: whole cohorts covering agents [lo, hi) of one run.

    `step((feedback, menus, obs))` first lets every cohort observe round t's feedback (when
    given), then returns the reports of round t+1 and, for full-feedback cohorts, the
    alternatives whose menu they need. The shard keeps its last reports and alternatives,
    so arrays it already has do not travel back (see `FeedbackMsg`)."""

    def __init__(
        self,
        specs: list[CohortSpec],
        budgets: np.ndarray,
        horizon: int,
        plugins: tuple[str, ...] = (),
    ) -> None:
        import agents  # noqa: F401  (fills the learner registry in this worker)
        from abm.plugins import load_plugins

        load_plugins(plugins)  # the run's plug-ins may define the learners named in `specs`
        self.lo, self.hi = specs[0].start, specs[-1].stop
        self.ranges = [(c.start - self.lo, c.stop - self.lo) for c in specs]
        self.learners = cohort_learners(specs, budgets, horizon)
        self.alternatives: list[np.ndarray | None] = [None] * len(self.learners)
        self.reports = np.zeros(self.hi - self.lo)
        self.calls = 0  # step() invocations, so tests can check one remote call per round
        self.busy_s = 0.0  # wall and CPU seconds inside step(): CPU < wall means a busy machine
        self.cpu_s = 0.0

    def step(self, msg: tuple[FeedbackMsg | None, MenuMsg | None, ObservationMsg | None]) -> ReplyMsg | None:
        # One argument, so Ray stores one object per call rather than one per large argument.
        feedback, menus, obs = msg
        self.calls += 1
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return self._step(feedback, menus, obs)
        finally:
            self.busy_s += time.perf_counter() - wall
            self.cpu_s += time.process_time() - cpu

    def _step(
        self, feedback: FeedbackMsg | None, menus: MenuMsg | None, obs: ObservationMsg | None
    ) -> ReplyMsg | None:
        budget = None
        if feedback is not None:
            assert menus is not None
            t, reports, utility, charge, budget = feedback
            fb = Feedback(t, self.reports if reports is None else reports, utility, charge, budget)
            for (a, b), learner, alts, menu in zip(self.ranges, self.learners, self.alternatives, menus, strict=True):
                sub = fb.take(slice(a, b))
                if menu is None:
                    learner.observe(sub)
                else:
                    assert alts is not None  # a menu answers the alternatives this shard proposed
                    learner.observe(sub.with_menu(alts, *menu))
        if obs is None:
            return None
        t, values, obs_budget = obs
        if obs_budget is None:
            assert budget is not None, "an observation without budgets must follow feedback"
            obs_budget = budget
        full = Observation(t, values, obs_budget)
        reports = np.empty(self.hi - self.lo)
        wire: list[np.ndarray | ScaledGrid | None] = []
        for j, ((a, b), learner) in enumerate(zip(self.ranges, self.learners, strict=True)):
            view = full.take(slice(a, b))
            reports[a:b] = learner.act(view)
            alts = learner.alternatives(view) if learner.feedback == "full" else None
            self.alternatives[j] = alts
            g = None if alts is None else learner.alternative_multipliers()
            wire.append(alts if g is None else ScaledGrid(np.asarray(g)))
        self.reports = reports
        return reports, wire

    def states(self) -> list[dict[str, Any]]:
        return [learner.state_dict() for learner in self.learners]

    def step_calls(self) -> int:
        return self.calls

    def load_states(self, states: list[dict[str, Any]]) -> None:
        """Checkpoint resume: the learners' states; no feedback is pending after one."""
        for learner, state in zip(self.learners, states, strict=True):
            learner.load_state_dict(state)
        self.alternatives = [None] * len(self.learners)

    def stats(self) -> dict[str, float]:
        """step() calls and the wall / CPU seconds spent in them."""
        return {"calls": self.calls, "busy_s": self.busy_s, "cpu_s": self.cpu_s}


class RayBackend(Backend):
    """Cohorts sharded over K Ray actors (num_cpus=1 each), docs/architecture.md.

    The cohorts, their agents and their RNG streams are given as `CohortSpec`s — the very
    specs `LocalBackend`'s cohorts are built from — so a run gives the same results as
    with `LocalBackend`. Per round there is exactly one remote call per shard: `observe` only
    stores round t's feedback, and the next `act` sends it together with round t+1's
    observation; the last feedback is flushed before `learner_states()` and `close()`.
    Budgets go to the actors once through the object store.
    """

    def __init__(
        self,
        specs: list[CohortSpec],
        budgets: np.ndarray,
        horizon: int,
        *,
        shards: int = 2,
        address: str | None = None,
        ship_code: bool = False,
        plugins: tuple[str, ...] = (),
    ) -> None:
        budgets = np.asarray(budgets, dtype=np.float64)
        if budgets.ndim not in (1, 2) or budgets.shape[0] < 1:  # (n,) or (n, d): d currencies
            raise ValueError(f"budgets must be a non-empty (n,) or (n, d) array, got shape {budgets.shape}")
        self._plugins = tuple(plugins)
        if not specs or specs[0].start != 0 or specs[-1].stop != budgets.shape[0]:
            raise ValueError(f"cohort specs must cover agents 0..{budgets.shape[0] - 1} in order")
        self.n_agents = budgets.shape[0]
        plan = [(c.start, c.stop) for c in specs]
        self._groups = assign_shards(plan, shards)
        self._bounds = [(plan[g[0]][0], plan[g[-1]][1]) for g in self._groups]
        self.cohort_indices = [np.arange(a, b) for a, b in plan]
        self._plan = plan
        self._pending: tuple[Feedback, list[tuple[np.ndarray, np.ndarray, np.ndarray] | None]] | None = None
        self._proposed: list[np.ndarray] | None = None  # each shard's last reports, as it returned them
        self._closed = False
        self._actors = self._start_actors([[specs[i] for i in g] for g in self._groups], budgets, horizon,
                                          address, ship_code)
        log.info("RayBackend: %d cohorts over %d shards %s", len(plan), len(self._groups), self._bounds)

    def _start_actors(
        self,
        specs: list[list[CohortSpec]],
        budgets: np.ndarray,
        horizon: int,
        address: str | None,
        ship_code: bool,
    ) -> list[Any]:
        """One actor per spec."""
        import ray

        # A new local Ray gets at least one logical CPU per shard, so actors never wait forever.
        local_cpus = max(len(specs), os.cpu_count() or 1) if address is None else None
        from abm.plugins import ray_py_modules

        connect_ray(address, num_cpus=local_cpus, ship_code=ship_code, py_modules=ray_py_modules(self._plugins))
        cpus = ray.cluster_resources().get("CPU", 0.0)
        if len(specs) > cpus:
            raise ValueError(f"shards = {len(specs)} need one CPU each but the Ray cluster has {cpus:g} CPUs")
        actor_cls = ray.remote(ShardWorker).options(num_cpus=1, max_restarts=0)
        budgets_ref = ray.put(budgets)  # once, shared by every actor
        return [actor_cls.remote(shard, budgets_ref, horizon, plugins=self._plugins) for shard in specs]

    @classmethod
    def single_group(
        cls,
        name: str,
        params: dict[str, Any],
        budgets: np.ndarray,
        horizon: int,
        seed: np.random.SeedSequence,
        cohort_size: int,
        **kwargs: Any,
    ) -> RayBackend:
        """Every agent running learner `name`: the cohorts of `make_cohorts`, sharded."""
        if cohort_size < 1:
            raise ValueError(f"cohort_size must be >= 1, got {cohort_size}")
        specs = single_group_cohorts(name, params, np.asarray(budgets).shape[0], seed, cohort_size)
        return cls(specs, budgets, horizon, **kwargs)

    def _call_all(self, method: str, args: list[tuple[Any, ...]]) -> list[Any]:
        """One remote call of `method` per shard, in parallel; their results in shard order."""
        import ray

        refs = [getattr(actor, method).remote(*a) for actor, a in zip(self._actors, args, strict=True)]
        try:
            return ray.get(refs)
        except ray.exceptions.RayActorError as exc:
            raise RuntimeError(f"a RayBackend shard actor died; the run cannot continue: {exc}") from exc

    def _kill_actors(self) -> None:
        import ray

        for actor in self._actors:
            ray.kill(actor)

    @property
    def shards(self) -> int:
        return len(self._actors)

    @property
    def shard_bounds(self) -> list[tuple[int, int]]:
        """The [lo, hi) agent range of each shard."""
        return list(self._bounds)

    def _shard_messages(
        self, obs: Observation | None
    ) -> list[tuple[FeedbackMsg | None, MenuMsg | None, ObservationMsg | None]]:
        msgs = []
        for k, (g, (lo, hi)) in enumerate(zip(self._groups, self._bounds, strict=True)):
            fb_msg = menus = obs_msg = None
            budget = None
            if self._pending is not None:
                feedback, all_menus = self._pending
                reports, budget = feedback.reports[lo:hi], feedback.budget[lo:hi]
                same = self._proposed is not None and np.array_equal(reports, self._proposed[k])
                utility, charge = feedback.utility[lo:hi], feedback.charge[lo:hi]
                fb_msg = (feedback.t, None if same else reports, utility, charge, budget)
                # The shard kept the alternatives it proposed; only utility and cost travel back.
                menus = [None if (menu := all_menus[i]) is None else (menu[1], menu[2]) for i in g]
            if obs is not None:
                ob = obs.budget[lo:hi]
                obs_msg = (obs.t, obs.values[lo:hi], None if budget is not None and np.array_equal(ob, budget) else ob)
            msgs.append((fb_msg, menus, obs_msg))
        self._pending = None
        return msgs

    def act(self, obs: Observation) -> tuple[np.ndarray, list[np.ndarray | None]]:
        if self._closed:
            raise RuntimeError("RayBackend.act called after close()")
        results = self._call_all("step", [(m,) for m in self._shard_messages(obs)])
        reports = np.empty(self.n_agents)
        alts: list[np.ndarray | None] = []
        for (lo, hi), g, (shard_reports, shard_alts) in zip(self._bounds, self._groups, results, strict=True):
            reports[lo:hi] = shard_reports
            for i, a in zip(g, shard_alts, strict=True):
                alts.append(a.materialize(obs.values[slice(*self._plan[i])]) if isinstance(a, ScaledGrid) else a)
        self._proposed = [r for r, _ in results]
        return reports, alts

    def observe(self, feedback: Feedback, menus: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None]) -> None:
        if self._closed:
            raise RuntimeError("RayBackend.observe called after close()")
        if len(menus) != len(self.cohort_indices):
            raise ValueError(f"menus must have one entry per cohort ({len(self.cohort_indices)}), got {len(menus)}")
        self._pending = (feedback, menus)

    def flush(self) -> None:
        """Deliver stored feedback now (one call per shard) instead of with the next act."""
        if self._pending is not None and not self._closed:
            self._call_all("step", [(m,) for m in self._shard_messages(None)])

    def step_calls(self) -> list[int]:
        """How many `step` calls each shard actor has served (counted by the actor)."""
        return self._call_all("step_calls", [()] * len(self._actors))

    def shard_stats(self) -> list[dict[str, float]]:
        """Per shard: step calls and wall / CPU seconds inside them (CPU well below wall:
        the actors compete with other processes for cores)."""
        return self._call_all("stats", [()] * len(self._actors))

    def learner_states(self) -> list[dict[str, Any]]:
        self.flush()
        return [s for shard in self._call_all("states", [()] * len(self._actors)) for s in shard]

    def load_learner_states(self, states: list[dict[str, Any]]) -> None:
        _check_cohort_count(states, len(self.cohort_indices))
        self._pending, self._proposed = None, None
        self._call_all("load_states", [([states[i] for i in g],) for g in self._groups])

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._kill_actors()

"""Helpers shared by test modules (importable as `helpers`: tests/conftest.py puts tests/
on sys.path, since pytest runs with --import-mode=importlib and test modules have no
package path).

- `assert_same_outputs`: two run directories hold the same results.
- `PickledShards`: RayBackend's driver logic with its ShardWorkers in process (no Ray
  cluster), every message pickled both ways as Ray would.
- `TINY` / `DEFAULT_ROUNDS`: tiny runs of every built-in scenario (the contracts, checkpoints).
- `CONTRACT_PLUGINS` / `load_contract_plugins`: the plug-ins the contract tests load before
  collection, so their mechanisms, learners and scenarios go through the same contracts.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from abm.backends import RayBackend, ShardWorker

TESTS = Path(__file__).resolve().parent
#: Wall-clock entries of a summary (and any key ending in `_seconds`, e.g. the
#: resource-allocation scenario's `settle_seconds`): not part of what a run computes.
TIMING_KEYS = {"runtime_s", "rounds_per_s"}

#: Plug-ins loaded (by tests/conftest.py, before any test module is collected) so that the
#: parametrized contracts of tests/contracts and tests/agents/test_learners_common.py
#: include what they register. To put another plug-in (say docs/examples/fpa_tokens.py)
#: through the contracts, add its path here.
CONTRACT_PLUGINS: list[Path] = [
    TESTS / "contracts" / "plugin_example.py",
    TESTS.parent / "docs" / "examples" / "fpa_tokens.py",  # docs/extending.md's examples
    TESTS.parent / "docs" / "examples" / "apex_projects.py",
]

#: Name of the module attribute by which a plug-in provides contract instances for its
#: own mechanism families: `CONTRACT_INSTANCES = {"my_family": make_instance}` (see
#: tests/contracts/conftest.py for the signature of `make_instance`).
CONTRACT_INSTANCES_ATTR = "CONTRACT_INSTANCES"

#: family -> instance factory, filled from the loaded plug-ins' `CONTRACT_INSTANCES`.
PLUGIN_INSTANCES: dict[str, Callable[..., Any]] = {}


def load_contract_plugins(paths: list[Path] | None = None) -> list[ModuleType]:
    """Load the contract plug-ins (idempotent) and collect their contract instance factories."""
    from abm.plugins import load_plugins

    modules = load_plugins([str(p) for p in (CONTRACT_PLUGINS if paths is None else paths)])
    for module in modules:
        for family, make in dict(getattr(module, CONTRACT_INSTANCES_ATTR, {}) or {}).items():
            PLUGIN_INSTANCES[family] = make
    return modules


def assert_same_outputs(a: Path, b: Path) -> None:
    """Every Parquet table and menu array equal; summaries equal except timing and placement."""
    for name in ("rounds.parquet", "agents.parquet", "metrics.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(a / name), pd.read_parquet(b / name), check_exact=True)
    if (a / "menus.npz").exists():
        ma, mb = np.load(a / "menus.npz"), np.load(b / "menus.npz")
        assert set(ma.files) == set(mb.files)
        for key in ma.files:
            np.testing.assert_array_equal(ma[key], mb[key])
    sa, sb = (strip_timing(json.loads((p / "summary.json").read_text())) for p in (a, b))
    for s in (sa, sb):
        s.pop("provenance")  # which process ran it (Ray's version only where Ray was imported)
        for k in ("backend", "address", "shards"):  # where it ran, not what it computed
            s["config"].pop(k)
    assert sa == sb


def strip_timing(d: Any) -> Any:
    """The summary without wall-clock entries (at any depth)."""
    if isinstance(d, dict):
        return {k: strip_timing(v) for k, v in d.items() if k not in TIMING_KEYS and not k.endswith("_seconds")}
    return d


class PickledShards(RayBackend):
    """RayBackend's driver logic with ShardWorkers in process; every message is pickled
    both ways, as Ray would, so no state can leak through shared arrays. Use it with
    `monkeypatch.setattr(abm.model, "RayBackend", PickledShards)` and `backend = "ray"`."""

    _plugins = ()

    def _start_actors(self, specs, budgets, horizon, address, ship_code):
        return [ShardWorker(pickle.loads(pickle.dumps(shard)), budgets.copy(), horizon) for shard in specs]

    def _call_all(self, method, args):
        out = [getattr(w, method)(*pickle.loads(pickle.dumps(a))) for w, a in zip(self._actors, args, strict=True)]
        return pickle.loads(pickle.dumps(out))

    def _kill_actors(self):
        pass


def contract_plugin_modules() -> set[str]:
    """Module names of the loaded contract plug-ins."""
    return {m.__name__ for m in load_contract_plugins()}


def registered_by_contract_plugins(registry: Any) -> list[Any]:
    """The entries of `registry` whose object a contract plug-in defines (a scenario is
    registered as an instance: `__module__` is its class's)."""
    modules = contract_plugin_modules()
    return [e for e in registry.entries() if getattr(e.obj, "__module__", None) in modules]


class WithoutHooks:
    """An APEX problem with some of its optional hooks hidden (the others forwarded), so a
    test can run the mechanism's general path as the oracle of the hooked one."""

    def __init__(self, problem: Any, hidden: tuple[str, ...]) -> None:
        self._p = problem
        self._hidden = frozenset(hidden)
        self.n = problem.n

    def __getattr__(self, name: str) -> Any:
        if name in self._hidden:
            raise AttributeError(name)
        return getattr(self._p, name)

    # The problem's required methods, defined here so runtime Protocol checks see them.
    def utilities(self, x: Any) -> Any:
        return self._p.utilities(x)

    def base(self, x: Any) -> Any:
        return self._p.base(x)

    def argmax(self, weights: Any, start: Any) -> Any:
        return self._p.argmax(weights, start)

    def initial(self) -> Any:
        return self._p.initial()


def load_factor() -> float:
    """How much slower than idle this machine runs now: the 1-minute load average per core,
    at least 1 and at most 20 (timeouts of subprocess and Ray tests scale with it, so the
    suite passes on a busy machine)."""
    return min(max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1)), 20.0)


def scaled(seconds: float) -> float:
    """A timeout of `seconds` on an idle machine, stretched by the current load."""
    return seconds * load_factor()


#: Tiny overrides of each scenario's TOML defaults (within its constraints: two-sided
#: needs an even number of agents; sizes already tiny are kept). A scenario not listed
#: (a plug-in's) runs its defaults with `rounds = DEFAULT_ROUNDS`.
TINY: dict[str, dict] = {
    "approx-auction": {"rounds": 40, "params.worst_case_samples": 50},
    "bwk-stochastic": {"agents": 2, "rounds": 40},
    "bwk-toy": {"agents": 2, "rounds": 40},
    "bwk-variants": {"agents": 2, "rounds": 40},
    "course-allocation": {"agents": 4, "rounds": 20, "menu_points": 4, "params.welfare_rounds": 3},
    "course-allocation-terms": {"agents": 4, "rounds": 20, "menu_points": 4, "params.welfare_rounds": 3},
    "facility-location": {"agents": 4, "rounds": 20, "menu_points": 4, "params.welfare_rounds": 3},
    "large-public-goods": {"agents": 6, "rounds": 40, "menu_points": 8},
    "one-sided": {"agents": 4, "rounds": 30, "menu_points": 8},
    "public-goods": {"rounds": 40, "menu_points": 8},
    "resource-allocation": {
        "agents": 3,
        "rounds": 6,
        "params.incentive_agents": 0,
        "params.misreports": 0,
        "params.trials": 1,
    },
    "two-sided": {"agents": 6, "rounds": 30, "menu_points": 8},
    "voting": {"agents": 6, "rounds": 30, "menu_points": 8, "params.truth_voters": 1},
}
DEFAULT_ROUNDS = 30

"""Shared pytest fixtures; puts tests/ on sys.path (for `helpers`) and loads the contract
plug-ins (`helpers.CONTRACT_PLUGINS`) before any test module is collected, so the
parametrized contracts (tests/contracts, tests/agents/test_learners_common.py) include
what they register."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import load_contract_plugins

load_contract_plugins()


@pytest.fixture(scope="session")
def ray_session():
    """ONE local Ray (2 CPUs, no dashboard) for every Ray test of the session (~4 s to start)."""
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        # Workers import mesa and numpy: on a loaded machine they need longer than Ray's
        # default 60 s to register, and a slow registration kills the actor (ActorDiedError).
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 _system_config={"worker_register_timeout_seconds": 600})
    yield ray
    if started:
        ray.shutdown()

"""The simulation core — Mesa model, config and populations, ledger, backends, recording,
metrics, plug-ins — and the runs built on it (docs/architecture.md)."""

from abm.backends import Backend, Cohort, CohortSpec, LocalBackend, RayBackend, make_cohorts
from abm.config import ConfigError, GroupPlan, LearnerSpec, PopulationGroup, RunConfig
from abm.ledger import BudgetError, Ledger
from abm.model import BidderAgent, MechanismModel
from abm.runs.runner import RunResult, resolve_config, run
from abm.runs.sweep import sweep
from abm.streams import Streams

__all__ = [
    "Backend",
    "BidderAgent",
    "BudgetError",
    "Cohort",
    "CohortSpec",
    "ConfigError",
    "GroupPlan",
    "LearnerSpec",
    "Ledger",
    "LocalBackend",
    "MechanismModel",
    "PopulationGroup",
    "RayBackend",
    "RunConfig",
    "RunResult",
    "Streams",
    "make_cohorts",
    "resolve_config",
    "run",
    "sweep",
]

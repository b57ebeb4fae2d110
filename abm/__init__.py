"""The Mesa model, budget ledger, backends, collectors, config, CLI and runs (DESIGN.md §2)."""

from abm.backends import Backend, Cohort, LocalBackend, RayBackend, make_cohorts
from abm.config import ConfigError, LearnerSpec, RunConfig
from abm.ledger import BudgetError, Ledger
from abm.model import BidderAgent, MechanismModel
from abm.runs.runner import RunResult, resolve_config, run
from abm.runs.sweep import sweep

__all__ = [
    "Backend",
    "BidderAgent",
    "BudgetError",
    "Cohort",
    "ConfigError",
    "LearnerSpec",
    "Ledger",
    "LocalBackend",
    "MechanismModel",
    "RayBackend",
    "RunConfig",
    "RunResult",
    "make_cohorts",
    "resolve_config",
    "run",
    "sweep",
]

"""The simulation core — Mesa model, config and populations, ledger, backends, recording,
metrics, plug-ins — and the runs built on it (docs/architecture.md).

The names below are imported on first access (PEP 562), so `import abm` (and `mechsim
--help`, `mechsim list`) imports no Mesa, pandas, scipy, numba or Ray until a run needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mechanisms.lazy import lazy_exports

if TYPE_CHECKING:
    from abm.backends import Backend, Cohort, CohortSpec, LocalBackend, RayBackend, make_cohorts
    from abm.config import ConfigError, GroupPlan, LearnerSpec, PopulationGroup, RunConfig
    from abm.ledger import BudgetError, Ledger
    from abm.model import BidderAgent, MechanismModel
    from abm.runs.runner import RunResult, resolve_config, run
    from abm.runs.sweep import sweep
    from abm.streams import Streams

#: Public name -> the module that defines it.
_LAZY: dict[str, str] = {
    "Backend": "abm.backends",
    "Cohort": "abm.backends",
    "CohortSpec": "abm.backends",
    "LocalBackend": "abm.backends",
    "RayBackend": "abm.backends",
    "make_cohorts": "abm.backends",
    "ConfigError": "abm.config",
    "GroupPlan": "abm.config",
    "LearnerSpec": "abm.config",
    "PopulationGroup": "abm.config",
    "RunConfig": "abm.config",
    "BudgetError": "abm.ledger",
    "Ledger": "abm.ledger",
    "BidderAgent": "abm.model",
    "MechanismModel": "abm.model",
    "RunResult": "abm.runs.runner",
    "resolve_config": "abm.runs.runner",
    "run": "abm.runs.runner",
    "sweep": "abm.runs.sweep",
    "Streams": "abm.streams",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

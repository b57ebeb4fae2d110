"""Metrics over recorded arrays (docs/architecture.md "Collectors"; SPEC.md §C, §G): strong regret,
external and swap regret, budget depletion, equilibrium convergence, core factor, Pareto
and externalities. Each is a pure function in its own module; `end_of_run_metrics` runs
them as a pipeline of steps (`abm.metrics.pipeline`) over a finished model's records.

The names below are imported on first access (PEP 562): a scenario that imports
`abm.metrics.pipeline` for its metric steps does not import every metric (and scipy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# Eager (numpy only): the function `strong_regret` shadows its submodule's name, which a
# lazy lookup would find first once the submodule is imported.
from abm.metrics.strong_regret import StrongRegretAccumulator, StrongRegretResult, menu_envelope, strong_regret
from mechanisms.lazy import lazy_exports

if TYPE_CHECKING:
    from abm.metrics.convergence import (
        RegretCurve,
        bid_drift,
        geometric_horizons,
        hz_residual_curve,
        outcome_distance,
        strong_regret_curve,
    )
    from abm.metrics.core import CoreResult, coalition_gamma, core_factor, ex_ante_core, halfspace_gamma
    from abm.metrics.depletion import DepletionResult, budget_depletion
    from abm.metrics.externality import ParetoResult, externalities, pareto_check
    from abm.metrics.pipeline import CoreFactorStep, HZResidualStep, MetricStep, RunRecords, StepOutput, run_pipeline
    from abm.metrics.regret import cce_gap, ce_gap, external_regret, swap_regret
    from abm.metrics.run_metrics import RunMetrics, end_of_run_metrics

#: Public name -> the module that defines it.
_LAZY: dict[str, str] = {
    "RegretCurve": "abm.metrics.convergence",
    "bid_drift": "abm.metrics.convergence",
    "geometric_horizons": "abm.metrics.convergence",
    "hz_residual_curve": "abm.metrics.convergence",
    "outcome_distance": "abm.metrics.convergence",
    "strong_regret_curve": "abm.metrics.convergence",
    "CoreResult": "abm.metrics.core",
    "coalition_gamma": "abm.metrics.core",
    "core_factor": "abm.metrics.core",
    "ex_ante_core": "abm.metrics.core",
    "halfspace_gamma": "abm.metrics.core",
    "DepletionResult": "abm.metrics.depletion",
    "budget_depletion": "abm.metrics.depletion",
    "ParetoResult": "abm.metrics.externality",
    "externalities": "abm.metrics.externality",
    "pareto_check": "abm.metrics.externality",
    "CoreFactorStep": "abm.metrics.pipeline",
    "HZResidualStep": "abm.metrics.pipeline",
    "MetricStep": "abm.metrics.pipeline",
    "RunRecords": "abm.metrics.pipeline",
    "StepOutput": "abm.metrics.pipeline",
    "run_pipeline": "abm.metrics.pipeline",
    "cce_gap": "abm.metrics.regret",
    "ce_gap": "abm.metrics.regret",
    "external_regret": "abm.metrics.regret",
    "swap_regret": "abm.metrics.regret",
    "RunMetrics": "abm.metrics.run_metrics",
    "end_of_run_metrics": "abm.metrics.run_metrics",
}

__all__ = [
    "CoreFactorStep",
    "CoreResult",
    "DepletionResult",
    "HZResidualStep",
    "MetricStep",
    "ParetoResult",
    "RegretCurve",
    "RunMetrics",
    "RunRecords",
    "StepOutput",
    "StrongRegretAccumulator",
    "StrongRegretResult",
    "bid_drift",
    "budget_depletion",
    "cce_gap",
    "ce_gap",
    "coalition_gamma",
    "core_factor",
    "end_of_run_metrics",
    "ex_ante_core",
    "external_regret",
    "externalities",
    "geometric_horizons",
    "halfspace_gamma",
    "hz_residual_curve",
    "menu_envelope",
    "outcome_distance",
    "pareto_check",
    "run_pipeline",
    "strong_regret",
    "strong_regret_curve",
    "swap_regret",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

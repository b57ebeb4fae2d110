"""Metrics over recorded arrays (docs/architecture.md "Collectors"; SPEC.md §C, §G): strong regret,
external and swap regret, budget depletion, equilibrium convergence, core factor, Pareto
and externalities. Each is a pure function in its own module; `end_of_run_metrics` runs
them as a pipeline of steps (`abm.metrics.pipeline`) over a finished model's records."""

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
from abm.metrics.pipeline import (
    CoreFactorStep,
    HZResidualStep,
    MetricStep,
    RunRecords,
    StepOutput,
    run_pipeline,
)
from abm.metrics.regret import cce_gap, ce_gap, external_regret, swap_regret
from abm.metrics.run_metrics import RunMetrics, end_of_run_metrics
from abm.metrics.strong_regret import StrongRegretAccumulator, StrongRegretResult, menu_envelope, strong_regret

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

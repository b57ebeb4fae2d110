"""What the scenarios that run APEX over a heuristic H report (Braverman 2021, §2.1):
course-allocation and facility-location share it.

- `welfare`: on up to `welfare_rounds` rounds spread over the run, F_t(X_{t+1}) against
  max F_t (the exact optimum, by the problem's MILP) at the played bids: the mean and worst
  ratio; 1 for an exact H. Needs every agent's bids and the outcomes recorded (otherwise
  `welfare.computed` is False and says why).
- `charges`: the tokens charged and `Apex.audit` — rounds with a negative raw charge
  C_{i,t} < 0 (floored at 0: the ledger pays no refunds), the most negative one, the tokens
  floored away, the charges capped at lambda_i — and the mechanism's seconds per round.
- `monotonicity`: Definition 1 (eq. 13) probed at the last round's bids and start X_t
  (`mechanisms.apex.monotonicity.monotonicity_check`, `monotonicity_probes` probes).
Strong regret is in `metrics.strong_regret` (generic), the run's seconds in `runtime_s`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from abm.config import ConfigError
from mechanisms.apex.algorithm1 import Apex
from mechanisms.apex.monotonicity import monotonicity_check


def welfare_ratios(
    model: Any, value: Callable[[np.ndarray, Any], float], exact: Callable[[np.ndarray], Any],
    decode: Callable[[np.ndarray], Any], rounds: int,
) -> dict[str, Any]:
    """F_t(X_{t+1}) / max F_t on `rounds` rounds spread over the run (see the module doc)."""
    trace = model.trace
    n, played = model.ledger.n, trace.rounds
    if rounds == 0 or played == 0:
        return {"computed": False, "reason": "welfare_rounds = 0 or no round played"}
    if trace.agents.shape[0] != n:
        return {"computed": False, "reason": f"only {trace.agents.shape[0]} of {n} agents recorded ([record] agents)"}
    outcomes = trace.outcomes
    if outcomes is None:
        return {"computed": False, "reason": "outcomes not kept (too large)"}
    bids = trace.reports
    picked = np.unique(np.linspace(0, played - 1, min(rounds, played)).round().astype(np.int64))
    got = np.empty(picked.size)
    best = np.empty(picked.size)
    for r, t in enumerate(picked):
        w = bids[t]
        got[r], best[r] = value(w, decode(outcomes[t])), value(w, exact(w))
    gaps = best - got
    ratio = np.where(best > 0, got / np.where(best > 0, best, 1.0), 1.0)
    return {
        "computed": True,
        "rounds": int(picked.size),
        "ratio_mean": float(ratio.mean()),
        "ratio_min": float(ratio.min()),
        "gap_mean": float(gaps.mean()),
        # The MILP's own tolerance: a smaller gap is round-off, not a worse outcome.
        "suboptimal_rounds": int((gaps > 1e-7 * np.maximum(1.0, np.abs(best))).sum()),
    }


def apex_of(mechanism: Any, scenario: str) -> Apex:
    """The scenario's mechanism, which must be an APEX (its family builds `Apex(problem)`)."""
    if not isinstance(mechanism, Apex):
        raise ConfigError(f"params.heuristic: scenario {scenario!r} needs an APEX mechanism, got {mechanism!r}")
    return mechanism


def heuristic_summary(
    model: Any, reference: Any, decode: Callable[[np.ndarray], Any], welfare_rounds: int, probes: int,
    seed: np.random.SeedSequence, *, apex: Apex | None = None,
) -> dict[str, Any]:
    """The `welfare`, `charges` and `monotonicity` entries of the summary (module doc).
    reference: the instance with `value(weights, x)` (F) and `exact(weights)` (the MILP),
    whatever the run's heuristic; Definition 1 is probed on the run's own H. apex: the
    APEX inside a wrapper (several currencies), else the run's mechanism."""
    if apex is None:
        apex = model.mechanism
    problem = apex.problem
    audit = apex.audit.as_dict()
    rounds = max(model.t, 1)
    out: dict[str, Any] = {
        "heuristic": type(problem).__name__,
        "welfare": welfare_ratios(model, reference.value, reference.exact, decode, welfare_rounds),
        "charges": {"total": float(model.ledger.spent.sum()), "per_round": float(model.ledger.spent.sum()) / rounds,
                    **audit},
        "per_round_seconds": audit["per_round_seconds"],
    }
    if probes > 0 and model.last_result is not None:
        state = model.last_result.state
        report = monotonicity_check(None, problem, state.lam, state.start, probes=probes,
                                    rng=np.random.default_rng(seed))
        out["monotonicity"] = report.as_dict()
    return out

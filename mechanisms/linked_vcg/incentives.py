"""Ex-post incentive check of (un)linked VCG by misreport search (Zhu 2021, §4).

Agent n's utility for a batch of candidate report sequences, others' reports fixed and
up to the Groves base (which does not depend on n's reports), under the linked
mechanism (reports retracted first, §4) or unlinked VCG; `incentive_check` compares the
best of a family of misreports (scalings, date shifts, confidence-set vertices, random
sequences inside and outside Omega^n) with truth-telling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mechanisms.linked_vcg.groves_milp import others_surplus_batch
from mechanisms.linked_vcg.model import LinkedVCG, retract_rows


def misreport_candidates(mech: LinkedVCG, truth_k: np.ndarray, k: int, rng: np.random.Generator,
                         n_random: int = 32) -> tuple[np.ndarray, list[str]]:  # fmt: skip
    """Misreports (K, T, I) for agent k, with labels: scalings of the truth, one type
    scaled, mass moved to one date, the confidence-set vertices (T mu_high on one date)
    and flat sequences at mu_low / mu_high, and random sequences whose averages lie
    inside, below and above [mu_low^n, mu_high^n]."""
    horizon, n_types = truth_k.shape
    lo, hi = mech.mu_low[k], mech.mu_high[k]
    out: list[np.ndarray] = []
    labels: list[str] = []
    for lam in (0.0, 0.25, 0.5, 0.8, 0.9, 0.95, 1.05, 1.1, 1.25, 1.5, 2.0, 4.0):
        out.append(lam * truth_k)
        labels.append(f"scale {lam}")
    for i in range(n_types):
        for lam in (0.0, 2.0):
            x = truth_k.copy()
            x[:, i] *= lam
            out.append(x)
            labels.append(f"type {i} x{lam}")
    total = truth_k.sum(axis=0)
    for t in range(horizon):
        x = np.zeros_like(truth_k)
        x[t] = total
        out.append(x)
        labels.append(f"all mass on date {t + 1}")
        x = np.zeros_like(truth_k)
        x[t] = horizon * hi
        out.append(x)
        labels.append(f"T mu_high on date {t + 1}")
    out.append(np.broadcast_to(hi, truth_k.shape).copy())
    labels.append("mu_high every date")
    out.append(np.broadcast_to(lo, truth_k.shape).copy())
    labels.append("mu_low every date")
    for j in range(n_random):
        kind = j % 4
        if kind == 3:
            out.append(truth_k * rng.lognormal(0.0, 0.5, truth_k.shape))
            labels.append("noisy truth")
            continue
        frac = rng.random(n_types)
        avg = {0: lo + frac * (hi - lo), 1: lo * frac, 2: hi * (1.0 + frac)}[kind]
        split = rng.dirichlet(np.full(horizon, 0.7), size=n_types).T  # (T, I), columns sum to 1
        out.append(horizon * avg[None, :] * split)
        labels.append({0: "random inside", 1: "random below", 2: "random above"}[kind])
    return np.stack(out), labels


def utility_batch(mech: LinkedVCG, reports: np.ndarray, truth_k: np.ndarray, k: int,
                  candidates: np.ndarray, linked: bool = True) -> np.ndarray:  # fmt: skip
    """Agent k's utility (K,) for each candidate report sequence, others' reports fixed,
    up to the constant Groves base: sum_t beta^(t-1) [v(A_t^k, mu_t^k) + O_t]. The linked
    mechanism retracts every report first (§4); `linked=False` is unlinked VCG."""
    candidates = np.asarray(candidates, dtype=np.float64)
    if linked:
        reports = retract_rows(reports, mech.mu_low, mech.mu_high)
        candidates = retract_rows(candidates, mech.mu_low[k], mech.mu_high[k])
    surplus, own, _ = others_surplus_batch(mech, reports, k, candidates)
    n_cand, horizon, _ = own.shape
    bundles = (own @ mech.economy.theta).reshape(n_cand * horizon, -1)
    projects = np.broadcast_to(truth_k, own.shape).reshape(n_cand * horizon, -1)
    payoff = mech.economy.value(bundles, projects).reshape(n_cand, horizon)
    return (payoff + surplus) @ mech.payoff_weights()


@dataclass(frozen=True, slots=True)
class IncentiveCheck:
    """Agent k's best found misreport: gain = U(best) - U(truth) (>= 0 up to round-off
    when truth-telling is ex-post optimal), its label, and how many misreports were tried."""

    gain: float
    best: str
    tried: int


def incentive_check(mech: LinkedVCG, reports: np.ndarray, truth: np.ndarray, k: int,
                    rng: np.random.Generator, n_random: int = 32, linked: bool = True) -> IncentiveCheck:  # fmt: skip
    """The ex-post incentive check: others' reports held at `reports`, agent k's true
    endowment `truth[k]`; search misreports (`misreport_candidates`) and compare with
    reporting the truth."""
    cands, labels = misreport_candidates(mech, truth[k], k, rng, n_random)
    cands = np.concatenate([truth[k][None], cands])
    u = utility_batch(mech, reports, truth[k], k, cands, linked)
    gains = u[1:] - u[0]
    j = int(np.argmax(gains))
    return IncentiveCheck(float(gains[j]), labels[j], len(labels))


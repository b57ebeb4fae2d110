"""The Groves base of the linked VCG transfer as an exact MILP (Zhu 2021, §4).

The Groves base of the linked transfer, min over Omega^n of uW^n([mu]^-n, mu-hat^n)
(§4), is a non-convex problem: the others' surplus O_t(y) as a function of agent n's
date-t report is piecewise linear but neither convex nor concave (ord-A hands agent n
a share clip(alpha_i - H_i, 0, y_i) of an investment alpha that itself moves with y).
The paper gives no general algorithm: "computing an agent's transfer is
straightforward" (§1) and a closed form when Properties I and II hold (Lemma 6, §6.2).
We compute it exactly as a mixed-integer LP (`groves_base`) built on Lemma 1's
structure: on each date the efficient investment is exhaustive and linear for one of
finitely many price bases (`knapsack.price_bases`), and within a basis it is an affine
function of the report; one binary per (date, basis) plus one per contested partial
type gives an exact disaggregated formulation, solved by `scipy.optimize.milp` (HiGHS)
and re-evaluated by the knapsack at its minimizer.

`others_surplus_batch` (the others' surplus O_t for a batch of agent n's reports) is the
objective's exact evaluator, shared with the incentive check.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    # Annotations only: linked_model imports this module at run time.
    from scipy.optimize import LinearConstraint

    from mechanisms.linked_vcg.model import LinkedVCG

# scipy is imported inside the functions that solve: importing the mechanisms (`mechsim
# list`) does not pay for scipy.optimize.

log = logging.getLogger(__name__)

#: MILP relative gap for the Groves base (HiGHS' default 1e-4 is too coarse for transfers).
MILP_REL_GAP = 1e-9
#: MILP time limit per agent (seconds); on timeout the best point found is used (logged).
MILP_TIME_LIMIT = 60.0


# --------------------------------------------------------------------------- the Groves base


@dataclass(frozen=True, slots=True)
class GrovesBase:
    """min over Omega^n of uW^n([mu]^-n, mu-hat^n): the value, a minimizer (T, I), and
    the MILP's own objective (for diagnostics; `value` is the exact LP re-evaluation)."""

    value: float
    argmin: np.ndarray
    milp_value: float


def others_surplus_batch(mech: LinkedVCG, reports: np.ndarray, k: int, candidates: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """For K candidate report sequences (K, T, I) of agent k (others as in `reports`):
    the others' surplus O_t (K, T), agent k's invested units (K, T, I), and the prices
    (K, T, R). One batched knapsack over the K*T (candidate, date) pairs."""
    candidates = np.asarray(candidates, dtype=np.float64)
    n_cand, horizon, n_types = candidates.shape
    others = np.delete(reports, k, axis=0)
    others_total = others.sum(axis=0)  # (T, I)
    ahead = reports[k + 1 :].sum(axis=0)  # agents served before k (higher index)
    sol = mech.economy.efficient((others_total[None] + candidates).reshape(-1, n_types))
    alpha = sol.alpha.reshape(n_cand, horizon, n_types)
    own = np.clip(alpha - ahead[None], 0.0, candidates)
    surplus = alpha.sum(axis=2) - own.sum(axis=2)
    return surplus, own, sol.prices.reshape(n_cand, horizon, -1)


def groves_base(mech: LinkedVCG, retracted: np.ndarray, k: int) -> GrovesBase:
    """min_{mu-hat in Omega^k} uW^k([mu]^-k, mu-hat) (§4) for array row k, exactly.

    A MILP (`_groves_base_milp`) gives the minimizer; its value is re-evaluated
    with the LP, and compared with simple points of Omega^k (all of T mu_high on one
    date; mu_high or mu_low every date). Every candidate is a point of Omega^k that does
    not depend on agent k's own reports, so the transfer stays a Groves transfer (ex-post
    IC) whatever the MILP's accuracy."""
    horizon, n_types = mech.horizon, mech.economy.n_types
    lo, hi = mech.mu_low[k], mech.mu_high[k]
    cands = [np.broadcast_to(hi, (horizon, n_types)), np.broadcast_to(lo, (horizon, n_types))]
    for t in range(horizon):
        c = np.zeros((horizon, n_types))
        c[t] = horizon * hi
        cands.append(c)
    milp_y, milp_value = _groves_base_milp(mech, retracted, k)
    if milp_y is not None:
        cands.append(milp_y)
    stack = np.stack(cands)
    surplus, _, _ = others_surplus_batch(mech, retracted, k, stack)
    values = surplus @ mech.transfer_weights()
    best = int(np.argmin(values))
    return GrovesBase(float(values[best]), stack[best], milp_value)


class _Rows:
    """Sparse constraint rows lb <= sum_j coef_j x_j <= ub, built one dict at a time."""

    def __init__(self) -> None:
        self.data: list[float] = []
        self.ri: list[int] = []
        self.ci: list[int] = []
        self.lb: list[float] = []
        self.ub: list[float] = []

    def add(self, coefs: dict[int, float], lb: float, ub: float) -> None:
        r = len(self.lb)
        for c, v in coefs.items():
            self.ri.append(r)
            self.ci.append(c)
            self.data.append(v)
        self.lb.append(lb)
        self.ub.append(ub)

    def constraint(self, n_var: int) -> LinearConstraint:
        from scipy import sparse
        from scipy.optimize import LinearConstraint

        mat = sparse.csr_matrix((self.data, (self.ri, self.ci)), shape=(len(self.lb), n_var))
        return LinearConstraint(mat, np.array(self.lb), np.array(self.ub))


def _groves_base_milp(mech: LinkedVCG, retracted: np.ndarray, k: int) -> tuple[np.ndarray | None, float]:
    """The Groves base as a MILP, disaggregated over Lemma 1's price bases.

    Each date picks one basis S (binary lam_S, sum_S lam_S = 1) and a report copy y^S in
    lam_S * [0, T mu_high]. Under S the efficient investment is linear in the report:
    full types get their whole supply c_i + y_i (agent k's share is then all of y_i, the
    others' is c_i), zero types nothing, and alpha_S = theta_S^-T (q lam - sum_full
    (c_i lam + y_i) theta_i) must lie in [0, supply_S] (this is the convex hull of the
    basis' region, so the LP relaxation is tight in alpha). Agent k's ord-A share of a
    partial type, a = min(y_i, (alpha_i - H_i)^+), needs one binary b for the (.)^+
    when someone ahead of k holds type i (H_i > 0); a is maximized by the objective, so
    the upper bounds are attained. Objective: sum_t beta^(t-T) (others' surplus).
    Returns (minimizer (T, I), MILP value)."""
    from scipy.optimize import Bounds, milp

    econ = mech.economy
    theta, q_bar = econ.theta, econ.q_bar
    n_types, n_res, horizon = econ.n_types, econ.n_resources, mech.horizon
    bases = econ.bases
    others = np.delete(retracted, k, axis=0).sum(axis=0)  # (T, I) others' supply c_t
    ahead = retracted[k + 1 :].sum(axis=0)  # (T, I) H_t: served before agent k
    lo, hi = horizon * mech.mu_low[k], horizon * mech.mu_high[k]
    weights = mech.transfer_weights()
    last_resort = np.arange(n_types) < n_res
    # Per (date, basis) block: lam, y (I), a (R), b (R).
    block = 1 + n_types + 2 * n_res
    width = len(bases) * block
    n_var = width * horizon

    def lam(t: int, j: int) -> int:
        return t * width + j * block

    def y(t: int, j: int, i: int) -> int:
        return lam(t, j) + 1 + i

    def a(t: int, j: int, s: int) -> int:
        return lam(t, j) + 1 + n_types + s

    def b(t: int, j: int, s: int) -> int:
        return lam(t, j) + 1 + n_types + n_res + s

    rows = _Rows()
    upper = np.zeros(n_var)
    integrality = np.zeros(n_var)
    cost = np.zeros(n_var)
    for t in range(horizon):
        c_t, h_t = others[t], ahead[t]
        rows.add({lam(t, j): 1.0 for j in range(len(bases))}, 1.0, 1.0)
        for j, basis in enumerate(bases):
            upper[lam(t, j)] = 1.0
            integrality[lam(t, j)] = 1
            for i in range(n_types):
                upper[y(t, j, i)] = hi[i]
                rows.add({y(t, j, i): 1.0, lam(t, j): -hi[i]}, -np.inf, 0.0)
            full = basis.full
            cost[lam(t, j)] += weights[t] * c_t[full].sum()
            for s, i in enumerate(basis.partial):
                g = basis.inv_t[s]  # alpha_i = g . (q lam - sum_full (c_f lam + y_f) theta_f)
                gf = theta[full] @ g
                alpha = {lam(t, j): float(g @ q_bar - gf @ c_t[full])}
                alpha.update({y(t, j, f): -float(v) for f, v in zip(full, gf, strict=True)})
                rows.add(alpha, 0.0, np.inf)
                if not last_resort[i]:
                    rows.add({**alpha, lam(t, j): alpha[lam(t, j)] - c_t[i], y(t, j, i): -1.0}, -np.inf, 0.0)
                for col, v in alpha.items():
                    cost[col] += weights[t] * v
                cost[a(t, j, s)] = -weights[t]
                upper[a(t, j, s)] = hi[i]
                rows.add({a(t, j, s): 1.0, y(t, j, i): -1.0}, -np.inf, 0.0)
                minus_alpha = {col: -v for col, v in alpha.items()}
                rows.add({**minus_alpha, a(t, j, s): 1.0}, -np.inf, 0.0)  # a <= alpha
                if h_t[i] > 0:
                    # b = 1: a <= alpha - H lam; b = 0: a = 0 (then alpha - H + H >= 0 is slack).
                    upper[b(t, j, s)] = 1.0
                    integrality[b(t, j, s)] = 1
                    rows.add({**minus_alpha, a(t, j, s): 1.0, b(t, j, s): h_t[i]}, -np.inf, 0.0)
                    rows.add({a(t, j, s): 1.0, b(t, j, s): -hi[i]}, -np.inf, 0.0)
                    rows.add({b(t, j, s): 1.0, lam(t, j): -1.0}, -np.inf, 0.0)
    for i in range(n_types):
        rows.add({y(t, j, i): 1.0 for t in range(horizon) for j in range(len(bases))}, lo[i], hi[i])
    res = milp(
        cost,
        constraints=rows.constraint(n_var),
        integrality=integrality,
        bounds=Bounds(np.zeros(n_var), upper),
        options={"mip_rel_gap": MILP_REL_GAP, "time_limit": MILP_TIME_LIMIT},
    )
    if res.x is None:
        log.warning("Groves base MILP for agent %d found no point: %s", k, res.message)
        return None, math.nan
    if res.status != 0:
        log.warning("Groves base MILP for agent %d stopped early: %s", k, res.message)
    x = res.x.reshape(horizon, len(bases), block)
    y_hat = np.clip(x[:, :, 1 : 1 + n_types].sum(axis=1), 0.0, hi)
    return _project_sum(y_hat, lo, hi), float(res.fun)


def _project_sum(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Nudge a (T, I) report so each type's total lies in [lo, hi] (round-off repair)."""
    total = y.sum(axis=0)
    scale = np.where(total > hi, hi / np.where(total > 0, total, 1.0), 1.0)
    y = y * scale
    short = np.clip(lo - y.sum(axis=0), 0.0, None)
    y[-1] += short
    return y

"""APEX outcome spaces over the Birkhoff polytope (Braverman 2021 §3.2): one-sided allocation
with the exact assignment heuristic (APEX = repeated unit-demand VCG on lambda-scaled
utilities, §3.2.1) and with Theorem 13's regularizer F_0(x) = -beta * sum_ij 1/x_ij.
Both implement `mechanisms.apex.algorithm1.ApexProblem`; the VCG machinery is `mechanisms.assignment.vcg`.
"""

from __future__ import annotations

import numpy as np

from mechanisms.assignment.vcg import (
    assignments_without_each,
    check_values,
    minimal_prices,
    optimal_assignment,
    unit_demand_vcg,
)


def _permutation_matrix(assignment: np.ndarray, m: int) -> np.ndarray:
    x = np.zeros((assignment.shape[0], m))
    x[np.arange(assignment.shape[0]), assignment] = 1.0
    return x


def _square_utilities(utilities: np.ndarray | list) -> np.ndarray:
    u = check_values(utilities, "utilities")
    if u.shape[0] != u.shape[1]:
        raise ValueError(f"utilities must be square (n agents x n items), got shape {u.shape}")
    return u


class AssignmentProblem:
    """One-sided allocation for APEX with the exact heuristic (Braverman 2021 §3.2.1).

    X = permutation matrices (n x n), f_i(X) = sum_j u_ij X_ij, f_0 = R = 0, and H = an
    exact max-weight assignment (the warm start is irrelevant). APEX is then repeated
    unit-demand VCG on the lambda-scaled utilities lambda_i u_ij: the charges are VCG
    payments, computed by `unit_demand_vcg`'s exchange-graph prices instead of n + 1
    assignment solves (`externalities`)."""

    tolerance = 0.0

    def __init__(self, utilities: np.ndarray | list) -> None:
        self.u = _square_utilities(utilities)
        self.n = self.u.shape[0]
        self.utility_span = float((self.u.max(axis=1) - self.u.min(axis=1)).max())

    def utilities(self, x: np.ndarray) -> np.ndarray:
        return (self.u * x).sum(axis=1)

    def base(self, x: np.ndarray) -> float:
        return 0.0

    def initial(self) -> np.ndarray:
        return np.eye(self.n)

    def as_array(self, x: np.ndarray) -> np.ndarray:
        return x

    def scaled(self, weights: np.ndarray) -> np.ndarray:
        return np.asarray(weights, dtype=np.float64)[:, None] * self.u

    def argmax(self, weights: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
        return _permutation_matrix(optimal_assignment(self.scaled(weights)), self.n)

    def item_prices(self, weights: np.ndarray, x_next: np.ndarray) -> np.ndarray:
        """VCG item prices (tokens) of the lambda-scaled market, at the assignment x_next."""
        prices, _ = minimal_prices(self.scaled(weights), x_next.argmax(axis=1))
        return prices

    def externalities(self, weights: np.ndarray, start: np.ndarray, x_next: np.ndarray) -> tuple[np.ndarray, dict]:
        # Minimal Walrasian prices are the same for every optimal assignment, and each
        # agent's VCG payment is the price of its item (footnote 32), so x_next's own
        # assignment serves: no second solve. Prices and assignment seed the round's menu
        # cache (`menu_cache`), so the menus reuse them.
        assignment = x_next.argmax(axis=1)
        prices, _ = minimal_prices(self.scaled(weights), assignment)
        return prices[assignment], {
            "item_prices": prices,
            "assignment": assignment,
            "menu_cache": {"prices": prices, "assignment": assignment},
        }

    def argmax_without_each(self, weights: np.ndarray, start: np.ndarray | None = None) -> list[np.ndarray]:
        """X^{-i} for every i (permutation matrices; agent i gets the item the others leave)."""
        _, without = assignments_without_each(self.scaled(weights))
        out = []
        for i in range(self.n):
            row = without[i].copy()
            row[i] = np.setdiff1d(np.arange(self.n), row[row >= 0])[0]
            out.append(_permutation_matrix(row, self.n))
        return out

    def personal_prices(
        self, weights: np.ndarray, x_next: np.ndarray, prices: np.ndarray | None = None
    ) -> np.ndarray:
        """rho[i, k]: what agent i pays in VCG if it ends up with item k, others' bids fixed.

        rho[i, k] = OPT_{-i} - OPT_{-i}(without item k) (the maximal Walrasian prices of
        the others' market). Forcing i onto k sends k's owner down a displacement chain
        that ends at pi(i); its cheapest loss D[k, pi(i)] is a shortest path in the
        exchange graph, and OPT_{-i} = OPT - s_{i pi(i)} - min_k D[k, pi(i)]. All pairs
        at once (Floyd-Warshall, O(n^3), compiled: `vcg_menu.personal_prices`) on reduced
        costs: the minimal Walrasian prices p (the round's, when given) are a feasible
        potential (envy-freeness makes every reduced cost >= 0)."""
        from mechanisms.assignment.vcg_menu import personal_prices

        s = self.scaled(weights)
        assignment = x_next.argmax(axis=1)
        if prices is None:
            prices, _ = minimal_prices(s, assignment)
        return personal_prices(s, assignment, np.asarray(prices, dtype=np.float64))

    def _menu_cache(self, weights: np.ndarray, x_next: np.ndarray, cache: dict) -> dict:
        """The round's menu work, once (`vcg_menu.round_menus`, from the round's prices and
        assignment when cached): personal prices rho (n, n), every agent's Pareto list of
        items, its envelope midpoints, and the realized (u, rho) of its own item."""
        if "pareto" not in cache:
            from mechanisms.assignment.vcg_menu import round_menus

            assignment = cache.setdefault("assignment", x_next.argmax(axis=1))
            s = self.scaled(weights)
            prices = cache.get("prices")
            if prices is None:
                prices, _ = minimal_prices(s, assignment)
            w = np.asarray(weights, dtype=np.float64)
            prices = np.asarray(prices, dtype=np.float64)
            rho, floats, ints, count, played = round_menus(s, assignment, prices, self.u, w)
            cache["rho"], cache["midpoints"], cache["played"] = rho, floats[2], played
            cache["pareto"] = (ints[0], floats[0], floats[1], count, ints[1])
        return cache

    def menu_breakpoints(
        self, weights: np.ndarray, x_next: np.ndarray, agents: np.ndarray, cache: dict
    ) -> np.ndarray:
        """(m, n) bids: for each item k, the midpoint of the lambda-interval on which agent i
        takes k (the piece of the upper envelope of lambda u_ik - rho_ik, lambda >= 0), or
        one past the last breakpoint for the unbounded piece; items on no piece get 0 (a
        duplicate of the lambda = 0 piece). So every piece of the exact menu is sampled
        strictly inside, away from tie-breaking at breakpoints.

        The menu at these bids is not computed here: a caller may evaluate them with others
        in one `menu_all` call (the menu recorder adds them to its grid), which is the
        work of one pass, not two."""
        cache = self._menu_cache(weights, x_next, cache)
        return cache["midpoints"][agents]

    def _choose(self, alternatives: np.ndarray, agents: np.ndarray, cache: dict) -> tuple[np.ndarray, np.ndarray]:
        from mechanisms.assignment.vcg_menu import menu_choice

        _, u_p, rho_p, count, _ = cache["pareto"]
        played = cache["played"]
        return menu_choice(alternatives, agents, u_p, rho_p, count, played[0], played[1], played[2])

    def menu_all(
        self,
        weights: np.ndarray,
        start: np.ndarray,
        x_next: np.ndarray,
        alternatives: np.ndarray,
        agents: np.ndarray,
        cache: dict,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact VCG menu: bidding lambda, agent i gets argmax_k lambda u_ik - rho[i, k]
        and pays rho[i, k] (piecewise constant in lambda). At a breakpoint the item with
        the higher utility is taken (right-continuous, as u is non-decreasing in lambda);
        the bid actually played returns the realized outcome. Only Pareto-undominated items
        (no other item with u >= and rho <=) can be chosen at any lambda >= 0, typically a
        handful per agent, so a menu of K bids costs O(K P) after the round's O(n^3)."""
        cache = self._menu_cache(weights, x_next, cache)
        return self._choose(alternatives, agents, cache)


def _double_center(d: np.ndarray) -> np.ndarray:
    """Euclidean projection of (..., n, n) matrices onto {row sums = column sums = 0}."""
    return d - d.mean(axis=-1, keepdims=True) - d.mean(axis=-2, keepdims=True) + d.mean(axis=(-2, -1), keepdims=True)


def _fw_gap(grad: np.ndarray, x: np.ndarray) -> float:
    """Frank-Wolfe duality gap max_{S permutation} <grad, S - x> >= max F - F(x) (F concave)."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(grad, maximize=True)
    return float(grad[rows, cols].sum() - (grad * x).sum())


class RegularizedAssignment:
    """One-sided allocation with Theorem 13's regularizer (Braverman 2021 §3.2.4, Appendix B).

    X = the Birkhoff polytope (bistochastic n x n), f_i(X) = sum_j u_ij X_ij, and
    base(X) = F_0(X) = -beta * sum_ij 1 / X_ij. F = F_0 + sum_i lambda_i f_i is strictly
    concave with its maximizer in the interior, so H returns it to a stated accuracy:
    F(X) >= max F - tol * (1 + sum_i lambda_i), certified by the Frank-Wolfe duality gap
    (one `linear_sum_assignment` on the gradient) or, for Newton when round-off floors
    that gap (very small beta), by the self-concordance bound max F - F <= decrement^2.

    method "newton" (default): damped Newton on the affine hull {row, column sums = 1},
    warm-started at X_t, with a fraction-to-the-boundary step and Armijo backtracking;
    the Hessian of F_0 is diagonal, so a step is a (2n - 1) linear solve, and all the
    n + 1 problems of a round (and the menu's alternatives) are solved as one batch.
    method "frank_wolfe": Frank-Wolfe with `linear_sum_assignment` as the linear oracle
    and exact line search, warm-started at X_t; converges (linearly, as the optimum is
    interior) but needs many more iterations for small beta.
    """

    def __init__(
        self,
        utilities: np.ndarray | list,
        beta: float,
        *,
        tol: float = 1e-9,
        method: str = "newton",
        max_iter: int = 200,
    ) -> None:
        self.u = _square_utilities(utilities)
        self.n = self.u.shape[0]
        if not (np.isfinite(beta) and beta > 0):
            raise ValueError(f"beta must be finite and > 0, got {beta}")
        if not (np.isfinite(tol) and tol > 0):
            raise ValueError(f"tol must be finite and > 0, got {tol}")
        if method not in ("newton", "frank_wolfe"):
            raise ValueError(f"method must be 'newton' or 'frank_wolfe', got {method!r}")
        self.beta = float(beta)
        self.tol = float(tol)
        self.tolerance = self.tol  # read by Apex.enforce_budget
        self.method = method
        self.max_iter = int(max_iter) if method == "newton" else max(int(max_iter), 100_000)
        self.utility_span = float((self.u.max(axis=1) - self.u.min(axis=1)).max())
        self.last_gap = np.nan
        self.last_decrement = np.nan
        self.last_iterations = 0

    # -- ApexProblem ---------------------------------------------------------------------
    def utilities(self, x: np.ndarray) -> np.ndarray:
        return (self.u * x).sum(axis=-1)

    def base(self, x: np.ndarray) -> float:
        return float(-self.beta * (1.0 / x).sum())

    def initial(self) -> np.ndarray:
        return np.full((self.n, self.n), 1.0 / self.n)

    def as_array(self, x: np.ndarray) -> np.ndarray:
        return x

    def objective(self, weights: np.ndarray, x: np.ndarray) -> np.ndarray:
        """F(x) for a batch: weights (B, n), x (B, n, n) -> (B,)."""
        return (weights[:, :, None] * self.u * x).sum(axis=(1, 2)) - self.beta * (1.0 / x).sum(axis=(1, 2))

    def gap(self, weights: np.ndarray, x: np.ndarray) -> float:
        """Frank-Wolfe duality gap of one problem: an upper bound on max F - F(x)."""
        grad = np.asarray(weights, dtype=np.float64)[:, None] * self.u + self.beta / x**2
        return _fw_gap(grad, x)

    def argmax(self, weights: np.ndarray, start: np.ndarray) -> np.ndarray:
        return self.solve(np.asarray(weights, dtype=np.float64)[None, :], start)[0]

    def argmax_without_each(self, weights: np.ndarray, start: np.ndarray) -> np.ndarray:
        w = np.repeat(np.asarray(weights, dtype=np.float64)[None, :], self.n, axis=0)
        np.fill_diagonal(w, 0.0)
        return self.solve(w, start)

    def item_prices(self, weights: np.ndarray, x_next: np.ndarray) -> np.ndarray:
        """Theorem 13's C_j: VCG prices of the unregularized lambda-scaled market."""
        return unit_demand_vcg(np.asarray(weights)[:, None] * self.u).item_prices

    def menu_all(
        self,
        weights: np.ndarray,
        start: np.ndarray,
        x_next: np.ndarray,
        alternatives: np.ndarray,
        agents: np.ndarray,
        cache: dict,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Menu by re-solving every (agent, alternative) problem (no closed form: the
        regularizer couples every entry of X, unlike the exact heuristic's personal prices).
        F is strictly concave, so its maximizer is unique and H's answer does not depend on
        the start to within the tolerance; the solves use continuation: each agent's
        alternatives in increasing order, one batch over agents per step, each warm-started
        at the previous solution (the first at X_{t+1}), which keeps Newton to a few
        iterations per point."""
        m, k = alternatives.shape
        order = np.argsort(alternatives, axis=1)
        ordered = np.take_along_axis(alternatives, order, axis=1)
        util = np.empty((m, k))
        cost = np.empty((m, k))
        rows = np.arange(m)
        x = np.broadcast_to(x_next, (m, self.n, self.n))
        for col in range(k):
            w = np.repeat(np.asarray(weights, dtype=np.float64)[None, :], m, axis=0)
            w[rows, agents] = ordered[:, col]
            x = self.solve(w, x)
            f = (self.u[agents] * x[rows, agents]).sum(axis=1)
            util[rows, order[:, col]] = f
            cost[rows, order[:, col]] = cache["opt_minus"][agents] - (self.objective(w, x) - ordered[:, col] * f)
        return util, cost

    # -- the solver ----------------------------------------------------------------------
    def scale_tol(self, weights: np.ndarray) -> np.ndarray:
        """Gap tolerance per problem: tol * (1 + sum_i lambda_i), i.e. relative to the size
        of F (float round-off in the gradient grows with the bids)."""
        return self.tol * (1.0 + np.abs(weights).sum(axis=-1))

    def solve(self, weights: np.ndarray, start: np.ndarray) -> np.ndarray:
        """Maximizers of F for a batch of weight vectors (B, n), all warm-started at `start`
        (n x n, or (B, n, n) one start per problem).

        Stops each problem once its Frank-Wolfe gap is <= `scale_tol`; raises RuntimeError
        if some problem does not get there in max_iter steps."""
        weights = np.asarray(weights, dtype=np.float64)
        b = weights.shape[0]
        x = np.broadcast_to(np.asarray(start, dtype=np.float64), (b, self.n, self.n)).copy()
        if (x <= 0).any():
            raise ValueError("start must be a strictly positive bistochastic matrix")
        # Round-off in X_t's row/column sums would enter the gap as <grad, residual>.
        # (Affine projection onto {row, column sums = 1}; moves a feasible start by ~1e-16.)
        x = 1.0 / self.n + _double_center(x - 1.0 / self.n)
        c = weights[:, :, None] * self.u[None]
        limit = self.scale_tol(weights)
        done = np.zeros(b, dtype=bool)
        gaps = np.full(b, np.inf)
        decrement = np.full(b, np.inf)
        newton = self.method == "newton"
        for it in range(self.max_iter + 1):
            act = np.flatnonzero(~done)
            cx, xx = c[act], x[act]
            if newton:
                grad, d, slope = self._newton_direction(cx, xx)
                # gap >= max F - F(x) ~ slope / 2 near the optimum, and Newton converges
                # quadratically there: pay for the oracle once slope is far below the limit
                # (or on the last iteration), typically once per problem.
                check = slope <= 1e-2 * limit[act] if it < self.max_iter else np.ones(act.size, dtype=bool)
                decrement[act] = slope
                # Second certificate, for small beta where the Hessian spans many orders of
                # magnitude and round-off in the multipliers floors the FW gap: beta / x is
                # self-concordant with constant M = (3 / sqrt 2) sqrt(x / beta) <= 2.13 /
                # sqrt(beta) on x <= 1, so phi = -(M^2 / 4) F is standard self-concordant and
                # its decrement^2 is (M^2 / 4) slope; Boyd & Vandenberghe §9.6.3 (decrement
                # <= 0.68 => phi - phi* <= decrement^2) gives max F - F(x) <= slope whenever
                # slope <= 0.4 beta, and slope <= 1e-2 * limit here (`check`).
                # Used only once the gap has failed before: the extra Newton step squares the
                # residual unless round-off floors it, so X (not only F) is accurate too.
                certified = check & (slope <= 0.4 * self.beta) & np.isfinite(gaps[act])
                for r in np.flatnonzero(check):
                    gaps[act[r]] = _fw_gap(grad[r], xx[r])
                accepted = (gaps[act] <= limit[act]) | certified
            else:
                grad, d, slope = self._fw_direction(cx, xx)
                gaps[act] = slope  # the FW direction's slope is the duality gap itself
                accepted = gaps[act] <= limit[act]
            done[act] = accepted
            move = ~done[act]
            if not move.any() or it == self.max_iter:
                break
            step = self._newton_line_search if newton else self._fw_line_search
            x[act[move]] = step(cx[move], xx[move], d[move], slope[move])
        self.last_iterations = it
        self.last_gap = float(gaps.max())
        self.last_decrement = float(decrement.max()) if newton else np.nan
        if not done.all():
            worst = int(np.argmax(gaps - limit))
            raise RuntimeError(
                f"RegularizedAssignment.solve ({self.method}): duality gap {gaps[worst]:.3g} > tol"
                f" {limit[worst]:.3g} after {self.max_iter} iterations (beta = {self.beta})"
            )
        return x

    def _objective_c(self, c: np.ndarray, x: np.ndarray) -> np.ndarray:
        return (c * x).sum(axis=(1, 2)) - self.beta * (1.0 / x).sum(axis=(1, 2))

    def _newton_direction(self, c: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Newton direction for max F on {X 1 = 1, 1^T X = 1} (batched): (grad, d, slope).

        KKT: d = W (g - a_i - b_j) with W = x^3 / (2 beta) (minus the inverse Hessian,
        which is diagonal) and multipliers a, b making the row and column sums of d zero;
        b_n = 0 fixes the gauge a + s, b - s. Eliminating a leaves an (n-1) x (n-1) SPD
        system in b. slope = g . d = d^T W^{-1} d is the Newton decrement squared."""
        beta, n = self.beta, self.n
        inv_x = 1.0 / x
        g = c + beta * inv_x**2
        w = x**3 / (2.0 * beta)
        wg = w * g
        rw, cw = w.sum(axis=2), w.sum(axis=1)  # (B, n)
        rg, cg = wg.sum(axis=2), wg.sum(axis=1)
        # Row equations: a_i rw_i + (W b)_i = rg_i  =>  a = (rg - W b) / rw.
        wt = w.transpose(0, 2, 1)
        schur = -(wt / rw[:, None, :]) @ w
        schur[:, np.arange(n), np.arange(n)] += cw
        rhs = cg - (wt @ (rg / rw)[:, :, None])[:, :, 0]
        bvec = np.zeros_like(rw)
        bvec[:, :-1] = np.linalg.solve(schur[:, :-1, :-1], rhs[:, :-1, None])[:, :, 0]
        a = (rg - (w @ bvec[:, :, None])[:, :, 0]) / rw
        d = wg - w * (a[:, :, None] + bvec[:, None, :])
        d = _double_center(d)
        return g, d, (g * d).sum(axis=(1, 2))

    def _newton_line_search(self, c: np.ndarray, x: np.ndarray, d: np.ndarray, slope: np.ndarray) -> np.ndarray:
        """Damped step: at most 0.9 of the way to the nearest zero entry, Armijo backtracking.

        Near the optimum the F-increase (slope / 2) drops below F's round-off while the
        gradient residual the gap certificate sees is still visible: there the pure Newton
        step is taken (quadratic-convergence region), without the Armijo test."""
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(d < 0, -x / d, np.inf).min(axis=(1, 2))
        t = np.minimum(1.0, 0.9 * ratio)
        f0 = self._objective_c(c, x)
        tiny = slope <= 1e-10 * (1.0 + np.abs(f0))
        for _ in range(60):
            trial = x + t[:, None, None] * d
            ok = tiny | (self._objective_c(c, trial) >= f0 + 1e-4 * t * slope)
            if ok.all():
                break
            t = np.where(ok, t, 0.5 * t)
        return trial

    def _fw_direction(self, c: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frank-Wolfe direction S - x, S the permutation maximizing <grad, S>
        (`linear_sum_assignment`), and its slope <grad, S - x> = the duality gap."""
        from scipy.optimize import linear_sum_assignment

        g = c + self.beta / x**2
        d = -x.copy()
        for r in range(x.shape[0]):
            rows, cols = linear_sum_assignment(g[r], maximize=True)
            d[r, rows, cols] += 1.0
        return g, d, (g * d).sum(axis=(1, 2))

    def _fw_line_search(self, c: np.ndarray, x: np.ndarray, d: np.ndarray, slope: np.ndarray) -> np.ndarray:
        """Exact line search on the concave phi(gamma) = F(x + gamma d), gamma in [0, 1):
        bisection on phi' safeguarding Newton steps, all problems of the batch at once."""
        beta = self.beta
        lin = (c * d).sum(axis=(1, 2))
        lo, hi = np.zeros(x.shape[0]), np.ones(x.shape[0])
        gamma = np.full(x.shape[0], 0.5)
        for _ in range(100):
            y = x + gamma[:, None, None] * d
            d1 = lin + beta * (d / y**2).sum(axis=(1, 2))
            d2 = -2.0 * beta * (d**2 / y**3).sum(axis=(1, 2))
            up = d1 > 0
            lo, hi = np.where(up, gamma, lo), np.where(up, hi, gamma)
            if (hi - lo).max() < 1e-15:
                break
            with np.errstate(divide="ignore", invalid="ignore"):
                newton = gamma - d1 / d2
            gamma = np.where((newton > lo) & (newton < hi), newton, 0.5 * (lo + hi))
        return x + lo[:, None, None] * d

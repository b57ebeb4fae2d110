"""Menus rebuilt from a `MenuStatistic` mechanism's recorded statistics equal the menus the
round itself gives (`menu_all` at the grid, the played report and `menu_breakpoints`),
float for float, and those equal the round replayed with the report substituted
(`run_round`, the brute-force oracle), for the public-goods mechanisms behind the artificial
currency (Onyeze et al. 2025 Algorithm 1) with both budget rules, budget-capped and
depleted agents, and a good of cost c (`ScaledCost`)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abm import Ledger
from abm.recording import MenuRecorder, SpillDir, write_npz
from mechanisms.base import Reports
from mechanisms.capabilities import ExactMenu, MenuStatistic
from mechanisms.public_goods.artificial_currency import ArtificialCurrency
from mechanisms.public_goods.monetary import Moulin, Proportional
from mechanisms.public_goods.potential import Potential

MONETARY = {"proportional": Proportional, "moulin": Moulin, "potential": Potential}
GRID_POINTS = 6


def play(mech: ArtificialCurrency, values: np.ndarray, scale: np.ndarray, horizon: int, seed: int):
    """Rounds of `mech` with reports values * scale made budget-feasible by its rule on a
    ledger that starts at its initial budgets for `horizon` (small: agents get capped or
    depleted); yields (t, reports, result)."""
    ledger = Ledger(mech.initial_budgets(horizon), p_max=mech.p_max)
    rng = np.random.default_rng(seed)
    for t in range(values.shape[0]):
        bids = mech.enforce_budget(values[t] * scale[t], ledger.remaining)
        reports = Reports(bids, values[t])
        result = mech.run_round(reports, rng)
        ledger.charge(result.charges, t)
        yield t, reports, result


def oracle_menus(mech, grid: np.ndarray, agents: np.ndarray, reports: Reports, result):
    """The round's own menus at grid + played + exact breakpoints (what the recorder stored
    before statistics): one `menu_all` call."""
    extra = mech.menu_breakpoints(reports, agents, state=result.state)
    alts = np.concatenate(
        [np.tile(grid, (agents.shape[0], 1)), reports.bids[agents][:, None], extra], axis=1
    )
    u, c = mech.menu_all(alts, reports, agents, state=result.state)
    return alts, u, c


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(list(MONETARY)),
    rule=st.sampled_from(["p_max", "cap"]),
    cost=st.sampled_from([1.0, 0.25 * 5, 3.0]),
    n=st.integers(2, 6),
    rounds=st.integers(1, 24),
    horizon=st.integers(1, 6),
    first_agents=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_rebuilt_menus_equal_each_rounds_menu_all_and_the_replayed_round(
    name, rule, cost, n, rounds, horizon, first_agents, seed
):
    rng = np.random.default_rng(seed)
    mech = ArtificialCurrency(MONETARY[name](), np.full(n, 0.5 / n), cost=cost, budget_rule=rule)
    assert isinstance(mech, MenuStatistic) and isinstance(mech, ExactMenu)
    values = rng.random((rounds, n)) * cost
    values[rng.random((rounds, n)) < 0.15] = 0.0
    # zero, shaded, truthful, overbid reports, and reports whose total leaves the float range
    scale = rng.choice([0.0, 0.3, 1.0, 2.5, 5e307], size=(rounds, n), p=[0.2, 0.2, 0.2, 0.2, 0.2])
    agents = np.arange(min(n, 3)) if first_agents else np.sort(rng.choice(n, size=min(n, 3), replace=False))
    rec = MenuRecorder(mech, rounds, agents, GRID_POINTS, SpillDir(), chunk_rows=4)  # chunks spill to disk
    assert rec.statistic is mech
    grid = rec.grid
    want_u, want_c, want_alts = [], [], []
    for t, reports, result in play(mech, values, scale, horizon, seed):
        rec.record(t, reports, result)
        alts, u, c = oracle_menus(mech, grid, agents, reports, result)
        want_alts.append(alts)
        want_u.append(u)
        want_c.append(c)
        if t < 3:  # the brute-force oracle: replay the round with each alternative report
            for r, i in enumerate(agents):
                jumps = alts[r, rec.k :][alts[r, rec.k :] > 0]
                for k, a in enumerate(alts[r]):
                    if np.any(np.abs(a - jumps) < 1e-9):
                        continue  # at a jump the replay's own summation order decides the side
                    bids = reports.bids.copy()
                    bids[i] = a
                    res = mech.run_round(Reports(bids, reports.values), np.random.default_rng(0))
                    assert u[r, k] == pytest.approx(res.utilities[i], abs=1e-12)
                    assert c[r, k] == pytest.approx(res.charges[i], rel=1e-9, abs=1e-12)
    u_all, c_all = rec.all_menus()
    np.testing.assert_array_equal(u_all, np.stack(want_u))
    np.testing.assert_array_equal(c_all, np.stack(want_c))
    k = rec.k
    np.testing.assert_array_equal(rec.played.to_array(), np.stack(want_alts)[:, :, k - 1])
    np.testing.assert_array_equal(rec.exact_utility.to_array(), np.stack(want_u)[:, :, k:])
    np.testing.assert_array_equal(rec.cost.to_array(), np.stack(want_c)[:, :, :k])
    # one block of every round gives the same menus as the chunked reads
    (_, u_one, c_one, _), = rec.chunks(entries=10**9)
    np.testing.assert_array_equal(u_one, u_all)
    np.testing.assert_array_equal(c_one, c_all)
    assert rec.row_bytes == agents.shape[0] * (rec.s + 1) * 8 and rec.s <= 3  # statistic + played, not the menus


def test_recorded_rounds_hit_budget_capped_and_depleted_agents():
    """The property above sees the cases it is about: with horizon 1 (budgets alpha_i c) and
    truthful-to-overbid reports, the cap rule caps and the p_max rule zeroes reports."""
    n = 4
    values = np.full((5, n), 0.9)
    scale = np.full((5, n), 2.5)
    for rule in ("cap", "p_max"):
        mech = ArtificialCurrency(Proportional(), np.full(n, 0.5 / n), budget_rule=rule)
        bids = np.stack([r.bids for _, r, _ in play(mech, values, scale, 1, 0)])
        if rule == "cap":
            assert ((bids > 0) & (bids < 0.9 * 2.5)).any()
        else:
            assert (bids == 0).all()  # budgets 0.125 < p_max = 1: zeroed from round 0


def test_menus_npz_holds_the_rebuilt_menus(tmp_path):
    n, rounds = 5, 30
    mech = ArtificialCurrency(Potential(), np.full(n, 0.1), cost=2.0)
    rng = np.random.default_rng(5)
    values = rng.random((rounds, n)) * 2.0
    agents = np.array([1, 3, 4])
    rec = MenuRecorder(mech, rounds, agents, GRID_POINTS, SpillDir(), chunk_rows=7)
    want_u, want_c = [], []
    for t, reports, result in play(mech, values, np.ones((rounds, n)), rounds, 1):
        rec.record(t, reports, result)
        _, u, c = oracle_menus(mech, rec.grid, agents, reports, result)
        want_u.append(u)
        want_c.append(c)
    write_npz(tmp_path / "menus.npz", rec.arrays())
    got = np.load(tmp_path / "menus.npz")
    k = rec.k
    assert set(got.files) == {"agents", "grid", "rounds", "utility", "cost", "played", "exact_utility", "exact_cost"}
    np.testing.assert_array_equal(got["utility"], np.stack(want_u)[:, :, :k])
    np.testing.assert_array_equal(got["cost"], np.stack(want_c)[:, :, :k])
    np.testing.assert_array_equal(got["exact_utility"], np.stack(want_u)[:, :, k:])
    np.testing.assert_array_equal(got["exact_cost"], np.stack(want_c)[:, :, k:])
    np.testing.assert_array_equal(got["agents"], agents)


def test_a_statistic_of_the_wrong_width_is_refused():
    mech = ArtificialCurrency(Moulin(), np.full(3, 0.1))
    rec = MenuRecorder(mech, 4, 3, GRID_POINTS, SpillDir())
    reports = Reports(np.array([0.5, 0.2, 0.4]), np.ones(3))
    rec.record(0, reports, mech.run_round(reports, np.random.default_rng(0)))
    mech.menu_statistic = lambda *a, **k: np.zeros((3, 3))  # type: ignore[method-assign]
    with pytest.raises(ValueError, match="menu_statistic gave 3 entries per agent, earlier 2"):
        rec.record(1, reports, mech.run_round(reports, np.random.default_rng(0)))

"""The core factor for m goods (abm.metrics.core_goods; Onyeze et al. 2025 Definition 2.1, §7)
against an LP with every column listed (written here, scipy HiGHS) and, for one good of
cost 1, against the single-good core (abm.metrics.core)."""

from itertools import combinations

import numpy as np
import pytest
from scipy.optimize import linprog

from abm.metrics.core import coalition_gamma, core_factor
from abm.metrics.core_goods import GoodsInstance, coalition_gamma_goods, goods_core_factor
from mechanisms.public_goods.potential import CardinalityCost, CoverageCost, PerGoodCost, all_allocations


def full_lp(values, cost_index, costs, allocs, utility, shares, coalition) -> float:
    """max z: sum x_tA V_i[t](A_i) >= z U_i, sum_A x_tA <= 1, sum x_tA c_t(A) <= alpha_S T, with
    a column for every round and every non-empty allocation of S."""
    t_len, n, _ = values.shape
    s = list(coalition)
    cols = [a for a in range(1, allocs.shape[0]) if not allocs[a][[i for i in range(n) if i not in s]].any()]
    pos = [i for i in s if utility[i] > 0]
    nvar = t_len * len(cols) + 1
    a_ub, b_ub = [], []
    for i in pos:
        row = np.zeros(nvar)
        for t in range(t_len):
            for c, a in enumerate(cols):
                row[t * len(cols) + c] = -values[t, i] @ allocs[a, i] / utility[i]
        row[-1] = 1.0
        a_ub.append(row)
        b_ub.append(0.0)
    for t in range(t_len):
        row = np.zeros(nvar)
        row[t * len(cols) : (t + 1) * len(cols)] = 1.0
        a_ub.append(row)
        b_ub.append(1.0)
    row = np.zeros(nvar)
    for t in range(t_len):
        for c, a in enumerate(cols):
            row[t * len(cols) + c] = costs[cost_index[t], a]
    a_ub.append(row)
    b_ub.append(shares[s].sum() * t_len)
    obj = np.zeros(nvar)
    obj[-1] = -1.0
    res = linprog(obj, A_ub=np.array(a_ub), b_ub=np.array(b_ub), bounds=[(0, None)] * nvar, method="highs")
    assert res.status == 0
    return -res.fun - 1.0


def random_instance(seed: int, n: int = 3, m: int = 2, t_len: int = 7):
    rng = np.random.default_rng(seed)
    allocs = all_allocations(n, m)
    inc = rng.random((n, m, 3)) < 0.5
    inc[..., 0] |= ~inc.any(axis=2)
    pool = [CoverageCost(inc, np.full(3, 1 / 3)), CardinalityCost((np.arange(n * m + 1) / (n * m)) ** 0.5, n, m)]
    costs = np.stack([c(allocs) for c in pool])
    values = rng.random((t_len, n, m))
    idx = rng.integers(0, 2, t_len)
    served = rng.random((t_len, n, m)) < 0.4
    utility = (values * served).sum(axis=(0, 2))
    shares = rng.dirichlet(np.ones(n)) * 0.6
    return values, idx, costs, allocs, utility, shares


@pytest.mark.parametrize("seed", range(4))
def test_column_generation_equals_the_lp_with_every_column(seed):
    values, idx, costs, allocs, utility, shares = random_instance(seed)
    inst = GoodsInstance.of(values, idx, costs, allocs, utility, shares)
    for size in (1, 2, 3):
        for s in combinations(range(3), size):
            got = coalition_gamma_goods(inst, s)
            assert got.converged
            assert got.gamma == pytest.approx(full_lp(values, idx, costs, allocs, utility, shares, s), abs=1e-7)


@pytest.mark.parametrize("seed", range(3))
def test_one_good_of_cost_one_is_the_single_good_core(seed):
    rng = np.random.default_rng(100 + seed)
    n, t_len = 4, 60
    allocs = all_allocations(n, 1)
    costs = PerGoodCost(np.ones(1), n)(allocs)[None, :]
    values = rng.random((t_len, n))
    served = rng.random((t_len, n)) < 0.3
    utility = (values * served).sum(axis=0)
    shares = np.full(n, 0.5 / n)
    inst = GoodsInstance.of(values[:, :, None], np.zeros(t_len, dtype=int), costs, allocs, utility, shares)
    for s in [(0,), (1, 2), (0, 1, 2, 3)]:
        single = coalition_gamma(values, utility, shares, s)
        assert coalition_gamma_goods(inst, s).gamma == pytest.approx(single, abs=1e-7)
    assert goods_core_factor(inst).gamma == pytest.approx(core_factor(values, utility, shares).gamma, abs=1e-7)


def test_a_coalition_without_utility_blocks_iff_it_can_get_value():
    values, idx, costs, allocs, utility, shares = random_instance(0)
    utility = utility.copy()
    utility[1] = 0.0
    inst = GoodsInstance.of(values, idx, costs, allocs, utility, shares)
    assert coalition_gamma_goods(inst, (1,)).gamma == np.inf


def test_bad_input_names_the_field():
    values, idx, costs, allocs, utility, shares = random_instance(0)
    with pytest.raises(ValueError, match="values"):
        GoodsInstance.of(values[0], idx, costs, allocs, utility, shares)
    with pytest.raises(ValueError, match="cost_index"):
        GoodsInstance.of(values, idx + 5, costs, allocs, utility, shares)

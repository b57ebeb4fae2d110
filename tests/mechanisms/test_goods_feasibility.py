"""Proposition 3.1 of Onyeze et al. 2025 with m goods and a submodular cost (§7): Algorithm 1 over
the many-goods Potential mechanism never selects allocations of total cost above alpha T,
and never overdraws a budget, whatever the reports (hypothesis: random instances, random
costs per round, extreme reports, both budget rules)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from abm.ledger import Ledger
from mechanisms.base import Reports
from mechanisms.public_goods.goods import GoodsArtificialCurrency, GoodsPotential
from mechanisms.public_goods.potential import CardinalityCost, CoverageCost, PerGoodCost

#: Report multipliers of the bundle value s_i: nothing, tiny, truthful, overbids up to absurd.
EXTREMES = [0.0, 1e-12, 1.0, 4.0, 1e9]


def random_cost(kind: int, n: int, m: int, rng: np.random.Generator):
    if kind == 0:
        e = 3
        inc = rng.random((n, m, e)) < 0.5
        inc[np.arange(n)[:, None], np.arange(m)[None, :], rng.integers(0, e, (n, m))] = True
        return CoverageCost(inc, np.full(e, 1.0 / e))
    if kind == 1:
        return CardinalityCost((np.arange(n * m + 1) / (n * m)) ** rng.uniform(0.2, 1.0), n, m)
    return PerGoodCost(rng.dirichlet(np.ones(m)), n)


@settings(max_examples=30, deadline=None)
@given(
    shape=st.sampled_from([(2, 2), (3, 2), (2, 3), (4, 2)]),
    seed=st.integers(0, 2**32 - 1),
    rule=st.sampled_from(["p_max", "cap"]),
    pool=st.integers(1, 3),
    rounds=st.integers(5, 40),
)
def test_total_cost_at_most_alpha_t_and_no_budget_overdrawn(shape, seed, rule, pool, rounds):
    n, m = shape
    rng = np.random.default_rng(seed)
    costs = [random_cost(int(rng.integers(3)), n, m, rng) for _ in range(pool)]
    shares = rng.dirichlet(np.ones(n)) * rng.uniform(0.05, 1.0)
    mech = GoodsArtificialCurrency(GoodsPotential(costs), shares, budget_rule=rule)
    ledger = Ledger(mech.initial_budgets(rounds), p_max=mech.p_max)
    total_cost = 0.0
    for t in range(rounds):
        v = rng.random((n, m))
        j = int(rng.integers(pool))
        bids = v.sum(axis=1) * rng.choice(EXTREMES, n)
        bids = mech.enforce_budget(bids, ledger.remaining)
        res = mech.run_round(Reports(bids, v, j), rng)
        ledger.charge(res.charges, t)  # raises BudgetError on an overdraft
        total_cost += float(costs[j](res.outcome))
        assert res.charges.sum() >= float(costs[j](res.outcome)) - 1e-9  # cost covering, each round
    assert total_cost <= shares.sum() * rounds + 1e-9
    assert (ledger.remaining >= -1e-9).all()

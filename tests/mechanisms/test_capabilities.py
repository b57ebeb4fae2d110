"""Declared capabilities (mechanisms.capabilities): which mechanisms have which, how
wrappers forward them, and APEX's explicit round state."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from mechanisms.apex.algorithm1 import (
    Apex,
    ApexRoundState,
    AssignmentProblem,
    ExactMenuApex,
    FiniteApex,
    FiniteArgmax,
    RegularizedAssignment,
)
from mechanisms.apex.algorithm2 import InfinitesimalApex
from mechanisms.apex.hooks import (
    ArgmaxWithoutEach,
    BatchedQuadraticMenu,
    ClosedFormExternalities,
    DeclaredSpan,
    DeclaredTolerance,
    FiniteOutcomeProblem,
    OutcomeAsArray,
    ProblemItemPrices,
    ProblemMenu,
    ProblemMenuBreakpoints,
    QuadraticMenu,
    QuadraticPriceBound,
    QuadraticPriceProblem,
    TangentBasis,
)
from mechanisms.approx_valuations.auctions import SecondPrice
from mechanisms.base import Mechanism, Reports, RoundResult
from mechanisms.bwk.instances import BanditsWithKnapsacks
from mechanisms.capabilities import (
    BudgetRule,
    Currencies,
    ExactMenu,
    FiniteOutcomes,
    MenuStatistic,
    OutcomeAverage,
    PayoffBound,
    currencies,
)
from mechanisms.linked_vcg import Economy, LinkedVCG, ResourceAllocationRound
from mechanisms.matching.two_sided import DeferredAcceptance, TwoSidedMatching
from mechanisms.public_goods.artificial_currency import (
    ArtificialCurrency,
    ExactMenuArtificialCurrency,
    ExactMenuStatisticArtificialCurrency,
    MenuStatisticArtificialCurrency,
)
from mechanisms.public_goods.monetary import Moulin, Proportional, ReportSums
from mechanisms.public_goods.potential import Potential
from mechanisms.voting.mechanisms import Plurality, QuadraticVoting, RandomizedDictatorship, SimplexVoting

RNG = np.random.default_rng(3)
U4 = RNG.random((4, 4))
V43 = RNG.random((4, 3))


def resource_round() -> ResourceAllocationRound:
    econ = Economy(np.array([[3.0, 0.0], [0.0, 3.0], [1.0, 0.5]]), np.array([1.5, 1.2]))
    return ResourceAllocationRound(LinkedVCG(econ, 4, np.zeros((2, 3)), np.ones((2, 3))), np.ones((2, 4, 3)), True)


MECHANISMS = {
    "proportional": lambda: Proportional(),
    "moulin": lambda: Moulin(),
    "potential": lambda: Potential(),
    "currency[proportional]": lambda: ArtificialCurrency(Proportional(), np.full(3, 0.1)),
    "currency[potential]": lambda: ArtificialCurrency(Potential(), np.full(3, 0.1)),
    "apex[assignment]": lambda: Apex(AssignmentProblem(U4)),
    "apex[regularized]": lambda: Apex(RegularizedAssignment(U4, 1e-3)),
    "apex[finite]": lambda: Apex(FiniteArgmax(np.eye(3))),
    "apex[voting]": lambda: Apex(SimplexVoting(V43, 0.5)),
    "apex2[voting]": lambda: InfinitesimalApex(SimplexVoting(V43, 0.5)),
    "apex[matching]": lambda: Apex(TwoSidedMatching(U4[:2, :2], U4[2:, 2:], 0.1)),
    "plurality": lambda: Plurality(V43),
    "dictatorship": lambda: RandomizedDictatorship(V43),
    "quadratic": lambda: QuadraticVoting(V43, 0.5),
    "deferred_acceptance": lambda: DeferredAcceptance(U4[:2, :2], U4[2:, 2:], "hospitals"),
    "bwk": lambda: BanditsWithKnapsacks(np.ones((4, 2)), np.ones((4, 2)), mode="bid", noise="none"),
    "second_price": lambda: SecondPrice(),
    "resource_allocation": resource_round,
}

HAS = {
    ExactMenu: {
        "proportional", "moulin", "potential", "currency[proportional]", "currency[potential]", "apex[assignment]",
    },
    OutcomeAverage: {
        "apex[assignment]",
        "apex[regularized]",
        "apex[finite]",
        "apex[voting]",
        "apex2[voting]",
        "apex[matching]",
        "plurality",
        "dictatorship",
        "quadratic",
        "deferred_acceptance",
    },
    FiniteOutcomes: {"apex[finite]"},
    MenuStatistic: {"proportional", "moulin", "potential", "currency[proportional]", "currency[potential]"},
    PayoffBound: {"resource_allocation"},
    BudgetRule: set(MECHANISMS),
    Currencies: set(),
}


@pytest.mark.parametrize("capability", list(HAS), ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", list(MECHANISMS))
def test_each_capability_is_declared_by_exactly_the_mechanisms_that_have_it(name, capability):
    mech = MECHANISMS[name]()
    assert isinstance(mech, Mechanism)
    assert isinstance(mech, capability) == (name in HAS[capability]), f"{name} / {capability.__name__}"


def test_non_mechanisms_have_no_budget_rule_and_the_default_currency_count_is_one():
    assert not isinstance(object(), BudgetRule)
    assert currencies(Proportional()) == 1

    class TwoTokens(Proportional):
        currencies = 2

    assert isinstance(TwoTokens(), Currencies) and currencies(TwoTokens()) == 2


def test_apex_class_follows_the_problem():
    assert type(Apex(AssignmentProblem(U4))) is ExactMenuApex
    assert type(Apex(FiniteArgmax(np.eye(2)))) is FiniteApex
    assert type(Apex(SimplexVoting(V43, 0.5))) is Apex
    assert type(InfinitesimalApex(SimplexVoting(V43, 0.5))) is InfinitesimalApex
    np.testing.assert_array_equal(Apex(FiniteArgmax(np.eye(2))).outcome_utilities, np.eye(2))
    # copies and pickles keep the class (and so the capabilities)
    mech = Apex(AssignmentProblem(U4))
    assert type(copy.deepcopy(mech)) is ExactMenuApex
    assert type(pickle.loads(pickle.dumps(mech))) is ExactMenuApex
    wrapped = ArtificialCurrency(Moulin(), np.full(2, 0.2))
    assert type(pickle.loads(pickle.dumps(wrapped))) is ExactMenuStatisticArtificialCurrency


PROBLEM_HOOKS = {
    "assignment": (
        AssignmentProblem(U4),
        {
            ClosedFormExternalities, ArgmaxWithoutEach, ProblemMenu, ProblemMenuBreakpoints, ProblemItemPrices,
            OutcomeAsArray, DeclaredSpan, DeclaredTolerance,
        },
    ),
    "regularized": (
        RegularizedAssignment(U4, 1e-3),
        {ArgmaxWithoutEach, ProblemMenu, ProblemItemPrices, OutcomeAsArray, DeclaredSpan, DeclaredTolerance},
    ),
    "finite": (FiniteArgmax(np.eye(3)), {ArgmaxWithoutEach, OutcomeAsArray, DeclaredSpan, FiniteOutcomeProblem}),
    "voting": (
        SimplexVoting(V43, 0.5),
        {
            ArgmaxWithoutEach, ProblemMenu, OutcomeAsArray, DeclaredSpan, DeclaredTolerance, QuadraticPriceProblem,
            TangentBasis, QuadraticPriceBound, BatchedQuadraticMenu, QuadraticMenu,
        },
    ),
}
ALL_HOOKS = set().union(*(hooks for _, hooks in PROBLEM_HOOKS.values())) | {FiniteOutcomeProblem}


@pytest.mark.parametrize("name", list(PROBLEM_HOOKS))
def test_apex_problem_hooks_are_protocols_checked_by_isinstance(name):
    problem, hooks = PROBLEM_HOOKS[name]
    for hook in ALL_HOOKS:
        assert isinstance(problem, hook) == (hook in hooks), f"{name} / {hook.__name__}"


@pytest.mark.parametrize("monetary", [Proportional, Moulin, Potential])
def test_artificial_currency_around_an_exact_menu_mechanism_is_exact_menu(monetary):
    inner = monetary()
    mech = ArtificialCurrency(inner, np.full(4, 0.2))
    assert isinstance(mech, ExactMenu) and isinstance(mech, ExactMenuArtificialCurrency)
    bids = np.array([0.1, 0.5, 0.3, 0.05])
    reports = Reports(bids, np.ones(4))
    agents = np.array([2, 0])
    np.testing.assert_array_equal(mech.menu_breakpoints(reports, agents), inner.menu_breakpoints(reports, agents))
    alts = np.tile([0.0, 0.2, 0.7], (2, 1))
    for a, b in zip(mech.menu_all(alts, reports, agents), inner.menu_all(alts, reports, agents), strict=True):
        np.testing.assert_array_equal(a, b)


def test_artificial_currency_around_a_plain_mechanism_is_not_exact_menu():
    mech = ArtificialCurrency(SecondPrice(), np.full(4, 0.2))
    assert type(mech) is ArtificialCurrency
    assert not isinstance(mech, ExactMenu) and not isinstance(mech, MenuStatistic)


class StatisticOnly(Proportional):
    """A `MenuStatistic` mechanism without exact breakpoints (J = 0)."""

    menu_breakpoints = None  # type: ignore[assignment]

    def breakpoints_from_statistics(self, statistics: np.ndarray) -> np.ndarray:
        return np.zeros((*statistics.shape[:-1], 0))


def test_wrappers_forward_exactly_the_menu_capabilities_of_what_they_wrap():
    inner = StatisticOnly()
    assert isinstance(inner, MenuStatistic) and not isinstance(inner, ExactMenu)
    for mech in (ArtificialCurrency(inner, np.full(4, 0.2)), ArtificialCurrency(inner, np.full(4, 0.2), cost=3.0)):
        assert isinstance(mech, MenuStatistic) and not isinstance(mech, ExactMenu)
    assert type(ArtificialCurrency(inner, np.full(4, 0.2))) is MenuStatisticArtificialCurrency
    both = ArtificialCurrency(Potential(), np.full(4, 0.2), cost=3.0)
    assert isinstance(both, MenuStatistic) and isinstance(both, ExactMenu)
    assert isinstance(both.monetary, MenuStatistic) and isinstance(both.monetary, ExactMenu)


def _played(apex: Apex, lam: np.ndarray, rng: np.random.Generator) -> RoundResult:
    return apex.run_round(Reports(lam, np.ones(lam.shape[0])), rng)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Apex(RegularizedAssignment(U4, 1e-2)),
        lambda: Apex(AssignmentProblem(U4)),
        lambda: Apex(TwoSidedMatching(U4[:2, :2], U4[2:, 2:], 0.1)),
        lambda: InfinitesimalApex(SimplexVoting(V43, 0.5)),
    ],
    ids=["regularized", "assignment", "matching", "apex2"],
)
def test_menu_with_an_earlier_rounds_state_equals_the_menu_right_after_it(make):
    """The menu of round 1, asked for after round 2 was played with other bids, equals the
    one computed right after round 1 (a cache of 'the last round' got this wrong)."""
    rng = np.random.default_rng(5)
    apex = make()
    n = apex.n
    _played(apex, rng.uniform(0.2, 2.0, n), rng)  # move X_t away from X_1
    lam1 = rng.uniform(0.2, 2.0, n)
    res1 = _played(apex, lam1, rng)
    assert isinstance(res1.state, ApexRoundState)
    alts = np.tile([0.0, 0.3, 1.0, 4.0], (n, 1))
    r1 = Reports(lam1, np.ones(n))
    right_after = apex.menu_all(alts, r1, state=res1.state)
    bp_after = apex.menu_breakpoints(r1, state=res1.state) if isinstance(apex, ExactMenu) else None
    # the played bid returns the realized utility and charge of round 1
    played_u, played_c = apex.menu_all(lam1[:, None], r1, state=res1.state)
    np.testing.assert_allclose(played_u[:, 0], res1.utilities, atol=1e-6)
    np.testing.assert_allclose(played_c[:, 0], res1.charges, atol=1e-6)
    _played(apex, rng.uniform(0.2, 2.0, n), rng)  # round 2, other bids
    later = apex.menu_all(alts, r1, np.arange(n), state=res1.state)
    np.testing.assert_array_equal(later[0], right_after[0])
    np.testing.assert_array_equal(later[1], right_after[1])
    if bp_after is not None:
        np.testing.assert_array_equal(apex.menu_breakpoints(r1, state=res1.state), bp_after)


def test_menu_without_state_refers_to_the_round_from_the_current_start():
    """state=None: the round `reports` would play now, from X_t (warm-start state untouched)."""
    rng = np.random.default_rng(2)
    apex = Apex(RegularizedAssignment(U4, 1e-2))
    _played(apex, rng.uniform(0.2, 2.0, 4), rng)
    lam = rng.uniform(0.2, 2.0, 4)
    twin = copy.deepcopy(apex)
    alts = np.tile([0.0, 0.5, 2.0], (4, 1))
    u, c = apex.menu_all(alts, Reports(lam, np.ones(4)))
    res = twin.run_round(Reports(lam, np.ones(4)), rng)
    u2, c2 = twin.menu_all(alts, Reports(lam, np.ones(4)), state=res.state)
    np.testing.assert_allclose(u, u2, atol=1e-9)
    np.testing.assert_allclose(c, c2, atol=1e-9)


def test_a_foreign_state_is_rejected_with_a_clear_error():
    apex = Apex(AssignmentProblem(U4))
    with pytest.raises(ValueError, match="state must be the ApexRoundState"):
        apex.menu_all(np.zeros((4, 1)), Reports(np.ones(4), np.ones(4)), state={"lam": np.ones(4)})


def test_round_results_carry_typed_fields():
    apex = Apex(AssignmentProblem(U4))
    res = _played(apex, np.ones(4), np.random.default_rng(0))
    assert res.allocated is True and res.item_prices is not None and res.item_prices.shape == (4,)
    assert "item_prices" not in res.extras and "allocated" not in res.extras
    res = Proportional().run_round(Reports(np.array([0.1, 0.2]), np.ones(2)), np.random.default_rng(0))
    assert res.allocated is False and res.item_prices is None
    # Proportional's round state: the report total its menus and recorded statistic reuse
    assert isinstance(res.state, ReportSums) and res.state.total == pytest.approx(0.3)
    np.testing.assert_allclose(res.state.others, [0.2, 0.1])

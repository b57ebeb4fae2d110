"""Contract every registered learner keeps (docs/architecture.md): strict alternation, checkpoint
round trip, non-negative reports, 0 once the budget is gone, and no overdrawn ledger.

Parametrized over the learner registry's names read at collection time; tests/conftest.py
loads the contract plug-ins (tests/helpers.py `CONTRACT_PLUGINS`) first, so a plug-in's
learner goes through the same contract."""

import numpy as np
import pytest
from helpers import registered_by_contract_plugins
from hypothesis import given, settings
from hypothesis import strategies as st

import abm
from agents import LEARNERS, AlternationError, Feedback, Observation, make_learner
from mechanisms.bwk.instances import BanditsWithKnapsacks

NAMES = sorted(LEARNERS)
MEANS_R = [0.0, 0.3, 0.6, 0.8]
MEANS_C = [0.0, 0.1, 0.5, 0.9]


@pytest.mark.parametrize("name", NAMES)
def test_alternation_is_enforced(name):
    lr = make_learner(name, 2, np.ones(2) * 5, 10, np.random.default_rng(0))
    with pytest.raises(AlternationError):
        lr.observe(Feedback(0, np.zeros(2), np.zeros(2), np.zeros(2), np.ones(2)))
    obs = Observation(0, np.ones(2), np.ones(2) * 5)
    lr.act(obs)
    with pytest.raises(AlternationError):
        lr.act(obs)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_reproduces_the_future(name, play):
    """Checkpoint after 30 rounds, restore into a fresh cohort built with another seed: the
    next 30 rounds' reports coincide with the original's."""
    budgets = np.full(4, 20.0)
    mech_args = (MEANS_R, MEANS_C)
    a = make_learner(name, 4, budgets, 60, np.random.default_rng(1))
    _, _, rem = play(a, BanditsWithKnapsacks(*mech_args, mode="bid"), budgets, 30, np.random.default_rng(2))
    state = a.state_dict()
    b = make_learner(name, 4, budgets, 60, np.random.default_rng(99))
    b.load_state_dict(state)
    ra, _, _ = play(a, BanditsWithKnapsacks(*mech_args, mode="bid"), rem, 30, np.random.default_rng(3), t0=30)
    rb, _, _ = play(b, BanditsWithKnapsacks(*mech_args, mode="bid"), rem, 30, np.random.default_rng(3), t0=30)
    assert np.array_equal(ra, rb)
    # The checkpoint is a snapshot, not a view of live state.
    assert all(not isinstance(v, np.ndarray) or not np.shares_memory(v, vars(a).get(k, np.empty(0)))
               for k, v in state.items())


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(NAMES),
    st.lists(st.floats(0.0, 3.0), min_size=1, max_size=6),
    st.lists(st.floats(0.0, 2.0), min_size=6, max_size=6),
    st.integers(0, 1000),
)
def test_reports_are_finite_nonnegative_and_zero_without_budget(name, budgets, values, seed):
    m = len(budgets)
    budgets = np.array(budgets)
    budgets[0] = 0.0  # at least one depleted agent
    lr = make_learner(name, m, np.full(m, 3.0), 50, np.random.default_rng(seed))
    r = lr.act(Observation(5, np.array(values[:m]), budgets))
    assert r.shape == (m,) and np.all(np.isfinite(r)) and np.all(r >= 0)
    assert np.all(r[budgets <= 0] == 0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scenario", ["bwk-stochastic", "public-goods"])
def test_no_learner_overdraws_a_budget_through_the_model(name, scenario):
    """Small budgets, 300 rounds: the ledger (which raises on an overdraft) accepts every
    charge, spend never exceeds the budget, and depleted agents end up reporting 0."""
    res = abm.run(
        {
            "scenario": scenario,
            "agents": 4,
            "rounds": 300,
            "seed": 5,
            "record_menus": False,
            "agent_records": "on",
            "learner": {"name": name},
            **({"params": {"budget_fraction": 0.02, "mode": "bid"}} if scenario == "bwk-stochastic" else {}),
        },
        progress=False,
    )
    t = res.agent_table
    assert np.all(t["spent"] <= t["budget"] + 1e-9)
    rec = res.agents
    dep = dict(zip(t["agent"], t["depletion_round"], strict=True))
    after = rec[[d >= 0 and r > d for r, d in zip(rec["round"], rec["agent"].map(dep), strict=True)]]
    assert np.all(after["report"] == 0)


def test_names_are_the_registered_learners_including_the_contract_plugins():
    """Iterating the registry gives the names (not entries or classes), each a learner class,
    and the learners of the contract plug-ins are among them."""
    assert all(isinstance(n, str) and isinstance(LEARNERS[n], type) for n in NAMES)
    assert sorted(e.name for e in LEARNERS.entries(None)) == NAMES
    plugged = [e.name for e in registered_by_contract_plugins(LEARNERS)]
    assert plugged, "the contract plug-ins register no learner"
    assert set(plugged) <= set(NAMES)

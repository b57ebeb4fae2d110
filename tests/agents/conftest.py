"""A minimal round loop for driving one learner cohort against a mechanism in tests
(the same order of operations as `abm.model.MechanismModel.step`, without Mesa)."""

from __future__ import annotations

import numpy as np
import pytest

from agents import Feedback, Learner, Observation
from mechanisms.base import Mechanism, Reports


def drive(learner: Learner, mech: Mechanism, budgets: np.ndarray, rounds: int, rng, t0: int = 0, values=None):
    """Play `rounds` rounds from round t0; returns (reports (T, m), utility (m,), remaining (m,))."""
    remaining = np.asarray(budgets, dtype=float).copy()
    vals = np.ones(learner.n_agents) if values is None else values
    util = np.zeros(learner.n_agents)
    history = []
    for t in range(t0, t0 + rounds):
        obs = Observation(t, vals, remaining.copy())
        bids = mech.enforce_budget(learner.act(obs), remaining)
        rep = Reports(bids, vals)
        res = mech.run_round(rep, rng)
        assert np.all(res.charges <= remaining + 1e-9), "a charge overdrew a budget"
        remaining = np.maximum(remaining - res.charges, 0.0)
        util += res.utilities
        fb = Feedback(t, bids, res.utilities, res.charges, remaining.copy())
        if learner.feedback == "full":
            alts = learner.alternatives(obs)
            fb = fb.with_menu(alts, *mech.menu_all(alts, rep, state=res.state))
        learner.observe(fb)
        history.append(bids)
    return np.array(history), util, remaining


@pytest.fixture
def play():
    """The `drive` loop, as a fixture (test modules are imported without a package path)."""
    return drive

"""The free-riding deviation the artificial currency must withstand (Onyeze, Lin, Banerjee, Tardos
2025, abstract and §1: "agents may attempt to free-ride by declaring low valuations for the good
when they know other agents have high values").

With correlated values an agent's own high value tells it the others value the good highly
too. The free rider reports 0 on the rounds where its value is in its top 1 - q (it expects the
others to buy the good without it) and scales its value on the other rounds, with its scale
re-solved so it still spends its share (C_i = alpha_i, Definition 3.3: the saved credits buy
more of the low rounds); everyone else plays the focal pacing equilibrium. Under Proportional
(not IC) the good is still bought when the others' reports cover it, and then everyone is
served, the free rider for nothing: it gains. Under Moulin or Potential (IC) a zero report is
excluded, so the high rounds are lost: the deviation does not pay (Theorem 3.7: the focal
profile is an approximate equilibrium against every adaptive strategy).

`free_riding_gain` prices it ex ante, on samples of the value distribution with common random
numbers: U_i = E[V_i 1[i served]] per round, before anyone depletes (Definition 3.2 at the
time-independent profile).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mechanisms.base import Mechanism
from mechanisms.public_goods.pacing_equilibrium import BETA_MIN, PacingEquilibrium, expected_costs, pacing_equilibrium


@dataclass(frozen=True, slots=True)
class FreeRidingGain:
    """agent: the deviator; quantile q: it reports 0 when its value is above its q-quantile
    `threshold`; utility_focal / utility_deviation: its per-round expected value served at the
    focal profile and after deviating; gain = utility_deviation / utility_focal - 1; beta: its
    re-solved scale on the rounds it still bids; spend: its expected payment after deviating
    (its share, up to the solver's tolerance, unless it cannot spend it); converged: the
    re-solve met its tolerance."""

    agent: int
    quantile: float
    threshold: float
    utility_focal: float
    utility_deviation: float
    gain: float
    beta: float
    spend: float
    converged: bool

    def report(self) -> dict[str, float | int | bool]:
        return {
            "agent": self.agent,
            "quantile": self.quantile,
            "threshold": self.threshold,
            "utility_focal": self.utility_focal,
            "utility_deviation": self.utility_deviation,
            "gain": self.gain,
            "beta": self.beta,
            "spend": self.spend,
            "converged": self.converged,
        }


def served_value(mechanism: Mechanism, samples: np.ndarray, bids: np.ndarray, agent: int, seed: int) -> float:
    """E[V_agent 1[agent served]] on the samples when the agents bid `bids` (N, n)."""
    outcomes, _ = mechanism.run_rounds(bids, samples, np.random.default_rng(seed))
    served = np.asarray(outcomes, dtype=bool).reshape(samples.shape)
    return float((samples[:, agent] * served[:, agent]).mean())


def free_riding_gain(
    mechanism: Mechanism,
    samples: np.ndarray,
    focal: PacingEquilibrium,
    rng: np.random.Generator,
    *,
    agent: int = 0,
    quantile: float = 0.5,
) -> FreeRidingGain:
    """The free-riding deviation of `agent` against the focal profile `focal` (module docstring)."""
    x = np.asarray(samples, dtype=np.float64)
    n = x.shape[1]
    if not 0 <= agent < n:
        raise ValueError(f"agent must lie in [0, {n}), got {agent}")
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must lie in (0, 1), got {quantile}")
    seed = int(rng.integers(2**63))
    threshold = float(np.quantile(x[:, agent], quantile))
    focal_value = served_value(mechanism, x, x / focal.beta, agent, seed)
    reported = x.copy()
    reported[:, agent] = np.where(x[:, agent] > threshold, 0.0, x[:, agent])
    free = np.zeros(n, dtype=bool)
    free[agent] = True
    try:
        dev = pacing_equilibrium(mechanism, x, focal.targets, rng, beta0=focal.beta, free=free, reported=reported)
        beta, spend, converged = float(dev.beta[agent]), float(dev.costs[agent]), dev.converged
    except ValueError:
        # Even bidding 1000x its low values does not spend its share: it keeps that most aggressive scale.
        beta = float(focal.beta[agent] * BETA_MIN)
        scaled = np.where(free, beta, focal.beta)
        spend = float(expected_costs(mechanism, reported, scaled, np.random.default_rng(seed))[agent])
        converged = False
    scaled = np.where(free, beta, focal.beta)
    dev_value = served_value(mechanism, x, reported / scaled, agent, seed)
    gain = dev_value / focal_value - 1.0 if focal_value > 0 else float("inf") if dev_value > 0 else 0.0
    return FreeRidingGain(agent, quantile, threshold, focal_value, dev_value, gain, beta, spend, converged)

"""The Problem 7 parts of the `bwk-ratio` study (Braverman 2021 §2.3.3, variants 1-5).

One algorithm, LagrangeBwK (Immorlica et al. 2019), in both feedback models (primal Exp3:
bandit; primal Hedge: experts) in each game of `bwk-variants` (arm, closure, concave), so
the variants differ only in what Problem 7 varies:

- "toy-<game>": the §2.3.3 toy instance; the hardness (worst case <= 2/3) persists in every
  variant — the paper says so for experts feedback; it holds for the closure and the concave
  game too, since nothing about the second half is revealed before it starts;
- "stationary-<feedback>": the stochastic arms played at their means (a deterministic
  stationary menu), ratio to the hindsight optimum (= the LP) against T: every variant's
  ratio rises towards 1;
- "bernoulli": the Bernoulli arms, one horizon: variant 5 sees each round's realized menu
  before deciding and nearly attains Definition 3's hindsight optimum, while variants 1-4
  stay far below it — on i.i.d. menus the variants' regrets differ by Theta(T), so Problem
  7's equivalence needs the menus to be (nearly) predictable, which the paper leaves open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from abm.runs.study import Claim, Part, StudyData
from mechanisms.registry import BRAVERMAN, cite

if TYPE_CHECKING:
    import pandas as pd

PROBLEM7 = cite(BRAVERMAN, "§2.3.3, Problem 7")
GAME = "params.game"
BASE = "learner.params.base"
RATIO = "scenario_summary.ratio_mean"
R2 = "params.second_half_reward"
GAMES = ("arm", "closure", "concave")
#: Problem 7's variant of (game, primal): Exp3 is bandit feedback, Hedge experts.
VARIANT = {("arm", "exp3"): "1", ("arm", "hedge"): "2", ("closure", "exp3"): "3", ("closure", "hedge"): "4",
           ("concave", "exp3"): "5", ("concave", "hedge"): "5"}
FEEDBACK = {"exp3": "bandit", "hedge": "experts"}
TOY_BOUND = 2.0 / 3.0


def variant_parts(quick: bool, replications: int) -> list[Part]:
    toy_rounds, seeds = (400, 2) if quick else (2000, 5)
    horizons = [300, 1000] if quick else [1000, 5000, 20000]
    bern_rounds = 600 if quick else 10000
    common = {"agents": replications, "record_menus": False, "record.agents": 0, "learner.name": "lagrange_bwk"}
    parts = [
        Part(f"toy-{g}", base="bwk-variants", axes={BASE: list(FEEDBACK), R2: [2.0, 0.0]},
             overrides={**common, "rounds": toy_rounds, "params.instance": "toy", GAME: g}, seeds=seeds)
        for g in GAMES
    ]
    parts += [
        Part(f"stationary-{fb}", base="bwk-variants", axes={GAME: list(GAMES), "rounds": horizons},
             overrides={**common, "params.noise": "none", BASE: base}, seeds=seeds)
        for base, fb in FEEDBACK.items()
    ]
    parts.append(Part("bernoulli", base="bwk-variants", axes={GAME: list(GAMES), BASE: list(FEEDBACK)},
                      overrides={**common, "rounds": bern_rounds, "params.noise": "bernoulli"}, seeds=seeds))
    return parts


def toy_worst(data: StudyData) -> pd.DataFrame:
    """Per game and feedback: the worst case over the two second halves (per seed the
    smaller ratio), averaged over seeds, and its maximum over seeds."""
    import pandas as pd

    rows = []
    for g in GAMES:
        runs = data.part(f"toy-{g}")
        per_seed = runs.pivot_table(index=[BASE, "seed"], columns=R2, values=RATIO).min(axis=1)
        for base, cell in per_seed.groupby(level=0):
            rows.append({"game": g, "feedback": FEEDBACK[str(base)], "variant": VARIANT[(g, str(base))],
                         "worst": float(cell.mean()), "worst_max": float(cell.max())})
    return pd.DataFrame(rows)


def stationary_table(data: StudyData) -> pd.DataFrame:
    import pandas as pd

    frames = []
    for base, fb in FEEDBACK.items():
        runs = data.part(f"stationary-{fb}")
        t = runs.groupby([GAME, "rounds"])[RATIO].mean().reset_index()
        frames.append(t.assign(feedback=fb, variant=[VARIANT[(g, base)] for g in t[GAME]]))
    return pd.concat(frames).rename(columns={GAME: "game", RATIO: "ratio"})[
        ["variant", "game", "feedback", "rounds", "ratio"]]


def bernoulli_table(data: StudyData) -> pd.DataFrame:
    runs = data.part("bernoulli")
    t = runs.groupby([GAME, BASE])[[RATIO, "scenario_summary.ratio_lp_mean"]].mean().reset_index()
    t["variant"] = [VARIANT[(g, b)] for g, b in zip(t[GAME], t[BASE], strict=True)]
    t["feedback"] = t[BASE].map(FEEDBACK)
    return t.rename(columns={GAME: "game", RATIO: "ratio_hindsight", "scenario_summary.ratio_lp_mean": "ratio_lp"})[
        ["variant", "game", "feedback", "ratio_hindsight", "ratio_lp"]]


def oracle_gap(seed: int = 0, rounds: int = 40, k: int = 4) -> float:
    """max |difference| between the concave game's water-filling optimum, the hindsight
    optimum and HiGHS on the Definition 3 LP, over three budgets of one random instance."""
    from scipy.optimize import linprog

    from mechanisms.bwk.instances import hindsight_opt
    from mechanisms.bwk.variants import concave_game_opt

    rng = np.random.default_rng(seed)
    u, c = rng.random((rounds, k)), rng.random((rounds, k))
    gap = 0.0
    for budget in (0.1 * rounds, 0.3 * rounds, 0.6 * rounds):
        rows = np.kron(np.eye(rounds), np.ones(k))  # sum_i q_{t,i} <= 1 per round
        res = linprog(-u.ravel(), A_ub=np.vstack([c.ravel(), rows]), b_ub=np.r_[budget, np.ones(rounds)],
                      bounds=(0, None), method="highs")
        lp = -float(res.fun)
        gap = max(gap, abs(concave_game_opt(u, c, budget) - lp), abs(hindsight_opt(u, c, budget) - lp))
    return gap


def variant_claims(data: StudyData, tol: float) -> tuple[list[Claim], dict[str, pd.DataFrame], list[str]]:
    gap = oracle_gap()
    toy = toy_worst(data)
    stat = stationary_table(data)
    bern = bernoulli_table(data)
    t_lo, t_hi = int(stat["rounds"].min()), int(stat["rounds"].max())
    wide = stat.pivot_table(index=["variant", "game", "feedback"], columns="rounds", values="ratio")
    rising = wide[t_hi] - wide[t_lo]
    at_hi = stat[stat["rounds"] == t_hi].set_index(["game", "feedback"])["ratio"]
    five = float(bern.loc[bern["game"] == "concave", "ratio_hindsight"].min())
    others = float(bern.loc[bern["game"] != "concave", "ratio_hindsight"].max())
    claims = [
        Claim(quantity="concave game (water-filling) and hindsight optimum vs HiGHS on the Definition 3 LP",
              paper="one optimum for every variant (LP duality)", citation=PROBLEM7,
              measured=f"max |gap| = {gap:.1e}", holds=bool(gap <= 1e-6)),
        Claim(quantity="toy: highest worst-case ratio of LagrangeBwK over variants 1-5",
              paper="<= 2/3; 'persists even in the experts with knapsacks model'", citation=PROBLEM7,
              measured=", ".join(f"v{r.variant} {r.game}/{r.feedback}: {r.worst:.3f}" for r in toy.itertuples()),
              holds=bool(toy["worst_max"].max() <= TOY_BOUND + tol)),
        Claim(quantity=f"stationary menu: every variant's ratio to OPT, T = {t_lo} -> {t_hi}",
              paper="rises towards 1 (regret o(T) when the menu is stationary)", citation=PROBLEM7,
              measured=", ".join(f"v{v} {g}/{f}: {wide.loc[(v, g, f), t_lo]:.3f} -> {wide.loc[(v, g, f), t_hi]:.3f}"
                                 for v, g, f in wide.index),
              holds=bool((rising > 0).all())),
        Claim(quantity=f"stationary menu, T = {t_hi}: experts minus bandit feedback, per game",
              paper="experts feedback is no harder (Problem 7, 1 vs 2, 3 vs 4)", citation=PROBLEM7,
              measured=", ".join(f"{g}: {at_hi[(g, 'experts')] - at_hi[(g, 'bandit')]:+.3f}" for g in GAMES),
              holds=None),
        Claim(quantity="i.i.d. Bernoulli menus: ratio to the hindsight optimum, variant 5 vs best of 1-4",
              paper="Problem 7 asks whether the regrets agree up to o(T)", citation=PROBLEM7,
              measured=f"{five:.3f} vs {others:.3f}", holds=bool(five - others >= 0.3)),
    ]
    notes = [
        "Problem 7 (Braverman 2021 §2.3.3): variant 2 and 4 are variants 1 and 3 with experts feedback; here "
        "the same algorithm (LagrangeBwK) runs with an Exp3 primal (bandit) and a Hedge primal (experts). "
        "Variant 5 is open about how a learner that cannot see R_t plays it; mechsim implements the smallest "
        "faithful instance, Braverman's own reduction (§2.1.1): the player reports an exchange rate lambda and "
        "the mechanism, which sees the round's menu, spends argmax lambda R_t(c) - c.",
        "Eq. (24), R_t(c) = max_i min(r_i c / c_i, r_i), is called concave in the paper; it is only when one "
        "arm is undominated per round (arms (1, 1) and (2, 1.5) give R(1) = R(4/3) = 1 < R(2) = 1.5). The "
        "benchmarks use its concave envelope, which is what mixing arms buys and what Definition 3's "
        "distributions over sequences allow.",
        f"On i.i.d. Bernoulli menus variant 5 reaches {five:.3f} of the hindsight optimum and variants 1-4 at "
        f"most {others:.3f}: seeing the realized menu before deciding is worth Theta(T), so the variants' "
        "regrets agree up to o(T) only on (nearly) predictable menus, such as the stationary one, where all "
        "five rise towards 1.",
    ]
    return claims, {"problem7_toy": toy, "problem7_stationary": stat, "problem7_bernoulli": bern}, notes

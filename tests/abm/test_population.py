"""Mixed populations: groups, their agent ranges, named streams, per-group outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import abm
from abm.backends import build_cohorts, population_cohorts
from abm.cli.main import main
from abm.config import ConfigError, RunConfig, largest_remainder
from abm.resolve import resolve_config
from abm.streams import Streams
from agents.base import Observation

PACERS_AND_DEVIANT = [
    {"name": "pacers", "count": 8, "learner": "adaptive_pacing", "params": {"step_size": 0.05}},
    {"name": "deviant", "count": 1, "learner": "lagrange_bwk"},
]


def config(population, **kw):
    return RunConfig.from_mapping({"scenario": "public-goods", "rounds": 200, "population": population, **kw})


def test_count_groups_fix_the_number_of_agents_and_ranges():
    cfg = config(PACERS_AND_DEVIANT, agents=5)  # agents is derived from the counts
    assert cfg.agents == 9
    groups = cfg.groups()
    assert [(g.name, g.start, g.stop, g.learner) for g in groups] == [
        ("pacers", 0, 8, "adaptive_pacing"),
        ("deviant", 8, 9, "lagrange_bwk"),
    ]
    assert groups[0].params == {"step_size": 0.05} and groups[1].params == {}


def test_fractions_split_the_free_agents_and_sum_to_agents():
    cfg = config(
        [
            {"name": "a", "fraction": 0.7, "learner": "truthful"},
            {"name": "b", "fraction": 0.3, "learner": "hedge"},
            {"name": "c", "count": 1},
        ],
        agents=10,
    )
    sizes = {g.name: g.size for g in cfg.groups()}
    assert sizes == {"a": 6, "b": 3, "c": 1}  # 9 free agents: 6.3 -> 6, 2.7 -> 3
    assert sum(sizes.values()) == 10


@pytest.mark.parametrize(
    ("weights", "total"),
    [([1 / 3, 1 / 3, 1 / 3], 10), ([0.5, 0.25, 0.25], 7), ([0.05, 0.95], 3), ([1.0], 4)],
)
def test_largest_remainder_sums_and_stays_within_one_of_the_quota(weights, total):
    out = largest_remainder(weights, total)
    assert sum(out) == total
    quotas = np.asarray(weights) / sum(weights) * total
    assert np.all(np.abs(np.asarray(out) - quotas) < 1)


def test_a_group_without_learner_uses_the_learner_table():
    cfg = config(
        [{"name": "x", "count": 2}, {"name": "y", "count": 1, "learner": "truthful"}],
        learner={"name": "adaptive_pacing", "params": {"step_size": 0.2}},
    )
    x, y = cfg.groups()
    assert (x.learner, x.params) == ("adaptive_pacing", {"step_size": 0.2})
    assert (y.learner, y.params) == ("truthful", {})


def test_the_learner_table_alone_is_one_group():
    cfg = RunConfig.from_mapping({"scenario": "public-goods", "agents": 4, "learner": {"name": "truthful"}})
    (g,) = cfg.groups()
    assert (g.name, g.start, g.stop, g.learner) == ("all", 0, 4, "truthful")


@pytest.mark.parametrize(
    ("population", "message"),
    [
        ([{"name": "deviant", "count": 1, "learner": "lagrange_bkw"}],
         "population.deviant.learner: unknown learner 'lagrange_bkw'; available: "),
        ([{"name": "p", "count": 1, "learner": "adaptive_pacing", "params": {"stepsize": 1}}],
         "population.p.params.stepsize"),
        ([{"name": "p", "count": 2, "fraction": 0.5}], "population.p: give exactly one of count or fraction"),
        ([{"name": "p", "count": 1}, {"name": "p", "count": 1}], "group names must be unique"),
        ([{"name": "p", "fraction": 0.01}, {"name": "q", "fraction": 0.99}], "population.p"),
        ([{"name": "p", "fraction": 0.8}, {"name": "q", "fraction": 0.8}], "fractions must sum to <= 1"),
        ([{"name": "p", "count": 0}], "population.0.count"),
        ([{"name": "9lives", "count": 1}], "population.0.name"),
        ([], "at least one group"),
    ],
)
def test_bad_groups_are_refused_naming_the_group(population, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        config(population, agents=10)


def test_set_population_group_field():
    cfg = resolve_config({"scenario": "public-goods", "population": PACERS_AND_DEVIANT},
                         {"population.deviant.count": 2})
    assert [(g.name, g.size) for g in cfg.groups()] == [("pacers", 8), ("deviant", 2)] and cfg.agents == 10
    with pytest.raises(ConfigError, match="no population group named 'deviants'; groups: pacers, deviant"):
        resolve_config({"scenario": "public-goods", "population": PACERS_AND_DEVIANT},
                       {"population.deviants.count": 2})


def test_cli_set_population_count(tmp_path, capsys):
    toml = tmp_path / "mixed.toml"
    toml.write_text(
        'scenario = "public-goods"\nrounds = 60\nrecord_menus = false\n\n'
        '[[population]]\nname = "pacers"\ncount = 3\nlearner = "adaptive_pacing"\n\n'
        '[[population]]\nname = "deviant"\ncount = 1\nlearner = "truthful"\n'
    )
    out = tmp_path / "out"
    assert main(["run", str(toml), "--set", "population.deviant.count=2", "--out", str(out), "--quiet"]) == 0
    table = pd.read_parquet(out / "metrics.parquet")
    assert table["group"].tolist() == ["pacers"] * 3 + ["deviant"] * 2
    assert main(["run", str(toml), "--set", "population.deviant.learner=lagrange_bkw", "--quiet"]) == 2
    assert "population.deviant.learner: unknown learner 'lagrange_bkw'" in capsys.readouterr().err


def test_unsupported_override_is_refused_before_the_run():
    with pytest.raises(ConfigError, match=r"population\.p\.budget: scenario 'public-goods' has no per-agent budgets"):
        abm.MechanismModel(config([{"name": "p", "count": 2, "budget": 3.0}]))


def test_share_override_sets_the_group_budget_to_its_share_times_t():
    cfg = config([{"name": "rich", "count": 1, "share": 0.3}, {"name": "rest", "count": 3}],
                 params={"alpha": 0.4})
    model = abm.MechanismModel(cfg)
    np.testing.assert_allclose(model.ledger.initial, np.array([0.3, 0.1, 0.1, 0.1]) * 200)


def test_budget_override_on_a_budgeted_scenario():
    cfg = RunConfig.from_mapping({
        "scenario": "voting", "rounds": 20,
        "population": [{"name": "a", "count": 2}, {"name": "b", "count": 2, "budget": 7.5}],
    })
    model = abm.MechanismModel(cfg)
    assert model.ledger.initial[2:].tolist() == [7.5, 7.5]
    assert model.ledger.initial[0] != 7.5


def test_group_streams_do_not_depend_on_other_groups():
    """Resizing or adding a group leaves another group's learner draws unchanged."""
    def first_reports(population):
        cfg = config(population, agents=20)
        specs = population_cohorts(cfg.groups(), Streams(cfg.seed), cohort_size=2)
        budgets = np.full(cfg.agents, 50.0)
        cohorts = build_cohorts(specs, budgets, horizon=10)
        values = np.full(cfg.agents, 0.7)  # the same for every agent, wherever its group sits
        obs = Observation(0, values, budgets)
        out = {}
        for c in cohorts:
            out.setdefault(c.group, []).append(c.learner.act(obs.take(c.span)))
        return {g: np.concatenate(v) for g, v in out.items()}

    noisy = {"name": "noisy", "count": 5, "learner": "uniform_random"}
    base = first_reports([noisy, {"name": "other", "count": 3, "learner": "uniform_random"}])
    resized = first_reports([noisy, {"name": "other", "count": 7, "learner": "uniform_random"}])
    added = first_reports([{"name": "first", "count": 4, "learner": "uniform_random"}, noisy])
    np.testing.assert_array_equal(base["noisy"], resized["noisy"])
    np.testing.assert_array_equal(base["noisy"], added["noisy"])
    assert not np.array_equal(base["noisy"][:3], base["other"])  # distinct streams per group


def test_mixed_run_reports_per_group_metrics(tmp_path):
    res = abm.run(
        {"scenario": "public-goods", "rounds": 400, "seed": 2, "population": [
            {"name": "pacers", "count": 4, "learner": "adaptive_pacing"},
            {"name": "truthful", "count": 2, "learner": "truthful"},
            {"name": "hedgers", "count": 2, "learner": "hedge"},
        ]},
        out=tmp_path, progress=False,
    )
    table = pd.read_parquet(tmp_path / "metrics.parquet")
    agents = pd.read_parquet(tmp_path / "agents.parquet")
    assert table["group"].tolist() == ["pacers"] * 4 + ["truthful"] * 2 + ["hedgers"] * 2
    assert table["learner"].tolist() == ["adaptive_pacing"] * 4 + ["truthful"] * 2 + ["hedge"] * 2
    assert (agents.groupby("agent")["group"].first() == table.set_index("agent")["group"]).all()
    groups = res.summary["groups"]
    assert list(groups) == ["pacers", "truthful", "hedgers"]
    for name, rows in table.groupby("group"):
        g = groups[name]
        assert g["agents"] == len(rows)
        assert g["n_depleted"] == int((rows["depletion_round"] >= 0).sum())
        assert g["utility_mean"] == pytest.approx(rows["utility"].mean())
        assert g["strong_regret_per_round_max"] == pytest.approx(rows["strong_regret_per_round"].max())
        assert g["spend_rate_error_final_mean"] == pytest.approx(rows["spend_rate_error_final"].mean())
    assert res.summary["population"] == [
        {"group": "pacers", "learner": "adaptive_pacing", "agents": 4},
        {"group": "truthful", "learner": "truthful", "agents": 2},
        {"group": "hedgers", "learner": "hedge", "agents": 2},
    ]
    # Truthful bidders report their values; the group's reports show it.
    tr = agents[agents["group"] == "truthful"]
    assert (tr["report"] >= 0).all() and tr["report"].max() > 0


def test_per_agent_beta_list_is_sliced_across_cohorts():
    """value_scaling's beta as one entry per agent of the group (LearnerParams.per_agent): with
    cohorts of 2 every agent still reports V_i / beta_i."""
    from abm.runs.runner import run

    beta = [1.0, 2.0, 3.0, 4.0, 5.0]
    result = run("public-goods", overrides={"agents": 5, "rounds": 30, "cohort_size": 2,
                                            "learner.name": "value_scaling", "learner.params.beta": beta},
                 progress=False)  # fmt: skip
    values, reports = result.model.trace.values[:30], result.model.trace.reports[:30]
    bid = reports > 0
    assert bid[:, 4].any() and bid[:, 0].any()
    np.testing.assert_allclose((values / np.where(bid, reports, 1.0))[bid], np.broadcast_to(beta, values.shape)[bid])

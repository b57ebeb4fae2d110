"""The shared registry helper and the registries built on it (mechanisms, learners,
scenarios, studies)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from abm.config import ConfigError
from abm.runs.study import STUDIES, RegretStudy
from abm.scenario import SCENARIOS, Scenario, ScenarioInstance, ScenarioParams, get_scenario, register_scenario
from agents import LEARNERS, make_learner, register_learner
from agents.pacing import AdaptivePacing, Truthful
from mechanisms.public_goods.monetary import MONETARY_MECHANISMS, Moulin, Proportional
from mechanisms.registry import (
    MECHANISMS,
    Citation,
    Registry,
    RegistryError,
    UnknownNameError,
    canonical,
    register_mechanism,
)


def test_names_are_canonical_and_unknown_names_list_the_available_ones():
    reg: Registry[object] = Registry("widget", "params.widget")
    a, b = object(), object()
    reg.add("Big_Widget", a, doc="the big one")
    reg.add("small-widget", b)
    assert reg["big-widget"] is a and reg["BIG_WIDGET"] is a and "Small_Widget" in reg
    assert list(reg) == ["Big_Widget", "small-widget"] and len(reg) == 2
    assert reg.entry("big_widget").doc == "the big one"
    msg = r"params.widget: unknown widget 'nope'; available: Big_Widget, small-widget"
    with pytest.raises(UnknownNameError, match=msg):
        reg["nope"]
    assert canonical(" Public_Goods ") == "public-goods"


def test_a_different_object_under_a_taken_name_is_an_error_the_same_object_a_no_op():
    reg: Registry[object] = Registry("widget", "widget")
    a = object()
    reg.add("w", a)
    reg.add("W", a)  # a reload registers the same object again: fine
    with pytest.raises(RegistryError, match="already registered"):
        reg.add("w", object())
    assert reg.pop("w") is a and "w" not in reg


def test_decorator_and_function_forms_and_families():
    reg: Registry[object] = Registry("mechanism", "params.mechanism")

    @reg.register("alpha", family="f1", citation=Citation("A. Author", "A title", "§2"))
    def alpha() -> str:
        """Alpha: the first one.

        More text that is not the one-line doc."""
        return "a"

    reg.add("alpha", len, family="f2")  # the same name in another family is another entry
    assert reg.get("alpha", family="f1") is alpha and reg.get("alpha", family="f2") is len
    e = reg.entry("alpha", "f1")
    assert (e.name, e.family, e.doc) == ("alpha", "f1", "Alpha: the first one.")
    assert str(e.citation) == "A. Author, *A title*, §2"
    assert reg.families() == ["f1", "f2"] and [x.family for x in reg.find("ALPHA")] == ["f1", "f2"]
    with pytest.raises(UnknownNameError, match="unknown mechanism 'beta' in family 'f1'; available: alpha"):
        reg.get("beta", family="f1")
    assert "alpha" not in reg  # mapping access is for entries without a family


def test_built_in_mechanisms_by_family():
    assert set(MECHANISMS.families()) >= {"public_goods", "voting", "matching", "approx_valuations"}
    def built_in(family):  # the contract plug-in (tests/helpers.py) adds to public_goods
        return [e.name for e in MECHANISMS.entries(family) if e.obj.__module__.startswith("mechanisms.")]

    assert built_in("public_goods") == ["moulin", "potential", "proportional"]
    assert built_in("voting") == ["apex", "apex2", "dictatorship", "plurality", "quadratic"]
    assert built_in("matching") == ["apex", "da_doctors", "da_hospitals"]
    assert MECHANISMS.get("moulin", family="public_goods") is Moulin
    assert dict(MONETARY_MECHANISMS)["proportional"] is Proportional  # the old name is a view
    u = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]])
    for name in MECHANISMS.names("voting"):
        mech = MECHANISMS.get(name, family="voting")(u, 0.1)
        assert hasattr(mech, "run_round")
    for entry in MECHANISMS.entries():  # every built-in cites its paper; a plug-in may not
        assert entry.doc
        if entry.obj.__module__.startswith("mechanisms."):
            assert entry.citation is not None and "seed" not in str(entry.citation).lower()


def test_registry_import_is_lazy():
    """`mechanisms.registry` imports no family module (and so no scipy) until a lookup."""
    code = (
        "import sys; import mechanisms.registry as r; assert 'scipy' not in sys.modules; "
        "assert 'mechanisms.voting.mechanisms' not in sys.modules; r.MECHANISMS.names('voting'); "
        "assert 'mechanisms.voting.mechanisms' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_mechanism_registered_into_a_built_in_family_runs_on_the_built_in_scenario():
    @register_mechanism("test_free_good", family="public_goods")
    class FreeGood(Proportional):
        """Everyone is served for free whenever anyone reports."""

        name = "test_free_good"

    try:
        import abm

        result = abm.run("public-goods", overrides={"rounds": 20, "agents": 3, "mechanism": "test_free_good"},
                         progress=False)
        assert result.summary["mechanism"] == "artificial_currency[test_free_good]"
    finally:
        MECHANISMS.remove("test_free_good", "public_goods")


@pytest.mark.parametrize(
    ("scenario", "family"),
    [("public-goods", "public_goods"), ("voting", "voting"), ("two-sided", "matching"),
     ("approx-auction", "approx_valuations")],
)
def test_scenario_mechanism_is_validated_against_the_registry(scenario, family):
    s = get_scenario(scenario)
    assert s.mechanism_family == family
    with pytest.raises(ConfigError, match=r"params.mechanism: unknown mechanism 'nope'.*available: "):
        s.parse_params({"mechanism": "nope"})
    assert isinstance(s.parse_params({}), ScenarioParams)


def test_learners_keep_the_function_form_and_gain_a_decorator():
    assert LEARNERS["adaptive_pacing"] is AdaptivePacing and "Adaptive-Pacing" in LEARNERS
    assert "hedge" in sorted(LEARNERS)
    register_learner("test_truthful_again", Truthful)

    @register_learner("test_truthful_deco")
    class Deco(Truthful):
        pass

    try:
        assert LEARNERS["test_truthful_again"] is Truthful and LEARNERS["test-truthful-deco"] is Deco
        cohort = make_learner("test_truthful_deco", 2, np.ones(2), 10, np.random.default_rng(0))
        assert isinstance(cohort, Deco)
    finally:
        LEARNERS.pop("test_truthful_again")
        LEARNERS.pop("test_truthful_deco")
    with pytest.raises(ValueError, match=r"learner.name: unknown learner 'nope'; available: .*adaptive_pacing"):
        make_learner("nope", 2, np.ones(2), 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"learner.params.bogus: unknown parameter; valid names: .*step_size"):
        make_learner("adaptive_pacing", 2, np.ones(2), 10, np.random.default_rng(0), {"bogus": 1})


def test_scenarios_register_by_instance_or_decorator():
    class Tiny(Scenario):
        """A tiny scenario."""

        name = "test-tiny"

        def build(self, config, params, seed):  # pragma: no cover - never built
            return ScenarioInstance(None, np.ones(1), None)  # type: ignore[arg-type]

    try:
        register_scenario(Tiny())
        register_scenario(Tiny())  # same class again (a module reload): a no-op
        assert get_scenario("TEST_TINY").name == "test-tiny" and "test-tiny" in SCENARIOS
        assert SCENARIOS.entry("test-tiny").doc == "A tiny scenario."
    finally:
        SCENARIOS.pop("test-tiny")
    with pytest.raises(ConfigError, match=r"scenario: unknown scenario 'test-tiny'; available: .*public-goods"):
        get_scenario("test-tiny")


def test_studies():
    assert STUDIES["regret"] is RegretStudy
    assert STUDIES.entry("regret").citation is not None


@pytest.mark.parametrize(
    ("axes", "match"),
    [
        ({"learner.name": ["adaptive_pacing", "lagrange_bkw"]}, r"learner.name: unknown learner 'lagrange_bkw'"),
        ({"learner.params.bogus": [1]}, r"learner.params.bogus: unknown parameter; valid names: .*step_size"),
    ],
)
def test_sweep_validates_learners_before_any_run(tmp_path, axes, match):
    from abm.runs.sweep import MANIFEST, sweep

    grid = {"base": "public-goods", "seeds": 1, "overrides": {"rounds": 5}, "axes": axes}
    with pytest.raises(ConfigError, match=match):
        sweep(grid, out=tmp_path, executor="serial", progress=False)
    assert not (tmp_path / MANIFEST).exists()


def test_citations_carry_the_year():
    """Issue 14: papers are cited by author, year and section wherever a user reads them."""
    from mechanisms.registry import BRAVERMAN, CHIESA, ONYEZE, ZHU, cite

    assert str(cite(BRAVERMAN, "§3.1")) == (
        "M. Braverman (2021), *Optimization-friendly generic mechanisms without money*, §3.1"
    )
    assert [cite(s).year for s in (BRAVERMAN, ONYEZE, ZHU, CHIESA)] == [2021, 2025, 2021, 2012]
    assert str(Citation("A. Author", "A title", "§2")) == "A. Author, *A title*, §2"  # no year: none printed
    for name in SCENARIOS:
        citation = SCENARIOS.entry(name).citation
        if citation is not None and citation.author.startswith(("M. Braverman", "C. Onyeze", "J. Y. Zhu", "A. Chiesa")):
            assert str(citation.year) in str(citation), name

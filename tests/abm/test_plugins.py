"""User plug-ins: a .py file or module registering a scenario, a mechanism and a learner,
loaded by `--plugin`, `plugins = [...]` in run and sweep TOMLs and the `mechsim.plugins`
entry points, and shipped to process-pool and Ray workers."""

from __future__ import annotations

import json

import pytest

import abm
from abm import plugins
from abm.cli.main import main
from abm.config import ConfigError
from abm.plotting import plot_run
from abm.runs.sweep import sweep
from abm.scenario import SCENARIOS, get_scenario
from agents.registry import LEARNERS
from mechanisms.registry import MECHANISMS


def test_load_a_plugin_file_registers_its_entries_once(plugin):
    (module,) = plugins.load_plugins([str(plugin.path)])
    assert module.__name__ == plugins.module_name_for(plugin.path)  # stable: name + content hash
    assert module.__name__.startswith(f"mechsim_plugin_{plugin.prefix}plugin_")
    assert plugins.load_plugin(str(plugin.path)) is module  # idempotent
    assert plugin.scenario in SCENARIOS and plugin.learner in LEARNERS
    assert MECHANISMS.entry(plugin.mechanism, "public_goods").citation.author == "A. User"
    assert get_scenario(plugin.scenario).mechanism_family == "public_goods"


def test_missing_plugins_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="plug-in file not found"):
        plugins.load_plugin(str(tmp_path / "nope.py"))
    with pytest.raises(ConfigError, match="no module named 'no_such_mechsim_plugin'"):
        plugins.load_plugin("no_such_mechsim_plugin")
    bad = tmp_path / "broken.py"
    bad.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(ConfigError, match=r"importing .*broken.py failed: RuntimeError: boom"):
        plugins.load_plugin(str(bad))


def test_cli_run_with_plugin_flag(plugin, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", plugin.scenario, "--plugin", str(plugin.path), "--rounds", "25", "--agents", "3",
                 "--set", f"learner.name={plugin.learner}", "--set", "record_menus=false", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == plugin.scenario and summary["learner"] == plugin.learner
    assert summary["mechanism"] == f"artificial_currency[{plugin.mechanism}]"
    assert summary["config"]["plugins"] == [str(plugin.path)]


def test_plugin_mechanism_runs_on_the_built_in_scenario(plugin, tmp_path, capsys):
    code = main(["run", "public-goods", "--plugin", str(plugin.path), "--rounds", "20", "--agents", "3",
                 "--set", f"mechanism={plugin.mechanism}", "--quiet", "--out", str(tmp_path / "pg")])
    assert code == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "pg" / "summary.json").read_text())
    assert summary["mechanism"] == f"artificial_currency[{plugin.mechanism}]"


def test_run_toml_plugins_are_relative_to_the_file(plugin, tmp_path, monkeypatch, capsys):
    text = plugin.toml.read_text()
    plugin.toml.write_text(f'plugins = ["{plugin.path.name}"]\n' + text)
    monkeypatch.chdir(tmp_path.parent)  # not the TOML's directory
    assert main(["run", str(plugin.toml), "--quiet", "--out", str(tmp_path / "t")]) == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "t" / "summary.json").read_text())["config"]["plugins"] == [str(plugin.path)]


def test_unknown_plugin_scenario_without_the_plugin(plugin, capsys):
    assert main(["run", plugin.scenario, "--quiet"]) == 2
    assert f"unknown scenario '{plugin.scenario}'" in capsys.readouterr().err


def test_sweep_in_a_process_pool_ships_the_plugin(plugin, tmp_path):
    """Spawned workers start without the plug-in: each loads it from the run's config."""
    (tmp_path / "sweep.toml").write_text(
        f'base = "{plugin.toml.name}"\nseeds = 2\nplugins = ["{plugin.path.name}"]\n'
        "[overrides]\nrounds = 15\n"
    )
    frame = sweep(tmp_path / "sweep.toml", out=tmp_path / "sw", executor="process", workers=2, progress=False)
    assert list(frame["status"]) == ["ok", "ok"], list(frame.get("error", []))
    assert set(frame["learner"]) == {plugin.learner}


def test_cli_sweep_with_plugin_flag(plugin, tmp_path, capsys):
    (tmp_path / "sweep.toml").write_text(
        f'base = "public-goods"\nseeds = 1\n[overrides]\nrounds = 10\nagents = 3\n'
        f'[axes]\nmechanism = ["moulin", "{plugin.mechanism}"]\n'
    )
    code = main(["sweep", str(tmp_path / "sweep.toml"), "--plugin", str(plugin.path), "--executor", "serial",
                 "--out", str(tmp_path / "sw"), "--quiet"])
    assert code == 0, capsys.readouterr()
    assert "2 of 2 runs ok" in capsys.readouterr().out


def test_entry_points_are_loaded_once(tmp_path, monkeypatch):
    (tmp_path / "fake_mechsim_ext.py").write_text(
        "from mechanisms.registry import register_mechanism\n"
        "from mechanisms.public_goods.monetary import Moulin\n"
        "CALLS = []\n"
        "@register_mechanism('ep_moulin', family='public_goods')\n"
        "class EpMoulin(Moulin):\n    '''Moulin, from an entry point.'''\n"
        "def setup():\n    CALLS.append(1)\n"
    )
    dist = tmp_path / "fake_mechsim_ext-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-mechsim-ext\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[mechsim.plugins]\nfake = fake_mechsim_ext\nfake_setup = fake_mechsim_ext:setup\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(plugins, "_entry_points_done", False)
    try:
        assert sorted(plugins.load_entry_points()) == ["fake", "fake_setup"]
        assert plugins.load_entry_points() == []  # once per process
        import fake_mechsim_ext

        assert fake_mechsim_ext.CALLS == [1]  # a callable entry point is called once
        assert MECHANISMS.get("ep_moulin", family="public_goods") is fake_mechsim_ext.EpMoulin
    finally:
        MECHANISMS.remove("ep_moulin", "public_goods")
        monkeypatch.delitem(__import__("sys").modules, "fake_mechsim_ext", raising=False)


def test_plot_without_the_plugin_draws_the_generic_figures(plugin, tmp_path):
    plugins.load_plugins([str(plugin.path)])
    out = tmp_path / "run"
    abm.run(str(plugin.toml), overrides={"rounds": 40, "record_menus": True}, out=out, progress=False)
    plugin.unregister()  # as in a fresh process without --plugin
    assert plugin.scenario not in SCENARIOS
    names = {p.name for p in plot_run(out)}
    assert {"bids.png", "budget.png", "strong_regret.png"} <= names


def test_ray_py_modules(plugin):
    assert plugins.ray_py_modules([str(plugin.path)]) == [str(plugin.path.resolve())]
    (pkg_dir,) = plugins.ray_py_modules(["scenarios.voting"])
    assert pkg_dir.endswith("scenarios")


@pytest.mark.ray
def test_ray_sweep_loads_the_plugin_in_workers(ray_session, plugin, tmp_path):
    (tmp_path / "sweep.toml").write_text(
        f'base = "{plugin.toml.name}"\nseeds = 2\nplugins = ["{plugin.path.name}"]\n[overrides]\nrounds = 10\n'
    )
    frame = sweep(tmp_path / "sweep.toml", out=tmp_path / "ray", executor="ray", max_retries=0, progress=False)
    assert list(frame["status"]) == ["ok", "ok"], list(frame.get("error", []))

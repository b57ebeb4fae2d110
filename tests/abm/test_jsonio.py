"""One encoding of +-inf and NaN in mechsim's JSON files (issue 14: gamma = +inf was written
`null` to summary.json and the manifest while the CLI printed inf)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import abm
from abm import jsonio
from abm.runs.manifest import Manifest, RunSpec, results_frame


def test_encode_and_decode_round_trip_the_non_finite_floats():
    data = {"g": math.inf, "h": -math.inf, "n": math.nan, "a": np.array([1.0, np.inf]), "k": np.float64(2.5)}
    text = jsonio.dumps(data)
    assert json.loads(text) == {"g": "inf", "h": "-inf", "n": "nan", "a": [1.0, "inf"], "k": 2.5}  # valid JSON
    back = jsonio.loads(text)
    assert back["g"] == math.inf and back["h"] == -math.inf and math.isnan(back["n"])
    assert back["a"] == [1.0, math.inf] and back["k"] == 2.5
    with pytest.raises(TypeError):
        jsonio.dumps({"x": object()})  # no silent str() of what JSON cannot hold


def test_summary_json_writes_an_infinite_core_factor_as_inf(tmp_path):
    """Moulin on the §6 harmonic instance: the induced ex-ante allocation of beta > 1 serves
    no one, so the ex-ante LP factor is +inf; summary.json says "inf" and reads back as inf."""
    res = abm.run(
        "public-goods",
        overrides={"agents": 3, "rounds": 300, "seed": 1, "params": {"mechanism": "moulin", "values": "harmonic"}},
        out=tmp_path, progress=False,
    )
    assert res.summary["metrics"]["core"]["ex_ante"]["lp_gamma"] == math.inf
    raw = json.loads((tmp_path / "summary.json").read_text())
    assert raw["metrics"]["core"]["ex_ante"]["lp_gamma"] == "inf"
    from abm.plotting import read_summary

    assert read_summary(tmp_path)["metrics"]["core"]["ex_ante"]["lp_gamma"] == math.inf


def test_manifest_and_results_frame_give_inf_back(tmp_path):
    manifest = Manifest(tmp_path / "manifest.jsonl")
    spec = RunSpec("r1", {"seed": 0}, {"x": 1.0})
    (tmp_path / "runs" / "r1").mkdir(parents=True)
    manifest.append({"run_id": "r1", "status": "ok", "point": spec.point, "seed": 0, "path": "runs/r1",
                     "attempts": 1, "summary": {"metrics.core.gamma": math.inf, "metrics.x": math.nan}})
    assert '"inf"' in (tmp_path / "manifest.jsonl").read_text()
    frame = results_frame([spec], manifest.latest(), tmp_path)
    assert frame["metrics.core.gamma"].iloc[0] == math.inf
    assert frame["metrics.core.gamma"].dtype == np.float64
    assert math.isnan(frame["metrics.x"].iloc[0])

"""Start-up stays light: `import abm`, `mechsim --help` and `mechsim list` import none of
the heavy dependencies (scipy, numba, Ray, matplotlib, pandas, Mesa, networkx) until a run
needs them. Each check runs in a fresh interpreter, since this test process has imported
them all already. (The CPU time against the 0.5 s target is measured by
`benchmarks/bench_startup.py`, not here: a loaded machine would make a timing test flaky.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import scaled

REPO = Path(__file__).resolve().parents[1]

#: Top-level packages a start-up must not import.
HEAVY = ("scipy", "numba", "ray", "matplotlib", "pandas", "mesa", "networkx")

#: Runs `code`, then prints the heavy modules in sys.modules as the last line (JSON).
WRAPPER = """
import json, sys
{code}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
print("\\nSTARTUP " + json.dumps(heavy))
"""

#: `mechsim ARGS` in process (`python -m abm.cli`), its exit code kept.
CLI = """
import runpy
sys.argv = ["mechsim", *{args!r}]
try:
    runpy.run_module("abm.cli", run_name="__main__")
    code = 0
except SystemExit as exc:
    code = exc.code
print("\\nEXIT " + json.dumps(code))
"""


def run_python(code: str) -> tuple[str, list[str]]:
    """stdout of `code` in a fresh interpreter and the heavy modules it left imported."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER.format(code=code, heavy=HEAVY)],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=scaled(120),
    )
    assert proc.returncode == 0, proc.stderr
    out, _, last = proc.stdout.rstrip().rpartition("\n")
    assert last.startswith("STARTUP "), proc.stdout
    return out, json.loads(last.removeprefix("STARTUP "))


def run_cli(*args: str) -> tuple[int, str, list[str]]:
    """(exit code, stdout, heavy modules imported) of `mechsim ARGS`."""
    out, heavy = run_python(CLI.format(args=list(args)))
    out, _, last = out.rstrip().rpartition("\n")
    assert last.startswith("EXIT "), out
    return json.loads(last.removeprefix("EXIT ")), out, heavy


def test_import_abm_imports_no_heavy_dependency():
    _, heavy = run_python("import abm")
    assert heavy == []


def test_abm_names_still_resolve_after_a_light_import():
    code = (
        "import abm\n"
        "assert abm.MechanismModel.__name__ == 'MechanismModel'\n"
        "import mesa\n"
        "assert issubclass(abm.MechanismModel, mesa.Model)\n"
        "missing = [n for n in abm.__all__ if getattr(abm, n, None) is None]\n"
        "assert not missing, missing\n"
        "assert set(abm.__all__) <= set(dir(abm))\n"
        "from abm import run, RunConfig, sweep\n"
        "import abm.runs.runner, abm.runs.sweep\n"
        "assert run is abm.runs.runner.run and sweep is abm.runs.sweep.sweep\n"
        "print('ok')"
    )
    out, heavy = run_python(code)
    assert out.strip().endswith("ok")
    assert "mesa" in heavy  # the model really was imported, on access


def test_unknown_abm_attribute_is_an_attribute_error():
    out, _ = run_python(
        "import abm\ntry:\n    abm.no_such_name\nexcept AttributeError as e:\n    print('AttributeError', e)"
    )
    assert "AttributeError" in out and "no_such_name" in out


def test_metrics_names_resolve_lazily():
    code = (
        "import abm.metrics as m\n"
        "assert 'scipy' not in sys.modules\n"
        "from abm.metrics import strong_regret, end_of_run_metrics, core_factor\n"
        "import abm.metrics.strong_regret\n"
        "assert callable(m.strong_regret) and m.strong_regret.__name__ == 'strong_regret'\n"
        "print('ok')"
    )
    out, _ = run_python(code)
    assert out.strip().endswith("ok")


@pytest.mark.parametrize(
    "args", [("--help",), ("run", "--help"), ("list", "--help"), ("study", "regret", "--help"), ("sweep", "--help")]
)
def test_help_imports_no_heavy_dependency(args):
    code, out, heavy = run_cli(*args)
    assert code == 0
    assert "usage: mechsim" in out
    assert heavy == []


def test_list_imports_no_heavy_dependency():
    code, out, heavy = run_cli("list")
    assert code == 0
    for name in ("public-goods", "one-sided", "resource-allocation", "proportional", "apex", "hedge", "exp3"):
        assert name in out
    assert "blum_mansour_swap" in out
    assert heavy == []


def test_compiled_kernels_import_numba_on_first_use():
    code = (
        "import numpy as np\n"
        "import agents\n"
        "from agents.stationary import stationary_distribution\n"
        "assert 'numba' not in sys.modules\n"
        "p = stationary_distribution(np.array([[0.5, 0.5], [0.2, 0.8]]))\n"
        "assert np.allclose(p, [2 / 7, 5 / 7]), p\n"
        "assert 'numba' in sys.modules\n"
        "print('ok')"
    )
    out, _ = run_python(code)
    assert out.strip().endswith("ok")

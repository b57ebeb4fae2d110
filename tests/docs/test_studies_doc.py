"""docs/studies.md: the plug-in study it shows runs as written, from the command it gives."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from abm.cli.main import main
from abm.runs.study import STUDIES

DOC = Path(__file__).resolve().parents[2] / "docs" / "studies.md"


def test_plugin_study_example_runs(tmp_path, capsys):
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert code is not None
    plugin = tmp_path / "my_study.py"
    plugin.write_text(code.group(1))
    try:
        assert main(["study", "--plugin", str(plugin), "goods-vs-alpha", "--quick", "--executor", "serial",
                     "--out", str(tmp_path / "out"), "--quiet"]) == 0
        runs = pd.read_parquet(tmp_path / "out" / "runs.parquet")
        assert sorted(set(runs["alpha"])) == [0.2, 0.6] and len(runs) == 6
        assert "| yes |" in (tmp_path / "out" / "report.md").read_text()
    finally:
        STUDIES.pop("goods-vs-alpha")

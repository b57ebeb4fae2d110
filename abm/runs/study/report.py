"""report.md of a study: the claims table (the paper's value and its citation beside the
measured one), notes, extra tables, the figure, and how the numbers were made."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from abm.runs.study.base import Findings, Study, StudyData

VERDICT = {True: "yes", False: "**NO**", None: "—"}


def write_report(
    study: Study, data: StudyData, findings: Findings, figures: list[Path], path: Path, identity: str, failed: int
) -> Path:
    lines = [f"# {study.name}: {_doc(study)}", "", f"_{identity}_", ""]
    if study.citation is not None:
        lines += [f"Source: {study.citation}.", ""]
    options = study.describe()
    if options:
        lines += [f"Options: {options}.", ""]
    lost = f", {failed} failed (left out; see `sweeps/*/manifest.jsonl`)" if failed else ""
    lines += [f"Runs: {len(data.runs)} finished{lost}; parts: {', '.join(p.name for p in data.parts)}.", ""]
    lines += ["| quantity | paper | source | measured | holds |", "|---|---|---|---|---|"]
    for c in findings.claims:
        source = c.citation.short() if c.citation is not None else ""
        lines.append(f"| {_cell(c.quantity)} | {_cell(c.paper)} | {_cell(source)} | {_cell(c.measured)} | "
                     f"{VERDICT[c.holds]} |")
    lines.append("")
    verdict = "every claim holds" if findings.holds else "at least one claim does NOT hold"
    lines += [f"Verdict: {verdict}.", ""]
    for note in findings.notes:
        lines += [note, ""]
    for name, table in findings.tables.items():
        lines += [f"## {name}", "", _markdown(table), "", f"(`{name}.csv`)", ""]
    pngs = [f for f in figures if f.suffix == ".png"]
    if pngs:
        lines += ["## Figure", "", f"![{study.name}]({pngs[0].name})", ""]
    lines += [
        "## Files",
        "",
        "`runs.parquet`: one row per run (the summary's scalars flattened with dots); "
        "`summary.csv`: per part, axis point and metric the number of runs, mean and 95% Student-t "
        "interval over seeds; `sweeps/<part>/`: the runs (rerunning the command resumes).",
        "",
    ]
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(path)
    return path


def _doc(study: Study) -> str:
    doc = (type(study).__doc__ or "").strip().splitlines()
    return doc[0] if doc else ""


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _markdown(table: pd.DataFrame) -> str:
    cols = [str(c) for c in table.columns]
    rows = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for values in table.itertuples(index=False):
        rows.append("| " + " | ".join(_cell(_num(v)) for v in values) + " |")
    return "\n".join(rows)


def _num(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)

"""What a study is: sweeps (parts) x seeds, per-run measurements, findings beside the paper's
values, and a figure; the study registry (docs/studies.md).

A study is a `@dataclass` subclass of `Study` whose fields are its options (each a CLI flag
`--field-name` of `mechsim study NAME`), registered with `@register_study`. The runner
(`abm.runs.study.runner.run_study`) runs every `Part` as a resumable sweep, gathers one
row per run, aggregates `metrics` with confidence intervals and hands a `StudyData` to
`analyse` (claims, notes, tables) and `plot`.

This module is light (stdlib, numpy, typing): `mechsim list` reads the registry without
importing pandas, scipy or matplotlib.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from abm.plugins import load_builtin
from mechanisms.registry import Citation, Registry, UnknownNameError, first_line

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Part:
    """One sweep of a study: a scenario, one or two axes (dotted keys, as in a sweep file),
    overrides for every run and a default number of seeds (`--seeds` replaces it)."""

    name: str
    base: str
    axes: dict[str, list[Any]] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    seeds: int = 3

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ValueError(f"part name must be a non-empty name without '/', got {self.name!r}")
        if len(self.axes) > 2:
            raise ValueError(f"part {self.name!r}: a study part sweeps one or two axes, got {list(self.axes)}")
        if self.seeds < 1:
            raise ValueError(f"part {self.name!r}: seeds must be >= 1, got {self.seeds}")


@dataclass(frozen=True)
class Claim:
    """One row of the report: what is compared, the paper's value or statement with its
    source, the measured value, and whether the study's claim holds (None: informational)."""

    quantity: str
    paper: str
    citation: Citation | None
    measured: str
    holds: bool | None = None


@dataclass
class Findings:
    """What `analyse` concludes: claims (the report's table), notes (paragraphs, e.g. where
    a paper's remark does not reproduce) and extra tables (written as DIR/<name>.csv)."""

    claims: list[Claim] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        """No claim fails (informational rows do not count)."""
        return all(c.holds is not False for c in self.claims)


@dataclass
class StudyData:
    """The measured runs of a study.

    runs: one row per finished run: `part`, `run_id`, `path`, `seed`, the part's axis
        columns, every scalar of the run's summary.json with dotted keys
        ("metrics.core.gamma") and the study's `measure` columns.
    summary: per (part, axis point, metric): `n`, `mean`, `ci_lo`, `ci_hi` (95% Student t).
    """

    runs: pd.DataFrame
    summary: pd.DataFrame
    parts: list[Part]
    quick: bool
    seeds: int | None
    out: Path
    #: What `analyse` concluded, set by the runner before `plot` (so a plot need not redo it).
    findings: Findings | None = None

    def part(self, name: str) -> pd.DataFrame:
        """The runs of one part."""
        return self.runs[self.runs["part"] == name]

    def cells(self, part: str, metric: str) -> pd.DataFrame:
        """summary rows of one part and metric, sorted by the part's axes."""
        rows = self.summary[(self.summary["part"] == part) & (self.summary["metric"] == metric)]
        axes = [a for a in self.axes(part) if a in rows]
        return rows.sort_values(axes) if axes else rows

    def axes(self, part: str) -> list[str]:
        for p in self.parts:
            if p.name == part:
                return list(p.axes)
        raise KeyError(f"no part {part!r}; parts: {[p.name for p in self.parts]}")

    def mean(self, part: str, metric: str, **point: Any) -> float:
        """The mean of `metric` over the seeds of one axis point of `part` (NaN if absent)."""
        rows = self.cells(part, metric)
        for key, value in point.items():
            rows = rows[rows[_axis_column(key)] == value]
        return float(rows["mean"].iloc[0]) if len(rows) else float("nan")


def _axis_column(key: str) -> str:
    # Axis keyword arguments cannot hold dots: `learner__name` names the axis `learner.name`.
    return key.replace("__", ".")


class Study(ABC):
    """A registered experiment: parts (sweeps), per-run measurements, findings and a figure.

    Subclasses are `@dataclass`es; their fields are the study's options. Set `name`,
    `citation` and `metrics` (the run-table columns aggregated into summary.csv)."""

    name: ClassVar[str]
    citation: ClassVar[Citation | None] = None
    metrics: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def parts(self, quick: bool) -> list[Part]:
        """The sweeps of this study, at `--quick` size or at the size a paper would print."""

    def measure(self, part: Part, run_dir: Path, row: dict[str, Any]) -> dict[str, float]:
        """Extra per-run numbers read from a finished run's files (none by default)."""
        return {}

    @abstractmethod
    def analyse(self, data: StudyData) -> Findings:
        """Claims against the papers' values, notes and tables."""

    @abstractmethod
    def plot(self, data: StudyData, fig: Figure) -> None:
        """Draw the study's figure into `fig` (the runner titles and saves it)."""

    def describe(self) -> str:
        """One line for the report header: the options' values."""
        if not dataclasses.is_dataclass(self):
            return ""
        return ", ".join(f"{f.name} = {getattr(self, f.name)!r}" for f in dataclasses.fields(self))


S = TypeVar("S", bound=type[Study])

#: Studies by name (`mechsim study NAME`); the built-in ones register when the `scenarios`
#: package (the first plug-in) is imported.
STUDIES: Registry[type[Study]] = Registry("study", "study", (load_builtin,))


def register_study(cls: S) -> S:
    """Class decorator: make the study available as `cls.name`."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"study {cls.__name__} must be a @dataclass (its fields are its options)")
    STUDIES.add(cls.name, cls, doc=first_line(cls), citation=cls.citation)
    return cls


def get_study(name: str) -> type[Study]:
    """The study class called `name`; an unknown name lists the available ones."""
    from abm.scenario import UnknownNameConfigError

    try:
        return STUDIES.entry(name).obj
    except UnknownNameError as exc:
        raise UnknownNameConfigError(str(exc)) from None


@dataclass(frozen=True)
class Option:
    """A study option as the CLI exposes it."""

    name: str
    flag: str
    default: Any
    help: str
    parse: Callable[[str], Any]


def options(cls: type[Study]) -> list[Option]:
    """The study's dataclass fields as CLI options (`--field-name`)."""
    out = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]  # register_study checked it
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        )
        out.append(Option(f.name, "--" + f.name.replace("_", "-"), default, f.metadata.get("help", ""),
                          _parser_for(f.type, default)))
    return out


def _parser_for(annotation: Any, default: Any) -> Callable[[str], Any]:
    text = str(annotation)
    if text.startswith("list") or isinstance(default, list | tuple):
        inner: Callable[[str], Any] = int if "int" in text else float if "float" in text else str
        return lambda s: [inner(x.strip()) for x in s.split(",") if x.strip()]
    kinds = set(text.replace(" ", "").split("|")) - {"None"}
    if isinstance(default, bool) or kinds == {"bool"}:
        return _parse_bool
    if isinstance(default, int) or kinds == {"int"}:
        return int
    if isinstance(default, float) or (kinds <= {"float", "int"} and kinds):
        return float
    return str


def _parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("true", "yes", "1", "on"):
        return True
    if low in ("false", "no", "0", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")

"""Studies: registered experiments over many runs, each with the paper's value beside the
measured one (docs/studies.md). `mechsim study NAME [--quick]`; Python: `run_study`.

Light to import (the registry is read by `mechsim list`): pandas, scipy, matplotlib and the
sweep machinery are imported when a study runs.
"""

from abm.runs.study.base import (
    STUDIES,
    Claim,
    Findings,
    Option,
    Part,
    Study,
    StudyData,
    get_study,
    options,
    register_study,
)
from abm.runs.study.regret import RegretStudy, parse_horizons, run_regret
from abm.runs.study.runner import StudyResult, run_study
from abm.runs.study.stats import CONFIDENCE, aggregate, fmt_ci, geometric_grid, loglog_fit, mean_ci

__all__ = [
    "CONFIDENCE",
    "STUDIES",
    "Claim",
    "Findings",
    "Option",
    "Part",
    "RegretStudy",
    "Study",
    "StudyData",
    "StudyResult",
    "aggregate",
    "fmt_ci",
    "geometric_grid",
    "get_study",
    "loglog_fit",
    "mean_ci",
    "options",
    "parse_horizons",
    "register_study",
    "run_regret",
    "run_study",
]


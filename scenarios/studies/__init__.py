"""The papers' headline claims as registered studies (`mechsim study NAME`, docs/studies.md);
importing this package registers them. Each module keeps its import light (the registry is
read by `mechsim list`): pandas, scipy and matplotlib are imported inside the functions."""

from scenarios.studies import (  # noqa: F401
    apex_local_search,
    approx_delta,
    bwk_ratio,
    core_vs_n,
    hz_regularized_delta,
    hz_vs_horizon,
    linked_savings,
    pacing_equilibrium,
)

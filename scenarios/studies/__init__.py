"""The papers' headline claims as registered studies (`mechsim study NAME`, docs/studies.md);
importing this package registers them. Each module keeps its import light (the registry is
read by `mechsim list`): pandas, scipy and matplotlib are imported inside the functions."""

from scenarios.studies import apex_local_search  # noqa: F401

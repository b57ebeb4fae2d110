"""Running things: one run (runner, checkpoint, outputs), sweeps (spec, executors, manifest)
and studies. Library code: it logs, never prints (only `abm.cli` prints)."""

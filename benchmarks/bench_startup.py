"""Start-up CPU time of `mechsim --help`, `mechsim list` and `import abm` against the
0.5 s target.

Each command runs in a fresh interpreter (`python -m abm.cli ...`, `python -c "import
abm"`); its CPU time is the user + system time of that whole process (all its threads:
OpenBLAS starts some when numpy is imported), read from `resource.getrusage` of the
children, so other load on the machine distorts it less than wall-clock time. Best of
`--repeat` runs (default 3). Prints PASS/FAIL per command (exit code 1 on FAIL).

The package sources are byte-compiled first (`compileall`, as an installed package is):
with PYTHONDONTWRITEBYTECODE set and no __pycache__, every start-up would otherwise
compile the ~80 modules of abm, agents, mechanisms and scenarios from source (about
0.2 s more), which says nothing about the import graph. `--no-compile` skips that step.

    .venv/bin/python benchmarks/bench_startup.py [--repeat 3] [--no-compile]
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 0.5
PACKAGES = ("abm", "agents", "mechanisms", "scenarios")
COMMANDS: tuple[tuple[str, list[str]], ...] = (
    ("mechsim --help", ["-m", "abm.cli", "--help"]),
    ("mechsim list", ["-m", "abm.cli", "list"]),
    ("import abm", ["-c", "import abm"]),
)


def cpu_seconds(args: list[str], env: dict[str, str]) -> float:
    """User + system CPU seconds of one `python ARGS` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, *args], stdout=subprocess.DEVNULL, check=True, env=env, cwd=REPO)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per command; the best counts (default 3)")
    parser.add_argument("--no-compile", action="store_true", help="do not byte-compile the packages first")
    args = parser.parse_args()
    if not args.no_compile:
        for package in PACKAGES:
            compileall.compile_dir(REPO / package, quiet=1)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    ok = True
    print(f"{'command':<18}{'best CPU s':>12}{'runs':>28}   target {TARGET_S} s")
    for label, command in COMMANDS:
        times = [cpu_seconds(command, env) for _ in range(max(1, args.repeat))]
        best = min(times)
        verdict = "PASS" if best <= TARGET_S else "FAIL"
        ok &= best <= TARGET_S
        print(f"{label:<18}{best:>12.3f}{', '.join(f'{t:.3f}' for t in times):>28}   {verdict}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

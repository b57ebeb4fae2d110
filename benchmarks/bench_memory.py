"""Peak memory against the horizon T with default recording (issue "Scale", item 1).

Each case runs in a fresh process: the whole run as `mechsim run` does it — rounds with
the default records (menus, per-agent series, outcome path, model series) streamed to
disk in chunks, then the end-of-run metrics reading them chunk by chunk, then the output
files. It prints the peak RSS at the end of the rounds and at the end of the run, and
the slope of each against T beyond the first chunk (bytes per round; the recorded volume
per round is printed beside it for scale: that is what used to stay in memory).

Targets: public-goods n = 5, T = 10^6 peaks <= 1 GB; one-sided n = 64, T = 10^5 peaks
<= 2 GB; the rounds' slope <= 1% of the recorded bytes per round (memory independent of T
while the run goes). The end-of-run slope is printed, not judged: the metrics hold the
recorded agents' (T, m) scalar series, the strong-regret breakpoints (about 32 bytes each)
and the per-round table, which grow with T by design (docs/architecture.md "Recording").
PASS/FAIL per target; exit code 1 on any FAIL. `--quick` stops at T = 10^5 and skips
one-sided (a smoke run, no verdict on the 10^6 target).

    .venv/bin/python benchmarks/bench_memory.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

PUBLIC_GOODS_T = (1_000, 30_000, 100_000, 1_000_000)
GB = 1 << 30

CHILD = r"""
import json, resource, sys, tempfile
import abm
import abm.runs.runner as runner

scenario, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
peak = {}
real = runner.round_frame

def after_rounds(model):
    # The runner's first call once the rounds are done: the peak of the rounds themselves.
    peak["rounds"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    menus = model.menus
    per_round = 0 if menus is None else menus.row_bytes
    peak["recorded_per_round"] = per_round + 8 * 4 * model.trace.agents.shape[0]
    return real(model)

runner.round_frame = after_rounds
with tempfile.TemporaryDirectory() as out:
    res = abm.run(scenario, overrides={"agents": n, "rounds": rounds}, out=out, progress=False)
peak["run"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
peak["runtime_s"] = res.summary["runtime_s"]  # the rounds (the summary times metrics apart)
peak["metrics_s"] = res.summary["metrics"]["runtime_s"]
print(json.dumps(peak))
"""


def measure(scenario: str, n: int, rounds: int) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, scenario, str(n), str(rounds)],
        capture_output=True, text=True, check=False, cwd=tempfile.gettempdir(),
    )
    if proc.returncode:
        raise SystemExit(f"{scenario} n={n} T={rounds} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def verdict(ok: bool, text: str) -> bool:
    print(f"{'PASS' if ok else 'FAIL'}: {text}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    horizons = [t for t in PUBLIC_GOODS_T if not args.quick or t <= 100_000]
    ok = True
    print(f"{'case':28} {'rounds MB':>10} {'run MB':>8} {'rounds s':>9} {'metrics s':>10}")
    rows = []
    for t in horizons:
        p = measure("public-goods", 5, t)
        rows.append((t, p))
        print(f"{'public-goods n=5 T=' + format(t, ','):28} {p['rounds'] / 2**20:>10.0f} {p['run'] / 2**20:>8.0f} "
              f"{p['runtime_s']:>9.1f} {p['metrics_s']:>10.1f}")
    # Beyond the first chunk: at T = 3·10^4 every column has flushed at least one chunk
    # (CHUNK_BYTES = 1 MB: 21845 rounds of the widest-spaced column, the 6-float model series).
    (t0, p0), (t1, p1) = rows[1], rows[-1]
    slope_rounds = (p1["rounds"] - p0["rounds"]) / (t1 - t0)
    slope_run = (p1["run"] - p0["run"]) / (t1 - t0)
    recorded = p1["recorded_per_round"]
    print(f"slope T={t0:,}..{t1:,}: rounds {slope_rounds:.1f} B/round, whole run {slope_run:.1f} B/round "
          f"(recorded {recorded:.0f} B/round)")
    ok &= verdict(slope_rounds <= 0.01 * recorded,
                  f"rounds' memory slope {slope_rounds:.1f} B/round <= 1% of the {recorded:.0f} recorded B/round")
    if not args.quick:
        ok &= verdict(p1["run"] <= GB, f"public-goods n=5 T=10^6 peak {p1['run'] / GB:.2f} GB (required <= 1 GB)")
        p = measure("one-sided", 64, 100_000)
        print(f"{'one-sided n=64 T=100,000':28} {p['rounds'] / 2**20:>10.0f} {p['run'] / 2**20:>8.0f} "
              f"{p['runtime_s']:>9.1f} {p['metrics_s']:>10.1f}")
        ok &= verdict(p["run"] <= 2 * GB, f"one-sided n=64 T=10^5 peak {p['run'] / GB:.2f} GB (required <= 2 GB)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

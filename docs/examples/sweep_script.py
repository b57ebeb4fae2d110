"""Sweep the fpa-tokens plug-in over beta x seeds in a process pool, from a plain script:

    python docs/examples/sweep_script.py [ROUNDS] [OUT] [WORKERS]

The pool's workers are spawned (the process executor asks for it, and `import mesa`, done
by `abm`, makes "spawn" the start method anyway): each starts a fresh interpreter and
imports this file again (as `__mp_main__`), so everything that starts work must sit under
`if __name__ == "__main__":`.
"""

import argparse
import sys
from pathlib import Path

import abm

HERE = Path(__file__).resolve().parent


def main(rounds: int = 500, out: str = "results/fpa-sweep", workers: int = 2) -> int:
    grid = {
        "base": str(HERE / "fpa_tokens.toml"),
        "plugins": [str(HERE / "fpa_tokens.py")],  # loaded here and, from each run's config, in every worker
        "seeds": 2,
        "overrides": {"rounds": rounds, "record_menus": False},
        "axes": {"learner.params.beta": [0.3, 0.6]},
    }
    frame = abm.sweep(grid, out=out, executor="process", workers=workers, progress=False)
    print(frame.reindex(columns=["learner.params.beta", "seed", "status", "total_spent"]).to_string(index=False))
    return 0 if (frame["status"] == "ok").all() else 1


if __name__ == "__main__":  # without this guard every spawned worker would start the sweep again
    parser = argparse.ArgumentParser(description="sweep fpa-tokens over beta x seeds in a process pool")
    parser.add_argument("rounds", type=int, nargs="?", default=500)
    parser.add_argument("out", nargs="?", default="results/fpa-sweep")
    parser.add_argument("workers", type=int, nargs="?", default=2)
    sys.exit(main(**vars(parser.parse_args())))

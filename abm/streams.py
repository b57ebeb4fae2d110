"""Named random streams of a run (docs/architecture.md "Random streams").

Every consumer of randomness asks for its stream by name — `scenario`, `values`,
`mechanism`, `model`, `metrics`, `population/<group>` — and gets a `SeedSequence` derived
from the run's seed and that name alone. Adding a stream or a population group never
changes another stream's draws (positional `spawn(k)[i]` would).
"""

from __future__ import annotations

import hashlib

import numpy as np


def _name_words(name: str) -> tuple[int, ...]:
    """The stream name as four 32-bit words of its SHA-256 (stable across runs and Pythons)."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


class Streams:
    """The run's streams: `Streams(seed).seed("values")` is a SeedSequence, and
    `.generator("values")` a fresh `numpy.random.Generator` on it."""

    def __init__(self, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        self.root = int(seed)

    def seed(self, name: str) -> np.random.SeedSequence:
        """The SeedSequence of stream `name`: entropy (seed, *words of the name)."""
        if not name:
            raise ValueError("a random stream needs a non-empty name")
        return np.random.SeedSequence([self.root, *_name_words(name)])

    def generator(self, name: str) -> np.random.Generator:
        return np.random.default_rng(self.seed(name))

    def group(self, name: str) -> np.random.SeedSequence:
        """The stream of population group `name` (its cohorts spawn children of it)."""
        return self.seed(f"population/{name}")

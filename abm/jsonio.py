"""The one JSON encoding of mechsim's files (summary.json, manifest.jsonl, study.json, the
sweep spec): standard JSON, with the non-finite floats written as the strings "inf",
"-inf" and "nan" (JSON has no literal for them; `null` would read as "missing", and
Python's `Infinity` is not JSON). `loads` / `decode` give float('inf') etc. back, so a
value read from a file equals the value the run computed (docs/config.md "Outputs").
Those three strings are reserved: a string field holding one reads back as the float.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

#: The strings that stand for the non-finite floats.
NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def encode(x: Any) -> Any:
    """`x` with numpy scalars and arrays as Python values, tuples as lists, dict keys as
    strings and the non-finite floats as "inf" / "-inf" / "nan"."""
    if isinstance(x, dict):
        return {str(k): encode(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [encode(v) for v in x]
    if isinstance(x, np.ndarray):
        return encode(x.tolist())
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def decode(x: Any) -> Any:
    """The inverse of `encode` on parsed JSON: "inf" / "-inf" / "nan" back to floats."""
    if isinstance(x, dict):
        return {k: decode(v) for k, v in x.items()}
    if isinstance(x, list):
        return [decode(v) for v in x]
    if isinstance(x, str) and x in NONFINITE:
        return NONFINITE[x]
    return x


def dumps(x: Any, **kwargs: Any) -> str:
    """`json.dumps` of `encode(x)`; anything else JSON cannot hold is an error, not NaN."""
    return json.dumps(encode(x), allow_nan=False, **kwargs)


def loads(text: str | bytes) -> Any:
    """`json.loads` then `decode`."""
    return decode(json.loads(text))

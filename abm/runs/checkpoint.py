"""Resumable checkpoints of a run: the whole model, written atomically into the run's
output directory every `checkpoint_every` rounds and picked up by a rerun of the same
config (docs/architecture.md)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import cloudpickle

from abm.config import RunConfig

if TYPE_CHECKING:
    from abm.model import MechanismModel

log = logging.getLogger(__name__)

#: File name of a run's resumable checkpoint inside its output directory.
CHECKPOINT = "checkpoint.pkl"


def save_checkpoint(model: MechanismModel, path: Path) -> None:
    """Pickle the whole model (learners, ledger, RNG states, records) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        cloudpickle.dump(model, fh)
    os.replace(tmp, path)


def load_checkpoint(path: Path, cfg: RunConfig) -> MechanismModel | None:
    """The checkpointed model if `path` holds one for this very config, else None."""
    if not path.is_file():
        return None
    with path.open("rb") as fh:
        model = cloudpickle.load(fh)
    if model.config != cfg:
        log.warning("ignoring %s: it was written for a different config", path)
        return None
    log.info("resuming %s from round %d", cfg.scenario, model.t)
    return model

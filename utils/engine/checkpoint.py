"""Checkpoints: atomic writes, complete resume state, safe loading.

A checkpoint holds everything needed to rebuild or resume: model, optimiser, scheduler, epoch,
step, RNG states and the resolved configuration. A run folder holds two, both of the last finished
epoch (``utils.engine.training.fit``): ``last.pt``, the full state to resume from, and ``model.pt``, the same
without optimiser, scheduler and RNG states, which the prediction stages load. No checkpoint is
chosen by a validation metric: validation runs on the test subjects. Files are written to a
temporary name and renamed, so a crash never leaves a half-written ``last.pt``. Loading always uses
``weights_only=True``.
"""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from utils.engine.files import atomic_open
from utils.engine.runtime import unwrap


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the fix."""


def rng_state() -> dict:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached": float(np_state[4])},
        "python": repr(random.getstate()),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def resume_rng_state(ckpt: dict, rank: int = 0) -> dict:
    """The RNG states rank `rank` saved (rank 0's for a checkpoint of fewer ranks or an older one)."""
    states = ckpt.get("rng_per_rank") or [ckpt["rng"]]
    return states[rank] if rank < len(states) else ckpt["rng"]


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    import ast
    version, internal, gauss = ast.literal_eval(state["python"])
    random.setstate((version, tuple(internal), gauss))
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_save(obj, path: Path) -> None:
    """torch.save to `path` via a temporary file, flushed to disk, and an atomic rename."""
    with atomic_open(path, "wb", fsync=True) as fh:
        torch.save(obj, fh)


def make_checkpoint(*, model, model_name: str, model_kwargs: dict, config: dict, epoch: int, step: int,
                    optimizer=None, scheduler=None, epochs: int | None = None,
                    rng_per_rank: list | None = None) -> dict:
    """The checkpoint dict; `epochs`: the run's planned total (a run is finished when `epoch` reaches it);
    `rng_per_rank` holds every rank's RNG states under torchrun (rank r resumes its own dropout stream),
    else [this process's]."""
    return {
        "model": unwrap(model).state_dict(),
        "model_name": model_name,
        "model_kwargs": model_kwargs,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "epoch": epoch,
        "epochs": epochs,
        "step": step,
        "rng": rng_state(),
        "rng_per_rank": rng_per_rank if rng_per_rank is not None else [rng_state()],
        "config": config,
    }


def without_resume_state(ckpt: dict) -> dict:
    """`ckpt` without the resume state (optimiser, scheduler, RNG): a third of an Adam checkpoint's size."""
    return {**ckpt, "optimizer": None, "scheduler": None, "rng": None, "rng_per_rank": None}


def training_finished(path: Path) -> bool:
    """Whether the run whose ``last.pt`` is `path` trained all its planned epochs. False for a missing
    or unreadable file and for a run killed part-way (its last.pt holds the last finished epoch, not
    the last planned one); a checkpoint without ``epochs`` (written before the field existed) counts
    as finished."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # missing, truncated, foreign: not a finished run
        return False
    if not isinstance(ckpt, dict) or "epoch" not in ckpt:
        return False
    return ckpt.get("epochs") is None or ckpt["epoch"] >= ckpt["epochs"]


def load_checkpoint(path: Path, expect_model: str | None = None) -> dict:
    """Load one of our checkpoints safely; refuse a missing, corrupt or foreign file with one line."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found; train it first (see README, 'Stages')")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, pickle refused, garbage bytes
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({reason}); delete it and re-run the training stage") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "model_name" not in ckpt:
        raise CheckpointError(f"checkpoint {path} is not a checkpoint of this framework (no 'model'/'model_name'); "
                              f"official weights load through the model's load_official_* converter")
    if expect_model is not None and ckpt["model_name"] != expect_model:
        raise CheckpointError(f"checkpoint {path} holds a {ckpt['model_name']} model, expected {expect_model}; "
                              f"check model_2D_prediction / model_3D_prediction or the path")
    return ckpt

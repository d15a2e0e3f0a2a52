"""Devices, distributed helpers and mixed precision, as no-op objects when not needed.

One process on a CPU or one GPU by default; under ``torchrun`` the same script runs with
DistributedDataParallel (nccl on CUDA, gloo on CPU). Single-process code is the same code:
``rank()`` is 0, ``world_size()`` is 1, ``is_main_process()`` gates every file write.
"""
from __future__ import annotations

import logging
import os
import random
from contextlib import nullcontext

import cv2
import numpy as np
import torch
import torch.distributed as dist

logger = logging.getLogger(__name__)


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    return rank() == 0


def quiet() -> bool:
    """No progress bars on ranks other than 0, or when TQDM_DISABLE is set (logs, tests)."""
    return not is_main_process() or bool(os.environ.get("TQDM_DISABLE"))


def select_device(name: str = "auto") -> torch.device:
    """'auto' → cuda:<local rank> when available, else cpu."""
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("runtime.device=cuda but no CUDA device is visible; use runtime.device=cpu or auto")
    if name in ("auto", "cuda") and torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device("cpu")


def init_distributed(device: torch.device) -> None:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1); otherwise do nothing."""
    if int(os.environ.get("WORLD_SIZE", 1)) > 1 and not is_distributed():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        logger.info("distributed: rank %d of %d (%s)", rank(), world_size(), backend)


def cleanup_distributed(synchronise: bool = True) -> None:
    """Leave the process group. With `synchronise` (a rank that finished normally) wait for every rank
    first: a rank tearing gloo down while another is still saving or evaluating can abort with
    "terminate called without an active exception". A failed rank leaves at once (its peers may be gone)."""
    if is_distributed():
        if synchronise:
            dist.barrier()
        dist.destroy_process_group()


def autocast(device: torch.device, enabled: bool = True):
    """bf16 autocast on CUDA; a no-op context on the CPU (fp32)."""
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return nullcontext()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (each rank gets seed + rank for its augmentation streams)."""
    s = seed + rank()
    random.seed(s)
    np.random.seed(s % 2**32)
    torch.manual_seed(s)


def reduce_mean(values: dict[str, float], weight: float, device: torch.device) -> dict[str, float]:
    """Weighted mean of scalar metrics across ranks (weight = samples on this rank)."""
    if not is_distributed():
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] * weight for k in keys] + [weight], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return {k: (t[i] / t[-1]).item() for i, k in enumerate(keys)}


def all_gather_object(obj) -> list:
    """[obj of rank 0, obj of rank 1, …] on every rank; [obj] when not distributed."""
    if not is_distributed():
        return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def wrap_ddp(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    if not is_distributed():
        return model
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The bare model inside DistributedDataParallel and/or torch.compile wrappers."""
    while isinstance(getattr(model, "module", None), torch.nn.Module) or hasattr(model, "_orig_mod"):
        model = model.module if isinstance(getattr(model, "module", None), torch.nn.Module) else model._orig_mod
    return model


def worker_init_fn(worker_id: int) -> None:
    """Distinct, reproducible NumPy/random streams per DataLoader worker, and one OpenCV thread per
    worker (torch gives its workers one thread; OpenCV's own pool would otherwise start a thread per core
    in every worker: mmengine does the same)."""
    cv2.setNumThreads(0)
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)

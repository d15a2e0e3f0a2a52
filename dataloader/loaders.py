"""DataLoaders that behave the same on one CPU, one GPU or many ranks under torchrun."""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader, DistributedSampler

from utils import runtime


def make_loader(dataset, *, batch_size: int, shuffle: bool, num_workers: int, seed: int,
                drop_last: bool = False, device: torch.device | None = None) -> DataLoader:
    """A seeded DataLoader; a DistributedSampler shards it when running under torchrun.

    Evaluation loaders keep every sample (no drop_last), unlike the original code.
    """
    if len(dataset) == 0:
        raise SystemExit("empty dataset: no frames match the configured subjects/actions/cameras "
                         "(check data.train_subjects, data.test_subjects, data.actions, data.cameras)")
    sampler = None
    if runtime.is_distributed():
        sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed, drop_last=drop_last)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
        num_workers=num_workers, drop_last=drop_last and len(dataset) > batch_size, generator=generator,
        worker_init_fn=runtime.worker_init_fn, persistent_workers=False,
        pin_memory=device is not None and device.type == "cuda",
    )

"""DataLoaders that behave the same on one CPU, one GPU or many ranks under torchrun.

The order of a training epoch is a function of (seed, epoch) alone, on one process
(:class:`EpochRandomSampler`) as under torchrun (``DistributedSampler``): the DataLoader's own
generator advances with every epoch and is not in the checkpoint, so shuffling with it would
give a resumed run other batches than an uninterrupted one. ``fit`` calls ``set_epoch`` first.
"""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from utils.engine import runtime


class EpochRandomSampler(Sampler[int]):
    """A random permutation of range(n) drawn from (seed + epoch): the one DistributedSampler draws.

    Rank r of N processes takes items r, r + N, … of that same order, so with B items per rank the
    N ranks of step b together hold the single-process batch b of N·B items. Call
    ``set_epoch(epoch)`` before each epoch; without it every epoch repeats epoch 0's order.
    """

    def __init__(self, n: int, seed: int = 0):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self) -> int:
        return self.n


def keep_batch(batch):
    """The collate of a dataset that fetches whole batches (``__getitems__``): the batch as it is."""
    return batch


def make_loader(dataset, *, batch_size: int, shuffle: bool, num_workers: int, seed: int,
                drop_last: bool = False, device: torch.device | None = None) -> DataLoader:
    """A seeded DataLoader; a DistributedSampler shards it when running under torchrun.

    Evaluation loaders keep every sample (no drop_last), unlike the original code. A dataset with
    ``fetches_batches = True`` builds each batch itself in ``__getitems__``; it is passed on uncollated.
    """
    if len(dataset) == 0:
        raise SystemExit("empty dataset: no frames match the configured subjects/actions/cameras "
                         "(check data.train_subjects, data.test_subjects, data.actions, data.cameras)")
    if runtime.is_distributed():
        sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed, drop_last=drop_last)
    else:
        sampler = EpochRandomSampler(len(dataset), seed) if shuffle else None
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler,
        num_workers=num_workers, drop_last=drop_last and len(dataset) > batch_size,
        generator=torch.Generator().manual_seed(seed),
        collate_fn=keep_batch if getattr(dataset, "fetches_batches", False) else None,
        worker_init_fn=runtime.worker_init_fn, persistent_workers=False,
        pin_memory=device is not None and device.type == "cuda",
    )

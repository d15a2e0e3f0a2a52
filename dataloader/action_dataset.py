"""Action-recognition clips: T consecutive frames of a 2D source, labelled with the action.

Splits (exact subject and camera parsing, unlike the original study's substring matching):
- ``xsub``: train on the training subjects, test on the test subjects (all cameras);
- ``xview``: train on every other configured camera (0 and 2 of 0–3), test on the others (1 and 3),
  all subjects — a real cross-view split, not a per-camera average on the cross-subject test set.
Clips start every `clip_stride` frames; a sequence shorter than T gives one clip padded by
edge replication. Coordinates are centred on the pelvis of the clip's first frame. With `input_mode` ``xy+conf``
or ``xy+cov`` each joint also carries the channels of its 2×2 marginal covariance (``utils.codecs.uncertainty``),
computed after the scale jitter (which scales σ with the coordinates).
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from dataloader.h36m import ROOT, action_label, subject_id
from dataloader.sources import SeqKey, Source2D
from utils.codecs.uncertainty import input_channels, num_channels

def split_keys(keys: list[SeqKey], split: str, train_subjects, test_subjects) -> tuple[list, list]:
    """(train keys, test keys) of a protocol: 'xsub' or 'xview'."""
    if split == "xsub":
        return ([k for k in keys if k[0] in train_subjects], [k for k in keys if k[0] in test_subjects])
    if split == "xview":
        train_cameras = sorted({k[2] for k in keys})[0::2]
        return ([k for k in keys if k[2] in train_cameras], [k for k in keys if k[2] not in train_cameras])
    raise ValueError(f"unknown split {split!r}; valid: xsub, xview")


class ActionClipDataset(Dataset):
    """Items: dict(inputs (T, J, C), index_t (T,), label (), index (4,)); C = 2, 3 or 5 by `input_mode`.

    `uncertainty_dropout`: probability that a clip's uncertainty channels read as the constant "no uncertainty"
    (training augmentation, ``action.uncertainty_dropout``; as ``LiftingDataset``)."""

    def __init__(self, data, keys: list[SeqKey], source: Source2D, clip_length: int, clip_stride: int,
                 augment: bool = False, seed: int = 0, input_mode: str = "xy", uncertainty_dropout: float = 0.0):
        num_channels(input_mode)  # refuses an unknown mode
        if not 0.0 <= uncertainty_dropout <= 1.0:
            raise ValueError(f"uncertainty_dropout must be in [0, 1], got {uncertainty_dropout}")
        self.source, self.T, self.augment, self.seed = source, clip_length, augment, seed
        self.input_mode = input_mode
        self.uncertainty_dropout = uncertainty_dropout if input_mode != "xy" else 0.0
        self.keys = list(keys)
        self.labels = np.array([action_label(q) for _, q, _ in self.keys], dtype=np.int64)
        items = []
        for i, (subject, sequence, cam) in enumerate(self.keys):
            n = len(source.keypoints[(subject, sequence, cam)])
            starts = np.arange(0, max(n - clip_length, 0) + 1, clip_stride)
            items.append(np.stack([np.full_like(starts, i), starts], axis=1))
        self.items = np.concatenate(items) if items else np.zeros((0, 2), dtype=np.int64)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, idx: int) -> dict:
        k, start = (int(v) for v in self.items[idx])
        key = self.keys[k]
        n = len(self.source.keypoints[key])
        frames = np.clip(np.arange(start, start + self.T), 0, n - 1)
        rng = np.random.default_rng((self.seed, self.epoch, idx)) \
            if (self.source.stochastic or self.augment or self.uncertainty_dropout) else None
        x = self.source.window(key, frames, rng if self.source.stochastic else None)
        x = x - x[:1, ROOT:ROOT + 1]
        moments = self.source.window_moments(key, frames) if self.input_mode != "xy" else None
        if self.augment:
            scale = rng.uniform(0.9, 1.1)  # mild scale jitter: camera distance varies
            x = x * scale
            moments = None if moments is None else moments * scale ** 2
        if self.input_mode != "xy":  # drawn after the scale: the same augmentation as without dropout
            if self.uncertainty_dropout and rng.random() < self.uncertainty_dropout:
                moments = None
            x = input_channels(x, moments, self.input_mode)
        index_t = 2.0 * (frames - frames[0]) / max(self.T, 1) - 1.0  # Skate-Embedding time in [−1, 1)
        return {"inputs": torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
                "index_t": torch.from_numpy(index_t.astype(np.float32)),
                "label": torch.tensor(self.labels[k]),
                "index": torch.tensor([subject_id(key[0]), k, key[2], start])}

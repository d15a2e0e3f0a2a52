"""2D → 3D lifting dataset: windows of T frames centred on every frame, root-relative 3D targets.

Each item is one (subject, sequence, camera, frame): the 2D window of the chosen source (T frames
centred on the frame, edge-replicated at the sequence ends, as GraphMLP and VideoPose3D do) and the
3D pose of the centre frame in camera coordinates, root-relative (root joint = 0), in metres.
Windows are slices of pre-padded arrays (no per-item Python loop over frames). A stochastic source
(probabilistic samples, noise) draws afresh every time an item is read. With `input_mode` ``xy+conf`` or
``xy+cov`` each frame's joints also carry the channels of their 2×2 marginal covariance
(``utils.codecs.uncertainty``; the constant "no uncertainty" channels for a deterministic source).
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from dataloader.camera import world_to_camera
from dataloader.h36m import FLIP_PERMUTATION, ROOT, action_label, select_17, subject_id
from dataloader.sources import SeqKey, Source2D
from utils.codecs.uncertainty import MIRROR_NEGATES, input_channels, num_channels


def camera_pose_3d(data, subject: str, sequence: str, cam: int) -> np.ndarray:
    """(N, 17, 3) camera-frame 3D, root-relative (root = 0), metres."""
    world = select_17(data.positions_3d[subject][sequence]).astype(np.float64)
    cam_xyz = world_to_camera(world, data.camera(subject, cam))
    return (cam_xyz - cam_xyz[:, ROOT:ROOT + 1]).astype(np.float32)


def flip_2d(x):
    """Mirror centred normalised 2D input (…, J, C) — NumPy or torch: x → −x, left/right joints swapped; with the
    uncertainty channels of ``xy+cov`` (C = 5) the correlation ρ changes sign too (utils.codecs.uncertainty)."""
    out = x[..., list(FLIP_PERMUTATION), :]  # advanced indexing: a copy in both libraries
    for c in MIRROR_NEGATES[out.shape[-1]]:
        out[..., c] = -out[..., c]
    return out


def flip_3d(x):
    """Mirror root-relative 3D (…, J, 3) — NumPy or torch: x → −x, left/right joints swapped."""
    out = x[..., list(FLIP_PERMUTATION), :]
    out[..., 0] = -out[..., 0]
    return out


class LiftingDataset(Dataset):
    """Items: dict(inputs (T, J, C), target (J, 3), index (4,), action ()); C = 2, 3 or 5 by `input_mode`.

    Args:
        data: a loaded Human3.6M (dataloader.reader).
        keys: (subject, sequence, camera) to use.
        source: the 2D source (dataloader.sources).
        frames: receptive field T (odd).
        stride: every k-th frame is a target (training speed-up; evaluation uses 1).
        flip: random horizontal flip with probability 0.5 (training augmentation).
        seed: base seed of the per-item random streams (samples, noise, flips).
        input_mode: xy | xy+conf | xy+cov, the channels per joint (``utils.codecs.uncertainty``).
        uncertainty_dropout: probability that an item's uncertainty channels read as the constant "no
            uncertainty" of a deterministic source (training augmentation, ``lifting.uncertainty_dropout``): a
            model trained on a probabilistic source alone never sees that constant and fails on the
            deterministic sources it is evaluated on.
    """

    def __init__(self, data, keys: list[SeqKey], source: Source2D, frames: int, stride: int = 1,
                 flip: bool = False, seed: int = 0, input_mode: str = "xy", uncertainty_dropout: float = 0.0):
        if frames % 2 != 1:
            raise ValueError(f"lifting window must be odd, got frames={frames}")
        num_channels(input_mode)  # refuses an unknown mode
        if not 0.0 <= uncertainty_dropout <= 1.0:
            raise ValueError(f"uncertainty_dropout must be in [0, 1], got {uncertainty_dropout}")
        self.source, self.frames, self.flip, self.seed = source, frames, flip, seed
        self.input_mode = input_mode
        self.uncertainty_dropout = uncertainty_dropout if input_mode != "xy" else 0.0
        self.pad = (frames - 1) // 2
        self.keys = list(keys)
        self.targets = [camera_pose_3d(data, *k) for k in self.keys]
        items = []
        for i, (subject, sequence, cam) in enumerate(self.keys):
            n = len(self.targets[i])
            f = np.arange(0, n, stride)
            items.append(np.stack([np.full_like(f, i), f], axis=1))
        self.items = np.concatenate(items) if items else np.zeros((0, 2), dtype=np.int64)
        self.meta = np.array([[subject_id(s), 0, c, action_label(q)] for s, q, c in self.keys], dtype=np.int64)
        self.sequence_names = [q for _, q, _ in self.keys]
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _rng(self, idx: int) -> np.random.Generator:
        return np.random.default_rng((self.seed, self.epoch, idx))

    def __getitem__(self, idx: int) -> dict:
        k, f = (int(v) for v in self.items[idx])
        key = self.keys[k]
        n = len(self.targets[k])
        frames = np.clip(np.arange(f - self.pad, f + self.pad + 1), 0, n - 1)  # edge replication
        rng = self._rng(idx) if (self.source.stochastic or self.flip or self.uncertainty_dropout) else None
        x = self.source.window(key, frames, rng if self.source.stochastic else None)
        y = self.targets[k][f]
        flip = self.flip and rng.random() < 0.5
        if self.input_mode != "xy":  # drawn after the flip: the same flips and samples as without dropout
            dropped = self.uncertainty_dropout and rng.random() < self.uncertainty_dropout
            x = input_channels(x, None if dropped else self.source.window_moments(key, frames), self.input_mode)
        if flip:
            x, y = flip_2d(x), flip_3d(y)
        s, _, c, a = self.meta[k]
        return {"inputs": torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
                "target": torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32)),
                "index": torch.tensor([s, k, c, f]), "action": torch.tensor(a)}

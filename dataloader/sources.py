"""2D sources for the downstream stages: ground truth, a 2D prediction artifact, samples of a
probabilistic artifact, or ground truth plus isotropic noise.

Every source gives, per (subject, sequence, camera), the 2D keypoints of every frame in
normalised screen coordinates (x ∈ [−1, 1], y ∈ [−h/w, h/w]; see dataloader.camera). A
probabilistic source also keeps the Cholesky factor of each frame's covariance in the same
units, so a fresh sample N(mean, Σ) costs one small matrix product per frame when an item is read.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dataloader.camera import normalize_screen_coordinates
from dataloader.h36m import NUM_JOINTS
from utils.artifact import Artifact, ArtifactError, load_artifact

logger = logging.getLogger(__name__)

SeqKey = tuple[str, str, int]  # (subject, sequence, camera index)


@dataclass
class Source2D:
    """Normalised 2D keypoints per sequence, plus what is needed to draw fresh samples."""
    name: str
    keypoints: dict[SeqKey, np.ndarray]               # (N, J, 2) normalised
    cholesky: dict[SeqKey, np.ndarray] | None = None  # (N, 2J, 2J) lower factors of Σ, normalised units
    noise_std: float = 0.0                             # isotropic Gaussian std, normalised units

    @property
    def stochastic(self) -> bool:
        return self.cholesky is not None or self.noise_std > 0

    def window(self, key: SeqKey, frames: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """Keypoints (len(frames), J, 2) float32 of `frames` (already clipped) — a fresh draw if stochastic."""
        x = self.keypoints[key][frames]
        if rng is None:
            return x
        if self.cholesky is not None:
            L = self.cholesky[key][frames]                               # (T, D, D)
            eps = rng.standard_normal((len(frames), L.shape[-1], 1)).astype(np.float32)
            x = x + (L @ eps).reshape(len(frames), NUM_JOINTS, 2)
        if self.noise_std > 0:
            x = x + rng.normal(0.0, self.noise_std, size=x.shape).astype(np.float32)
        return x


def ground_truth_source(data, keys: list[SeqKey], noise_std: float = 0.0) -> Source2D:
    """Ground-truth 2D of the dataset (optionally with isotropic noise: the study's noise baseline)."""
    keypoints = {}
    for subject, sequence, cam in keys:
        camera = data.camera(subject, cam)
        px = data.positions_2d[subject][sequence][cam]
        keypoints[(subject, sequence, cam)] = normalize_screen_coordinates(
            px.astype(np.float32), camera.res_w, camera.res_h).astype(np.float32)
    return Source2D(name="GroundTruth" if noise_std == 0 else f"GroundTruth+noise{noise_std:g}",
                    keypoints=keypoints, noise_std=noise_std)


def artifact_source(data, keys: list[SeqKey], path: Path, fix: str, sample: bool = True) -> Source2D:
    """A 2D prediction artifact aligned to the dataset sequences `keys`.

    Refuses an artifact that lacks a sequence or a frame of `keys`, or whose frame counts differ
    from the dataset, with one line naming the first mismatch and the command (`fix`) that
    recreates it. With `sample` and a probabilistic artifact, items are fresh draws of N(mean, Σ).
    """
    art = load_artifact(path, fix)
    rows_by_key = art.sequences()
    keypoints, cholesky = {}, {} if (art.probabilistic and sample) else None
    for key in keys:
        subject, sequence, cam = key
        n = len(data.positions_3d[subject][sequence])
        rows = rows_by_key.get(key)
        if rows is None:
            raise ArtifactError(f"{path}: no predictions for {subject} {sequence!r} camera {cam}; {fix}")
        frames = art.index[rows, 3]
        if len(rows) != n or not np.array_equal(frames, np.arange(n)):
            missing = sorted(set(range(n)) - set(frames.tolist()))
            what = f"first missing frame {missing[0]}" if missing else f"{len(rows)} frames, dataset has {n}"
            raise ArtifactError(f"{path}: {subject} {sequence!r} camera {cam} does not match the dataset ({what}); "
                                f"re-create it: {fix}")
        camera = data.camera(subject, cam)
        scale = 2.0 / camera.res_w  # normalisation is isotropic: one factor 2/w for both axes
        keypoints[key] = normalize_screen_coordinates(art.keypoints[rows], camera.res_w, camera.res_h).astype(np.float32)
        if cholesky is not None:
            cov = art.covariance[rows].astype(np.float64) * scale ** 2
            cholesky[key] = np.linalg.cholesky(cov).astype(np.float32)
    name = art.meta.get("source", path.name)
    return Source2D(name=name, keypoints=keypoints, cholesky=cholesky)


def build_source(cfg, data, keys: list[SeqKey], source: str, noise_std: float = 0.0, sample: bool = True) -> Source2D:
    """The 2D source named by a configuration switch (GroundTruth | Hourglass | ViTPose | Probabilistic)."""
    from utils import layout

    if source == "GroundTruth":
        return ground_truth_source(data, keys, noise_std=noise_std)
    path = layout.prediction_dir(cfg, source)
    src = artifact_source(data, keys, path, fix=f"create it with `{layout.prediction_command(source)}`", sample=sample)
    src.noise_std = noise_std
    return src

"""2D sources for the downstream stages: ground truth, a 2D prediction artifact, samples of a
probabilistic artifact, or ground truth plus isotropic noise.

Every source gives, per (subject, sequence, camera), the 2D keypoints of every frame in
normalised screen coordinates (x ∈ [−1, 1], y ∈ [−h/w, h/w]; see dataloader.camera). A
probabilistic source also keeps the Cholesky factor of each frame's covariance in the same
units, so a fresh sample N(mean, Σ) costs one small matrix product per frame when an item is read.

Two sources isolate what the covariance adds, both read from the Probabilistic artifact:
``ProbabilisticMean`` (its means, never sampled: the Probabilistic source without the covariance) and
``GroundTruthCov``, displayed "GroundTruth+Σ" (the ground truth plus noise drawn from the predicted
covariance of the same frame: the ground truth with the covariance and without the estimator's means).

How draws are laid out along a window (``sample_mode``): the noise of frame t is L_t z_t with L_t the
Cholesky factor of Σ_t (σ·z_t for isotropic noise) and z_t standard normal, and
``frame``: z_t independent per frame (the original study; white jitter no real estimator produces);
``window``: one z for the whole window, so the noise follows every frame's covariance but moves with it;
``ar1``: z_t = ρ z_{t−1} + √(1−ρ²) ε_t, z_0 = ε_0 (each z_t stays standard normal, lag-1 correlation ρ).
Every mode keeps each frame's marginal N(μ_t, Σ_t); only the correlation across frames differs.

A source also gives each frame's per-joint 2×2 marginal covariance (:meth:`Source2D.window_moments`), what the
uncertainty input channels (`lifting.input`, `action.input`: ``utils.codecs.uncertainty``) are made of: the
artifact's Σ_j for a probabilistic artifact (its means, its samples and GroundTruth+Σ alike), plus s² I for
isotropic noise of std s; None for a deterministic source (no uncertainty).
"""
from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from dataloader.camera import normalize_screen_coordinates
from dataloader.h36m import NUM_JOINTS, get_camera, subject_id
from utils.artifact import Artifact, ArtifactError, load_artifact
from utils.codecs.uncertainty import marginal_moments

logger = logging.getLogger(__name__)

SeqKey = tuple[str, str, int]  # (subject, sequence, camera index)

PROBABILISTIC = "Probabilistic"
# downstream source → the 2D artifact it reads (sources not listed read their own)
ARTIFACT_OF = {"ProbabilisticMean": PROBABILISTIC, "GroundTruthCov": PROBABILISTIC}
DISPLAY_NAMES = {"GroundTruthCov": "GroundTruth+Σ"}  # config-safe spelling → the name tables show


def artifact_name(source: str) -> str | None:
    """The prediction artifact (predictions/<name>/) a downstream source reads; None for the ground truth."""
    return None if source == "GroundTruth" else ARTIFACT_OF.get(source, source)


def display_name(source: str) -> str:
    return DISPLAY_NAMES.get(source, source)


def standard_normal_path(rng: np.random.Generator, frames: np.ndarray, dim: int, mode: str = "frame",
                         rho: float = 0.9) -> np.ndarray:
    """(len(frames), dim) float32 standard-normal z_t for the (sorted, clipped) `frames` of a window.

    ``frame``: independent per window position; ``window``: one z for all; ``ar1``: an AR(1) path over the
    frames the window spans, z_t = ρ z_{t−1} + √(1−ρ²) ε_t with z_0 = ε_0 (stationary, unit variance),
    read at `frames` (an edge-replicated frame repeats its z, as it repeats its mean).
    """
    if mode == "frame":
        return rng.standard_normal((len(frames), dim))
    if mode == "window":
        return np.broadcast_to(rng.standard_normal(dim), (len(frames), dim))
    if mode == "ar1":
        from scipy.signal import lfilter  # here, not at the top: scipy.signal takes ~1 s to import in every stage
        first = int(frames.min())
        eps = rng.standard_normal((int(frames.max()) - first + 1, dim))
        c = np.sqrt(1.0 - rho ** 2)
        eps[0] /= c                                            # so that z_0 = c · ε_0 / c = ε_0
        return lfilter([c], [1.0, -rho], eps, axis=0)[frames - first]
    raise ValueError(f"unknown sample_mode {mode!r}; valid: frame, window, ar1")


@dataclass
class Source2D:
    """Normalised 2D keypoints per sequence, plus what is needed to draw fresh samples."""
    name: str
    keypoints: dict[SeqKey, np.ndarray]               # (N, J, 2) normalised
    cholesky: dict[SeqKey, np.ndarray] | None = None  # (N, 2J, 2J) lower factors of Σ, normalised units
    noise_std: float = 0.0                             # isotropic Gaussian std, normalised units
    sample_mode: str = "frame"                         # frame | window | ar1: draws along a window (module doc)
    rho: float = 0.9                                   # sample_mode=ar1: lag-1 correlation of z
    moments: dict[SeqKey, np.ndarray] | None = None   # (N, J, 3) Σxx, Σyy, Σxy of each joint's marginal, normalised²

    @property
    def stochastic(self) -> bool:
        return self.cholesky is not None or self.noise_std > 0

    def window(self, key: SeqKey, frames: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """Keypoints (len(frames), J, 2) float32 of `frames` (already clipped) — a fresh draw if stochastic."""
        x = self.keypoints[key][frames]
        if rng is None:
            return x
        T = len(frames)
        if self.cholesky is not None:
            L = self.cholesky[key][frames]                               # (T, D, D)
            z = standard_normal_path(rng, frames, L.shape[-1], self.sample_mode, self.rho).astype(np.float32)
            x = x + (L @ z[..., None]).reshape(T, NUM_JOINTS, 2)
        if self.noise_std > 0:
            z = standard_normal_path(rng, frames, 2 * NUM_JOINTS, self.sample_mode, self.rho)
            x = x + (self.noise_std * z).reshape(T, NUM_JOINTS, 2).astype(np.float32)
        return x

    def window_moments(self, key: SeqKey, frames: np.ndarray) -> np.ndarray | None:
        """(len(frames), J, 3) float32 Σxx, Σyy, Σxy of each joint's 2×2 marginal (normalised units²): the artifact's,
        plus noise_std² on the variances; None for a deterministic source (no uncertainty)."""
        if self.moments is None and self.noise_std == 0:
            return None
        m = (self.moments[key][frames] if self.moments is not None
             else np.zeros((len(frames), NUM_JOINTS, 3), dtype=np.float32))
        return m + np.array([self.noise_std ** 2, self.noise_std ** 2, 0.0], dtype=np.float32)


def frozen_draw(source: Source2D, seed: int) -> Source2D:
    """One fixed draw of a stochastic source for every frame (a deterministic source, reproducible per
    sequence from `seed`): what a stochastic source is evaluated and validated on. `sample_mode` applies
    along the whole sequence (``window``: one z per sequence)."""
    if not source.stochastic:
        return source
    keypoints, moments = {}, {}
    for key in source.keypoints:
        subject, sequence, cam = key
        rng = np.random.default_rng([seed, subject_id(subject), zlib.crc32(sequence.encode()), cam])
        frames = np.arange(len(source.keypoints[key]))
        keypoints[key] = source.window(key, frames, rng).astype(np.float32)
        moments[key] = source.window_moments(key, frames)  # the drawn noise's covariance stays known
    return replace(source, keypoints=keypoints, cholesky=None, noise_std=0.0, moments=moments)


def matched_noise_std(art: Artifact, subjects=None, cameras=None) -> tuple[float, float]:
    """The mean marginal σ of a probabilistic artifact: (normalised units, full-frame px).

    The mean over frames (rows of `subjects` and `cameras`, default all) and the 2J coordinates of √Σᵢᵢ;
    in normalised units each σ is scaled by 2 / w of its camera (dataloader.camera's normalisation), the
    units of ``noise_std``. N(0, s²) per coordinate with s the first number is the isotropic noise whose
    σ matches the estimator's on average.
    """
    if art.covariance is None:
        raise ArtifactError(f"{art.path}: the artifact has no covariance, so no σ to match")
    subjects_of = {subject_id(s): s for s in art.meta["sequences"]}
    rows = np.ones(len(art.index), dtype=bool)
    if subjects is not None:
        rows &= np.isin(art.index[:, 0], [subject_id(s) for s in subjects])
    if cameras is not None:
        rows &= np.isin(art.index[:, 2], list(cameras))
    if not rows.any():
        raise ArtifactError(f"{art.path}: no predictions for subjects {subjects} cameras {cameras} to match σ on")
    sigma = np.sqrt(np.diagonal(art.covariance[rows], axis1=1, axis2=2).astype(np.float64))   # (N, 2J) px
    scale = np.array([2.0 / get_camera(subjects_of[int(s)], int(c)).res_w for s, c in art.index[rows][:, [0, 2]]])
    return float((sigma * scale[:, None]).mean()), float(sigma.mean())


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


def sequence_rows(art: Artifact, rows_by_key: dict, key: SeqKey, num_frames: int, path: Path, fix: str) -> np.ndarray:
    """The artifact rows of sequence `key` (``rows_by_key = art.sequences()``), frames 0 … num_frames − 1 in order;
    ArtifactError naming `path`, the sequence, its first missing frame and `fix` when the artifact does not cover it."""
    subject, sequence, cam = key
    rows = rows_by_key.get(key)
    if rows is None:
        raise ArtifactError(f"{path}: no predictions for {subject} {sequence!r} camera {cam}; {fix}")
    frames = art.index[rows, 3]
    if len(rows) != num_frames or not np.array_equal(frames, np.arange(num_frames)):
        missing = sorted(set(range(num_frames)) - set(frames.tolist()))
        what = f"first missing frame {missing[0]}" if missing else f"{len(rows)} frames, dataset has {num_frames}"
        raise ArtifactError(f"{path}: {subject} {sequence!r} camera {cam} does not match the dataset ({what}); "
                            f"re-create it: {fix}")
    return rows


def artifact_source(data, keys: list[SeqKey], path: Path, fix: str, sample: bool = True) -> Source2D:
    """A 2D prediction artifact aligned to the dataset sequences `keys`.

    Refuses an artifact that lacks a sequence or a frame of `keys`, or whose frame counts differ
    from the dataset, with one line naming the first mismatch and the command (`fix`) that
    recreates it. With `sample` and a probabilistic artifact, items are fresh draws of N(mean, Σ).
    """
    art = load_artifact(path, fix)
    rows_by_key = art.sequences()
    keypoints, cholesky = {}, {} if (art.probabilistic and sample) else None
    moments = {} if art.probabilistic else None
    for key in keys:
        subject, sequence, cam = key
        rows = sequence_rows(art, rows_by_key, key, len(data.positions_3d[subject][sequence]), path, fix)
        camera = data.camera(subject, cam)
        scale = 2.0 / camera.res_w  # normalisation is isotropic: one factor 2/w for both axes
        keypoints[key] = normalize_screen_coordinates(art.keypoints[rows], camera.res_w, camera.res_h).astype(np.float32)
        if moments is not None:
            cov = art.covariance[rows].astype(np.float64) * scale ** 2
            moments[key] = marginal_moments(cov).astype(np.float32)
            if cholesky is not None:
                cholesky[key] = np.linalg.cholesky(cov).astype(np.float32)
    name = art.meta.get("source", path.name)
    return Source2D(name=name, keypoints=keypoints, cholesky=cholesky, moments=moments)


def build_source(cfg, data, keys: list[SeqKey], source: str, noise_std: float = 0.0, sample: bool = True,
                 sample_mode: str | None = None, rho: float | None = None) -> Source2D:
    """The 2D source named by a configuration switch.

    GroundTruth | Hourglass | ViTPose | Probabilistic (fresh draws of N(μ, Σ) with `sample`, its means
    without) | ProbabilisticMean (the Probabilistic artifact's means, never sampled) | GroundTruthCov (the
    ground truth + N(0, Σ) with the Probabilistic artifact's Σ of the same frame: fresh draws with `sample`,
    one fixed draw per frame without, seeded by ``cfg.seed``). `sample_mode` and `rho` lay the draws out
    along a window; default: ``sample_mode`` / ``sample_rho`` of the downstream model's section
    (``action`` for SkateFormer, ``lifting`` for GraphMLP).
    """
    from utils.engine import layout

    section = cfg.action if cfg.model_3D_prediction == "SkateFormer" else cfg.lifting
    mode = section.sample_mode if sample_mode is None else sample_mode
    rho = section.sample_rho if rho is None else rho
    if source == "GroundTruth":
        return replace(ground_truth_source(data, keys, noise_std=noise_std), sample_mode=mode, rho=rho)
    name = artifact_name(source)
    path = layout.prediction_dir(cfg, name)
    fix = f"create it with `{layout.prediction_command(name)}`"
    covariance = source == "GroundTruthCov" or (sample and source == PROBABILISTIC)
    src = artifact_source(data, keys, path, fix=fix, sample=covariance)
    src = replace(src, noise_std=noise_std, sample_mode=mode, rho=rho)
    if source == "ProbabilisticMean":
        return replace(src, name=source)
    if source == "GroundTruthCov":
        if src.cholesky is None:
            raise ArtifactError(f"{path} has no covariance: {display_name(source)} needs the probabilistic artifact; {fix}")
        truth = ground_truth_source(data, keys)
        src = replace(src, name=display_name(source), keypoints=truth.keypoints)
        return src if sample else frozen_draw(src, cfg.seed)
    return src

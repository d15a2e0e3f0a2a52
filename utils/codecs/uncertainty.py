"""Per-joint 2D uncertainty as extra input channels of the downstream models (`lifting.input`, `action.input`).

A probabilistic 2D source gives each frame a mean pose and a covariance Σ (2J × 2J); the downstream models
read the joints' 2×2 marginals Σ_j through extra channels beside the coordinates. The modes and their channels
per joint, in order:

- ``xy``: x, y. The coordinates alone: the official models' input (official checkpoints load only here).
- ``xy+conf``: x, y, c. A confidence c = 1 / (1 + σ_g / CONF_SCALE), with σ_g = (det Σ_j)^(1/4) the geometric
  mean of the marginal's principal standard deviations (the radius of the circle whose area is the 1σ ellipse's).
  It is 1 without uncertainty and falls monotonically as det Σ_j grows: the third input channel of MotionBERT
  and MotionAGFormer (there a 2D detector's confidence, 1.0 where none exists).
- ``xy+cov``: x, y, log(σx / SIGMA_FLOOR), log(σy / SIGMA_FLOOR), ρ. The marginal itself: its standard deviations
  on a log scale, measured in the coordinates' own units with the floor SIGMA_FLOOR as zero (σ below the floor
  reads as the floor), and its correlation ρ = Σxy / (σx σy) ∈ [−1, 1].

A deterministic source (ground truth, Hourglass, ViTPose) has no covariance: it gets the constant "no
uncertainty" channels, c = 1 and (0, 0, 0), so one model can be evaluated on every source.

Units: the coordinates are normalised screen coordinates (``dataloader.camera.normalize_screen_coordinates``,
x ∈ [−1, 1], one factor 2 / w for both axes), and the moments are in the same units squared (Σ of the
artifact, in px², times (2 / w)²), so σ is on the coordinates' scale. A horizontal mirror (x → −x) flips the
sign of Σxy and so of ρ; c and σ do not change (:data:`MIRROR_NEGATES`).

Pure functions of numpy arrays. Shape legend: J joints, … any leading axes (frames, batch).
"""
from __future__ import annotations

import numpy as np

INPUT_MODES = ("xy", "xy+conf", "xy+cov")
EXTRA_CHANNELS = {"xy": 0, "xy+conf": 1, "xy+cov": 3}   # channels per joint beyond (x, y)
CONF_SCALE = 0.05    # normalised units: σ_g at which c = 1/2 (25 px on a 1000 px wide camera)
SIGMA_FLOOR = 1e-3   # normalised units: the σ that log-channels read as 0 (0.5 px on a 1000 px wide camera)
# input channels negated by a horizontal mirror (x → −x), per number of channels: x, and ρ of xy+cov
MIRROR_NEGATES = {2: (0,), 3: (0,), 5: (0, 4)}


def num_channels(mode: str) -> int:
    """Input channels per joint of `mode`: 2, 3 or 5."""
    if mode not in EXTRA_CHANNELS:
        raise ValueError(f"unknown input mode {mode!r}; valid: {', '.join(INPUT_MODES)}")
    return 2 + EXTRA_CHANNELS[mode]


def mode_of(extra_channels: int) -> str:
    """The input mode of a model built with `extra_channels` (0, 1 or 3): what its checkpoint was trained on."""
    modes = {v: k for k, v in EXTRA_CHANNELS.items()}
    if extra_channels not in modes:
        raise ValueError(f"no input mode has {extra_channels} extra channels; valid: "
                         + ", ".join(f"{k} ({v})" for k, v in EXTRA_CHANNELS.items()))
    return modes[extra_channels]


def marginal_moments(covariance: np.ndarray) -> np.ndarray:
    """Joint-major covariances (…, 2J, 2J) → the joints' 2×2 marginals (…, J, 3) as (Σxx, Σyy, Σxy), same units."""
    d = covariance.shape[-1]
    j = np.arange(d // 2)
    return np.stack([covariance[..., 2 * j, 2 * j], covariance[..., 2 * j + 1, 2 * j + 1],
                     covariance[..., 2 * j, 2 * j + 1]], axis=-1)


def input_channels(keypoints: np.ndarray, moments: np.ndarray | None, mode: str) -> np.ndarray:
    """Encode: keypoints (…, J, 2) and marginal moments (…, J, 3) (Σxx, Σyy, Σxy; None: no uncertainty) →
    float32 (…, J, num_channels(mode)) input channels (module docstring), normalised units as the keypoints."""
    extra = num_channels(mode) - 2  # refuses an unknown mode
    keypoints = np.asarray(keypoints, dtype=np.float32)
    if extra == 0:
        return keypoints
    if moments is None:  # a deterministic source: the constant "no uncertainty" channels
        const = np.ones(1) if mode == "xy+conf" else np.zeros(3)
        return np.concatenate([keypoints, np.broadcast_to(const, keypoints.shape[:-1] + (extra,))],
                              axis=-1).astype(np.float32)
    m = np.asarray(moments, dtype=np.float64)
    vx, vy, cxy = np.maximum(m[..., 0], 0.0), np.maximum(m[..., 1], 0.0), m[..., 2]
    if mode == "xy+conf":
        sigma_g = np.maximum(vx * vy - cxy ** 2, 0.0) ** 0.25
        channels = (1.0 / (1.0 + sigma_g / CONF_SCALE))[..., None]
    else:
        sx, sy = np.sqrt(vx), np.sqrt(vy)
        denom = sx * sy
        rho = np.clip(np.divide(cxy, denom, out=np.zeros_like(cxy), where=denom > 0), -1.0, 1.0)
        channels = np.stack([np.log(np.maximum(sx, SIGMA_FLOOR) / SIGMA_FLOOR),
                             np.log(np.maximum(sy, SIGMA_FLOOR) / SIGMA_FLOOR), rho], axis=-1)
    return np.concatenate([keypoints, channels.astype(np.float32)], axis=-1)


def moments_from_channels(channels: np.ndarray) -> np.ndarray:
    """Decode ``xy+cov`` channels (…, J, 5) → marginal moments (…, J, 3) (Σxx, Σyy, Σxy); exact for σ ≥ SIGMA_FLOOR."""
    if channels.shape[-1] != 5:
        raise ValueError(f"xy+cov channels have 5 entries per joint, got shape {tuple(channels.shape)}")
    sx = SIGMA_FLOOR * np.exp(channels[..., 2].astype(np.float64))
    sy = SIGMA_FLOOR * np.exp(channels[..., 3].astype(np.float64))
    return np.stack([sx ** 2, sy ** 2, channels[..., 4] * sx * sy], axis=-1)

"""Pose and action metrics: 3D lifting protocols, 2D keypoint accuracy, classification accuracy.

3D (``facebookresearch/VideoPose3D: common/loss.py``, ``run.py``; ``Vegetebird/GraphMLP: common/eval_cal.py``):
poses are (..., J, 3), root-relative, in the units of the input (metres in the data files; multiply by
1000 to report mm). Protocol 1 = MPJPE, Protocol 2 = P-MPJPE (per-frame similarity Procrustes),
Protocol 3 = N-MPJPE (per-frame scale only), plus MPJVE (velocity). Per-action figures follow VideoPose3D:
frame-weighted inside an action, unweighted mean over actions (:func:`action_wise_average`).

2D: poses are (..., J, 2) in pixels (or any common unit); :func:`pck` normalises by the ground-truth box.

Samples: :func:`quantile_calibration` / :func:`leave_one_out_calibration` measure how well K sampled poses
per frame cover the ground truth (cGNF's calibration curve and error).

Torch and numpy: :func:`mpjpe`, :func:`n_mpjpe` and :func:`per_joint_error` are differentiable on tensors
and also accept arrays (same type out); :func:`p_mpjpe`, :func:`mpjve` and the 2D metrics compute in numpy
(float64) and accept either.
"""
from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import torch

Array = np.ndarray | torch.Tensor


def _check_same_shape(pred: Array, target: Array, dims: int | None = None) -> None:
    if tuple(pred.shape) != tuple(target.shape):
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} must have the same shape")
    if dims is not None and pred.shape[-1] != dims:
        raise ValueError(f"expected (..., J, {dims}) poses, got {tuple(pred.shape)}")


def _as_numpy(x: Array) -> np.ndarray:
    """float64 numpy copy of an array or tensor (detached, on CPU)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _joint_distance(pred: Array, target: Array) -> Array:
    """(..., J) Euclidean distance per joint, same array type as the inputs."""
    if isinstance(pred, torch.Tensor):
        return torch.linalg.vector_norm(pred - target, dim=-1)
    return np.linalg.norm(np.asarray(pred) - np.asarray(target), axis=-1)


def _reduce(errors_per_joint: Array, reduction: str) -> Array:
    """'mean' → scalar over everything; 'none' → (...) per frame (mean over joints)."""
    if reduction == "mean":
        return errors_per_joint.mean()
    if reduction == "none":
        return errors_per_joint.mean(-1)
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")


# --- 3D lifting ---------------------------------------------------------------------------


def mpjpe(pred: Array, target: Array, reduction: str = "mean") -> Array:
    """Protocol 1, MPJPE: mean Euclidean distance between predicted and ground-truth joints.

    Args:
        pred, target: (..., J, 3) root-relative poses, same units (metres → ×1000 for mm).
        reduction: 'mean' (scalar, over frames and joints) or 'none' (per frame, shape (...)).
    Returns:
        Error in the input units; a tensor (differentiable, usable as the training loss) for tensor input.
    """
    _check_same_shape(pred, target)
    return _reduce(_joint_distance(pred, target), reduction)


def n_mpjpe(pred: Array, target: Array, reduction: str = "mean") -> Array:
    """Protocol 3, N-MPJPE: MPJPE after scaling each predicted frame by s* = Σ_j ⟨G_j, P_j⟩ / Σ_j ‖P_j‖².

    s* is the least-squares scale of P onto G (VideoPose3D ``n_mpjpe``, generalised to any leading dims).
    Args and units as :func:`mpjpe`.
    """
    _check_same_shape(pred, target, dims=3)
    scale = (target * pred).sum(axis=(-2, -1)) / (pred * pred).sum(axis=(-2, -1))  # (...) per frame
    return mpjpe(scale[..., None, None] * pred, target, reduction=reduction)


def p_mpjpe(pred: Array, target: Array, reduction: str = "mean") -> np.ndarray | float:
    """Protocol 2, P-MPJPE: MPJPE after a per-frame similarity Procrustes alignment of pred onto target.

    For each frame: centre both poses, normalise by their Frobenius norms, H = X0ᵀ Y0 = U Σ Vᵀ, rotation
    R = V Uᵀ (the last column of V and the last singular value negated when det R < 0, so reflections are
    excluded), scale s = tr(Σ)·‖X0‖/‖Y0‖, translation t = μ_G − s·μ_P R, aligned P̂ = s·P R + t (VideoPose3D
    ``p_mpjpe``). Batched over all frames with ``np.linalg.svd``; float64; not differentiable.

    Args:
        pred, target: (..., J, 3) poses, same units.
        reduction: 'mean' (float) or 'none' (per frame, shape (...)).
    Returns:
        Error in the input units.
    """
    _check_same_shape(pred, target, dims=3)
    leading = tuple(pred.shape[:-2])
    P = _as_numpy(pred).reshape(-1, *pred.shape[-2:])  # (N, J, 3)
    G = _as_numpy(target).reshape(-1, *target.shape[-2:])
    mu_p, mu_g = P.mean(axis=1, keepdims=True), G.mean(axis=1, keepdims=True)  # (N, 1, 3)
    Y0, X0 = P - mu_p, G - mu_g
    norm_y = np.sqrt((Y0 ** 2).sum(axis=(1, 2), keepdims=True))  # (N, 1, 1)
    norm_x = np.sqrt((X0 ** 2).sum(axis=(1, 2), keepdims=True))
    # A collapsed pose (all joints equal) has norm 0: keep it at 0 instead of dividing by it (scale → 0).
    Y0 = Y0 / np.where(norm_y > 0, norm_y, 1.0)
    X0 = X0 / np.where(norm_x > 0, norm_x, 1.0)

    H = X0.transpose(0, 2, 1) @ Y0  # (N, 3, 3)
    U, s, Vt = np.linalg.svd(H)
    V = Vt.transpose(0, 2, 1)
    R = V @ U.transpose(0, 2, 1)
    sign = np.sign(np.linalg.det(R))  # (N,): −1 where the best orthogonal map is a reflection
    V[:, :, -1] *= sign[:, None]
    s[:, -1] *= sign
    R = V @ U.transpose(0, 2, 1)  # proper rotation, (N, 3, 3), acting on row vectors

    scale = s.sum(axis=1)[:, None, None] * norm_x / np.where(norm_y > 0, norm_y, 1.0)  # (N, 1, 1)
    translation = mu_g - scale * (mu_p @ R)
    aligned = scale * (P @ R) + translation
    errors = np.linalg.norm(aligned - G, axis=-1)  # (N, J)
    if reduction == "mean":
        return float(errors.mean())
    return _reduce(errors, reduction).reshape(leading)


def mpjve(pred: Array, target: Array, axis: int = -3, reduction: str = "mean") -> np.ndarray | float:
    """MPJVE: mean Euclidean distance between predicted and ground-truth joint velocities.

    Velocities are first differences along the time `axis` (default −3 for (..., T, J, 3)); predictions must
    be temporally ordered (VideoPose3D ``mean_velocity_error``). Units: input units per frame.
    `reduction` 'none' gives (..., T−1) per frame pair.
    """
    _check_same_shape(pred, target, dims=3)
    velocity_error = np.diff(_as_numpy(pred), axis=axis) - np.diff(_as_numpy(target), axis=axis)
    errors = np.linalg.norm(velocity_error, axis=-1)
    return float(errors.mean()) if reduction == "mean" else _reduce(errors, reduction)


def per_joint_error(pred: Array, target: Array) -> Array:
    """(J,) mean Euclidean error of each joint over all leading dims (frames), in the input units."""
    _check_same_shape(pred, target)
    distance = _joint_distance(pred, target)
    return distance.reshape(-1, distance.shape[-1]).mean(0)


def action_wise_average(errors_per_frame: Array, action_labels: Sequence[Hashable] | Array
                        ) -> tuple[float, dict[Hashable, float]]:
    """VideoPose3D's per-action figure: frame-weighted mean inside each action, unweighted mean over actions.

    Args:
        errors_per_frame: (N,) one error per evaluated frame (e.g. ``mpjpe(..., reduction='none')``).
        action_labels: (N,) the action of each frame: canonical names (``dataloader.h36m.canonical_action``,
            which merges 'Walking 1' into 'Walking') or label indices.
    Returns:
        (mean over actions, {action: mean error of its frames}), actions in sorted order.
    """
    errors = _as_numpy(errors_per_frame).reshape(-1)
    labels = np.asarray(action_labels.detach().cpu() if isinstance(action_labels, torch.Tensor) else action_labels)
    if labels.shape != errors.shape:
        raise ValueError(f"need one action label per frame: {errors.shape[0]} errors, {labels.shape} labels")
    if errors.size == 0:
        raise ValueError("action_wise_average needs at least one frame")
    actions, group = np.unique(labels, return_inverse=True)
    per_action = np.bincount(group, weights=errors) / np.bincount(group)
    table = {action.item() if hasattr(action, "item") else action: float(e) for action, e in zip(actions, per_action)}
    return float(per_action.mean()), table


# --- 2D keypoints ---------------------------------------------------------------------------


def _box_extent(gt: np.ndarray) -> np.ndarray:
    """(..., 2) width and height of the tight box around the joints of each ground-truth pose."""
    return gt.max(axis=-2) - gt.min(axis=-2)


def left_right_inversions(pred: Array, gt: Array, mirror: Sequence[int], threshold: float = 0.1) -> np.ndarray:
    """(J,) share of poses where joint j's prediction is an inversion (Ronchi & Perona, ICCV 2017): farther than
    `threshold` × max(w, h) of the tight ground-truth joint box from its own joint, and nearer the joint `mirror[j]`
    of the other side. A joint that is its own mirror (a centre joint) is never inverted.

    Args:
        pred, gt: (N, J, 2) keypoints, same units (pixels).
        mirror: the left/right permutation of the J joints (the flip permutation).
        threshold: fraction of the box size (0.1: a PCK@0.1 miss).
    """
    _check_same_shape(pred, gt, dims=2)
    P, G = _as_numpy(pred).astype(np.float64), _as_numpy(gt).astype(np.float64)
    own = _joint_distance(P, G)                                   # (N, J)
    nearer_other = _joint_distance(P, G[..., list(mirror), :]) < own
    size = _box_extent(G).max(axis=-1)                            # (N,)
    return ((own > threshold * size[..., None]) & nearer_other).mean(0)


def _fraction_within(distance: np.ndarray, limit: np.ndarray, visible: Array | None) -> float:
    hit = distance <= limit
    if visible is None:
        return float(hit.mean())
    mask = _as_numpy(visible).astype(bool)
    if mask.shape != hit.shape:
        raise ValueError(f"visible mask {mask.shape} must match the joints {hit.shape}")
    if not mask.any():
        raise ValueError("no visible joint to score")
    return float(hit[mask].mean())


def pck(pred: Array, gt: Array, box_size: Array | None = None, threshold: float = 0.05,
        visible: Array | None = None) -> float:
    """PCK: fraction of joints whose error is ≤ threshold · box_size.

    Args:
        pred, gt: (..., J, 2) keypoints, same units (pixels).
        box_size: (...) normaliser per pose; default max(w, h) of the tight box around the ground-truth joints.
        threshold: fraction of the box size (0.05 is mmpose's PCK default with box normalisation).
        visible: optional (..., J) mask of joints to score.
    Returns:
        Fraction in [0, 1] over all scored joints.
    """
    _check_same_shape(pred, gt, dims=2)
    P, G = _as_numpy(pred), _as_numpy(gt)
    size = _box_extent(G).max(axis=-1) if box_size is None else _as_numpy(box_size)
    if size.shape != G.shape[:-2]:
        raise ValueError(f"box_size must have one value per pose, shape {G.shape[:-2]}, got {size.shape}")
    return _fraction_within(np.linalg.norm(P - G, axis=-1), threshold * size[..., None], visible)


def mean_joint_error_2d(pred: Array, gt: Array, visible: Array | None = None) -> float:
    """Mean Euclidean distance between predicted and ground-truth 2D joints, in the input units (pixels)."""
    _check_same_shape(pred, gt, dims=2)
    distance = np.linalg.norm(_as_numpy(pred) - _as_numpy(gt), axis=-1)
    if visible is None:
        return float(distance.mean())
    return float(distance[_as_numpy(visible).astype(bool)].mean())


def ap50_study(pred: Array, gt: Array) -> float:
    """The original study's "AP at threshold 50", defined precisely: PCK at half the GT box diagonal.

    Per pose, D = ‖max_k g_k − min_k g_k‖ (diagonal of the tight box around the ground-truth joints, at least
    1e-6); score = fraction of joints with ‖p_k − g_k‖ / D ≤ 0.5; the figure is the mean over all joints.
    This is not COCO AP (no OKS, confidences or precision–recall). The study's ``compute_ap`` took the box
    from its first argument and was called with the prediction there; here the normaliser comes from the
    ground truth, so a prediction cannot loosen its own threshold. Range [0, 1].
    """
    _check_same_shape(pred, gt, dims=2)
    diagonal = np.maximum(np.linalg.norm(_box_extent(_as_numpy(gt)), axis=-1), 1e-6)
    return pck(pred, gt, box_size=diagonal, threshold=0.5)


# --- action recognition ---------------------------------------------------------------------


def topk_accuracy(logits: Array, labels: Array, k: int = 1) -> float:
    """Fraction of samples whose label is among the k highest logits. logits (N, classes), labels (N,)."""
    logits = torch.as_tensor(logits)
    labels = torch.as_tensor(labels, device=logits.device)
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(f"expected logits (N, classes) and labels (N,), got {tuple(logits.shape)} and "
                         f"{tuple(labels.shape)}")
    if not 1 <= k <= logits.shape[1]:
        raise ValueError(f"k must be in 1..{logits.shape[1]} (number of classes), got {k}")
    top = logits.topk(k, dim=1).indices  # (N, k)
    return float((top == labels[:, None]).any(dim=1).double().mean())


# --- calibration of samples -------------------------------------------------------------------

CALIBRATION_QUANTILES = np.round(np.arange(0.0, 1.0 + 1e-9, 0.05), 2)  # cGNF's levels 0, 0.05, …, 1


def quantile_calibration(samples: Array, target: Array, quantiles: Sequence[float] = CALIBRATION_QUANTILES
                         ) -> np.ndarray:
    """Per-joint quantile calibration of a sample-based prediction (cGNF, Pierzchlewicz et al. 2023,
    "Multi-hypothesis 3D human pose estimation metrics favor miscalibrated distributions";
    ``sinzlab/cGNF: scripts/eval/human36m/calibration.py``).

    Per frame and joint: the centre is the per-coordinate median of the samples; d_k = ‖s_k − centre‖ are
    the samples' distances and d = ‖g − centre‖ the ground truth's; the ground truth is *inside* level q when
    d < the q-quantile of the d_k (``np.quantile``, linear interpolation). A calibrated sampler gives
    fraction ≈ q for large K.

    Args:
        samples: (K, ..., J, D) K sampled poses per frame; target: (..., J, D) ground truth.
        quantiles: levels q in [0, 1].
    Returns:
        (Q, J) fraction of frames whose ground truth is inside level q, per joint.
    """
    S, G = _as_numpy(samples), _as_numpy(target)
    if S.shape[1:] != G.shape:
        raise ValueError(f"samples (K, ...) {S.shape} must stack poses shaped like the target {G.shape}")
    centre = np.median(S, axis=0)
    d_samples = np.linalg.norm(S - centre, axis=-1)                    # (K, ..., J)
    d_target = np.linalg.norm(G - centre, axis=-1)                     # (..., J)
    levels = np.quantile(d_samples, np.asarray(quantiles, np.float64), axis=0)  # (Q, ..., J)
    inside = levels > d_target
    return inside.reshape(len(levels), -1, G.shape[-2]).mean(1)


def calibration_error(fractions: np.ndarray, quantiles: Sequence[float] = CALIBRATION_QUANTILES) -> float:
    """cGNF's calibration score: mean over levels q of |median over joints of the fraction − q|."""
    return float(np.abs(np.median(fractions, axis=1) - np.asarray(quantiles)).mean())


def leave_one_out_calibration(samples: Array, target: Array, quantiles: Sequence[float] = CALIBRATION_QUANTILES
                              ) -> dict:
    """Quantile calibration of the ground truth, and of a perfectly calibrated sampler, at the same K.

    With few samples even a calibrated sampler is far from the diagonal (the centre and the quantiles come
    from the samples themselves: K = 4 Gaussian samples give a calibration error near 0.2). So each of the
    K samples is set aside in turn and the quantiles come from the other K − 1: the ground truth's fraction
    against them is the curve, and the set-aside sample's fraction (a "ground truth" drawn from the model
    itself) is the curve of a calibrated lifter at this K. Both are averaged over the K choices.

    Returns:
        dict(quantiles, fraction (Q,) median over joints, fraction_calibrated (Q,), ece, ece_calibrated,
        samples_per_curve = K − 1); fractions per joint in (Q, J) under ``per_joint_fraction``.
    """
    S, G = _as_numpy(samples), _as_numpy(target)
    if len(S) < 3:
        raise ValueError(f"leave-one-out calibration needs at least 3 samples, got {len(S)}")
    truth, calibrated = [], []
    for k in range(len(S)):
        rest = np.delete(S, k, axis=0)
        truth.append(quantile_calibration(rest, G, quantiles))
        calibrated.append(quantile_calibration(rest, S[k], quantiles))
    truth, calibrated = np.mean(truth, axis=0), np.mean(calibrated, axis=0)  # (Q, J)
    return {"quantiles": [float(q) for q in quantiles], "fraction": np.median(truth, axis=1).round(4).tolist(),
            "fraction_calibrated": np.median(calibrated, axis=1).round(4).tolist(),
            "ece": calibration_error(truth, quantiles), "ece_calibrated": calibration_error(calibrated, quantiles),
            "samples_per_curve": int(len(S) - 1), "per_joint_fraction": truth.round(4).tolist()}

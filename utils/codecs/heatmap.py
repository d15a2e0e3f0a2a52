"""Heatmap codec: keypoints ↔ Gaussian heatmaps (mmpose UDP conventions), soft-argmax and flip test.

Coordinates are (x, y) = (column, row) everywhere, in heatmap pixels whose centres sit at integer
coordinates (unbiased data processing, UDP: Huang et al., CVPR 2020): pixel (row i, column j) covers
[j − ½, j + ½] × [i − ½, i + ½], so a keypoint at (x, y) = (3.0, 5.0) is the centre of row 5, column 3.
The crop codec (``utils/codecs/crop.py``) maps input-crop pixels to heatmap pixels with the same convention.

Legend: N samples (any leading dims), J joints, h×w heatmap.
Sources: ``ViTAE-Transformer/ViTPose: mmpose/datasets/pipelines/top_down_transform.py`` (UDP targets),
``mmpose/core/evaluation/top_down_eval.py`` (``keypoints_from_heatmaps``, ``post_dark_udp``);
``open-mmlab/mmpose: mmpose/codecs/utils/refinement.py`` (``refine_keypoints_dark_udp``, mmpose 1.x).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F


def encode_heatmaps(keypoints: torch.Tensor | np.ndarray, heatmap_size: tuple[int, int], sigma: float = 2.0,
                    visible: torch.Tensor | np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian target heatmaps centred on sub-pixel keypoints.

    G(x, y) = exp(−((x − μx)² + (y − μy)²) / (2σ²)) over the whole map (peak 1 at the keypoint; mmpose
    writes the same values inside a 6σ+1 window only). A joint whose nearest pixel is off the map
    (μ outside [−½, w − ½) × [−½, h − ½)), not finite, or not ``visible`` gets weight 0 and an all-zero map.

    Args:
        keypoints: (..., J, 2) (x, y) in heatmap pixels.
        heatmap_size: (h, w).
        sigma: Gaussian standard deviation in heatmap pixels.
        visible: optional (..., J) mask (bool or 0/1); invisible joints get weight 0.

    Returns:
        heatmaps: (..., J, h, w) float32.
        weights: (..., J) float32, 1 for supervised joints, 0 otherwise.
    """
    shape = tuple(np.shape(keypoints))
    if len(shape) < 2 or shape[-1] != 2:
        raise ValueError(f"keypoints must be (..., J, 2) (x, y), got shape {shape}")
    # Computed in NumPy (a data-loader operation per sample: a tenth of torch's per-op overhead); tensors in
    # are read on the CPU and the maps go back to their device.
    device = keypoints.device if isinstance(keypoints, torch.Tensor) else torch.device("cpu")
    keypoints = _as_numpy(keypoints).astype(np.float32, copy=False)
    h, w = heatmap_size
    x, y = keypoints[..., 0], keypoints[..., 1]  # (..., J)
    with np.errstate(invalid="ignore"):
        weights = np.isfinite(x) & np.isfinite(y) & (x >= -0.5) & (x < w - 0.5) & (y >= -0.5) & (y < h - 0.5)
    if visible is not None:
        weights &= _as_numpy(visible).astype(bool)
    weights = weights.astype(np.float32)
    x, y = np.nan_to_num(x) * weights, np.nan_to_num(y) * weights  # finite centres for masked joints
    gx = np.exp(-(np.arange(w, dtype=np.float32) - x[..., None]) ** 2 / np.float32(2 * sigma ** 2))  # (..., J, w)
    gy = np.exp(-(np.arange(h, dtype=np.float32) - y[..., None]) ** 2 / np.float32(2 * sigma ** 2))  # (..., J, h)
    heatmaps = (gy[..., :, None] * gx[..., None, :] * weights[..., None, None]).astype(np.float32)  # (..., J, h, w)
    return torch.from_numpy(heatmaps).to(device), torch.from_numpy(weights).to(device)


def _as_numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def decode_heatmaps(heatmaps: torch.Tensor | np.ndarray, blur_kernel: int = 11,
                    refine: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Keypoints from heatmaps: integer argmax plus one DARK-UDP Newton step (batched, no gradient).

    Refinement (mmpose ``post_dark_udp``): blur each map with a ``blur_kernel``² Gaussian (σ = 0.3·((k−1)/2 − 1)
    + 0.8 = 2 for k = 11, as OpenCV picks it), clip to [0.001, 50], take the log L and move (x₀, y₀) by
    −(∇²L + εI)⁻¹∇L, with central differences on the 3×3 stencil around the maximum. For a Gaussian target
    the log is a quadratic and the step lands on the sub-pixel centre (error < 0.01 px for σ = 2).

    Near the border (deviations from mmpose, which pulls such keypoints by up to ~1 px): any padding of the
    blur invents values beyond the map and moves the maximum of the blurred map (zeros, mmpose 1.x
    ``gaussian_blur``, pull it inward; reflection, ViTPose's ``cv2.GaussianBlur``, and edge replication pull
    it outward). Instead, the kernel of a map is truncated per axis to the radius that keeps the blur of
    the stencil inside the map (same σ; no blur on the outermost two pixels), and a maximum on the outermost
    pixel takes its stencil one pixel inward (mmpose edge-pads L there: a one-sided difference). A symmetric
    kernel keeps a symmetric peak where it is, so a Gaussian target decodes to its centre up to the border.
    Also: the result stays within 1 pixel of the argmax per axis (a flat or saddle-shaped map cannot throw a
    keypoint away); coordinates are kept (not set to −1) when the maximum is ≤ 0, so use the scores to
    filter.

    Args:
        heatmaps: (..., J, h, w).
        blur_kernel: odd kernel size of the DARK Gaussian blur (11 in mmpose's UDP configs; 1 = no blur).
        refine: False for the integer argmax only.

    Returns:
        keypoints: (..., J, 2) float32 (x, y) in heatmap pixels.
        scores: (..., J) float32, the heatmap maximum (before refinement).
    """
    heatmaps = torch.as_tensor(heatmaps).detach().float()
    if blur_kernel < 1 or blur_kernel % 2 == 0:
        raise ValueError(f"blur_kernel must be a positive odd size (1 = no blur), got {blur_kernel}")
    if heatmaps.ndim < 3:
        raise ValueError(f"heatmaps must be (..., J, h, w), got shape {tuple(heatmaps.shape)}")
    *lead, h, w = heatmaps.shape
    flat = heatmaps.reshape(-1, 1, h, w)  # (M, 1, h, w), M = N·J
    scores, index = flat.flatten(1).max(dim=1)  # (M,)
    y0, x0 = index // w, index % w
    keypoints = torch.stack([x0, y0], dim=-1).float()  # (M, 2)
    if refine:
        keypoints = _dark_refine(flat, x0, y0, blur_kernel)
    return keypoints.reshape(*lead, 2), scores.reshape(lead)


def _dark_refine(flat: torch.Tensor, x0: torch.Tensor, y0: torch.Tensor, blur_kernel: int) -> torch.Tensor:
    """(M, 1, h, w) maps and integer maxima (M,) → refined (x, y) (M, 2): a Newton step on the log of the blurred maps.

    Only the 3×3 stencil of the blurred map is needed, so each map's (3 + 2r)² window around it is blurred
    with its own truncated kernel (zero weights beyond radius r per axis), batched over maps.
    """
    h, w = flat.shape[-2:]
    start = torch.stack([x0, y0], dim=-1).float()  # (M, 2)
    if h < 3 or w < 3:
        return start
    cx, cy = x0.clamp(1, w - 2), y0.clamp(1, h - 2)  # stencil centre: the 3×3 neighbourhood stays on the map
    half = blur_kernel // 2
    size = 2 * half + 3  # window: the stencil plus the kernel's reach on each side
    m = torch.arange(flat.shape[0], device=flat.device)
    steps = torch.arange(size, device=flat.device)
    padded = F.pad(flat[:, 0], (half + 1,) * 4)  # (M, h + size − 1, w + size − 1); the zeros get weight 0 below
    window = padded[m[:, None, None], (cy[:, None] + steps)[:, :, None], (cx[:, None] + steps)[:, None, :]]  # (M, size, size)
    sigma = 0.3 * ((blur_kernel - 1) * 0.5 - 1) + 0.8
    taps = torch.arange(-half, half + 1, dtype=flat.dtype, device=flat.device)  # (K,)

    def kernel(centre: torch.Tensor, length: int) -> torch.Tensor:  # (M,) → (M, K), truncated inside the map
        radius = torch.minimum(centre - 1, length - 2 - centre).clamp(max=half)
        g = torch.exp(-taps ** 2 / (2 * sigma ** 2)) * (taps.abs() <= radius[:, None])
        return g / g.sum(dim=-1, keepdim=True)

    blurred = torch.einsum("mrck,mk->mrc", window.unfold(2, 2 * half + 1, 1), kernel(cx, w))  # (M, size, 3)
    stencil = torch.einsum("mrck,mk->mrc", blurred.unfold(1, 2 * half + 1, 1), kernel(cy, h))  # (M, 3, 3)
    log = stencil.clamp(0.001, 50).log()

    def at(dx: int, dy: int) -> torch.Tensor:
        return log[:, 1 + dy, 1 + dx]

    centre = at(0, 0)
    dx = 0.5 * (at(1, 0) - at(-1, 0))
    dy = 0.5 * (at(0, 1) - at(0, -1))
    dxx = at(1, 0) - 2 * centre + at(-1, 0)
    dyy = at(0, 1) - 2 * centre + at(0, -1)
    dxy = 0.5 * (at(1, 1) - at(1, 0) - at(0, 1) + 2 * centre - at(-1, 0) - at(0, -1) + at(-1, -1))
    eps = torch.finfo(torch.float32).eps
    a, b, d = dxx + eps, dxy, dyy + eps
    det = a * d - b * b
    safe = det.abs() > 1e-12
    det = torch.where(safe, det, torch.ones_like(det))
    offset_x = -(d * dx - b * dy) / det  # −H⁻¹∇ with H⁻¹ = [[d, −b], [−b, a]] / det
    offset_y = -(a * dy - b * dx) / det
    refined = torch.where(safe[:, None], torch.stack([cx + offset_x, cy + offset_y], dim=-1), start)
    return torch.minimum(torch.maximum(refined, start - 1.0), start + 1.0)


def soft_argmax(heatmaps: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Differentiable expected location: softmax(β·heatmap) over all h·w pixels, then E[(column, row)].

    Args:
        heatmaps: (..., J, h, w).
        beta: inverse temperature of the softmax (larger = closer to the argmax).

    Returns:
        (..., J, 2) (x, y) in heatmap pixels.
    """
    *lead, h, w = heatmaps.shape
    probabilities = torch.softmax(beta * heatmaps.reshape(*lead, h * w), dim=-1).reshape(*lead, h, w)
    columns = torch.arange(w, dtype=heatmaps.dtype, device=heatmaps.device)
    rows = torch.arange(h, dtype=heatmaps.dtype, device=heatmaps.device)
    x = (probabilities.sum(dim=-2) * columns).sum(dim=-1)  # marginal over rows, then E[column]
    y = (probabilities.sum(dim=-1) * rows).sum(dim=-1)
    return torch.stack([x, y], dim=-1)


def flip_heatmaps(heatmaps: torch.Tensor, flip_permutation: Sequence[int]) -> torch.Tensor:
    """Heatmaps predicted on a horizontally flipped image → heatmaps of the original image.

    Mirrors the width axis (column j ↔ w − 1 − j: no shift with UDP) and swaps left and right joints:
    ``out[..., j, :, :] = mirror(heatmaps[..., flip_permutation[j], :, :])``. Flip test:
    ``(model(images) + flip_heatmaps(model(images.flip(-1)), FLIP_PERMUTATION)) / 2`` with
    ``FLIP_PERMUTATION`` from ``dataloader.h36m``.

    Args:
        heatmaps: (..., J, h, w).
        flip_permutation: (J,) joint j's mirror joint.
    """
    if len(flip_permutation) != heatmaps.shape[-3]:
        raise ValueError(f"flip_permutation has {len(flip_permutation)} joints, heatmaps {heatmaps.shape[-3]}")
    return heatmaps[..., list(flip_permutation), :, :].flip(-1)

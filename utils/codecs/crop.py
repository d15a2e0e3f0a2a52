"""Crop codec: full-frame pixels ↔ input-crop pixels ↔ heatmap pixels, as 2×3 affine matrices.

Pixel centres sit at integer coordinates (UDP, Huang et al., CVPR 2020), so the crop maps the person box
onto (0 … W_in − 1, 0 … H_in − 1) and the heatmap grid onto the input grid with stride
(W_in − 1)/(w − 1), (H_in − 1)/(h − 1) (mmpose ``get_warp_matrix`` / ``TopDownAffine(use_udp=True)``).
A point p = (x, y) maps to A p + t with ``affine = [A | t]`` (2×3); a covariance Σ of J stacked (x, y)
joints, (2J, 2J) joint-major, maps to 𝒜 Σ 𝒜ᵀ with 𝒜 = I_J ⊗ A (translation drops out).

Every function takes numpy arrays or torch tensors (points and matrices of the same kind) and returns
the kind it was given; a single (2, 3) affine applies to points of any shape (..., 2), a batch of affines
(..., 2, 3) to points (..., P, 2) with matching leading dimensions.

Typical use in a dataset (crop around a person box, augment, encode targets) and back at test time::

    from dataloader.h36m import FLIP_PERMUTATION
    center, size = box_square(box_xyxy, margin=1.25)                   # full-frame pixels
    # (or person_box(keypoints_2d): the tight ground-truth joint box)
    affine = crop_affine(center, size, input_size, rotation=r, scale=s, flip=flip)
    image_crop = warp_image(frame, affine, input_size)                 # (H_in, W_in, 3)
    keypoints_crop = apply_affine(keypoints_2d, affine)                # (J, 2) input pixels
    if flip:                                                           # the left hip now looks like a right hip
        keypoints_crop = keypoints_crop[..., FLIP_PERMUTATION, :]
    to_heatmap = heatmap_affine(input_size, heatmap_size)
    targets, weights = encode_heatmaps(apply_affine(keypoints_crop, to_heatmap), heatmap_size)
    ...
    keypoints_hm, scores = decode_heatmaps(heatmaps)                  # (J, 2) heatmap pixels
    full = compose_affine(to_heatmap, affine)                         # full frame → heatmap
    keypoints_full = apply_affine(keypoints_hm, invert_affine(full))  # (J, 2) full-frame pixels
    covariance_full = transform_covariance(covariance_hm, invert_affine(full))

(with ``flip``, un-permute the predictions first: ``keypoints_hm[..., FLIP_PERMUTATION, :]`` and
``permute_covariance(covariance_hm, FLIP_PERMUTATION)``; the permutation is its own inverse).
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

Array = np.ndarray | torch.Tensor


def box_square(boxes: Array, margin: float = 1.25) -> tuple[np.ndarray, float | np.ndarray]:
    """Square crop boxes around person boxes: the box centre, side = margin × its longer side.

    The crop convention of top-down pose estimators (mmpose ``TopdownAffine`` after ``GetBBoxCenterScale``
    with ``padding=1.25``), whatever made the box: ground-truth joints, a silhouette or a detector.

    Args:
        boxes: (..., 4) x0, y0, x1, y1 in full-frame pixels (finite, x1 ≥ x0, y1 ≥ y0).
        margin: side / longer side of the box.

    Returns:
        centres (..., 2) float64 pixels and sides in pixels (at least 1): a float for one box (4,), a
        float64 array (...) for a batch.
    """
    boxes = np.asarray(boxes.detach().cpu() if isinstance(boxes, torch.Tensor) else boxes, dtype=np.float64)
    low, high = boxes[..., :2], boxes[..., 2:]
    size = np.maximum(margin * (high - low).max(axis=-1), 1.0)
    return (low + high) / 2, (float(size) if size.ndim == 0 else size)


def person_box(keypoints: Array, margin: float = 1.25,
               visible: Array | None = None) -> tuple[np.ndarray, float | np.ndarray]:
    """Square person boxes around 2D keypoints: centre of their bounding box, side = margin × its larger extent.

    The tight box of the ground-truth joints is what mmpose's Human3.6M top-down configs crop with; at
    prediction time it gives away where the extreme joints are (``data.box_source=keypoints``).

    Args:
        keypoints: (..., J, 2) (x, y) full-frame pixels; non-finite or invisible joints are ignored.
        margin: side / larger extent of the keypoints' bounding box (1.25 as mmpose's padding).
        visible: optional (..., J) mask.

    Returns:
        centres (..., 2) float64 pixels and side lengths in pixels (at least 1): a float for one pose
        (J, 2), a float64 array (...) for a batch.
    """
    points = np.asarray(keypoints.detach().cpu() if isinstance(keypoints, torch.Tensor) else keypoints,
                        dtype=np.float64)
    if points.ndim == 1:
        points = points.reshape(-1, 2)
    keep = np.isfinite(points).all(axis=-1)                                      # (..., J)
    if visible is not None:
        keep &= np.asarray(visible, dtype=bool).reshape(keep.shape)
    if not keep.any(axis=-1).all():
        raise ValueError("person_box: no finite visible keypoint to build the box from")
    low = np.where(keep[..., None], points, np.inf).min(axis=-2)                 # (..., 2)
    high = np.where(keep[..., None], points, -np.inf).max(axis=-2)
    return box_square(np.concatenate([low, high], axis=-1), margin)


def stored_to_full(full_per_stored: Sequence[float] | np.ndarray, reduction: int = 1) -> np.ndarray:
    """(2, 3) affine: pixels of a frame stored downscaled, and decoded at 1/`reduction` → full-frame pixels.

    Pixel centres sit at integers in every grid, and a stored pixel is the mean of the full-frame pixels it
    covers (OpenCV's ``INTER_AREA`` resize, which ``python -m dataloader extract --image-scale`` uses, and
    libjpeg's DCT-scaled decode): pixel edges coincide, so x_full + ½ = S (x + ½) with S = s · r, s the
    full-frame size / stored size per axis. For s = 8, stored pixel 0 is the mean of full pixels 0 … 7 and
    sits at x_full = 3.5 (x_full = s · x would put it at 0, half a stored pixel off).

    Args:
        full_per_stored: (sx, sy) camera resolution / stored image size.
        reduction: JPEG decode reduction (1, 2, 4 or 8).
    """
    scale = np.asarray(full_per_stored, dtype=np.float64) * reduction
    return np.array([[scale[0], 0.0, (scale[0] - 1) / 2], [0.0, scale[1], (scale[1] - 1) / 2]])


def crop_affine(center: Sequence[float] | Array, size: float | Array, output_size: tuple[int, int],
                rotation: float | Array = 0.0, flip: bool | Array = False, *, scale: float | Array = 1.0) -> np.ndarray:
    """2×3 affines mapping full-frame pixels → input-crop pixels, one per box (a batch broadcasts).

    The square of side ``size · scale`` centred on ``center`` is rotated by ``rotation`` and fitted, with
    one isotropic scale, into the output: its side maps onto min(H_in, W_in) − 1 pixels (UDP), centred at
    ((W_in − 1)/2, (H_in − 1)/2); a non-square output shows extra context along its longer side. So
    p_crop = k R(θ) (p − c) + o with k = (min(H_in, W_in) − 1)/(size · scale), R(θ) = [[cos θ, −sin θ],
    [sin θ, cos θ]] (as mmpose; with y pointing down the image content turns clockwise for θ > 0).
    With ``flip`` the crop is then mirrored, x ← (W_in − 1) − x; pair it with ``FLIP_PERMUTATION`` on joints.

    Args:
        center: (..., 2) box centres (x, y), full-frame pixels.
        size: box sides in full-frame pixels, scalar or (...).
        output_size: (H_in, W_in) crop size in pixels.
        rotation: degrees, scalar or (...).
        flip: horizontal mirror, scalar or (...).
        scale: box scale factor (augmentation; > 1 zooms out), scalar or (...).

    Returns:
        (..., 2, 3) float64: (2, 3) for one box.
    """
    out_h, out_w = output_size
    centre = np.asarray(center, dtype=np.float64)
    centre = centre.reshape(2) if centre.size == 2 else centre
    size, rotation, flip, scale = (np.asarray(v, dtype=np.float64) for v in (size, rotation, flip, scale))
    lead = np.broadcast_shapes(centre.shape[:-1], size.shape, rotation.shape, flip.shape, scale.shape)
    k = (min(out_h, out_w) - 1) / (size * scale)
    theta = np.radians(rotation)
    cos, sin = np.broadcast_to(k * np.cos(theta), lead), np.broadcast_to(k * np.sin(theta), lead)
    mirror = np.where(flip != 0, -1.0, 1.0)  # x − o_x ↦ o_x − x about the crop centre: row 0 negated
    linear = np.stack([np.stack([mirror * cos, -mirror * sin], -1), np.stack([sin, cos], -1)], -2)  # (..., 2, 2)
    output_centre = np.array([(out_w - 1) / 2, (out_h - 1) / 2])
    translation = output_centre - (linear @ np.broadcast_to(centre, (*lead, 2))[..., None])[..., 0]
    return np.concatenate([linear, translation[..., None]], axis=-1)


def warp_image(image: np.ndarray, affine: np.ndarray, output_size: tuple[int, int]) -> np.ndarray:
    """Crop an image with ``cv2.warpAffine`` (bilinear, zeros outside): (H, W[, C]) → (H_in, W_in[, C])."""
    out_h, out_w = output_size
    return cv2.warpAffine(image, np.asarray(affine, dtype=np.float64), (out_w, out_h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def apply_affine(points: Array, affine: Array) -> Array:
    """Points (..., 2) (x, y) → A p + t, with affine (2, 3), or (..., 2, 3) for points (..., P, 2)."""
    affine = _like(affine, points)
    linear, translation = affine[..., :2], affine[..., 2]
    if affine.ndim == 2:
        return points @ linear.T + translation
    return points @ linear.swapaxes(-1, -2) + translation[..., None, :]


def invert_affine(affine: Array) -> Array:
    """Inverse of (..., 2, 3) affines: [A | t]⁻¹ = [A⁻¹ | −A⁻¹ t]."""
    a, b, c, d = affine[..., 0, 0], affine[..., 0, 1], affine[..., 1, 0], affine[..., 1, 1]
    det = a * d - b * c
    stack = np.stack if isinstance(affine, np.ndarray) else torch.stack
    inverse = stack([stack([d, -b], -1), stack([-c, a], -1)], -2) / det[..., None, None]  # (..., 2, 2)
    translation = -(inverse @ affine[..., 2:])  # (..., 2, 1)
    return (np.concatenate if isinstance(affine, np.ndarray) else torch.cat)([inverse, translation], -1)


def compose_affine(second: Array, first: Array) -> Array:
    """The affine of ``second ∘ first`` (apply ``first``, then ``second``), (..., 2, 3)."""
    first = _like(first, second)
    linear = second[..., :2] @ first[..., :2]
    translation = second[..., :2] @ first[..., 2:] + second[..., 2:]
    return (np.concatenate if isinstance(second, np.ndarray) else torch.cat)([linear, translation], -1)


def transform_covariance(covariance: Array, affine: Array) -> Array:
    """Covariances of J joints (..., 2J, 2J), (x, y) interleaved joint-major → 𝒜 Σ 𝒜ᵀ with 𝒜 = I_J ⊗ A.

    ``affine`` is (2, 3) or (..., 2, 3); only its linear part A acts.
    """
    affine = _like(affine, covariance)
    n = covariance.shape[-1]
    if n % 2 or covariance.shape[-2] != n:
        raise ValueError(f"covariance must be (..., 2J, 2J), got shape {tuple(covariance.shape)}")
    blocks = covariance.reshape(*covariance.shape[:-2], n // 2, 2, n // 2, 2)  # (..., J, 2, J, 2)
    einsum = np.einsum if isinstance(covariance, np.ndarray) else torch.einsum
    linear = affine[..., :2]
    out = einsum("...ab,...ibjc,...dc->...iajd", linear, blocks, linear)
    return out.reshape(covariance.shape)


def permute_covariance(covariance: Array, permutation: Sequence[int]) -> Array:
    """Reorder the joints of (..., 2J, 2J) covariances: joint j of the result is joint ``permutation[j]``."""
    index = np.stack([2 * np.asarray(permutation), 2 * np.asarray(permutation) + 1], axis=-1).reshape(-1)
    if isinstance(covariance, torch.Tensor):
        index = torch.as_tensor(index, device=covariance.device)
    return covariance[..., index, :][..., :, index]


def heatmap_affine(input_size: tuple[int, int], heatmap_size: tuple[int, int]) -> np.ndarray:
    """2×3 affine mapping input-crop pixels → heatmap pixels (UDP: x_hm = x_in · (w − 1)/(W_in − 1))."""
    (in_h, in_w), (h, w) = input_size, heatmap_size
    return np.array([[(w - 1) / (in_w - 1), 0.0, 0.0], [0.0, (h - 1) / (in_h - 1), 0.0]])


def input_to_heatmap(points: Array, input_size: tuple[int, int], heatmap_size: tuple[int, int]) -> Array:
    """Points (..., 2) input-crop pixels → heatmap pixels."""
    return apply_affine(points, heatmap_affine(input_size, heatmap_size))


def heatmap_to_input(points: Array, input_size: tuple[int, int], heatmap_size: tuple[int, int]) -> Array:
    """Points (..., 2) heatmap pixels → input-crop pixels (x_in = x_hm · (W_in − 1)/(w − 1))."""
    return apply_affine(points, invert_affine(heatmap_affine(input_size, heatmap_size)))


def _like(matrix: Array, reference: Array) -> Array:
    """``matrix`` as the array kind (and torch dtype/device) of ``reference``."""
    if isinstance(reference, torch.Tensor):
        return torch.as_tensor(matrix, dtype=reference.dtype, device=reference.device)
    return np.asarray(matrix.detach().cpu() if isinstance(matrix, torch.Tensor) else matrix)

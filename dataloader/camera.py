"""Camera geometry for Human3.6M: world ↔ camera frames, projection with distortion, screen
normalisation.

Conventions (``facebookresearch/VideoPose3D: common/camera.py``, ``common/h36m_dataset.py``): the world frame is metric with z up; the camera
frame is x right, y down, z forward; a camera stores the camera→world quaternion q = (w, x, y, z)
and its centre t in world metres, so X_cam = R(q)⁻¹ (X_world − t). The projection is
VideoPose3D's reimplementation of the official MATLAB model (not OpenCV's).
"""
from __future__ import annotations

import numpy as np

from dataloader.h36m import Camera


def quaternion_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v (..., 3) by the unit quaternion q (4,) = (w, x, y, z)."""
    q = np.asarray(q, dtype=np.float64)
    w, u = q[0], q[1:]
    uv = np.cross(np.broadcast_to(u, v.shape), v)
    uuv = np.cross(np.broadcast_to(u, v.shape), uv)
    return v + 2.0 * (w * uv + uuv)


def world_to_camera(points_world: np.ndarray, camera: Camera) -> np.ndarray:
    """(..., 3) world metres → (..., 3) camera metres."""
    q = np.asarray(camera.orientation, dtype=np.float64)
    q_inv = q * np.array([1.0, -1.0, -1.0, -1.0])
    return quaternion_rotate(q_inv, points_world - np.asarray(camera.translation))


def camera_to_world(points_camera: np.ndarray, camera: Camera) -> np.ndarray:
    """(..., 3) camera metres → (..., 3) world metres."""
    return quaternion_rotate(np.asarray(camera.orientation), points_camera) + np.asarray(camera.translation)


def project_to_pixels(points_camera: np.ndarray, camera: Camera) -> np.ndarray:
    """(..., 3) camera-frame points → (..., 2) pixels, with radial and tangential distortion.

    x = clamp(X/Z, −1, 1), r² = x² + y², radial = 1 + k1 r² + k2 r⁴ + k3 r⁶, tan = p1 x + p2 y,
    x_d = x (radial + tan) + p1 r² (y_d with p2), u = f x_d + c.
    """
    k = np.asarray(camera.radial_distortion)
    p = np.asarray(camera.tangential_distortion)
    f = np.asarray(camera.focal_length)
    c = np.asarray(camera.center)
    xy = np.clip(points_camera[..., :2] / points_camera[..., 2:3], -1.0, 1.0)
    r2 = np.sum(xy ** 2, axis=-1, keepdims=True)
    radial = 1.0 + k[0] * r2 + k[1] * r2 ** 2 + k[2] * r2 ** 3
    tangential = np.sum(p * xy, axis=-1, keepdims=True)
    xy_distorted = xy * (radial + tangential) + p * r2
    return f * xy_distorted + c


def normalize_screen_coordinates(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixels → centred screen units: x ∈ [0, w] ↦ [−1, 1], y ∈ [0, h] ↦ [−h/w, h/w]."""
    return pixels / width * 2.0 - np.array([1.0, height / width], dtype=pixels.dtype)


def image_coordinates(normalized: np.ndarray, width: int, height: int) -> np.ndarray:
    """Inverse of :func:`normalize_screen_coordinates`."""
    return (normalized + np.array([1.0, height / width], dtype=normalized.dtype)) * width / 2.0

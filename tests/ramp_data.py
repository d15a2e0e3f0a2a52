"""An in-memory :class:`Human36M` whose 2D is a known ramp, for tests that write expected values out by hand.

The 2D of (camera c, frame f, joint j) is the pixel (100 + 10 f + j, 300 + 20 c + j); the 3D is random world
metres (seed 0). :func:`normalised` is VideoPose3D's ``normalize_screen_coordinates`` (x ↦ 2x/w − 1,
y ↦ 2y/w − h/w), written out again so that a test does not check the reader with the reader's own code.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dataloader.h36m import NUM_CAMERAS, NUM_JOINTS, get_camera


def pixels(camera: int, num_frames: int) -> np.ndarray:
    """(N, J, 2) px: joint j of frame f at (100 + 10 f + j, 300 + 20 c + j)."""
    f, j = np.meshgrid(np.arange(num_frames), np.arange(NUM_JOINTS), indexing="ij")
    return np.stack([100.0 + 10 * f + j, 300.0 + 20 * camera + j + 0 * f], -1).astype(np.float32)


def normalised(subject: str, camera: int, px: np.ndarray) -> np.ndarray:
    """Pixels (..., 2) of `subject`'s camera → VideoPose3D's normalised screen coordinates."""
    cam = get_camera(subject, camera)
    return np.stack([2 * px[..., 0] / cam.res_w - 1, 2 * px[..., 1] / cam.res_w - cam.res_h / cam.res_w], -1)


def ramp_human36m(frames: dict[tuple[str, str], int]):
    """A Human36M of the sequences `frames` ((subject, sequence) → number of frames), 2D from :func:`pixels`,
    no data root on disk."""
    from dataloader.reader import Human36M

    rng = np.random.default_rng(0)
    positions_3d, positions_2d = {}, {}
    for (subject, sequence), n in frames.items():
        positions_3d.setdefault(subject, {})[sequence] = rng.uniform(-1, 1, (n, 32, 3)).astype(np.float32)
        positions_2d.setdefault(subject, {})[sequence] = [pixels(c, n) for c in range(NUM_CAMERAS)]
    return Human36M(root=Path("/nonexistent"), frame_template="{subject}/{sequence}.{camera}/{frame}.jpg",
                    positions_3d=positions_3d, positions_2d=positions_2d)

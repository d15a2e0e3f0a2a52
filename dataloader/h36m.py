"""Human3.6M conventions, declared once and imported everywhere.

Joint order, names, parents and left/right pairs of the 17-joint layout used by VideoPose3D,
GraphMLP and mmpose; the 32 → 17 selection; the 15 actions with their canonical names; the
subjects and the research split; the four cameras (from ``h36m_cameras.json``, the public
VideoPose3D numbers). Sources: ``facebookresearch/VideoPose3D: common/h36m_dataset.py``, ``common/skeleton.py``;
``anibali/h36m-fetch: metadata.xml`` (the 32-joint skeleton, sequence names).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

# --- skeleton -----------------------------------------------------------------------------

JOINT_NAMES = (
    "Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax",
    "Neck/Nose", "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist",
)
NUM_JOINTS = len(JOINT_NAMES)  # 17
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
JOINTS_LEFT = (4, 5, 6, 11, 12, 13)
JOINTS_RIGHT = (1, 2, 3, 14, 15, 16)
# Permutation that swaps left and right joints: FLIP_PERMUTATION[j] is the joint that j becomes.
FLIP_PERMUTATION = tuple(
    JOINTS_RIGHT[JOINTS_LEFT.index(j)] if j in JOINTS_LEFT
    else JOINTS_LEFT[JOINTS_RIGHT.index(j)] if j in JOINTS_RIGHT else j
    for j in range(NUM_JOINTS)
)
BONES = tuple((j, p) for j, p in enumerate(PARENTS) if p >= 0)
ROOT = 0

NUM_JOINTS_RAW = 32
# Parents of the 32 raw joints (VideoPose3D common/h36m_dataset.py).
PARENTS_RAW = (-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12, 16, 17, 18, 19, 20, 19,
               22, 12, 24, 25, 26, 27, 28, 27, 30)
# Raw joints kept for the 17-joint layout, in order.
KEEP_32_TO_17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)


def select_17(positions_32: np.ndarray) -> np.ndarray:
    """(..., 32, C) raw joints → (..., 17, C) in the standard order."""
    if positions_32.shape[-2] != NUM_JOINTS_RAW:
        raise ValueError(f"expected {NUM_JOINTS_RAW} raw joints on axis -2, got shape {positions_32.shape}")
    return positions_32[..., KEEP_32_TO_17, :]


# --- subjects and actions -----------------------------------------------------------------

SUBJECTS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS = ("S9", "S11")

# Canonical action keys (VideoPose3D / GraphMLP); the label of an action is its index here.
ACTIONS = (
    "Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing", "Purchases",
    "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking", "WalkTogether",
)
ACTION_ALIASES = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog", "WalkingTogether": "WalkTogether"}

_SEQUENCE_NAME = re.compile(r"^(?P<action>[A-Za-z]+)(?:[ _](?P<suffix>\d+))?$")


def canonical_action(sequence_name: str) -> str:
    """'Directions 1', 'TakingPhoto', 'WalkingDog 2', 'Sitting_2' → the canonical action key.

    Exact matching (no substring or prefix tricks), so 'Sitting' never matches 'SittingDown'.
    """
    match = _SEQUENCE_NAME.match(sequence_name.strip())
    name = match.group("action") if match else sequence_name
    name = ACTION_ALIASES.get(name, name)
    if name not in ACTIONS:
        raise KeyError(f"unknown Human3.6M action {sequence_name!r}; valid actions: {', '.join(ACTIONS)}")
    return name


def canonical_sequence(sequence_name: str) -> str:
    """Canonical sequence key: action aliases resolved, suffix kept ('WalkingDog 1' → 'WalkDog 1')."""
    match = _SEQUENCE_NAME.match(sequence_name.strip())
    action = canonical_action(sequence_name)
    suffix = match.group("suffix") if match else None
    return f"{action} {suffix}" if suffix else action


def action_label(sequence_name: str) -> int:
    return ACTIONS.index(canonical_action(sequence_name))


def subject_id(subject: str) -> int:
    """'S11' → 11 (exact parse, so S1 and S11 never collide)."""
    if not re.fullmatch(r"S\d+", subject):
        raise KeyError(f"bad subject name {subject!r}; expected e.g. 'S1' (valid: {', '.join(SUBJECTS)})")
    return int(subject[1:])


# --- cameras ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Camera:
    """One Human3.6M camera for one subject.

    Intrinsics in pixels of the res_w × res_h image; distortion in VideoPose3D order
    (radial k1 k2 k3, tangential p1 p2). ``orientation`` is the camera→world unit quaternion
    (w, x, y, z); ``translation`` the camera centre in world metres.
    """
    id: str
    index: int
    res_w: int
    res_h: int
    focal_length: tuple[float, float]
    center: tuple[float, float]
    radial_distortion: tuple[float, float, float]
    tangential_distortion: tuple[float, float]
    orientation: tuple[float, float, float, float]
    translation: tuple[float, float, float]
    azimuth: float


CAMERA_IDS = ("54138969", "55011271", "58860488", "60457274")
NUM_CAMERAS = len(CAMERA_IDS)


@lru_cache(maxsize=1)
def _camera_table() -> dict:
    return json.loads((Path(__file__).with_name("h36m_cameras.json")).read_text())


def get_camera(subject: str, camera: int | str) -> Camera:
    """The camera `camera` (index 0–3 or id string) of `subject`."""
    table = _camera_table()
    index = CAMERA_IDS.index(camera) if isinstance(camera, str) else int(camera)
    if not 0 <= index < NUM_CAMERAS:
        raise KeyError(f"camera index {camera} out of range; valid: 0..3 or ids {', '.join(CAMERA_IDS)}")
    if subject not in table["extrinsics"]:
        raise KeyError(f"no camera extrinsics for subject {subject!r}; valid: {', '.join(table['extrinsics'])}")
    intr = table["intrinsics"][index]
    extr = table["extrinsics"][subject][index]
    return Camera(
        id=intr["id"], index=index, res_w=int(intr["res_w"]), res_h=int(intr["res_h"]),
        focal_length=tuple(intr["focal_length"]), center=tuple(intr["center"]),
        radial_distortion=tuple(intr["radial_distortion"]),
        tangential_distortion=tuple(intr["tangential_distortion"]),
        orientation=tuple(np.asarray(extr["orientation"]) / np.linalg.norm(extr["orientation"])),  # unit to 1e-16
        translation=tuple(t / 1000.0 for t in extr["translation"]),
        azimuth=float(intr["azimuth_for_plots_deg"]),
    )


def cameras_of(subject: str) -> list[Camera]:
    return [get_camera(subject, i) for i in range(NUM_CAMERAS)]

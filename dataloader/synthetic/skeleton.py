"""Kinematic skeleton of the synthetic Human3.6M: subject bodies, rest offsets, forward and
inverse kinematics for the 32 raw joints.

Frames. The *body frame* is x forward, y left, z up (metres); a joint's rest offset is the
vector from its parent in the parent's frame. A local rotation (3 × 3) turns a joint's frame
relative to its parent's, so R_global(j) = R_global(parent) R_local(j) and
p(j) = p(parent) + R_global(parent) offset(j). The world frame is that of the real data: metres,
z up, floor at z = 0.

The 32 joints follow the Human3.6M skeleton (``anibali/h36m-fetch: metadata.xml``; ``dataloader.h36m.PARENTS_RAW``): Spine (11)
sits on the hips (0), both clavicles (16, 24) sit on the neck base (13), and the thumbs (20, 28)
and wrist-end sites (23, 31) have zero-length bones, as in the ``metadata.xml`` template.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dataloader.h36m import NUM_JOINTS_RAW, PARENTS_RAW

# Raw joint indices used by name below (human36m.md §2).
HIPS, R_HIP, R_KNEE, R_ANKLE, R_TOE, R_TOE_END = 0, 1, 2, 3, 4, 5
L_HIP, L_KNEE, L_ANKLE, L_TOE, L_TOE_END = 6, 7, 8, 9, 10
SPINE, SPINE1, NECK, HEAD, HEAD_TOP = 11, 12, 13, 14, 15
L_CLAVICLE, L_SHOULDER, L_ELBOW, L_WRIST, L_THUMB, L_THUMB_END, L_HAND_END, L_HAND_SITE = range(16, 24)
R_CLAVICLE, R_SHOULDER, R_ELBOW, R_WRIST, R_THUMB, R_THUMB_END, R_HAND_END, R_HAND_SITE = range(24, 32)

# Per side: 0 = left (y > 0), 1 = right. SIDE_SIGN is the sign of the lateral (y) axis.
SIDE_SIGN = (1.0, -1.0)
HIP_JOINT = (L_HIP, R_HIP)
KNEE_JOINT = (L_KNEE, R_KNEE)
ANKLE_JOINT = (L_ANKLE, R_ANKLE)
TOE_JOINT = (L_TOE, R_TOE)
TOE_END_JOINT = (L_TOE_END, R_TOE_END)
SHOULDER_JOINT = (L_SHOULDER, R_SHOULDER)
ELBOW_JOINT = (L_ELBOW, R_ELBOW)
WRIST_JOINT = (L_WRIST, R_WRIST)


@dataclass(frozen=True)
class Body:
    """Proportions of one subject. Segment lengths are fractions of ``height`` (Drillis &
    Contini's anthropometric table), times a per-subject scale for legs, arms and widths."""
    height: float            # standing height, metres
    leg_scale: float = 1.0
    arm_scale: float = 1.0
    shoulder_scale: float = 1.0
    hip_scale: float = 1.0

    @property
    def thigh(self) -> float:
        return 0.245 * self.height * self.leg_scale

    @property
    def shin(self) -> float:
        return 0.246 * self.height * self.leg_scale

    @property
    def ankle_height(self) -> float:
        return 0.039 * self.height

    @property
    def toe_height(self) -> float:
        return 0.014 * self.height

    @property
    def upper_arm(self) -> float:
        return 0.186 * self.height * self.arm_scale

    @property
    def forearm(self) -> float:
        return 0.146 * self.height * self.arm_scale


# Fixed per subject so bone lengths are the same in every sequence and every seed
# (heights 1.55–1.85 m; the real subjects' sizes are not published with the poses).
SUBJECT_BODIES = {
    "S1": Body(height=1.62, leg_scale=1.02, arm_scale=0.98, shoulder_scale=0.92, hip_scale=1.06),
    "S5": Body(height=1.57, leg_scale=0.98, arm_scale=0.97, shoulder_scale=0.90, hip_scale=1.08),
    "S6": Body(height=1.79, leg_scale=1.00, arm_scale=1.02, shoulder_scale=1.06, hip_scale=0.97),
    "S7": Body(height=1.66, leg_scale=1.03, arm_scale=1.00, shoulder_scale=0.94, hip_scale=1.04),
    "S8": Body(height=1.81, leg_scale=0.99, arm_scale=1.03, shoulder_scale=1.08, hip_scale=0.96),
    "S9": Body(height=1.73, leg_scale=0.97, arm_scale=1.01, shoulder_scale=1.03, hip_scale=1.00),
    "S11": Body(height=1.85, leg_scale=1.01, arm_scale=1.04, shoulder_scale=1.05, hip_scale=0.98),
}


def body_of(subject: str) -> Body:
    if subject not in SUBJECT_BODIES:
        raise KeyError(f"no synthetic body for subject {subject!r}; valid: {', '.join(SUBJECT_BODIES)}")
    return SUBJECT_BODIES[subject]


def rest_offsets(body: Body) -> np.ndarray:
    """Bone offsets of the rest pose (standing, arms hanging): (32, 3) metres, body frame.

    offset[j] is joint j relative to PARENTS_RAW[j]; offset[0] is zero (the root is placed by
    the caller). Zero-length bones (11, 20, 23, 28, 31) and the clavicles (16, 24, = neck base)
    follow human36m.md §2.
    """
    h = body.height
    offsets = np.zeros((NUM_JOINTS_RAW, 3))
    toe = np.array([0.075 * h, 0.0, body.toe_height - body.ankle_height])
    for side, sign in enumerate(SIDE_SIGN):
        offsets[HIP_JOINT[side]] = (0.0, sign * 0.075 * h * body.hip_scale, 0.0)
        offsets[KNEE_JOINT[side]] = (0.0, 0.0, -body.thigh)
        offsets[ANKLE_JOINT[side]] = (0.0, 0.0, -body.shin)
        offsets[TOE_JOINT[side]] = toe
        offsets[TOE_END_JOINT[side]] = (0.03 * h, 0.0, 0.0)
    offsets[SPINE] = (0.0, 0.0, 0.0)
    offsets[SPINE1] = (0.0, 0.0, 0.13 * h)
    offsets[NECK] = (0.0, 0.0, 0.145 * h)
    offsets[HEAD] = (0.025 * h, 0.0, 0.065 * h)
    offsets[HEAD_TOP] = (-0.01 * h, 0.0, 0.065 * h)
    for first, sign in ((L_CLAVICLE, 1.0), (R_CLAVICLE, -1.0)):
        clavicle, shoulder, elbow, wrist, thumb, thumb_end, hand_end, hand_site = range(first, first + 8)
        offsets[clavicle] = offsets[NECK]
        offsets[shoulder] = (-0.005 * h, sign * 0.1 * h * body.shoulder_scale, -0.015 * h)
        offsets[elbow] = (0.0, 0.0, -body.upper_arm)
        offsets[wrist] = (0.0, 0.0, -body.forearm)
        offsets[thumb] = (0.0, 0.0, 0.0)
        offsets[thumb_end] = (0.02 * h, 0.0, -0.025 * h)
        offsets[hand_end] = (0.0, 0.0, -0.05 * h)
        offsets[hand_site] = (0.0, 0.0, 0.0)
    return offsets


def bone_lengths(positions: np.ndarray) -> np.ndarray:
    """(..., 32, 3) joint positions → (..., 32) distance of each joint from its parent (root: 0)."""
    parents = np.array([max(p, 0) for p in PARENTS_RAW])
    return np.linalg.norm(positions - positions[..., parents, :], axis=-1)


# --- rotations ---------------------------------------------------------------------------

def rot_x(angle: np.ndarray) -> np.ndarray:
    """(T,) radians → (T, 3, 3) rotation about x (y turns towards z)."""
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(c), np.zeros_like(c)
    return np.stack([np.stack([one, zero, zero], -1), np.stack([zero, c, -s], -1),
                     np.stack([zero, s, c], -1)], -2)


def rot_y(angle: np.ndarray) -> np.ndarray:
    """(T,) radians → (T, 3, 3) rotation about y (z turns towards x)."""
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(c), np.zeros_like(c)
    return np.stack([np.stack([c, zero, s], -1), np.stack([zero, one, zero], -1),
                     np.stack([-s, zero, c], -1)], -2)


def rot_z(angle: np.ndarray) -> np.ndarray:
    """(T,) radians → (T, 3, 3) rotation about z (x turns towards y)."""
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(c), np.zeros_like(c)
    return np.stack([np.stack([c, -s, zero], -1), np.stack([s, c, zero], -1),
                     np.stack([zero, zero, one], -1)], -2)


# --- kinematics --------------------------------------------------------------------------

def forward_kinematics(offsets: np.ndarray, local_rotations: np.ndarray,
                       root_position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions and global rotations of the 32 joints.

    Args:
        offsets: (32, 3) rest bone offsets (:func:`rest_offsets`), metres.
        local_rotations: (T, 32, 3, 3) rotation of each joint relative to its parent; entry 0 is
            the root's orientation in the world.
        root_position: (T, 3) world position of joint 0, metres.
    Returns:
        positions (T, 32, 3) metres and global rotations (T, 32, 3, 3).
    """
    num_frames = local_rotations.shape[0]
    positions = np.zeros((num_frames, NUM_JOINTS_RAW, 3))
    rotations = np.zeros((num_frames, NUM_JOINTS_RAW, 3, 3))
    positions[:, 0] = root_position
    rotations[:, 0] = local_rotations[:, 0]
    for joint in range(1, NUM_JOINTS_RAW):  # parents always precede children
        parent = PARENTS_RAW[joint]
        positions[:, joint] = positions[:, parent] + rotations[:, parent] @ offsets[joint]
        rotations[:, joint] = rotations[:, parent] @ local_rotations[:, joint]
    return positions, rotations


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def two_bone_ik(shoulder: np.ndarray, target: np.ndarray, pole: np.ndarray, upper: float,
                lower: float, max_flexion: float = np.deg2rad(150.0)) -> tuple[np.ndarray, np.ndarray]:
    """Analytic two-bone IK (shoulder → elbow → wrist) with the elbow pushed towards ``pole``.

    The target is clamped to the reachable shell (elbow flexion in [~3°, max_flexion]), so the
    bone lengths hold exactly and the elbow never bends backwards.

    Args:
        shoulder, target: (T, 3) world positions, metres.
        pole: (T, 3) world direction the elbow should point to (need not be unit or orthogonal).
        upper, lower: bone lengths, metres.
    Returns:
        upper_rotation (T, 3, 3): global frame of the upper arm whose -z axis runs along the bone
        and whose +x axis is the direction the forearm bends to; flexion (T,) radians, so the
        elbow's local rotation is ``rot_y(-flexion)``.
    """
    to_target = target - shoulder
    distance = np.linalg.norm(to_target, axis=-1)
    shortest = np.sqrt(upper ** 2 + lower ** 2 + 2 * upper * lower * np.cos(max_flexion))
    distance = np.clip(distance, shortest, 0.999 * (upper + lower))
    axis = _normalize(to_target)                                       # (T, 3) shoulder → target
    bend = _normalize(pole - np.sum(pole * axis, -1, keepdims=True) * axis)
    degenerate = np.linalg.norm(pole - np.sum(pole * axis, -1, keepdims=True) * axis, axis=-1) < 1e-6
    if degenerate.any():  # pole parallel to the arm: bend towards any perpendicular
        fallback = _normalize(np.cross(axis, np.array([0.0, 0.0, 1.0])) + np.array([1e-3, 0.0, 0.0]))
        bend[degenerate] = fallback[degenerate]
    cos_alpha = (upper ** 2 + distance ** 2 - lower ** 2) / (2 * upper * distance)
    alpha = np.arccos(np.clip(cos_alpha, -1.0, 1.0))[:, None]          # shoulder angle
    along = np.cos(alpha) * axis + np.sin(alpha) * bend                 # unit shoulder → elbow
    # In the plane (axis, bend) the forearm turns back towards the shoulder–target line.
    forward = np.sin(alpha) * axis - np.cos(alpha) * bend
    z = -along
    y = np.cross(z, forward)
    upper_rotation = np.stack([forward, y, z], axis=-1)                 # columns x, y, z
    cos_inner = (upper ** 2 + lower ** 2 - distance ** 2) / (2 * upper * lower)
    flexion = np.pi - np.arccos(np.clip(cos_inner, -1.0, 1.0))
    return upper_rotation, flexion


def floor_offset(positions: np.ndarray, body: Body) -> np.ndarray:
    """(T, 32, 3) → (T,) height to add so the lowest sole point (heel under the ankle, toe
    joints) touches the floor z = 0."""
    heel = positions[:, list(ANKLE_JOINT), 2] - body.ankle_height
    toes = positions[:, list(TOE_JOINT) + list(TOE_END_JOINT), 2] - body.toe_height
    return -np.minimum(heel.min(axis=1), toes.min(axis=1))

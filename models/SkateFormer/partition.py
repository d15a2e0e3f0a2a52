"""The Human3.6M joints in the part-major layout SkateFormer's Skate-Types need.

SkateFormer's partitions group joints by position on the joint axis: type 1/3 take contiguous blocks of L
joints ("neighbouring"), type 2/4 take joints at stride J/K ("distant"). They mean what the paper says only
when the axis is ordered part-major, P parts of Q joints each, with L a multiple of Q and K = P
(derived from the partition functions of ``KAIST-VICLab/SkateFormer: model/SkateFormer.py`` and the NTU joint
order of ``feeders/feeder_ntu.py``). 17 is prime, so one pad slot is
added: 6 parts × 3 joints = 18, in the NTU order (right arm, left arm, right leg, left leg, trunk, head):

    RArm  [RShoulder, RElbow, RWrist]   LArm [LShoulder, LElbow, LWrist]
    RLeg  [RHip, RKnee, RFoot]          LLeg [LHip, LKnee, LFoot]
    Trunk [Hip, Spine, Thorax]          Head [Neck/Nose, Head, pad = copy of Head]

The pad slot always copies the Head joint, in training and testing alike. With L = 6 (two parts, as NTU's
L = 8 = two four-joint parts) the neighbouring groups are {arms}, {legs}, {trunk, head}; with K = 6 the
distant groups are the proximal {RShoulder, LShoulder, RHip, LHip, Hip, Neck/Nose}, middle and distal joints
of every part.
"""
from __future__ import annotations

import numpy as np
import torch

from dataloader.h36m import JOINT_NAMES, NUM_JOINTS

PAD_SOURCE = "Head"  # the joint the pad slot copies
PARTS = (
    ("RShoulder", "RElbow", "RWrist"),
    ("LShoulder", "LElbow", "LWrist"),
    ("RHip", "RKnee", "RFoot"),
    ("LHip", "LKnee", "LFoot"),
    ("Hip", "Spine", "Thorax"),
    ("Neck/Nose", "Head", PAD_SOURCE),
)
NUM_PARTS = len(PARTS)  # P
PART_SIZE = len(PARTS[0])  # Q
NUM_POINTS = NUM_PARTS * PART_SIZE  # 18, the SkateFormer num_points of the Human3.6M layout
# LAYOUT[i] is the Human3.6M joint index stored in SkateFormer slot i.
LAYOUT = tuple(JOINT_NAMES.index(name) for part in PARTS for name in part)
NEIGHBOUR_SIZE = 2 * PART_SIZE  # L of types 1/3: two parts per group, {arms}, {legs}, {trunk, head}
DISTANT_SIZE = NUM_PARTS  # K of types 2/4: the same-rank joint of every part


def skate_type_sizes(frames_per_partition: int) -> dict[str, tuple[int, int]]:
    """SkateFormer ``type_*_size`` kwargs for this layout: (N_f or M_f, L or K) per Skate-Type.

    `frames_per_partition` is N_f = M_f; the temporal length at every stage must be divisible by it
    (official: 8 with 64 input frames).
    """
    neighbour, distant = (frames_per_partition, NEIGHBOUR_SIZE), (frames_per_partition, DISTANT_SIZE)
    return dict(type_1_size=neighbour, type_2_size=distant, type_3_size=neighbour, type_4_size=distant)


def to_skateformer_layout(x: np.ndarray | torch.Tensor, axis: int = -2) -> np.ndarray | torch.Tensor:
    """Human3.6M joints (..., 17, C) → SkateFormer slots (..., 18, C), reordered part-major with the pad slot.

    Works on numpy arrays and torch tensors (differentiable); `axis` is the joint axis.
    """
    if x.shape[axis] != NUM_JOINTS:
        raise ValueError(f"expected {NUM_JOINTS} Human3.6M joints on axis {axis}, got shape {tuple(x.shape)}")
    if isinstance(x, torch.Tensor):
        return torch.index_select(x, axis, torch.tensor(LAYOUT, device=x.device))
    return np.take(x, LAYOUT, axis=axis)

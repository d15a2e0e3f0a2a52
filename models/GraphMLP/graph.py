"""The spatial adjacency of GraphMLP: the Human3.6M skeleton plus left/right links, split in 4 slices.

Rebuilds ``Vegetebird/GraphMLP: model/block/graph_frames.py`` (``Graph('hm36_gt', 'spatial', pad=1)``,
``max_hop=1``) from the skeleton declared in ``dataloader.h36m``.

- Â = I + bones + symmetric links (undirected), column-normalised: Ā[v, w] = Â[v, w] / Σ_u Â[u, w].
- With d(j) the hop distance of joint j to the centre joint (Spine) along the bones, the slices are
  A0 = diag(Ā) (self), A1 = bones with d(v) > d(w) ("close"), A2 = bones with d(v) < d(w) ("further"),
  A3 = symmetric links in both directions. Σ_k Σ_v A_k[v, w] = 1 for every w.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from dataloader.h36m import JOINT_NAMES, JOINTS_LEFT, JOINTS_RIGHT, PARENTS

CENTER_JOINT = JOINT_NAMES.index("Spine")  # graph_frames.py: self.center = 8 - 1


def hop_distance_to(center: int, parents: Sequence[int]) -> np.ndarray:
    """(J,) number of bones between each joint and `center` (breadth-first search over the tree)."""
    num_joints = len(parents)
    neighbours = [[] for _ in range(num_joints)]
    for child, parent in enumerate(parents):
        if parent >= 0:
            neighbours[child].append(parent)
            neighbours[parent].append(child)
    distance = np.full(num_joints, -1, dtype=np.int64)
    distance[center] = 0
    queue = deque([center])
    while queue:
        joint = queue.popleft()
        for other in neighbours[joint]:
            if distance[other] < 0:
                distance[other] = distance[joint] + 1
                queue.append(other)
    if (distance < 0).any():
        raise ValueError(f"skeleton is not connected: joints {np.flatnonzero(distance < 0).tolist()} "
                         f"cannot reach the centre joint {center}")
    return distance


def spatial_adjacency(parents: Sequence[int] = PARENTS,
                      symmetric_pairs: Sequence[tuple[int, int]] = tuple(zip(JOINTS_LEFT, JOINTS_RIGHT)),
                      center: int = CENTER_JOINT) -> np.ndarray:
    """The (4, J, J) float32 adjacency A = [self, close, further, symmetric] of GraphMLP.

    Args:
        parents: parent of each joint (−1 for the root); defines the bones.
        symmetric_pairs: (left, right) joint pairs linked in both directions.
        center: the joint hop distances are measured from.
    Returns:
        A with A[k, v, w] the weight of input joint v in output joint w for slice k
        (the GCN computes out[..., w] = Σ_k Σ_v z_k[..., v] · A[k, v, w]).
    """
    num_joints = len(parents)
    bones = np.zeros((num_joints, num_joints), dtype=bool)
    for child, parent in enumerate(parents):
        if parent >= 0:
            bones[child, parent] = bones[parent, child] = True
    symmetric = np.zeros_like(bones)
    for left, right in symmetric_pairs:
        symmetric[left, right] = symmetric[right, left] = True

    hat_a = (np.eye(num_joints, dtype=bool) | bones | symmetric).astype(np.float64)
    normalized = hat_a / hat_a.sum(axis=0, keepdims=True)  # normalize_digraph: Â · D⁻¹, D = column sums

    distance = hop_distance_to(center, parents)
    farther_row = distance[:, None] > distance[None, :]  # [v, w]: d(v) > d(w)
    nearer_row = distance[:, None] < distance[None, :]
    # A link that is both a bone and symmetric counts as symmetric (graph_frames.py checks it first);
    # a bone between joints at equal distance would be dropped there as well (none exist in a tree).
    bone_only = bones & ~symmetric
    slices = [
        np.diag(np.diag(normalized)),
        np.where(bone_only & farther_row, normalized, 0.0),
        np.where(bone_only & nearer_row, normalized, 0.0),
        np.where(symmetric, normalized, 0.0),
    ]
    return np.stack(slices).astype(np.float32)

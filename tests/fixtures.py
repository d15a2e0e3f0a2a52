"""Small Human3.6M data roots in the exact real layout, with the real quirks, for tests.

:func:`write_real_layout_fixture` writes, under a root:
- ``data_3d_h36m.npz`` and ``data_2d_h36m_gt.npz`` as VideoPose3D writes them (pickled dicts,
  ``np.savez_compressed``), with canonical sequence keys; the GT metadata has no layout_name;
- frames under the default template, small JPEGs showing the 2D joints as dots, 1-based;
  S1's Photo/WalkDog folders use the raw spellings (``TakingPhoto 1.54138969/``) as in the
  original videos, while the npz keys are canonical;
- one sequence whose GT 2D is 3 frames longer than its 3D (and whose frames follow the 2D);
- S11 (when asked for) without the second ``Directions``;
- ``data_2d_h36m_cpn_ft_h36m_dbb.npz``: GT plus pixel noise, layout 'h36m', one camera None, and
  an extra S3 (no public 3D);
- with ``boxes=True``, the person boxes as the Human3.6M "Segments" download has them:
  ``<S>/MySegmentsMat/ground_truth_bb/<raw name>.<camera>.mat``, MATLAB v7.3 (HDF5) files whose cell
  ``Masks`` references one (W, H) logical image per video frame with the box filled
  (:func:`write_box_masks`; the box is :func:`fixture_box`, the joints' box grown by 10 % per side).
Poses are a fixed T-pose, moved and jittered per frame, and the 2D is its projection through the
real cameras, so 2D and 3D agree exactly as in VideoPose3D's GT file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dataloader.camera import project_to_pixels, world_to_camera
from dataloader.h36m import (CAMERA_IDS, JOINTS_LEFT, JOINTS_RIGHT, NUM_CAMERAS, NUM_JOINTS,
                             canonical_action, get_camera, select_17)
from dataloader.reader import DEFAULT_FRAME_TEMPLATE, FILE_3D, file_2d, read_npz_object

FIXTURE_SEQUENCES = ("Directions 1", "Directions", "Photo 1")
DETECTIONS = "cpn_ft_h36m_dbb"
EXTRA_2D_FRAMES = 3
S1_RAW_SPELLINGS = {"Photo": "TakingPhoto", "WalkDog": "WalkingDog"}  # human36m.md §1

# The 32 raw joints of a T-pose (metres, z up, facing +x, left = +y), human36m.md §2 order;
# joints the metadata template puts on another joint (11, 16, 20, 23, 24, 28, 31) repeat it.
_T_POSE_32 = np.array([
    (0.00, 0.00, 0.90), (0.00, -0.13, 0.90), (0.00, -0.13, 0.47), (0.00, -0.13, 0.06),   # 0-3 hips, right leg
    (0.12, -0.13, 0.02), (0.18, -0.13, 0.02),                                           # 4-5 right toe
    (0.00, 0.13, 0.90), (0.00, 0.13, 0.47), (0.00, 0.13, 0.06),                         # 6-8 left leg
    (0.12, 0.13, 0.02), (0.18, 0.13, 0.02),                                             # 9-10 left toe
    (0.00, 0.00, 0.90), (0.00, 0.00, 1.13), (0.00, 0.00, 1.40), (0.00, 0.00, 1.50),     # 11-14 spine, neck, head
    (0.00, 0.00, 1.65),                                                                 # 15 head top
    (0.00, 0.00, 1.40), (0.00, 0.17, 1.40), (0.00, 0.45, 1.40), (0.00, 0.70, 1.40),     # 16-19 left arm
    (0.00, 0.70, 1.40), (0.00, 0.75, 1.40), (0.00, 0.78, 1.40), (0.00, 0.78, 1.40),     # 20-23 left hand
    (0.00, 0.00, 1.40), (0.00, -0.17, 1.40), (0.00, -0.45, 1.40), (0.00, -0.70, 1.40),  # 24-27 right arm
    (0.00, -0.70, 1.40), (0.00, -0.75, 1.40), (0.00, -0.78, 1.40), (0.00, -0.78, 1.40), # 28-31 right hand
], dtype=np.float64)


@dataclass(frozen=True)
class Fixture:
    """What :func:`write_real_layout_fixture` wrote."""
    root: Path
    subjects: tuple[str, ...]
    sequences: dict[str, tuple[str, ...]]      # subject → canonical sequence names in the npz files
    num_frames: int                            # 3D poses per sequence
    frame_dirs: dict[tuple[str, str], str]     # (subject, canonical sequence) → sequence name on disk
    longer_2d: tuple[str, str]                 # (subject, sequence) whose 2D has EXTRA_2D_FRAMES more frames
    none_camera: tuple[str, str, int] | None   # (subject, sequence, camera index) None in the detections
    detections: str | None
    image_scale: float


def t_pose_motion(num_frames: int, rng: np.random.Generator, offset=(0.0, 0.0)) -> np.ndarray:
    """(num_frames, 32, 3) world metres: the T-pose walking slowly along x, with 1 cm joint jitter."""
    steps = np.arange(num_frames)[:, None] * np.array([0.02, 0.0, 0.0])
    shift = np.array([offset[0], offset[1], 0.0]) + steps
    jitter = rng.normal(0.0, 0.01, size=(num_frames, *_T_POSE_32.shape))
    return (_T_POSE_32[None] + shift[:, None] + jitter).astype(np.float32)


def project_gt_2d(subject: str, positions_32: np.ndarray) -> list[np.ndarray]:
    """4 × (N, 17, 2) float32 pixels: GT 2D as VideoPose3D computes it from (N, 32, 3) world metres."""
    joints = select_17(positions_32.astype(np.float64))
    return [project_to_pixels(world_to_camera(joints, get_camera(subject, c)), get_camera(subject, c))
            .astype(np.float32) for c in range(NUM_CAMERAS)]


def write_positions_3d(root: Path, positions: dict) -> Path:
    """Write ``data_3d_h36m.npz`` (key positions_3d, a pickled dict) as VideoPose3D does."""
    path = Path(root) / FILE_3D
    np.savez_compressed(path, positions_3d=positions)
    return path


def write_positions_2d(root: Path, positions: dict, name: str = "gt", metadata: dict | None = None) -> Path:
    """Write ``data_2d_h36m_<name>.npz`` (keys positions_2d, metadata) as VideoPose3D does."""
    if metadata is None:
        metadata = {"num_joints": NUM_JOINTS, "keypoints_symmetry": [list(JOINTS_LEFT), list(JOINTS_RIGHT)]}
    path = Path(root) / file_2d(name)
    np.savez_compressed(path, positions_2d=positions, metadata=metadata)
    return path


def read_npz_dict(path: Path, key: str) -> dict:
    """Read back a pickled dict from a fixture npz, as the framework reads one (dataloader.reader.read_npz_object)."""
    return read_npz_object(path, key)


def raw_spelling(subject: str, sequence: str) -> str:
    """The name S1's original files use ('Photo 1' → 'TakingPhoto 1'); other subjects use the canonical one."""
    action = canonical_action(sequence)
    if subject == "S1" and action in S1_RAW_SPELLINGS:
        return S1_RAW_SPELLINGS[action] + sequence[len(action):]
    return sequence


def write_frames(root: Path, subject: str, disk_name: str, pixels: list[np.ndarray], image_scale: float,
                 template: str = DEFAULT_FRAME_TEMPLATE) -> None:
    """Small JPEGs (camera resolution × image_scale) with the 2D joints drawn as white dots; 1-based names."""
    for c, px in enumerate(pixels):
        camera = get_camera(subject, c)
        size = (round(camera.res_w * image_scale), round(camera.res_h * image_scale))
        for i, joints in enumerate(px):
            image = np.zeros((size[1], size[0], 3), np.uint8)
            for x, y in (joints + 0.5) * image_scale - 0.5:                  # pixel centres as an INTER_AREA resize
                cv2.circle(image, (int(round(x)), int(round(y))), 1, (255, 255, 255), -1)
            path = Path(root) / template.format(subject=subject, sequence=disk_name, camera=CAMERA_IDS[c],
                                                camera_index=c, frame=i + 1)
            path.parent.mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(path), image), path


def fixture_box(joints: np.ndarray, camera) -> np.ndarray:
    """(4,) int x0, y0, x1, y1: the first and last mask pixel per axis of a fixture person box, the joints'
    (17, 2) box grown by 10 % of its size on every side (so it is not the tight joint box), in the image."""
    low, high = joints.min(0), joints.max(0)
    pad = 0.1 * (high - low)
    first = np.floor(low - pad).clip(0, [camera.res_w - 1, camera.res_h - 1])
    last = np.ceil(high + pad).clip(0, [camera.res_w - 1, camera.res_h - 1])
    return np.concatenate([first, last]).astype(int)


def write_box_masks(path: Path, boxes: np.ndarray, resolution: tuple[int, int]) -> Path:
    """A ``ground_truth_bb`` file in the real Human3.6M layout: MATLAB v7.3 (HDF5) with a cell ``Masks``,
    stored as a (V, 1) dataset of object references to (W, H) uint8 'logical' masks (MATLAB writes
    column-major, so h5py sees each H × W image transposed), box pixels x0 … x1, y0 … y1 set.

    Args:
        boxes: (V, 4) int first/last mask pixel per axis; a row of -1 writes an empty mask.
        resolution: (res_w, res_h) of the camera.
    """
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    res_w, res_h = resolution
    with h5py.File(path, "w") as mat:
        refs = mat.create_group("#refs#")
        references = []
        for i, (x0, y0, x1, y1) in enumerate(np.asarray(boxes, dtype=int)):
            mask = np.zeros((res_w, res_h), np.uint8)                              # (W, H)
            if x0 >= 0:
                mask[x0:x1 + 1, y0:y1 + 1] = 1
            item = refs.create_dataset(f"m{i}", data=mask, compression="gzip", compression_opts=1)
            item.attrs["MATLAB_class"] = np.bytes_("logical")
            references.append(item.ref)
        cell = mat.create_dataset("Masks", data=np.array(references, dtype=h5py.ref_dtype).reshape(-1, 1))
        cell.attrs["MATLAB_class"] = np.bytes_("cell")
    return path


def write_real_layout_fixture(root, *, subjects=("S1", "S9"), sequences=FIXTURE_SEQUENCES, num_frames: int = 8,
                              image_scale: float = 0.064, detections: str | None = DETECTIONS, frames: bool = True,
                              boxes: bool = False, seed: int = 0) -> Fixture:
    """Write a small data root in the real Human3.6M layout with its quirks (module docstring).

    Args:
        root: folder to write into (created).
        subjects: subjects to write; S11 gets no second 'Directions'.
        sequences: canonical sequence names written for every subject.
        num_frames: 3D poses per sequence (the longer-2D sequence has EXTRA_2D_FRAMES more 2D and frames).
        image_scale: frame size relative to the camera resolution (0.064 → 64 × 64).
        detections: name of the detections file to write, or None for none.
        frames: write the JPEG frames.
        boxes: write the person boxes (``.mat`` masks, one per 2D frame; see the module docstring).
        seed: seed of the pose jitter and the detection noise.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    per_subject = {s: tuple(q for q in sequences if not (s == "S11" and q == "Directions")) for s in subjects}
    longer_2d = (subjects[0], per_subject[subjects[0]][0])
    none_camera = (subjects[-1], per_subject[subjects[-1]][-1], 2) if detections else None
    positions_3d, positions_2d, frame_dirs = {}, {}, {}
    for k, subject in enumerate(subjects):
        positions_3d[subject], positions_2d[subject] = {}, {}
        for j, sequence in enumerate(per_subject[subject]):
            extra = EXTRA_2D_FRAMES if (subject, sequence) == longer_2d else 0
            motion = t_pose_motion(num_frames + extra, rng, offset=(0.1 * j - 0.2, 0.1 * k - 0.1))
            positions_3d[subject][sequence] = motion[:num_frames]
            positions_2d[subject][sequence] = project_gt_2d(subject, motion)
            frame_dirs[subject, sequence] = raw_spelling(subject, sequence)
            if frames:
                write_frames(root, subject, frame_dirs[subject, sequence], positions_2d[subject][sequence],
                             image_scale)
            if boxes:
                for c, px in enumerate(positions_2d[subject][sequence]):
                    camera = get_camera(subject, c)
                    write_box_masks(root / subject / "MySegmentsMat" / "ground_truth_bb" /
                                    f"{frame_dirs[subject, sequence]}.{CAMERA_IDS[c]}.mat",
                                    np.stack([fixture_box(j, camera) for j in px]), (camera.res_w, camera.res_h))
    write_positions_3d(root, positions_3d)
    write_positions_2d(root, positions_2d)
    if detections:
        detected = {s: {q: [x + rng.normal(0.0, 2.0, x.shape).astype(np.float32) for x in cams]
                        for q, cams in seqs.items()} for s, seqs in positions_2d.items()}
        detected[none_camera[0]][none_camera[1]][none_camera[2]] = None
        detected["S3"] = {"Directions 1": [np.zeros((num_frames, NUM_JOINTS, 2), np.float32)] * NUM_CAMERAS}
        write_positions_2d(root, detected, detections, metadata={
            "layout_name": "h36m", "num_joints": NUM_JOINTS,
            "keypoints_symmetry": [list(JOINTS_LEFT), list(JOINTS_RIGHT)]})
    return Fixture(root=root, subjects=tuple(subjects), sequences=per_subject, num_frames=num_frames,
                   frame_dirs=frame_dirs, longer_2d=longer_2d, none_camera=none_camera, detections=detections,
                   image_scale=image_scale)

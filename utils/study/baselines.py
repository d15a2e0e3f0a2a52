"""Trivial baselines of every table, computed from the data (no training), and the rule that marks a cell
that does not clearly beat its baseline.

- 2D: the mean training pose in box-normalised coordinates, (x − c_x)/side, (y − c_y)/side over every
  training frame, placed in each validation frame's box (x = c_x + side · x̄), scored with the 2D
  estimators' metrics on the same validation frames. Boxes: the tight ground-truth joint box
  (``utils.codecs.crop.person_box``, the stronger baseline) always, and the box the crops use where the
  configuration chooses another (``data.box_source``).
- Lifting: the mean training 3D pose (camera frame, root-relative, over every training frame and camera)
  predicted for every test frame, scored as the lifter (P1 / P2, action-wise average).
- Action recognition: chance (1 / number of classes) and the majority class of the training clips,
  scored on the test clips of each split (X-sub, X-view) as the evaluation defines them.

A cell is *not a finding* when it is not at least twice as good as its baseline: an error above half the
baseline's, an accuracy below twice the baseline's, a PCK whose miss rate (1 − PCK) is above half the
baseline's (a fraction bounded by 1 cannot double once it is past 0.5). Such cells carry :data:`MARK`.
"""
from __future__ import annotations

import logging

import numpy as np

from dataloader.reader import DataError
from utils.metrics import ap50_study, mean_joint_error_2d, pck

logger = logging.getLogger(__name__)

MARK = "†"
FOOTNOTE = f"{MARK} not better than its trivial baseline by 2× (error > baseline / 2, accuracy < 2 × baseline, " \
           f"PCK/AP50 miss rate > baseline's / 2): not a finding."


# --- the rule ---------------------------------------------------------------------------------

def not_a_finding(value: float, baseline: float, kind: str) -> bool:
    """True when `value` does not beat `baseline` by 2×; kind: 'error' (lower is better), 'accuracy'
    (higher is better, e.g. top-1 against chance) or 'fraction' (PCK-like, in [0, 1]: the miss rate must
    halve). NaN on either side is not marked (nothing to compare)."""
    if value is None or baseline is None or not (np.isfinite(value) and np.isfinite(baseline)):
        return False
    if kind == "error":
        return value > baseline / 2
    if kind == "accuracy":
        return value < 2 * baseline
    if kind == "fraction":  # a baseline at 1 saturates the metric: nothing can beat it
        return baseline >= 1 or (1 - value) > (1 - baseline) / 2
    raise ValueError(f"kind must be 'error', 'accuracy' or 'fraction', got {kind!r}")


def marked(text: str, value: float, baseline: float | None, kind: str) -> str:
    """`text` with :data:`MARK` appended when the cell is not a finding against `baseline`."""
    return text + MARK if baseline is not None and not_a_finding(value, baseline, kind) else text


# --- 2D ---------------------------------------------------------------------------------------

def box_normalised(keypoints: np.ndarray, center: np.ndarray, side: np.ndarray) -> np.ndarray:
    """(N, J, 2) full-frame pixels → (N, J, 2) box units: (p − c) / side, per frame."""
    return (np.asarray(keypoints, np.float64) - np.asarray(center, np.float64)[:, None, :]) \
        / np.asarray(side, np.float64)[:, None, None]


def mean_pose_in_boxes(mean_pose: np.ndarray, center: np.ndarray, side: np.ndarray) -> np.ndarray:
    """(J, 2) box-unit pose placed in N boxes → (N, J, 2) full-frame pixels: c + side · pose."""
    return np.asarray(center, np.float64)[:, None, :] + np.asarray(side, np.float64)[:, None, None] * mean_pose[None]


def pose2d_mean_pose_baseline(train_keypoints: np.ndarray, train_boxes: tuple[np.ndarray, np.ndarray],
                              val_keypoints: np.ndarray, val_boxes: tuple[np.ndarray, np.ndarray],
                              val_box_size: np.ndarray) -> dict:
    """Metrics of the constant mean training pose placed in each validation box.

    Args:
        train_keypoints, val_keypoints: (N, J, 2) ground-truth full-frame pixels.
        train_boxes, val_boxes: (centres (N, 2), sides (N,)) in pixels of the box each frame's crop is built from.
        val_box_size: (N,) the PCK normaliser of the 2D metrics (longer side of the tight ground-truth box).
    Returns:
        dict(pck05, pck10, error_px, ap50, frames, mean_pose (J × 2 box units)) as the estimators' metrics.
    """
    mean_pose = box_normalised(train_keypoints, *train_boxes).mean(0)           # (J, 2)
    pred = mean_pose_in_boxes(mean_pose, *val_boxes)
    gt = np.asarray(val_keypoints, np.float64)
    return {"pck05": pck(pred, gt, val_box_size, 0.05), "pck10": pck(pred, gt, val_box_size, 0.10),
            "error_px": mean_joint_error_2d(pred, gt), "ap50": ap50_study(pred, gt), "frames": int(len(gt)),
            "mean_pose": mean_pose.round(5).tolist()}


# --- lifting ----------------------------------------------------------------------------------

def lifting_mean_pose_baseline(train_poses: np.ndarray, test_poses: np.ndarray, test_actions: np.ndarray) -> dict:
    """P1 / P2 (mm) of predicting the mean training pose for every test frame, as the lifter is scored.

    train_poses, test_poses: (N, J, 3) camera frame, root-relative, metres; test_actions: (N,) labels.
    """
    from utils.stages.evaluation import lifting_metrics

    mean = np.asarray(train_poses, np.float64).mean(0)
    pred = np.broadcast_to(mean, np.shape(test_poses))
    metrics = lifting_metrics(pred, np.asarray(test_poses, np.float64), np.asarray(test_actions))
    return {k: metrics[k] for k in ("mpjpe_mm", "p_mpjpe_mm", "mpjpe_mm_frame_weighted", "p_mpjpe_mm_frame_weighted",
                                    "frames")}


# --- action recognition -----------------------------------------------------------------------

def action_baselines(train_labels: np.ndarray, test_labels: np.ndarray, num_classes: int) -> dict:
    """Chance and the majority training class scored on the test clips (ties: the lowest label)."""
    counts = np.bincount(np.asarray(train_labels), minlength=num_classes)
    majority = int(np.argmax(counts))
    test_labels = np.asarray(test_labels)
    return {"chance": 1.0 / num_classes, "majority_class": majority,
            "majority_top1": float((test_labels == majority).mean()) if len(test_labels) else float("nan"),
            "train_clips": int(len(train_labels)), "test_clips": int(len(test_labels))}


def accuracy_baseline(split_baseline: dict) -> float:
    """The stronger of chance and the majority class: what a top-1 cell must beat."""
    return max(split_baseline["chance"], split_baseline["majority_top1"])


# --- from the configuration and the loaded data -------------------------------------------------

def _frame_keypoints(data, keys, rows: np.ndarray) -> np.ndarray:
    """(M, J, 2) ground-truth pixels of crop items (key index, camera, frame)."""
    return np.stack([data.positions_2d[keys[k].subject][keys[k].sequence][c][f] for k, c, f in rows]) \
        .astype(np.float64) if len(rows) else np.zeros((0, 17, 2))


def pose2d_baselines(cfg, data) -> dict:
    """The 2D baselines on the estimators' validation frames (same subset, stride and cameras as train2D.py):
    in the tight ground-truth joint box always, and in the crops' box (``data.box_source``) when it is another."""
    from dataloader.crop_dataset import FrameCropDataset, frame_items, item_boxes
    from utils.codecs.crop import box_square, person_box

    c, box_source = cfg.pose2d, cfg.data.box_source
    train_keys = data.sequences(subjects=cfg.data.train_subjects)
    val_keys = data.sequences(subjects=cfg.data.test_subjects)
    train_rows = frame_items(data, train_keys, cfg.data.cameras, cfg.data.frame_stride)
    val_set = FrameCropDataset(data, val_keys, cfg.data.cameras, cfg.data.frame_stride, (64, 48), (16, 12),
                               margin=c.box_margin, max_items=c.max_val_items, seed=cfg.seed, targets=False,
                               box_source="keypoints")  # only its items: the subset train2D.py validates on
    val_rows = val_set.items
    train_kp, val_kp = _frame_keypoints(data, train_keys, train_rows), _frame_keypoints(data, val_keys, val_rows)
    val_box_size = np.asarray(person_box(val_kp, c.box_margin)[1]) / c.box_margin  # the metrics' PCK normaliser
    out = {"frames": int(len(val_rows)), "total_frames": int(len(val_set.all_items)),
           "max_val_items": int(c.max_val_items), "train_frames": int(len(train_rows)), "box_source": box_source,
           "boxes": {}}
    out["boxes"]["keypoints"] = pose2d_mean_pose_baseline(
        train_kp, person_box(train_kp, c.box_margin), val_kp, person_box(val_kp, c.box_margin), val_box_size)
    if box_source != "keypoints":
        try:
            boxes = [box_square(item_boxes(data, keys, rows, box_source, cfg.detections_path), c.box_margin)
                     for keys, rows in ((train_keys, train_rows), (val_keys, val_rows))]
        except DataError as err:  # the boxes are missing: the keypoints baseline still stands, and says why
            logger.warning("no %s-box 2D baseline: %s", box_source, err)
            out["box_error"] = str(err)
        else:
            out["boxes"][box_source] = pose2d_mean_pose_baseline(train_kp, boxes[0], val_kp, boxes[1], val_box_size)
    return out


def lifting_baselines(cfg, data) -> dict:
    from dataloader.h36m import action_label
    from dataloader.lifting_dataset import camera_pose_3d
    from utils.stages.downstream import sequence_keys

    train = [camera_pose_3d(data, *k) for k in sequence_keys(cfg, data, cfg.data.train_subjects)]
    test_keys = sequence_keys(cfg, data, cfg.data.test_subjects)
    test = [camera_pose_3d(data, *k) for k in test_keys]
    actions = np.concatenate([np.full(len(t), action_label(k[1])) for k, t in zip(test_keys, test)])
    return lifting_mean_pose_baseline(np.concatenate(train), np.concatenate(test), actions)


def action_split_baselines(cfg, data) -> dict:
    from dataloader.action_dataset import ActionClipDataset, split_keys
    from dataloader.h36m import ACTIONS
    from dataloader.sources import ground_truth_source
    from utils.stages.downstream import SPLITS, sequence_keys
    from models.SkateFormer import SKATEFORMER_PRESETS

    frames = SKATEFORMER_PRESETS[cfg.action.preset]["num_frames"]
    keys = sequence_keys(cfg, data, list(cfg.data.train_subjects) + list(cfg.data.test_subjects))
    out = {}
    for split in SPLITS:
        train_keys, test_keys = split_keys(keys, split, cfg.data.train_subjects, cfg.data.test_subjects)
        labels = []
        for split_keys_ in (train_keys, test_keys):
            clips = ActionClipDataset(data, split_keys_, ground_truth_source(data, split_keys_), frames,
                                      cfg.action.clip_stride)
            labels.append(clips.labels[clips.items[:, 0]] if len(clips.items) else np.zeros(0, np.int64))
        out[split] = action_baselines(labels[0], labels[1], len(ACTIONS))
        out[split]["majority_action"] = ACTIONS[out[split]["majority_class"]]
    return out


def compute_baselines(cfg, data) -> dict:
    """Every trivial baseline of the study (seconds of NumPy over arrays already loaded)."""
    return {"pose2d": pose2d_baselines(cfg, data), "lifting": lifting_baselines(cfg, data),
            "action": action_split_baselines(cfg, data)}

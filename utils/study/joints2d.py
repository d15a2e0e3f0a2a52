"""The 2D error of every prediction artifact per joint, against the mean-pose baseline per joint.

The 2D table of the report averages 17 joints into one number; this one says which joints carry the error
(on the synthetic quick data the wrists and elbows do: a Hourglass at 17 px overall is at 7 px on the head and
40–53 px on the wrists). It reads the artifacts the downstream models read (``predictions/<source>/``), on every
frame of the test subjects and the configured cameras, so it also covers frames the training's validation subset
(``pose2d.max_val_items``) leaves out.

Baseline, per joint: the mean training pose (box-normalised, as ``utils.study.baselines``) placed in the tight
ground-truth joint box of each frame. Left and right joints are shown together (the mean of the two).

Left/right inversions, per sided joint: the share of frames where the prediction misses its joint (farther than
0.1 × the longer side of the tight ground-truth joint box, a PCK@0.1 miss) and lies nearer the other side's joint:
the "inversion" error of Ronchi & Perona ("Benchmarking and Error Diagnosis in Multi-Instance Pose Estimation",
ICCV 2017), in pixels. An estimator that has not learned which foot is the left one hedges between the two feet
and comes near the mean pose's rate, which faces the camera and is inverted whenever the person faces away.

    compare/joints2d.json: {"frames", "cameras", "joints": J names,
                            "baseline": [J] px, "sources": {source: [J] px},
                            "inversions": {"baseline": [J], "sources": {source: [J]}} fractions, 0 on centre joints}
"""
from __future__ import annotations

import logging

import numpy as np

from config import MODELS_2D
from dataloader.h36m import FLIP_PERMUTATION, JOINT_NAMES
from dataloader.sources import sequence_rows
from utils.artifact import ArtifactError, load_artifact
from utils.engine import layout
from utils.metrics import left_right_inversions, per_joint_error
from utils.study.baselines import MARK, FOOTNOTE, marked, mean_pose_in_boxes
from utils.study.tables import fmt, markdown_table

logger = logging.getLogger(__name__)

FILE = "joints2d.json"  # under compare/
SOURCES = (*MODELS_2D, "Probabilistic")

# (column, joint names): the 17 Human3.6M joints in 11 columns, left and right together
JOINT_GROUPS = (("hip (root)", ("Hip",)), ("hips", ("LHip", "RHip")), ("knees", ("LKnee", "RKnee")),
                ("feet", ("LFoot", "RFoot")), ("spine", ("Spine",)), ("thorax", ("Thorax",)),
                ("neck/nose", ("Neck/Nose",)), ("head", ("Head",)), ("shoulders", ("LShoulder", "RShoulder")),
                ("elbows", ("LElbow", "RElbow")), ("wrists", ("LWrist", "RWrist")))


# the columns of the inversion table: the groups of a left and a right joint
SIDED_GROUPS = tuple((name, joints) for name, joints in JOINT_GROUPS if len(joints) == 2)


def grouped(values, joints=JOINT_NAMES, groups=JOINT_GROUPS) -> list:
    """(J,) per-joint numbers (floats or seed Spreads) → one per column of `groups`, then their mean over the joints
    of `groups`, in joint order (:data:`JOINT_GROUPS`: all J joints; :data:`SIDED_GROUPS`: the sided ones)."""
    index = {name: i for i, name in enumerate(joints)}
    out = [sum(values[index[n]] for n in names) / len(names) for _, names in groups]
    members = {n for _, names in groups for n in names}
    chosen = [v for n, v in zip(joints, values) if n in members]
    return out + [sum(chosen) / len(chosen)]


def joint_errors(cfg, data, mean_pose) -> dict:
    """Per-joint errors of every 2D artifact of this run (the sources of :data:`SOURCES` that exist) and of the
    mean pose `mean_pose` ((J, 2) array or nested list, box units, as baselines.json stores it) in each frame's tight joint box, on every test-subject frame of
    ``data.cameras``. An artifact that lacks a frame is left out with a warning (the downstream stages refuse it)."""
    from utils.codecs.crop import person_box

    mean_pose = np.asarray(mean_pose, np.float64)
    keys = [(k.subject, k.sequence, cam) for k in data.sequences(subjects=cfg.data.test_subjects)
            for cam in cfg.data.cameras]
    gt = {key: np.asarray(data.positions_2d[key[0]][key[1]][key[2]], np.float64) for key in keys}
    all_gt = np.concatenate([gt[key] for key in keys])
    baseline_pred = mean_pose_in_boxes(mean_pose, *person_box(all_gt, cfg.pose2d.box_margin))
    out = {"frames": int(len(all_gt)), "cameras": list(cfg.data.cameras), "joints": list(JOINT_NAMES),
           "baseline": per_joint_error(baseline_pred, all_gt).round(3).tolist(), "sources": {},
           "inversions": {"baseline": left_right_inversions(baseline_pred, all_gt, FLIP_PERMUTATION).round(4).tolist(),
                          "sources": {}}}
    for source in SOURCES:
        path = layout.prediction_dir(cfg, source)
        if not (path / "meta.json").is_file():
            continue
        fix = layout.prediction_command(source)
        try:
            art = load_artifact(path, fix)
            rows = art.sequences()
            pred = [art.keypoints[sequence_rows(art, rows, key, len(gt[key]), path, fix)] for key in keys]
        except ArtifactError as err:
            logger.warning("no per-joint 2D errors for %s: %s", source, err)
            continue
        pred = np.concatenate(pred).astype(np.float64)
        out["sources"][source] = per_joint_error(pred, all_gt).round(3).tolist()
        out["inversions"]["sources"][source] = left_right_inversions(pred, all_gt, FLIP_PERMUTATION).round(4).tolist()
    return out


def inversions_section(joints: dict) -> list[str]:
    """The report's left/right inversion table from compare/joints2d.json's "inversions" (% of frames; numbers may
    be seed Spreads); [] without it. A diagnostic, not a score: no cell is marked."""
    inversions = joints.get("inversions") or {}
    if not inversions.get("sources"):
        return []
    names = joints["joints"]
    rows = [[source] + [fmt(100 * v, 1) for v in grouped(values, names, SIDED_GROUPS)]
            for source, values in inversions["sources"].items()]
    rows.append(["mean pose in the keypoints box (baseline)"]
                + [fmt(100 * v, 1) for v in grouped(inversions["baseline"], names, SIDED_GROUPS)])
    table = markdown_table(["2D source"] + [g for g, _ in SIDED_GROUPS] + ["all sided joints"], rows)
    return ["### Left/right inversions (% of test-subject frames)", "",
            "A joint is inverted in a frame when its prediction misses it by more than 0.1 × the longer side of the "
            "tight ground-truth joint box and lies nearer the other side's joint (Ronchi & Perona, ICCV 2017); left "
            "and right joints averaged together. The mean pose faces the camera, so it is inverted whenever the "
            "person faces away: a pair near its rate is one the estimator does not tell apart.", "", table, ""]


def joints2d_section(joints: dict | None) -> list[str]:
    """The report's per-joint 2D table from compare/joints2d.json (numbers may be seed Spreads); [] without it."""
    if not joints or not joints.get("sources"):
        return []
    names = joints["joints"]
    baseline = grouped(joints["baseline"], names)
    rows = [[source] + [marked(fmt(v, 1), v, b, "error") for v, b in zip(grouped(values, names), baseline)]
            for source, values in joints["sources"].items()]
    rows.append(["mean pose in the keypoints box (baseline)"] + [fmt(v, 1) for v in baseline])
    table = markdown_table(["2D source"] + [g for g, _ in JOINT_GROUPS] + ["all joints"], rows)
    return ["## 2D error per joint (full-frame px, every test-subject frame)", "",
            f"The prediction artifacts the downstream models read, on all {joints['frames']} frames of the test "
            f"subjects (cameras {joints['cameras']}), so 'all joints' can differ from the validation subset of the 2D "
            "table; left and right joints averaged together. Baseline: the mean training pose in each frame's tight "
            "ground-truth joint box (`compare/joints2d.json`).", "",
            table, "", *([FOOTNOTE, ""] if MARK in table else []), *inversions_section(joints)]

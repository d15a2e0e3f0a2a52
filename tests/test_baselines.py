"""utils.study.baselines: each trivial baseline on a hand-made case with a known answer, the 2× rule, and the
baselines computed from a data root (the estimators' validation subset, the lifter's test frames, the
action splits)."""
import numpy as np
import pytest

from utils.study.baselines import (MARK, action_baselines, lifting_mean_pose_baseline, marked, not_a_finding,
                             pose2d_mean_pose_baseline)


def test_the_two_times_rule():
    assert not not_a_finding(50.0, 100.0, "error") and not_a_finding(50.1, 100.0, "error")
    assert not_a_finding(100.0, 100.0, "error")                      # at baseline level
    assert not not_a_finding(2 / 15, 1 / 15, "accuracy") and not_a_finding(0.13, 1 / 15, "accuracy")
    assert not not_a_finding(0.8, 0.6, "fraction")                  # miss rate 0.2 = half of 0.4
    assert not_a_finding(0.79, 0.6, "fraction") and not_a_finding(0.6, 0.6, "fraction")
    assert not_a_finding(1.0, 1.0, "fraction")                      # a saturated baseline cannot be beaten
    assert not not_a_finding(float("nan"), 100.0, "error")
    assert marked("30.0", 30.0, 30.0, "error") == f"30.0{MARK}" and marked("9.0", 9.0, 30.0, "error") == "9.0"
    assert marked("30.0", 30.0, None, "error") == "30.0"
    with pytest.raises(ValueError, match="kind"):
        not_a_finding(1.0, 1.0, "loss")


def test_pose2d_mean_pose_in_the_box():
    """Training: shape A in one box, shape B in another (box units); the mean pose is (A + B) / 2. A
    validation frame showing A in a box of side 200 is predicted (A + B) / 2 there: every joint 0.1 box
    units = 20 px off (|A − B| = 0.2 per joint)."""
    A = np.array([[0.0, -0.3], [0.2, 0.1], [-0.2, 0.1]])
    B = A + np.array([0.12, 0.16])                                   # |A − B| = 0.2 for every joint
    centres, sides = np.array([[500.0, 400.0], [300.0, 200.0]]), np.array([100.0, 300.0])
    train = np.stack([centres[0] + sides[0] * A, centres[1] + sides[1] * B])
    val_centre, val_side = np.array([[640.0, 360.0]]), np.array([200.0])
    val = val_centre[:, None] + val_side[:, None, None] * A[None]
    out = pose2d_mean_pose_baseline(train, (centres, sides), val, (val_centre, val_side), np.array([250.0]))
    assert out["error_px"] == pytest.approx(20.0)
    assert out["pck05"] == 0.0 and out["pck10"] == 1.0               # 20 px against 12.5 px and 25 px
    assert np.allclose(out["mean_pose"], (A + B) / 2)
    assert out["frames"] == 1
    # a training set of one shape predicts it exactly, whatever the boxes
    exact = pose2d_mean_pose_baseline(train[:1], (centres[:1], sides[:1]), val, (val_centre, val_side),
                                      np.array([150.0]))
    assert exact["error_px"] == pytest.approx(0.0, abs=1e-9) and exact["pck05"] == 1.0


def test_lifting_mean_training_pose():
    """Training poses P and 3P (mean 2P); test: P (action 0, 3 frames) and 3P (action 1, 1 frame), both
    ‖P_j‖ = 0.1 m off for every joint: P1 = 100 mm action-wise and frame-weighted; P2 = 0 (a scaled P)."""
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(17, 3))
    P = 0.1 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    out = lifting_mean_pose_baseline(np.stack([P, 3 * P]), np.stack([P, P, P, 3 * P]), np.array([0, 0, 0, 1]))
    assert out["mpjpe_mm"] == pytest.approx(100.0) and out["p_mpjpe_mm"] == pytest.approx(0.0, abs=1e-6)
    # unbalanced errors: action 0 three frames 100 mm off, action 1 one frame 300 mm off (5P against 2P)
    out = lifting_mean_pose_baseline(np.stack([P, 3 * P]), np.stack([P, P, P, 5 * P]), np.array([0, 0, 0, 1]))
    assert out["mpjpe_mm"] == pytest.approx((100 + 300) / 2)                 # action-wise, as the lifter's P1
    assert out["mpjpe_mm_frame_weighted"] == pytest.approx((3 * 100 + 300) / 4)
    assert out["frames"] == 4


def test_action_chance_and_majority_class():
    out = action_baselines(np.array([0, 0, 1, 2, 2, 2]), np.array([1, 1, 2, 0]), 15)
    assert out["chance"] == pytest.approx(1 / 15)
    assert out["majority_class"] == 2 and out["majority_top1"] == 0.25   # the training clips' majority, not the test's
    tie = action_baselines(np.array([3, 1, 3, 1]), np.array([1, 1, 3]), 15)
    assert tie["majority_class"] == 1 and tie["majority_top1"] == pytest.approx(2 / 3)   # ties: lowest label


def test_baselines_from_a_data_root(tmp_path):
    """compute_baselines on a real-layout root: the 2D baseline scores the validation subset train2D.py uses,
    the lifting baseline every test frame of every camera, the action baselines the clips of each split."""
    from config import load_config
    from dataloader.crop_dataset import FrameCropDataset
    from dataloader.h36m import ACTIONS
    from dataloader.reader import load_human36m
    from tests.fixtures import write_real_layout_fixture
    from utils.study.baselines import compute_baselines

    fixture = write_real_layout_fixture(tmp_path / "root", subjects=("S1", "S9"), num_frames=8, frames=False,
                                        detections=None)
    cfg = load_config(["profile=test", f"data.root={fixture.root}", "data.train_subjects=[S1]",
                       "data.test_subjects=[S9]", "data.cameras=[0, 1]", "data.box_source=keypoints",
                       "pose2d.max_val_items=10", "action.clip_stride=4"])
    data = load_human36m(cfg.data_root, cfg.data.frame_template, subjects=["S1", "S9"])
    out = compute_baselines(cfg, data)
    val = FrameCropDataset(data, data.sequences(subjects=["S9"]), [0, 1], 1, (64, 48), (16, 12), max_items=10,
                           seed=cfg.seed, targets=False, box_source="keypoints")
    assert out["pose2d"]["frames"] == 10 == len(val.items)
    assert out["pose2d"]["total_frames"] == 3 * 2 * 8                # 3 sequences × 2 cameras × 8 frames
    # the keypoints-box baseline again, one frame at a time: mean of S1's box-normalised poses, placed in S9's boxes
    def box_units(kp):
        low, high = kp.min(0), kp.max(0)
        return (kp - (low + high) / 2) / (1.25 * (high - low).max())
    train = [data.positions_2d["S1"][q][c][f] for q in fixture.sequences["S1"] for c in (0, 1) for f in range(8)]
    mean = np.mean([box_units(kp) for kp in train], axis=0)
    errors = []
    for k, c, f in val.items:
        kp = data.positions_2d["S9"][val.keys[k].sequence][c][f].astype(np.float64)
        low, high = kp.min(0), kp.max(0)
        errors.append(np.linalg.norm((low + high) / 2 + 1.25 * (high - low).max() * mean - kp, axis=1).mean())
    assert out["pose2d"]["boxes"]["keypoints"]["error_px"] == pytest.approx(np.mean(errors))
    assert out["lifting"]["frames"] == 3 * 2 * 8 and out["lifting"]["mpjpe_mm"] > 0
    for split in ("xsub", "xview"):
        b = out["action"][split]
        assert b["chance"] == pytest.approx(1 / len(ACTIONS)) and b["test_clips"] > 0
        assert b["majority_action"] == ACTIONS[b["majority_class"]]

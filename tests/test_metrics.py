"""utils.metrics: hand-computed cases and VideoPose3D's per-frame definitions."""
import numpy as np
import pytest
import torch

from dataloader.h36m import FLIP_PERMUTATION, JOINT_NAMES
from dataloader.h36m import NUM_JOINTS as J
from utils.metrics import (CALIBRATION_QUANTILES, action_wise_average, ap50_study, calibration_error,
                           leave_one_out_calibration, left_right_inversions, mean_joint_error_2d, mpjpe, mpjve,
                           n_mpjpe, p_mpjpe, pck, per_joint_error, quantile_calibration, topk_accuracy)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def p_mpjpe_reference(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """One frame at a time, the formula of models.md "Metrics for lifting" (VideoPose3D common/loss.py)."""
    out = []
    for P, G in zip(pred.reshape(-1, *pred.shape[-2:]), target.reshape(-1, *target.shape[-2:])):
        mu_g, mu_p = G.mean(0), P.mean(0)
        X0, Y0 = G - mu_g, P - mu_p
        nx, ny = np.linalg.norm(X0), np.linalg.norm(Y0)
        X0, Y0 = X0 / nx, Y0 / ny
        U, s, Vt = np.linalg.svd(X0.T @ Y0)
        V = Vt.T
        R = V @ U.T
        if np.linalg.det(R) < 0:
            V[:, -1] *= -1
            s[-1] *= -1
            R = V @ U.T
        scale = s.sum() * nx / ny
        t = mu_g - scale * mu_p @ R
        out.append(np.linalg.norm(scale * P @ R + t - G, axis=-1).mean())
    return np.array(out).reshape(pred.shape[:-2])


@pytest.fixture
def poses():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(4, 6, J, 3))
    pred = target + 0.1 * rng.normal(size=target.shape)
    return rng, pred, target


def test_mpjpe_hand_computed():
    # joint 0 off by (3, 4, 0) → 5, joint 1 exact → 0; mean 2.5
    pred = torch.tensor([[[3.0, 4.0, 0.0], [1.0, 1.0, 1.0]]])
    target = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]])
    assert mpjpe(pred, target).item() == pytest.approx(2.5)
    assert mpjpe(pred.numpy(), target.numpy()) == pytest.approx(2.5)
    assert mpjpe(pred, target, reduction="none").tolist() == pytest.approx([2.5])
    assert per_joint_error(pred, target).tolist() == pytest.approx([5.0, 0.0])


def test_mpjpe_is_differentiable_and_checks_shapes():
    pred = torch.zeros(2, J, 3, requires_grad=True)
    mpjpe(pred, torch.ones(2, J, 3)).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="same shape"):
        mpjpe(torch.zeros(2, J, 3), torch.zeros(2, J - 1, 3))
    with pytest.raises(ValueError, match="reduction"):
        mpjpe(torch.zeros(2, J, 3), torch.zeros(2, J, 3), reduction="sum")


def test_p_mpjpe_matches_per_frame_reference(poses):
    _, pred, target = poses
    per_frame = p_mpjpe(pred, target, reduction="none")
    assert per_frame.shape == (4, 6)
    np.testing.assert_allclose(per_frame, p_mpjpe_reference(pred, target), rtol=1e-10, atol=1e-12)
    assert p_mpjpe(pred, target) == pytest.approx(p_mpjpe_reference(pred, target).mean(), rel=1e-10)
    assert p_mpjpe(pred, target) < mpjpe(pred, target)  # alignment can only reduce the error


def test_p_mpjpe_is_zero_for_a_similarity_transform_of_the_target(poses):
    rng, _, target = poses
    for _ in range(5):
        R, s, t = random_rotation(rng), rng.uniform(0.2, 5.0), rng.normal(size=3)
        assert p_mpjpe(s * target @ R + t, target) < 1e-10


def test_p_mpjpe_is_invariant_to_similarity_transforms_of_the_prediction(poses):
    rng, pred, target = poses
    R, s, t = random_rotation(rng), 3.7, np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(p_mpjpe(s * pred @ R + t, target, reduction="none"),
                               p_mpjpe(pred, target, reduction="none"), rtol=1e-9, atol=1e-12)


def test_p_mpjpe_excludes_reflections(poses):
    _, _, target = poses
    mirrored = target * np.array([-1.0, 1.0, 1.0])  # a reflection, not reachable by a rotation
    error = p_mpjpe(mirrored, target, reduction="none")
    assert (error > 1e-3).all()
    np.testing.assert_allclose(error, p_mpjpe_reference(mirrored, target), rtol=1e-10)


def test_p_mpjpe_accepts_tensors_and_a_collapsed_prediction(poses):
    _, pred, target = poses
    assert p_mpjpe(torch.tensor(pred), torch.tensor(target)) == pytest.approx(p_mpjpe(pred, target))
    # all joints at one point: scale 0, aligned pose = target centroid → error = mean distance to the centroid
    collapsed = np.zeros_like(target[0, 0])
    expected = np.linalg.norm(target[0, 0] - target[0, 0].mean(0), axis=-1).mean()
    assert p_mpjpe(collapsed, target[0, 0]) == pytest.approx(expected)


def test_n_mpjpe_hand_computed():
    # one joint: G = (1, 0, 0), P = (2, 1, 0): s* = <G,P>/|P|² = 2/5, s*P = (0.8, 0.4, 0), error = √0.2
    pred = torch.tensor([[[[2.0, 1.0, 0.0]]]])
    target = torch.tensor([[[[1.0, 0.0, 0.0]]]])
    assert n_mpjpe(pred, target).item() == pytest.approx(0.2 ** 0.5)
    # any positive per-frame scale of the target is undone
    rng = np.random.default_rng(1)
    g = rng.normal(size=(3, J, 3))
    assert n_mpjpe(g * np.array([2.0, 0.5, 7.0])[:, None, None], g) < 1e-12


def test_mpjve_hand_computed():
    # one joint moving +1 in x per frame vs a static target: every velocity error is 1
    pred = np.zeros((3, 1, 3))
    pred[:, 0, 0] = [0.0, 1.0, 2.0]
    assert mpjve(pred, np.zeros_like(pred), axis=0) == pytest.approx(1.0)
    # a constant offset has zero velocity error
    assert mpjve(pred + 5.0, pred) == pytest.approx(0.0)


def test_action_wise_average_weights_frames_within_and_actions_equally():
    # Walking: frames 1, 2, 3 → 2; Eating: one frame 10 → 10; mean over actions 6 (pooled would be 4)
    mean, table = action_wise_average(np.array([1.0, 2.0, 3.0, 10.0]), ["Walking", "Walking", "Walking", "Eating"])
    assert mean == pytest.approx(6.0)
    assert table == pytest.approx({"Eating": 10.0, "Walking": 2.0})
    mean, table = action_wise_average(torch.tensor([1.0, 3.0, 5.0]), torch.tensor([0, 0, 4]))
    assert mean == pytest.approx(3.5) and table == pytest.approx({0: 2.0, 4: 5.0})
    with pytest.raises(ValueError, match="one action label per frame"):
        action_wise_average(np.zeros(3), ["Walking"])


def test_pck_and_mean_joint_error_2d_hand_computed():
    # GT box 100 × 50 → box size 100; threshold 0.1 → 10 px; errors 5, 10, 15 → 2 of 3 joints
    gt = np.array([[[0.0, 0.0], [100.0, 50.0], [50.0, 25.0]]])
    pred = gt + np.array([[[5.0, 0.0], [0.0, 10.0], [9.0, 12.0]]])
    assert pck(pred, gt, threshold=0.1) == pytest.approx(2 / 3)
    assert pck(pred, gt, box_size=np.array([1000.0]), threshold=0.1) == pytest.approx(1.0)
    assert pck(pred, gt, threshold=0.1, visible=np.array([[True, False, False]])) == pytest.approx(1.0)
    assert mean_joint_error_2d(pred, gt) == pytest.approx(10.0)


def test_ap50_study_normalises_by_the_ground_truth_box():
    # GT box 30 × 40 → diagonal 50 → a joint counts when its error ≤ 25
    gt = np.array([[[0.0, 0.0], [30.0, 40.0], [0.0, 40.0]]])
    pred = gt.copy()
    pred[0, 2] += [0.0, 30.0]  # error 30 > 25: a miss
    pred[0, 0] += [-200.0, -200.0]  # a big miss that also blows up the *predicted* box
    assert ap50_study(pred, gt) == pytest.approx(1 / 3)
    assert ap50_study(gt, gt) == 1.0
    # the study's swapped call takes the box of the prediction (230 × 270, diagonal ≈ 354.7, limit ≈ 177):
    # joint 2 (error 30) becomes a hit, so a worse prediction gets a higher score
    predicted_box_diagonal = np.linalg.norm(pred.max(-2) - pred.min(-2), axis=-1)
    assert pck(pred, gt, box_size=predicted_box_diagonal, threshold=0.5) == pytest.approx(2 / 3)


def test_topk_accuracy_hand_computed():
    logits = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4], [0.2, 0.3, 0.5]])
    labels = torch.tensor([1, 2, 0])  # top-1 hits: sample 0; top-2 hits: samples 0 and 1
    assert topk_accuracy(logits, labels) == pytest.approx(1 / 3)
    assert topk_accuracy(logits, labels, k=2) == pytest.approx(2 / 3)
    assert topk_accuracy(logits, labels, k=3) == 1.0
    with pytest.raises(ValueError, match="k must be"):
        topk_accuracy(logits, labels, k=4)


# --- calibration of samples (cGNF) and the Monte-Carlo statistics of the evaluation ----------------

def test_quantile_calibration_hand_computed():
    # five samples on the x axis at −2 … 2: median 0, distances 2, 1, 0, 1, 2 (sorted 0, 1, 1, 2, 2)
    samples = np.zeros((5, 1, 1, 3))
    samples[:, 0, 0, 0] = [-2, -1, 0, 1, 2]
    target = np.array([[[0.0, 0.5, 0.0]]])                      # distance 0.5 from the median
    q = [0.0, 0.25, 0.5, 0.875, 1.0]                            # quantiles of the distances: 0, 1, 1, 2, 2
    assert quantile_calibration(samples, target, q)[:, 0].tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]
    far = np.array([[[0.0, 0.0, 1.5]]])                         # distance 1.5: inside only from the 2's
    assert quantile_calibration(samples, far, q)[:, 0].tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]
    # cGNF's score: mean over q of |median over joints − q|
    fractions = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 1.0]])  # (Q = 3, J = 2)
    assert calibration_error(fractions, [0.0, 0.5, 1.0]) == pytest.approx((0.5 + 0 + 0) / 3)


def test_quantile_calibration_of_calibrated_and_overconfident_samplers():
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(200, 400, 4, 3))
    calibrated = calibration_error(quantile_calibration(samples, rng.normal(size=(400, 4, 3))))
    overconfident = calibration_error(quantile_calibration(samples, 3 * rng.normal(size=(400, 4, 3))))
    assert calibrated < 0.03 < 0.3 < overconfident


def test_leave_one_out_calibration_compares_at_the_same_number_of_samples():
    """With K = 4 a calibrated sampler is far from the diagonal; its own samples give the reference."""
    rng = np.random.default_rng(1)
    samples, truth = rng.normal(size=(4, 3000, 4, 3)), rng.normal(size=(3000, 4, 3))
    cal = leave_one_out_calibration(samples, truth)
    assert cal["ece"] > 0.1 and cal["ece_calibrated"] > 0.1               # finite-K effect, not miscalibration
    assert abs(cal["ece"] - cal["ece_calibrated"]) < 0.02
    assert np.allclose(cal["fraction"], cal["fraction_calibrated"], atol=0.03)
    wide = leave_one_out_calibration(samples, 3 * truth)
    assert wide["ece"] > cal["ece_calibrated"] + 0.1
    assert cal["quantiles"] == CALIBRATION_QUANTILES.tolist() and cal["samples_per_curve"] == 3
    with pytest.raises(ValueError, match="at least 3 samples"):
        leave_one_out_calibration(samples[:2], truth)


def test_monte_carlo_statistics_hand_computed():
    """Spread a per (frame, joint), error 0.3 − a of the lift of the mean: r = −1 over the non-root joints
    exactly. The root (spread 0, error 0) off that line would raise r, spread against spread gives +1, and
    the P1 of the samples' mean is action-wise (3 frames of one action, 1 of another)."""
    from utils.stages.evaluation import monte_carlo_statistics

    rng = np.random.default_rng(2)
    n = 4
    a = rng.uniform(0.01, 0.2, size=(n, J))                   # metres
    a[:, 0] = 0.0                                              # root: no spread …
    prediction = rng.normal(size=(n, J, 3))
    prediction[:, 0] = 0.0
    target = prediction.copy()
    target[:, 1:, 1] += 0.3 - a[:, 1:]                        # … and no error; elsewhere error = 0.3 − spread
    offsets = np.array([[1, 0, 0], [-1, 0, 0], [0, 0, 1], [0, 0, -1]], dtype=float)
    samples = prediction[None] + offsets[:, None, None, :] * a[None, :, :, None]  # (4, n, J, 3), mean = prediction
    actions = np.array([0, 0, 0, 1])
    out = monte_carlo_statistics(samples, prediction, target, actions)
    assert out["spread_error_correlation"] == pytest.approx(-1.0, abs=1e-9)
    assert out["mean_spread_mm"] == pytest.approx(1000 * a[:, 1:].mean())
    per_frame = 1000 * np.abs(0.3 - a[:, 1:]).sum(1) / J         # P1 of each frame over all 17 joints
    assert out["mpjpe_of_sample_mean_mm"] == pytest.approx((per_frame[:3].mean() + per_frame[3]) / 2)
    assert out["mpjpe_of_sample_mean_mm_frame_weighted"] == pytest.approx(per_frame.mean())
    assert out["per_joint_spread_mm"][0] == 0.0 and out["num_samples"] == 4
    assert len(out["calibration"]["fraction"]) == len(CALIBRATION_QUANTILES)
    assert monte_carlo_statistics(samples[:2], prediction, target, actions)["calibration"] is None


FEET = [JOINT_NAMES.index("LFoot"), JOINT_NAMES.index("RFoot")]


def test_left_right_inversions_count_a_miss_nearer_the_other_side():
    """Two frames whose joint box is 100 px tall (threshold 10 px); the feet on its bottom edge, LFoot at x = 0,
    RFoot at x = 30."""
    gt = np.zeros((2, J, 2))
    gt[:, :, 1] = np.linspace(0, 100, J)
    gt[:, FEET, 1] = 100.0
    gt[:, FEET[0], 0], gt[:, FEET[1], 0] = 0.0, 30.0
    pred = gt.copy()
    pred[0, FEET[0], 0] = 20.0   # 20 px off, 10 px from RFoot: inverted
    pred[1, FEET[0], 0] = 8.0    # 8 px off: within 0.1 × the box, a near miss, not an inversion
    pred[:, FEET[1], 0] = 14.0   # 16 px off, 14 px from LFoot: inverted in both frames
    pred[:, 0, 0] = 50.0         # the root far off: a centre joint is never inverted
    out = left_right_inversions(pred, gt, FLIP_PERMUTATION)
    expected = np.zeros(J)
    expected[FEET] = 0.5, 1.0
    np.testing.assert_allclose(out, expected)

"""utils/codecs/uncertainty.py: the per-joint uncertainty channels of `lifting.input` / `action.input`, on hand-made
covariances whose channels are worked out in the comments."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dataloader.h36m import FLIP_PERMUTATION, NUM_JOINTS
from dataloader.lifting_dataset import flip_2d
from utils.codecs.uncertainty import (CONF_SCALE, SIGMA_FLOOR, input_channels, marginal_moments, mode_of,
                                      moments_from_channels, num_channels)


def _covariance(frames: int = 3) -> np.ndarray:
    """(frames, 2J, 2J): joint j has σx = 0.01·(j+1), σy = 0.02·(j+1) and ρ = 0 for even j, 0.5 for odd j, plus a
    correlation between joints 0 and 1 that no marginal may pick up."""
    cov = np.zeros((frames, 2 * NUM_JOINTS, 2 * NUM_JOINTS))
    for j in range(NUM_JOINTS):
        sx, sy, rho = 0.01 * (j + 1), 0.02 * (j + 1), 0.0 if j % 2 == 0 else 0.5
        cov[:, 2 * j, 2 * j], cov[:, 2 * j + 1, 2 * j + 1] = sx ** 2, sy ** 2
        cov[:, 2 * j, 2 * j + 1] = cov[:, 2 * j + 1, 2 * j] = rho * sx * sy
    cov[:, 0, 2] = cov[:, 2, 0] = 0.5 * 0.01 * 0.02  # x0–x1: across joints, outside every 2×2 block
    return cov


def test_marginal_moments_read_the_diagonal_blocks():
    m = marginal_moments(_covariance())
    assert m.shape == (3, NUM_JOINTS, 3)
    np.testing.assert_allclose(m[0, 1], [0.02 ** 2, 0.04 ** 2, 0.5 * 0.02 * 0.04])
    np.testing.assert_allclose(m[0, 0], [0.01 ** 2, 0.02 ** 2, 0.0])


@pytest.mark.parametrize("mode, channels", [("xy", 2), ("xy+conf", 3), ("xy+cov", 5)])
def test_shapes_and_the_coordinates_come_first(mode, channels):
    keypoints = np.random.default_rng(0).uniform(-1, 1, (3, NUM_JOINTS, 2)).astype(np.float32)
    out = input_channels(keypoints, marginal_moments(_covariance()), mode)
    assert out.shape == (3, NUM_JOINTS, channels) == (3, NUM_JOINTS, num_channels(mode))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[..., :2], keypoints)
    assert mode_of(channels - 2) == mode


def test_cov_channels_of_a_hand_made_covariance():
    out = input_channels(np.zeros((3, NUM_JOINTS, 2)), marginal_moments(_covariance()), "xy+cov")
    # joint 0: σx = 0.01 = 10 floors → log 10; σy = 0.02 → log 20; diagonal block → ρ = 0
    np.testing.assert_allclose(out[:, 0, 2:], np.broadcast_to([math.log(10), math.log(20), 0.0], (3, 3)), atol=1e-6)
    # joint 1: σx = 0.02, σy = 0.04, ρ = 0.5 (the x0–x1 term is another block: it does not leak in)
    np.testing.assert_allclose(out[0, 1, 2:], [math.log(20), math.log(40), 0.5], atol=1e-6)
    assert np.all(out[:, ::2, 4] == 0)  # every diagonal Σ_j: ρ = 0 exactly


def test_conf_is_a_monotone_function_of_the_determinant():
    out = input_channels(np.zeros((1, NUM_JOINTS, 2)), marginal_moments(_covariance(1)), "xy+conf")[0, :, 2]
    # joint 0: det Σ_0 = (0.01·0.02)², σ_g = √(0.01·0.02) → c = 1 / (1 + σ_g / CONF_SCALE)
    assert out[0] == pytest.approx(1 / (1 + math.sqrt(0.01 * 0.02) / CONF_SCALE), rel=1e-6)
    # joint 1: det = σx²σy²(1 − ρ²) → σ_g = √(σx σy) (1 − ρ²)^(1/4)
    assert out[1] == pytest.approx(1 / (1 + math.sqrt(0.02 * 0.04) * 0.75 ** 0.25 / CONF_SCALE), rel=1e-6)
    dets = np.array([np.linalg.det(_covariance(1)[0, 2 * j:2 * j + 2, 2 * j:2 * j + 2]) for j in range(NUM_JOINTS)])
    order = np.argsort(dets)
    assert np.all(np.diff(out[order]) < 0) and np.all((out > 0) & (out < 1))


@pytest.mark.parametrize("mode, constant", [("xy+conf", [1.0]), ("xy+cov", [0.0, 0.0, 0.0])])
def test_a_deterministic_source_gets_the_no_uncertainty_constant(mode, constant):
    keypoints = np.ones((4, NUM_JOINTS, 2), dtype=np.float32)
    out = input_channels(keypoints, None, mode)
    np.testing.assert_array_equal(out[..., 2:], np.broadcast_to(constant, (4, NUM_JOINTS, len(constant))))
    # and it is the limit of a vanishing covariance: Σ = 0 gives the same channels
    np.testing.assert_array_equal(input_channels(keypoints, np.zeros((4, NUM_JOINTS, 3)), mode), out)


def test_sigma_below_the_floor_reads_as_the_floor_and_decoding_inverts_encoding():
    m = marginal_moments(_covariance())
    out = input_channels(np.zeros((3, NUM_JOINTS, 2)), m, "xy+cov")
    np.testing.assert_allclose(moments_from_channels(out), m, rtol=1e-5, atol=1e-12)  # every σ ≥ SIGMA_FLOOR here
    tiny = input_channels(np.zeros((1, 1, 2)), np.array([[[(SIGMA_FLOOR / 10) ** 2, 0.0, 0.0]]]), "xy+cov")
    assert tiny[0, 0, 2] == 0.0


def test_a_mirror_negates_x_and_rho_only():
    # flip_2d on the channels = the channels of the mirrored keypoints and covariance (x → −x: Σxy → −Σxy, sides swap)
    keypoints = np.random.default_rng(1).uniform(-1, 1, (3, NUM_JOINTS, 2))
    m = marginal_moments(_covariance())
    mirrored_m = m[:, list(FLIP_PERMUTATION)] * [1, 1, -1]
    for mode in ("xy+conf", "xy+cov"):
        np.testing.assert_allclose(flip_2d(input_channels(keypoints, m, mode)),
                                   input_channels(flip_2d(keypoints), mirrored_m, mode), atol=1e-6)


def test_an_unknown_mode_names_the_valid_ones():
    with pytest.raises(ValueError, match="valid: xy, xy\\+conf, xy\\+cov"):
        input_channels(np.zeros((1, NUM_JOINTS, 2)), None, "xy+sigma")
    with pytest.raises(ValueError, match="no input mode has 2 extra channels"):
        mode_of(2)


# --- end to end: main.py trains on the channels, get3Dprediction.py reads them back ------------------

@pytest.mark.parametrize("model, overrides, extra", [
    ("GraphMLP", ["lifting.preset=tiny", "lifting.batch_size=8", "lifting.epochs=1", "lifting.input=xy+cov"], 3),
    ("SkateFormer", ["action.epochs=1", "action.batch_size=8", "action.clip_stride=8", "action.input=xy+conf"], 1)])
def test_a_downstream_run_with_uncertainty_input_trains_and_evaluates(tiny_root, tmp_path, model, overrides, extra):
    import json

    import torch

    from tests.helpers import EXPERIMENT, base_overrides, call_stage

    args = base_overrides(tiny_root, tmp_path) + [f"model_3D_prediction={model}", "model_2D_prediction=GroundTruth",
                                                  "data.actions=[Walking]", "data.cameras=[0, 1]"] + overrides
    code, _, err = call_stage("main.py", args)
    assert code == 0, err[-3000:]
    suffix = "xy_cov" if extra == 3 else "xy_conf"
    run = tmp_path / EXPERIMENT / "3d" / f"{model}_GroundTruth_{suffix}"
    ckpt = torch.load(run / ("xsub" if model == "SkateFormer" else "") / "last.pt", weights_only=True)
    assert ckpt["model_kwargs"]["extra_channels"] == extra
    code, _, err = call_stage("get3Dprediction.py", args + ["model_2D_dataset=GroundTruth"])
    assert code == 0, err[-3000:]
    metrics = json.loads((tmp_path / EXPERIMENT / "eval" / f"{model}_GroundTruth_{suffix}_on_GroundTruth"
                          / "metrics.json").read_text())
    assert np.isfinite(metrics["mpjpe_mm"] if model == "GraphMLP" else metrics["xsub"]["top1"])

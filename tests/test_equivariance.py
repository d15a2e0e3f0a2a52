"""Mirror equivariance of every flip in the framework, checked against geometry written out here.

A horizontal mirror of the image (or of the centred normalised 2D) takes joint j to the place of its
mirror joint: the expected results below are built from ``MIRROR`` (derived from the joint *names*,
'LHip' ↔ 'RHip', not from ``FLIP_PERMUTATION``) and explicit coordinate maps, so a flip that forgets the
left/right swap, or swaps twice, fails here even when the code's own flip and un-flip agree.

- 2D flip test (``utils.stages.estimator.predict_heatmaps``): for any model, the flip-test heatmaps of a mirrored
  image are the mirrored, side-swapped heatmaps of the image; for a model that is itself equivariant the
  flip test changes nothing.
- Probabilistic flip test (``utils.stages.prob_estimator.predict_gaussian`` / ``flip_back``): the same for the
  mean and the full covariance (x ↦ w − 1 − x, Σ ↦ T Σ Tᵀ with T = P ⊗ diag(−1, 1)).
- Lifting (``flip_2d``, ``predict_3d``, ``LiftingDataset(flip=True)``): x ↦ −x with sides swapped, the
  test-time flip is the mean of f(x) and the un-flipped f(flipped x), an equivariant lifter is unchanged.
- Crops (``FrameCropDataset``): a flipped crop is the mirror image of the unflipped one, its target the
  mirrored unflipped target with sides swapped.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from dataloader.h36m import JOINT_NAMES, JOINTS_LEFT, NUM_JOINTS, ROOT

# MIRROR[j]: the joint whose mirror image joint j is ('LHip' ↔ 'RHip'; the spine maps to itself).
_SWAP = {"L": "R", "R": "L"}
MIRROR = [JOINT_NAMES.index(_SWAP[n[0]] + n[1:] if n[0] in _SWAP and n[1].isupper() else n) for n in JOINT_NAMES]
LEFT = [j for j, n in enumerate(JOINT_NAMES) if n.startswith("L") and n[1].isupper()]


def test_the_mirror_map_swaps_six_pairs():
    assert sorted(LEFT) == sorted(JOINTS_LEFT)
    assert sum(MIRROR[j] != j for j in range(NUM_JOINTS)) == 12 and all(MIRROR[MIRROR[j]] == j for j in MIRROR)


# --- expected operations, written out --------------------------------------------------------

def mirror_heatmaps(h: torch.Tensor) -> torch.Tensor:
    """Heatmaps (B, J, h, w) of an image → those of its mirror: column c ↦ w − 1 − c, channel j ← MIRROR[j]."""
    return h[:, MIRROR].flip(-1)


def mirror_matrix(num_joints: int = NUM_JOINTS) -> torch.Tensor:
    """T (D, D), D = 2J, joint-major (x, y): (T v)[2j] = −v[2·MIRROR[j]], (T v)[2j+1] = v[2·MIRROR[j]+1]."""
    T = torch.zeros(2 * num_joints, 2 * num_joints, dtype=torch.float64)
    for j in range(num_joints):
        T[2 * j, 2 * MIRROR[j]] = -1.0
        T[2 * j + 1, 2 * MIRROR[j] + 1] = 1.0
    return T


def mirror_gaussian(mean: torch.Tensor, cov: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """N(mean, cov) of an image (heatmap px, (B, D), (B, D, D)) → of its mirror: x ↦ (w − 1) − x, sides swapped."""
    T = mirror_matrix().to(mean.dtype)
    offset = torch.zeros(2 * NUM_JOINTS, dtype=mean.dtype)
    offset[0::2] = width - 1.0
    return mean @ T.T + offset, T @ cov @ T.T


def mirror_pose(x: torch.Tensor | np.ndarray):
    """Centred 2D or 3D poses (..., J, C) → mirrored: joint j takes MIRROR[j]'s coordinates with x negated."""
    out = x[..., MIRROR, :] * 1.0
    out[..., 0] = -out[..., 0]
    return out


# --- 2D flip test -----------------------------------------------------------------------------

class MirrorEquivariantHeatmaps(nn.Module):
    """A 2D 'pose model' that is exactly mirror-equivariant with the true left/right swap.

    Three maps of the grey image: f (a symmetric kernel) and l, r (a lopsided kernel and its mirror,
    so l(mirror x) = mirror r(x)), pooled ×4 to the heatmap grid. Joint j's heatmap is a_j f + b_j l + c_j r
    with (a, b, c) of a left joint's mirror = (a, c, b): heatmaps(mirror x) = mirror_heatmaps(heatmaps(x)),
    and left and right heatmaps differ, so an un-flip without the swap changes the flip-test output.
    """
    input_size, heatmap_size = (64, 48), (16, 12)

    def __init__(self, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        lopsided = torch.rand(1, 1, 5, 5, generator=g)
        symmetric = lopsided + lopsided.flip(-1)
        self.register_buffer("kernels", torch.cat([symmetric, lopsided, lopsided.flip(-1)]))  # (3, 1, 5, 5)
        a, b, c = torch.randn(3, NUM_JOINTS, generator=g)
        for j in range(NUM_JOINTS):
            if MIRROR[j] == j:
                c[j] = b[j]
            elif j in LEFT:
                a[MIRROR[j]], b[MIRROR[j]], c[MIRROR[j]] = a[j], c[j], b[j]
        self.register_buffer("mix", torch.stack([a, b, c], 1))  # (J, 3)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        grey = images.mean(1, keepdim=True)                                             # (B, 1, H, W)
        maps = F.avg_pool2d(F.conv2d(grey, self.kernels.to(grey.dtype), padding=2), 4)  # (B, 3, h, w)
        return torch.einsum("jk,bkhw->bjhw", self.mix.to(grey.dtype), maps)[:, None]   # (B, S=1, J, h, w)


@pytest.mark.parametrize("name, preset", [("ViTPose", "tiny64"), ("Hourglass", "tiny")])
def test_flip_test_heatmaps_of_a_mirrored_image_are_the_mirrored_heatmaps(name, preset):
    """F(mirror x) = mirror(F(x)) for the flip test F of any model (random weights here): with the swap
    missing in the un-flip, F(mirror x) = ½(m(Mx) + mirror-only m(x)), which is not mirror(F(x))."""
    from models.pose2d import build_pose_model
    from utils.stages.estimator import predict_heatmaps

    torch.manual_seed(0)
    model = build_pose_model(name, preset, NUM_JOINTS).eval()
    images = torch.randn(2, 3, *model.input_size)
    with torch.no_grad():
        heatmaps = predict_heatmaps(model, images, flip_test=True)
        of_mirror = predict_heatmaps(model, images.flip(-1), flip_test=True)
    assert heatmaps.shape == (2, NUM_JOINTS, *model.heatmap_size)
    torch.testing.assert_close(of_mirror, mirror_heatmaps(heatmaps), atol=1e-5, rtol=1e-4)
    # not vacuous: the heatmaps are not left/right symmetric, so a missing swap shows
    assert (heatmaps - heatmaps[:, MIRROR]).abs().max() > 100 * (of_mirror - mirror_heatmaps(heatmaps)).abs().max()


def test_flip_test_of_an_equivariant_model_is_its_plain_output():
    from utils.stages.estimator import predict_heatmaps

    model = MirrorEquivariantHeatmaps()
    images = torch.randn(3, 3, 64, 48)
    plain = model(images)[:, -1]
    torch.testing.assert_close(model(images.flip(-1))[:, -1], mirror_heatmaps(plain), atol=1e-5, rtol=1e-5)
    assert (plain - plain[:, MIRROR]).abs().mean() > 0.1 * plain.abs().mean()
    torch.testing.assert_close(predict_heatmaps(model, images, flip_test=True), plain, atol=1e-5, rtol=1e-5)


def test_flipped_crop_predictions_go_back_to_the_joints_they_show():
    """``heatmap_to_full_frame`` of a flipped crop: the prediction in heatmap slot j of the mirrored crop is
    joint j *as seen in the mirror*, i.e. the image of joint MIRROR[j]; mapped back it must land on joint j.
    The flipped crop's affine and targets are built here from the unflipped ones (x ↦ w − 1 − x)."""
    from utils.codecs.crop import apply_affine, crop_affine, heatmap_affine, compose_affine
    from utils.stages.estimator import heatmap_to_full_frame

    rng = np.random.default_rng(0)
    keypoints = rng.uniform(300, 700, size=(2, NUM_JOINTS, 2))                       # full-frame px
    w = 12
    plain = compose_affine(heatmap_affine((64, 48), (16, w)), crop_affine([500.0, 480.0], 500.0, (64, 48)))
    mirror = np.array([[-1.0, 0.0, w - 1.0], [0.0, 1.0, 0.0]])
    flipped = compose_affine(mirror, plain)                                           # full frame → mirrored heatmap
    seen_in_mirror = apply_affine(keypoints, flipped)[:, MIRROR]                      # slot j shows joint MIRROR[j]
    back = heatmap_to_full_frame(torch.from_numpy(seen_in_mirror).float(),
                                 torch.from_numpy(np.stack([flipped, flipped])).float(), torch.tensor([True, True]))
    np.testing.assert_allclose(back.numpy(), keypoints, atol=1e-3)


# --- probabilistic flip test --------------------------------------------------------------------

class RandomGaussianHead(nn.Module):
    """A generic (not equivariant) probabilistic 2D model: pooled image → mean (B, D) heatmap px and an SPD Σ."""

    def __init__(self, seed: int = 0, heatmap_size=(16, 12)):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.h, self.w = heatmap_size
        d_in, D = 3 * self.h * self.w, 2 * NUM_JOINTS
        self.mean_weight = torch.randn(D, d_in, generator=g) * 0.3
        self.cov_weight = torch.randn(D * D, d_in, generator=g) * 0.05

    def forward(self, images: torch.Tensor) -> dict:
        z = F.adaptive_avg_pool2d(images, (self.h, self.w)).flatten(1).double()       # (B, 3hw)
        mean = 5.0 + z @ self.mean_weight.double().T                                   # (B, D)
        A = (z @ self.cov_weight.double().T).view(len(z), 2 * NUM_JOINTS, 2 * NUM_JOINTS)
        cov = A @ A.transpose(1, 2) + 0.5 * torch.eye(2 * NUM_JOINTS, dtype=torch.float64)
        return {"mean": mean, "covariance": cov, "heatmaps": torch.zeros(len(z), NUM_JOINTS, self.h, self.w),
                "visibility": None}


class EquivariantGaussianHead(nn.Module):
    """An exactly equivariant probabilistic 2D model built on ``MirrorEquivariantHeatmaps``.

    Mean: soft-argmax of the heatmaps. Σ: each joint's spatial covariance under its softmax (block
    diagonal), plus u uᵀ with u = ½(mean − heatmap centre), which couples every joint pair, plus 0.1 I.
    Under the mirror the softmax moves with its joint, so mean and Σ follow ``mirror_gaussian`` exactly.
    """

    def __init__(self):
        super().__init__()
        self.heatmaps = MirrorEquivariantHeatmaps(seed=1)

    def forward(self, images: torch.Tensor) -> dict:
        heatmaps = self.heatmaps(images.double())[:, -1]                              # (B, J, h, w)
        B, J, h, w = heatmaps.shape
        p = torch.softmax(heatmaps.flatten(2), -1).view(B, J, h, w)
        grid = torch.stack(torch.meshgrid(torch.arange(w, dtype=torch.float64), torch.arange(h, dtype=torch.float64),
                                          indexing="xy"), -1)                             # (h, w, 2) (x, y)
        mean = torch.einsum("bjhw,hwc->bjc", p, grid)                                  # (B, J, 2)
        centred = grid[None, None] - mean[:, :, None, None]                            # (B, J, h, w, 2)
        blocks = torch.einsum("bjhw,bjhwc,bjhwd->bjcd", p, centred, centred)          # (B, J, 2, 2)
        cov = torch.zeros(B, 2 * J, 2 * J, dtype=torch.float64)
        for j in range(J):
            cov[:, 2 * j:2 * j + 2, 2 * j:2 * j + 2] = blocks[:, j]
        u = 0.5 * (mean - torch.tensor([(w - 1) / 2, (h - 1) / 2], dtype=torch.float64)).flatten(1)
        cov = cov + u[:, :, None] * u[:, None, :] + 0.1 * torch.eye(2 * J, dtype=torch.float64)
        return {"mean": mean.flatten(1), "covariance": cov, "heatmaps": heatmaps, "visibility": None}


def test_probabilistic_flip_test_of_a_mirrored_image_is_the_mirrored_gaussian():
    """For any model, the moment-matched flip-test Gaussian of a mirrored image is the mirrored Gaussian
    of the image: mean x ↦ w − 1 − x and Σ ↦ T Σ Tᵀ, both with the sides swapped (catches a missing
    permutation of the mean or of the covariance in ``flip_back``)."""
    from utils.stages.prob_estimator import predict_gaussian

    model = RandomGaussianHead()
    images = torch.randn(2, 3, 64, 48)
    mean, cov, _ = predict_gaussian(model, images, flip_test=True)
    mean_m, cov_m, _ = predict_gaussian(model, images.flip(-1), flip_test=True)
    expected_mean, expected_cov = mirror_gaussian(mean, cov, model.w)
    torch.testing.assert_close(mean_m, expected_mean, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(cov_m, expected_cov, atol=1e-9, rtol=1e-9)
    # not vacuous: the plain Gaussian is far from left/right symmetric
    plain_mean, plain_cov = model(images)["mean"], model(images)["covariance"]
    assert (plain_cov - mirror_gaussian(plain_mean, plain_cov, model.w)[1]).abs().max() > 1.0


def test_probabilistic_flip_test_of_an_equivariant_model_is_its_plain_gaussian():
    from utils.stages.prob_estimator import predict_gaussian

    model = EquivariantGaussianHead()
    images = torch.randn(2, 3, 64, 48)
    out, out_m = model(images), model(images.flip(-1))
    expected_mean, expected_cov = mirror_gaussian(out["mean"], out["covariance"], 12)
    torch.testing.assert_close(out_m["mean"], expected_mean)          # the model is equivariant …
    torch.testing.assert_close(out_m["covariance"], expected_cov)
    means = out["mean"].view(-1, NUM_JOINTS, 2)
    assert (means - means[:, MIRROR]).abs().max() > 0.01                 # … and its sides differ
    mean, cov, _ = predict_gaussian(model, images, flip_test=True)
    plain_mean, plain_cov, _ = predict_gaussian(model, images, flip_test=False)
    torch.testing.assert_close(mean, plain_mean, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(cov, plain_cov, atol=1e-9, rtol=1e-9)


# --- lifting ------------------------------------------------------------------------------------

def test_flip_2d_and_flip_3d_negate_x_and_swap_sides():
    from dataloader.lifting_dataset import flip_2d, flip_3d

    pose_2d = np.stack([np.arange(NUM_JOINTS) + 1.0, 100.0 + np.arange(NUM_JOINTS)], -1)[None]   # (1, J, 2)
    pose_3d = np.concatenate([pose_2d, 50.0 + np.arange(NUM_JOINTS)[None, :, None]], -1)          # (1, J, 3)
    lhip, rhip = JOINT_NAMES.index("LHip"), JOINT_NAMES.index("RHip")
    for flip, pose in ((flip_2d, pose_2d), (flip_3d, pose_3d)):
        for kind in (np.asarray, torch.from_numpy):
            x = kind(pose.copy())
            out = np.asarray(flip(x))
            np.testing.assert_array_equal(out, mirror_pose(pose))
            assert out[0, lhip, 0] == -pose[0, rhip, 0] and out[0, lhip, 1] == pose[0, rhip, 1]
            np.testing.assert_array_equal(np.asarray(x), pose)  # the input is not modified


class EquivariantLifter(nn.Module):
    """(B, T, J, 2) → (B, 1, J, 3): x and y of the centre frame, depth s_j (x_j − x_mirror(j)) with
    s = +1 on the left, −1 on the right, 0 on the spine. Equivariant under the mirror with the side swap,
    and not under a mirror without it (the depth of a side would change sign)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centre = x[:, x.shape[1] // 2]                                                 # (B, J, 2)
        side = torch.tensor([1.0 if j in LEFT else -1.0 if MIRROR[j] != j else 0.0 for j in range(NUM_JOINTS)])
        depth = side * (centre[..., 0] - centre[:, MIRROR, 0]) + 0.1 * centre[..., 1]
        return torch.cat([centre, depth[..., None]], -1)[:, None]


def test_test_time_flip_leaves_an_equivariant_lifter_unchanged():
    from utils.stages.downstream import predict_3d

    model = EquivariantLifter()
    x = torch.randn(4, 3, NUM_JOINTS, 2)
    torch.testing.assert_close(model(mirror_pose(x))[:, 0], mirror_pose(model(x)[:, 0]))   # it is equivariant
    plain = predict_3d(model, x, test_flip=False)
    torch.testing.assert_close(predict_3d(model, x, test_flip=True), plain)
    assert torch.equal(plain[:, 0], torch.zeros(4, 3))                                     # root-relative


def test_test_time_flip_is_the_mean_of_the_prediction_and_the_unflipped_flipped_prediction():
    from models.GraphMLP import GRAPHMLP_PRESETS, GraphMLP
    from utils.stages.downstream import predict_3d

    torch.manual_seed(0)
    model = GraphMLP(**GRAPHMLP_PRESETS["tiny27"]).eval()
    x = torch.rand(3, 27, NUM_JOINTS, 2) * 2 - 1
    with torch.no_grad():
        got = predict_3d(model, x, test_flip=True)
        expected = 0.5 * (model(x)[:, 0] + mirror_pose(model(mirror_pose(x))[:, 0]))
        expected[:, ROOT] = 0.0  # the official GraphMLP's root handling: root set to 0, other joints kept
        plain = predict_3d(model, x, test_flip=False)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)
    assert (got - plain).abs().max() > 1e-3  # random weights: the flip does change the prediction


def _hand_made_data(num_frames: int = 7, sequences=("Walking 1", "Eating"), subjects=("S1", "S9")):
    """A Human36M holding a smooth random motion per sequence and its exact ground-truth 2D (no files)."""
    from pathlib import Path

    from dataloader.camera import project_to_pixels, world_to_camera
    from dataloader.h36m import NUM_CAMERAS, get_camera, select_17
    from dataloader.reader import Human36M

    rng = np.random.default_rng(0)
    positions_3d, positions_2d = {}, {}
    for subject in subjects:
        positions_3d[subject], positions_2d[subject] = {}, {}
        for sequence in sequences:
            base = rng.uniform(-0.8, 0.8, size=(1, 32, 3)) + np.array([0.0, 0.0, 1.0])
            motion = (base + 0.02 * np.arange(num_frames)[:, None, None] * rng.normal(size=(1, 32, 3))).astype(np.float32)
            positions_3d[subject][sequence] = motion
            joints = select_17(motion.astype(np.float64))
            positions_2d[subject][sequence] = [
                project_to_pixels(world_to_camera(joints, get_camera(subject, c)), get_camera(subject, c)).astype(np.float32)
                for c in range(NUM_CAMERAS)]
    return Human36M(root=Path("/nonexistent"), frame_template="{subject}/{sequence}.{camera}/{frame}.jpg",
                    positions_3d=positions_3d, positions_2d=positions_2d)


def test_lifting_flip_augmentation_mirrors_inputs_and_targets_together():
    """With flip=True every item is either the plain item or its mirror (2D window and 3D target both
    mirrored with the side swap: the same mirror of the scene), and both occur."""
    from dataloader.lifting_dataset import LiftingDataset
    from dataloader.sources import ground_truth_source

    data = _hand_made_data()
    keys = [("S1", "Walking 1", 0), ("S9", "Eating", 2)]
    source = ground_truth_source(data, keys)
    plain = LiftingDataset(data, keys, source, frames=3)
    augmented = LiftingDataset(data, keys, source, frames=3, flip=True, seed=1)
    flipped = 0
    for i in range(len(plain)):
        a, b = plain[i], augmented[i]
        if torch.equal(a["inputs"], b["inputs"]):
            assert torch.equal(a["target"], b["target"])
        else:
            flipped += 1
            torch.testing.assert_close(b["inputs"], mirror_pose(a["inputs"]))
            torch.testing.assert_close(b["target"], mirror_pose(a["target"]))
        assert torch.equal(a["index"], b["index"]) and a["action"] == b["action"]
    assert 0 < flipped < len(plain)


# --- crops ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def crop_data(tiny_root):
    from dataloader.reader import load_human36m

    return load_human36m(tiny_root, subjects=["S9"], actions=["Walking"])


def test_a_flipped_crop_is_the_mirror_of_the_unflipped_crop_with_sides_swapped(crop_data):
    """Same item with and without the flip (no rotation, no scale): the image is the column-mirrored crop
    and the heatmap target is x ↦ w − 1 − x of the unflipped target with the sides swapped; the full-frame
    keypoints are the same. (Checks the dataset against geometry, not against its own inverse.)"""
    from dataloader.crop_dataset import FrameCropDataset

    args = (crop_data, crop_data.sequences()[:1], [0], 1, (64, 48), (16, 12))
    plain = FrameCropDataset(*args, seed=5)
    flips = FrameCropDataset(*args, augment=True, rotation=0.0, scale=0.0, flip_prob=0.5, seed=5)
    indices = list(range(len(plain)))
    a, b = plain.__getitems__(indices), flips.__getitems__(indices)
    flipped = b["flipped"]
    assert 0 < int(flipped.sum()) < len(indices) and not a["flipped"].any()
    w = 12
    for i in indices:
        assert torch.equal(a["keypoints"][i], b["keypoints"][i])
        if not flipped[i]:
            assert torch.equal(a["image"][i], b["image"][i]) and torch.equal(a["target_hm"][i], b["target_hm"][i])
            continue
        expected = a["target_hm"][i][MIRROR].clone()
        expected[:, 0] = (w - 1) - expected[:, 0]
        torch.testing.assert_close(b["target_hm"][i], expected, atol=1e-4, rtol=0)
        mirrored = a["image"][i].flip(-1).float()
        difference = (b["image"][i].float() - mirrored).abs()
        assert difference.mean() < 1.0 and difference.max() <= 8, (difference.mean(), difference.max())
        # the heatmaps are those of the swapped target: the left hip's map peaks where the right hip shows
        torch.testing.assert_close(b["heatmaps"][i], a["heatmaps"][i][MIRROR].flip(-1), atol=1e-5, rtol=0)

"""Heatmap codec (utils/codecs/heatmap.py) and crop codec (utils/codecs/crop.py): round trips and closed forms."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dataloader.h36m import FLIP_PERMUTATION, NUM_JOINTS
from utils.codecs.crop import (apply_affine, compose_affine, crop_affine, heatmap_affine, heatmap_to_input,
                        input_to_heatmap, invert_affine, permute_covariance, person_box, transform_covariance,
                        warp_image)
from utils.codecs.heatmap import decode_heatmaps, encode_heatmaps, flip_heatmaps, soft_argmax

HEATMAP = (64, 48)  # (h, w) of ViTPose at 256×192
INPUT = (256, 192)


# --- heatmap codec ------------------------------------------------------------------------------

def test_encode_writes_a_unit_gaussian_at_the_subpixel_keypoint():
    heatmaps, weights = encode_heatmaps(torch.tensor([[[10.0, 20.0], [10.5, 20.0]]]), HEATMAP, sigma=2.0)
    assert heatmaps.shape == (1, 2, *HEATMAP) and heatmaps.dtype == torch.float32 and weights.tolist() == [[1, 1]]
    assert heatmaps[0, 0, 20, 10] == 1.0  # pixel centres at integer coordinates: (x, y) = (column, row)
    assert heatmaps[0, 0, 20, 12].item() == pytest.approx(math.exp(-4 / 8))  # 2 px away, σ = 2
    assert heatmaps[0, 1, 20, 10].item() == pytest.approx(heatmaps[0, 1, 20, 11].item())  # centre between 10, 11


def test_joints_off_the_map_invalid_or_invisible_get_weight_zero():
    h, w = HEATMAP
    keypoints = torch.tensor([[[-0.6, 5.0], [w - 0.5, 5.0], [5.0, h + 3.0], [float("nan"), 1.0],
                               [-0.4, h - 0.6], [3.0, 3.0]]])
    visible = torch.tensor([[1, 1, 1, 1, 1, 0]])
    heatmaps, weights = encode_heatmaps(keypoints, HEATMAP, visible=visible)
    assert weights.tolist() == [[0, 0, 0, 0, 1, 0]]
    assert heatmaps[0, [0, 1, 2, 3, 5]].abs().sum() == 0 and torch.isfinite(heatmaps).all()


def test_encode_decode_round_trip_is_subpixel_exact():
    generator = torch.Generator().manual_seed(0)
    h, w = HEATMAP
    # at least 4 px from the border, where the DARK step is exact up to the 11×11 blur truncation
    keypoints = 4 + torch.rand(64, NUM_JOINTS, 2, generator=generator) * torch.tensor([w - 9.0, h - 9.0])
    heatmaps, _ = encode_heatmaps(keypoints.numpy(), HEATMAP)  # numpy in, torch out
    decoded, scores = decode_heatmaps(heatmaps)
    assert decoded.shape == keypoints.shape and scores.shape == keypoints.shape[:-1]
    assert (decoded - keypoints).norm(dim=-1).max() < 0.05
    assert (scores > 0.7).all()  # peak of a unit Gaussian sampled ≤ 0.71 px from its centre


def test_decode_near_the_border_is_subpixel_exact():
    """A blur padded with anything (zeros: mmpose 1.x; reflection: ViTPose's cv2.GaussianBlur) moves a peak
    that sits 1 px from the border by 0.3–1 px; the kernel truncated to the map keeps it where it is."""
    h, w = HEATMAP
    keypoints = torch.tensor([[[1.3, 30.0], [0.8, 20.4], [w - 2.2, 2.4], [20.0, h - 1.7], [30.6, 1.1],
                               [0.2, 10.0], [w - 1.1, h - 1.4]]])  # the last two: maximum on the outermost pixel
    for sigma in (1.5, 2.0, 3.0):
        decoded, _ = decode_heatmaps(encode_heatmaps(keypoints, HEATMAP, sigma=sigma)[0])
        assert (decoded - keypoints).abs().max() < 0.1, (sigma, decoded - keypoints)


def test_decode_of_flat_or_tiny_maps_stays_bounded():
    h, w = HEATMAP
    flat, scores = decode_heatmaps(torch.zeros(2, 3, h, w))
    assert torch.isfinite(flat).all() and (scores == 0).all()
    noise = torch.rand(4, NUM_JOINTS, h, w, generator=torch.Generator().manual_seed(0))
    decoded, _ = decode_heatmaps(noise)
    argmax, _ = decode_heatmaps(noise, refine=False)
    assert (decoded - argmax).abs().max() <= 1.0  # a saddle or a flat map cannot throw a keypoint away
    tiny, _ = decode_heatmaps(torch.rand(1, 2, 2, 5))
    assert torch.isfinite(tiny).all()


def test_soft_argmax_of_a_sharp_peak_returns_column_then_row():
    heatmaps = torch.zeros(1, 2, 32, 64)
    heatmaps[0, 0, 10, 40] = 50.0  # row 10, column 40
    heatmaps[0, 1, 31, 0] = 50.0
    heatmaps.requires_grad_(True)
    coordinates = soft_argmax(heatmaps, beta=1.0)
    torch.testing.assert_close(coordinates.detach(), torch.tensor([[[40.0, 10.0], [0.0, 31.0]]]), atol=1e-3, rtol=0)
    coordinates.sum().backward()
    assert torch.isfinite(heatmaps.grad).all() and heatmaps.grad.abs().sum() > 0


def test_soft_argmax_of_a_log_gaussian_is_its_subpixel_centre():
    h, w = HEATMAP
    keypoints = torch.tensor([[[17.25, 30.6]]])
    rows, columns = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    # softmax(−d²/2σ²) is the normalised sampled Gaussian, whose mean is its centre (σ = 1.5, far from borders)
    logits = -((columns - 17.25) ** 2 + (rows - 30.6) ** 2) / (2 * 1.5 ** 2)
    torch.testing.assert_close(soft_argmax(logits[None, None]), keypoints, atol=1e-4, rtol=0)


def test_flip_heatmaps_undoes_a_mirrored_image():
    generator = torch.Generator().manual_seed(1)
    h, w = HEATMAP
    keypoints = torch.rand(3, NUM_JOINTS, 2, generator=generator) * torch.tensor([w - 1.0, h - 1.0])
    mirrored = keypoints.clone()
    mirrored[..., 0] = (w - 1) - mirrored[..., 0]  # UDP mirror: column j ↔ w − 1 − j
    mirrored = mirrored[:, FLIP_PERMUTATION]  # left/right labels swap in the mirrored image
    original, _ = encode_heatmaps(keypoints, HEATMAP)
    torch.testing.assert_close(flip_heatmaps(encode_heatmaps(mirrored, HEATMAP)[0], FLIP_PERMUTATION), original)


# --- crop codec ---------------------------------------------------------------------------------

def test_person_box_is_a_square_with_margin_around_the_keypoints():
    keypoints = np.array([[100.0, 200.0], [300.0, 600.0], [np.nan, 0.0], [5000.0, 5000.0]])
    center, size = person_box(keypoints, margin=1.25, visible=[1, 1, 1, 0])
    np.testing.assert_allclose(center, [200.0, 400.0])
    assert size == pytest.approx(1.25 * 400)


def test_crop_affine_maps_the_box_onto_the_udp_grid():
    center, size = np.array([500.0, 400.0]), 300.0
    affine = crop_affine(center, size, (64, 64))
    corners = apply_affine(np.array([[350.0, 250.0], [650.0, 550.0], [500.0, 400.0]]), affine)
    np.testing.assert_allclose(corners, [[0, 0], [63, 63], [31.5, 31.5]], atol=1e-9)
    # non-square output: the square fits the shorter side, isotropically, centred
    affine = crop_affine(center, size, INPUT)
    np.testing.assert_allclose(apply_affine(np.array([[350.0, 250.0]]), affine), [[0, (255 - 191) / 2]], atol=1e-9)
    flipped = crop_affine(center, size, INPUT, flip=True)
    np.testing.assert_allclose(apply_affine(np.array([[350.0, 250.0]]), flipped), [[191, 32]], atol=1e-9)


def test_crop_round_trip_with_rotation_scale_and_flip():
    rng = np.random.default_rng(0)
    for _ in range(20):
        affine = crop_affine(rng.uniform(0, 1000, 2), rng.uniform(100, 800), INPUT, rotation=rng.uniform(-45, 45),
                             flip=bool(rng.integers(2)), scale=rng.uniform(0.7, 1.3))
        points = rng.uniform(-200, 1200, (NUM_JOINTS, 2))
        back = apply_affine(apply_affine(points, affine), invert_affine(affine))
        assert np.abs(back - points).max() < 1e-3
        np.testing.assert_allclose(compose_affine(invert_affine(affine), affine), np.eye(2, 3), atol=1e-12)


def test_affines_work_batched_and_on_torch():
    rng = np.random.default_rng(1)
    affines = np.stack([crop_affine(rng.uniform(0, 500, 2), 200.0, INPUT, rotation=r) for r in (0, 30, -60)])
    points = rng.uniform(0, 500, (3, NUM_JOINTS, 2))
    batched = apply_affine(torch.from_numpy(points), torch.from_numpy(affines))
    single = np.stack([apply_affine(p, a) for p, a in zip(points, affines)])
    np.testing.assert_allclose(batched.numpy(), single, atol=1e-9)
    inverse = invert_affine(torch.from_numpy(affines))
    assert isinstance(inverse, torch.Tensor)
    np.testing.assert_allclose(apply_affine(batched, inverse).numpy(), points, atol=1e-9)


def test_heatmap_input_scaling_follows_udp():
    points = np.array([[0.0, 0.0], [47.0, 63.0], [23.5, 31.5]])  # heatmap corners and centre
    np.testing.assert_allclose(heatmap_to_input(points, INPUT, HEATMAP), [[0, 0], [191, 255], [95.5, 127.5]])
    np.testing.assert_allclose(input_to_heatmap(heatmap_to_input(points, INPUT, HEATMAP), INPUT, HEATMAP), points)


def test_warp_image_puts_a_blob_where_apply_affine_says():
    ys, xs = np.mgrid[0:600, 0:800]
    blob = np.array([412.3, 287.6])  # (x, y) full-frame pixels
    image = np.exp(-((xs - blob[0]) ** 2 + (ys - blob[1]) ** 2) / (2 * 6.0 ** 2)).astype(np.float32)
    affine = crop_affine([400.0, 300.0], 150.0, (64, 48), rotation=25.0)
    crop = warp_image(image, affine, (64, 48))
    assert crop.shape == (64, 48)
    centroid = np.array([(crop * np.arange(48)).sum(), (crop * np.arange(64)[:, None]).sum()]) / crop.sum()
    np.testing.assert_allclose(centroid, apply_affine(blob, affine), atol=0.05)
    # with UDP a flip inside the affine is exactly a mirror of the crop
    flipped = warp_image(image, crop_affine([400.0, 300.0], 150.0, (64, 48), rotation=25.0, flip=True), (64, 48))
    np.testing.assert_allclose(flipped, crop[:, ::-1], atol=1e-5)


def _random_covariance(rng: np.random.Generator, joints: int) -> np.ndarray:
    factor = rng.normal(size=(2 * joints, 2 * joints))
    return factor @ factor.T + 0.5 * np.eye(2 * joints)


def test_transform_covariance_matches_transformed_samples():
    rng = np.random.default_rng(2)
    joints = 3
    covariance = _random_covariance(rng, joints)
    affine = crop_affine([300.0, 200.0], 120.0, INPUT, rotation=35.0, flip=True, scale=1.1)
    samples = rng.multivariate_normal(np.zeros(2 * joints), covariance, size=200_000)  # (S, 2J) interleaved
    moved = apply_affine(samples.reshape(-1, joints, 2), affine).reshape(-1, 2 * joints)
    expected = transform_covariance(covariance, affine)
    empirical = np.cov(moved, rowvar=False)
    scale = np.sqrt(np.outer(np.diag(expected), np.diag(expected)))
    assert np.abs((empirical - expected) / scale).max() < 0.02  # sampling error of a correlation ~ 1/√S
    np.testing.assert_allclose(transform_covariance(expected, invert_affine(affine)), covariance, atol=1e-9)
    torch_result = transform_covariance(torch.from_numpy(covariance)[None], torch.from_numpy(affine)[None])
    np.testing.assert_allclose(torch_result[0].numpy(), expected, atol=1e-9)


def test_permute_covariance_follows_the_joint_permutation():
    rng = np.random.default_rng(3)
    covariance = _random_covariance(rng, NUM_JOINTS)
    samples = rng.normal(size=(5, 2 * NUM_JOINTS))
    # the covariance of permuted samples is the permuted covariance: check on the bilinear form
    permuted = samples.reshape(5, NUM_JOINTS, 2)[:, FLIP_PERMUTATION].reshape(5, -1)
    np.testing.assert_allclose(np.einsum("si,ij,sj->s", permuted, permute_covariance(covariance, FLIP_PERMUTATION),
                                         permuted), np.einsum("si,ij,sj->s", samples, covariance, samples))
    torch.testing.assert_close(permute_covariance(torch.from_numpy(covariance), FLIP_PERMUTATION),
                               torch.from_numpy(permute_covariance(covariance, FLIP_PERMUTATION)))


@pytest.mark.parametrize("rotation, scale, flip", [(0.0, 1.0, False), (0.0, 1.0, True), (25.0, 1.3, True),
                                                   (-30.0, 1.4, False)])
def test_full_frame_keypoints_survive_crop_heatmap_round_trip_within_a_pixel(rotation, scale, flip):
    """Ground truth → crop → heatmap targets → decoded keypoints → full frame (the issue's 1 px requirement)."""
    rng = np.random.default_rng(4)
    for _ in range(8):
        centre = rng.uniform(350, 650, 2)
        keypoints = centre + rng.uniform(-0.5, 0.5, (NUM_JOINTS, 2)) * [rng.uniform(150, 400), rng.uniform(300, 600)]
        box_centre, size = person_box(keypoints, margin=1.25)
        to_input = crop_affine(box_centre, size, INPUT, rotation=rotation, flip=flip, scale=scale)
        to_heatmap = compose_affine(heatmap_affine(INPUT, HEATMAP), to_input)  # full frame → heatmap pixels
        targets = apply_affine(keypoints, to_heatmap)
        if flip:
            targets = targets[list(FLIP_PERMUTATION)]
        heatmaps, weights = encode_heatmaps(targets[None], HEATMAP)
        assert weights.all()
        decoded, _ = decode_heatmaps(heatmaps)
        decoded = decoded[0].numpy().astype(np.float64)
        if flip:
            decoded = decoded[list(FLIP_PERMUTATION)]
        recovered = apply_affine(decoded, invert_affine(to_heatmap))
        assert np.abs(recovered - keypoints).max() < 1.0, np.abs(recovered - keypoints).max()


def test_numpy_and_tensor_inputs_give_the_same_maps():
    generator = torch.Generator().manual_seed(1)
    h, w = HEATMAP
    keypoints = torch.rand(3, NUM_JOINTS, 2, generator=generator) * torch.tensor([w + 6.0, h + 6.0]) - 3  # some off-map
    keypoints[0, 2] = float("nan")
    visible = torch.rand(3, NUM_JOINTS, generator=generator) > 0.2
    expected = encode_heatmaps(keypoints, HEATMAP, sigma=1.5, visible=visible)
    actual = encode_heatmaps(keypoints.numpy(), HEATMAP, sigma=1.5, visible=visible.numpy())
    assert actual[0].dtype == expected[0].dtype == torch.float32
    assert 0 < expected[1].sum() < expected[1].numel()  # both kinds of joint present
    torch.testing.assert_close(actual, expected)

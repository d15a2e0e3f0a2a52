"""Alignment of the 2D prediction artifacts and of the covariance through the crop.

- ``get2Dpredictions.py`` and ``get2Dpredictions_prob_pose.py`` run on the tiny synthetic root with an
  oracle in place of the trained network. The crop dataset is wrapped so every crop carries its item
  number in a corner pixel; the oracle reads it back and answers with that item's ground truth (heatmaps
  for the deterministic stage, a Gaussian with a covariance that encodes the frame for the probabilistic
  one), also for the mirrored image of the flip test. Every artifact row (subject, sequence, camera, frame)
  must then hold that frame's ground-truth 2D from the data files (and that frame's covariance, in
  full-frame pixels): rows written in another order, an index built from the wrong sequence, or the
  covariance sent through the forward instead of the inverse crop all fail.
- The covariance codec: 𝒜 Σ 𝒜ᵀ with 𝒜 = I_J ⊗ A equals the covariance of the mapped sample points, a
  round trip crop → full frame → crop is the identity, and ``to_full_frame`` uses the inverse crop affine
  (checked with points pushed through the inverse affine, not with ``transform_covariance``).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from dataloader.crop_dataset import IMAGENET_MEAN, IMAGENET_STD
from dataloader.h36m import JOINT_NAMES, NUM_JOINTS, subject_id
from tests.helpers import base_overrides, call_stage

D = 2 * NUM_JOINTS
_SWAP = {"L": "R", "R": "L"}
MIRROR = [JOINT_NAMES.index(_SWAP[n[0]] + n[1:] if n[0] in _SWAP and n[1].isupper() else n) for n in JOINT_NAMES]
SELECTION = ["data.actions=[Walking]", "data.cameras=[0, 1]", "predict.batch_size=8"]
UNFLIPPED, FLIPPED = 200, 100  # blue value of the id corner (column 0) and of the opposite corner (column W − 1)


# --- the oracle -------------------------------------------------------------------------------------

def stamped_dataset(base, registry: dict):
    """A subclass of the stage's crop dataset whose crops carry their item number: pixel (0, 0) holds
    (id mod 256, id div 256, 200), pixel (0, W − 1) (0, 0, 100), so a mirrored crop is recognisable."""

    class Stamped(base):
        def __getitems__(self, indices):
            batch = super().__getitems__(indices)
            for row, i in enumerate(indices):
                k, cam, frame = (int(v) for v in batch["index"][row, 1:])
                registry[int(i)] = {"keypoints": batch["keypoints"][row].double(), "to_heatmap": batch["to_heatmap"][row].double(),
                                    "view": (self.keys[k].subject, self.keys[k].sequence, cam, frame)}
                batch["image"][row, :, 0, 0] = torch.tensor([int(i) % 256, int(i) // 256, UNFLIPPED])
                batch["image"][row, :, 0, -1] = torch.tensor([0, 0, FLIPPED])
            return batch
    return Stamped


def read_stamps(images: torch.Tensor) -> tuple[list[int], torch.Tensor]:
    """Item ids and 'is mirrored' (B,) from normalised images (B, 3, H, W)."""
    mean, std = torch.as_tensor(IMAGENET_MEAN)[:, None], torch.as_tensor(IMAGENET_STD)[:, None]
    corners = ((images[:, :, 0, [0, -1]].float().cpu() * std + mean) * 255).round().long()  # (B, 3, 2)
    mirrored = corners[:, 2, 0] == FLIPPED
    assert torch.all(mirrored | (corners[:, 2, 0] == UNFLIPPED)), corners[:, 2]
    ids = torch.where(mirrored[:, None], corners[:, :2, 1], corners[:, :2, 0])
    return (ids[:, 0] + 256 * ids[:, 1]).tolist(), mirrored


def target_hm(entry) -> torch.Tensor:
    """(J, 2) heatmap px: the item's ground truth through its full frame → heatmap affine."""
    affine = entry["to_heatmap"]
    return entry["keypoints"] @ affine[:, :2].T + affine[:, 2]


class HeatmapOracle(nn.Module):
    """Answers each crop with the Gaussian heatmaps of its ground truth (mirrored and side-swapped for a
    mirrored crop). Heatmaps at the input resolution: the DARK decoding of a σ = 2 Gaussian is then exact
    to ~0.001 heatmap px ≈ 0.01 full-frame px."""
    input_size, heatmap_size = (64, 48), (64, 48)

    def __init__(self, registry: dict):
        super().__init__()
        self.registry = registry

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        from utils.codecs.heatmap import encode_heatmaps

        ids, mirrored = read_stamps(images)
        heatmaps = encode_heatmaps(torch.stack([target_hm(self.registry[i]) for i in ids]), self.heatmap_size)[0]
        heatmaps[mirrored] = heatmaps[mirrored][:, MIRROR].flip(-1)
        return heatmaps[:, None].to(images.device)                                  # (B, S=1, J, h, w)


def covariance_code(view, sequences: list[str]) -> float:
    subject, sequence, cam, frame = view
    return frame + 50.0 * cam + 200.0 * sequences.index(sequence) + 1000.0 * subject_id(subject)


def full_frame_covariance(code: float) -> np.ndarray:
    """(D, D) px², SPD with eigenvalues > 1, different for every frame: what the oracle 'predicts'."""
    w = np.cos(np.arange(D) + code)
    return np.diag(1.0 + 0.001 * code + 0.01 * np.arange(D)) + 0.3 * np.outer(w, w)


class GaussianOracle(nn.Module):
    """Answers each crop with N(ground truth, Σ) in heatmap px, Σ = 𝒜 Σ_full 𝒜ᵀ for the frame's own Σ_full
    (``full_frame_covariance``) and A the full frame → heatmap linear map; mirrored for a mirrored crop."""
    input_size, heatmap_size = (64, 48), (16, 12)

    def __init__(self, registry: dict, sequences: list[str]):
        super().__init__()
        self.registry, self.sequences = registry, sequences
        # the stage reads input_size and heatmap_size from model.pose_model, and folds its BatchNorm (it has none)
        self.pose_model = nn.Module()
        self.pose_model.input_size, self.pose_model.heatmap_size = self.input_size, self.heatmap_size

    def forward(self, images: torch.Tensor) -> dict:
        ids, mirrored = read_stamps(images)
        means, covs = [], []
        for i, m in zip(ids, mirrored.tolist()):
            entry = self.registry[i]
            A = torch.kron(torch.eye(NUM_JOINTS, dtype=torch.float64), entry["to_heatmap"][:, :2])
            cov = A @ torch.from_numpy(full_frame_covariance(covariance_code(entry["view"], self.sequences))) @ A.T
            mean = target_hm(entry)
            if m:  # the mirrored crop's Gaussian: x ↦ w − 1 − x, sides swapped
                T = torch.zeros(D, D, dtype=torch.float64)
                for j in range(NUM_JOINTS):
                    T[2 * j, 2 * MIRROR[j]], T[2 * j + 1, 2 * MIRROR[j] + 1] = -1.0, 1.0
                mean = mean[MIRROR] * torch.tensor([-1.0, 1.0], dtype=torch.float64) + torch.tensor([self.heatmap_size[1] - 1.0, 0.0], dtype=torch.float64)
                cov = T @ cov @ T.T
            means.append(mean.reshape(-1))
            covs.append(cov)
        return {"mean": torch.stack(means), "covariance": torch.stack(covs), "visibility": None,
                "heatmaps": torch.zeros(len(ids), NUM_JOINTS, *self.heatmap_size)}


def write_checkpoint(path, model_name: str, model_kwargs: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": {}, "model_name": model_name, "model_kwargs": model_kwargs}, path)


def artifact_rows(art, data):
    """(row, subject, sequence, camera, frame, ground-truth 2D (J, 2) px from the data files) of every artifact row."""
    for r, (s, q, c, f) in enumerate(art.index.tolist()):
        subject = f"S{s}"
        sequence = art.meta["sequences"][subject][q]
        yield r, subject, sequence, c, f, data.positions_2d[subject][sequence][c][f]


def check_coverage(art, data) -> None:
    """Every (subject, sequence, camera, frame) of Walking on cameras 0 and 1 appears exactly once."""
    expected = {(k.subject, k.sequence, c, f) for k in data.sequences(actions=["Walking"]) for c in (0, 1)
                for f in range(data.num_frames(k))}
    got = [(subject, sequence, c, f) for _, subject, sequence, c, f, _ in artifact_rows(art, data)]
    assert len(got) == len(set(got)) and set(got) == expected


def smallest_step(data) -> float:
    """Smallest displacement (px, largest joint) between consecutive frames of the Walking views: what a
    row holding a neighbouring frame would be off by at least."""
    return min(float(np.abs(np.diff(data.positions_2d[k.subject][k.sequence][c], axis=0)).max(-1).max(-1).min())
               for k in data.sequences(actions=["Walking"]) for c in (0, 1))


@pytest.fixture
def oracle_run(tiny_root, tmp_path):
    """(overrides, data, registry) for a prediction stage run whose crops are stamped."""
    from dataloader.reader import load_human36m

    return base_overrides(tiny_root, tmp_path) + SELECTION, load_human36m(tiny_root), {}


def test_prediction_artifact_rows_hold_their_frames_ground_truth(oracle_run, monkeypatch):
    from config import load_config
    from utils.stages import estimator
    from utils.engine import layout
    from utils.artifact import load_artifact

    overrides, data, registry = oracle_run
    overrides = overrides + ["model_2D_prediction=ViTPose", "predict.flip_test=true"]
    cfg = load_config(overrides)
    write_checkpoint(layout.pose2d_dir(cfg, "ViTPose") / "model.pt", "ViTPose", {"name": "ViTPose"})
    monkeypatch.setattr(estimator, "rebuild_estimator", lambda kwargs: HeatmapOracle(registry))
    monkeypatch.setattr(estimator, "FrameCropDataset", stamped_dataset(estimator.FrameCropDataset, registry))
    code, _, err = call_stage("get2Dpredictions.py", overrides)
    assert code == 0, err[-2000:]

    art = load_artifact(layout.prediction_dir(cfg, "ViTPose"))
    check_coverage(art, data)
    errors = np.array([np.linalg.norm(art.keypoints[r] - gt, axis=-1).max() for r, *_, gt in artifact_rows(art, data)])
    assert errors.max() < 0.05, errors.max()   # decoding error only (joints far from the heatmap border) …
    assert smallest_step(data) > 1.0           # … far below the motion between frames


def test_probabilistic_artifact_rows_hold_their_frames_mean_and_covariance(oracle_run, monkeypatch):
    from config import load_config
    from utils.stages import estimator, prob_estimator
    from utils.engine import layout
    from utils.artifact import load_artifact

    overrides, data, registry = oracle_run
    overrides = overrides + ["model_prob_pose=ViTPose", "prob.export_method=TIC", "predict.flip_test=true"]
    cfg = load_config(overrides)
    sequences = sorted({k.sequence for k in data.sequences()})
    write_checkpoint(layout.prob_dir(cfg, "ViTPose") / "last.pt", "Probabilistic_ViTPose",
                     {"methods": ["TIC"], "pose": {}, "heads": {}})
    oracle = GaussianOracle(registry, sequences)
    monkeypatch.setattr(estimator, "rebuild_estimator", lambda kwargs: None)
    monkeypatch.setattr(prob_estimator, "build_method_set", lambda pose, methods, kwargs, tic_chunk_size=0: _OracleSet(oracle))
    monkeypatch.setattr(estimator, "FrameCropDataset", stamped_dataset(estimator.FrameCropDataset, registry))
    code, _, err = call_stage("get2Dpredictions_prob_pose.py", overrides)
    assert code == 0, err[-2000:]

    art = load_artifact(layout.prediction_dir(cfg, "Probabilistic"))
    check_coverage(art, data)
    for r, subject, sequence, c, f, gt in artifact_rows(art, data):
        np.testing.assert_allclose(art.keypoints[r], gt, atol=0.02)
        expected = full_frame_covariance(covariance_code((subject, sequence, c, f), sequences))
        np.testing.assert_allclose(art.covariance[r], expected, rtol=1e-4, atol=1e-3,
                                   err_msg=f"{subject} {sequence} camera {c} frame {f}")


class _OracleSet(nn.Module):
    """The stand-in for the trained MethodSet: one 'method' (TIC), the oracle."""

    def __init__(self, oracle):
        super().__init__()
        self.methods = ["TIC"]
        self.models = nn.ModuleDict({"TIC": oracle})


# --- the covariance codec -------------------------------------------------------------------------

def _random_spd(rng, n: int = D) -> np.ndarray:
    L = rng.normal(size=(n, n))
    return L @ L.T + 0.5 * np.eye(n)


def _map_points(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """(..., J, 2) → A p + t in homogeneous coordinates (independent of utils.codecs.crop)."""
    homogeneous = np.concatenate([points, np.ones((*points.shape[:-1], 1))], -1)
    return homogeneous @ affine.T


def _pushed_covariance(mean: np.ndarray, cov: np.ndarray, point_map) -> np.ndarray:
    """Covariance of point_map(X), X ~ N(mean, cov), for an affine point_map: Σ_k Δ_k Δ_kᵀ with
    Δ_k = point_map(mean + L e_k) − point_map(mean), L L ᵀ = cov (exact for affine maps)."""
    L = np.linalg.cholesky(cov)
    centre = point_map(mean.reshape(-1, 2)).reshape(-1)
    deltas = np.stack([point_map((mean + L[:, k]).reshape(-1, 2)).reshape(-1) - centre for k in range(len(mean))], 1)
    return deltas @ deltas.T


def test_transform_covariance_is_the_covariance_of_the_mapped_points():
    from utils.codecs.crop import crop_affine, transform_covariance

    rng = np.random.default_rng(0)
    affine = crop_affine([480.0, 520.0], 430.0, (64, 48), rotation=25.0)      # full frame → crop, rotated
    mean, cov = rng.uniform(300, 700, D), _random_spd(rng) * 40.0
    expected = _pushed_covariance(mean, cov, lambda p: _map_points(p, affine))
    np.testing.assert_allclose(transform_covariance(cov, affine), expected, rtol=1e-9, atol=1e-9)
    got = transform_covariance(torch.from_numpy(cov), torch.from_numpy(affine)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_covariance_round_trips_crop_to_full_frame_to_crop():
    from utils.codecs.crop import (apply_affine, compose_affine, crop_affine, heatmap_affine, invert_affine,
                            transform_covariance)

    rng = np.random.default_rng(1)
    to_heatmap = compose_affine(heatmap_affine((64, 48), (16, 12)),
                                crop_affine([500.0, 450.0], 380.0, (64, 48), rotation=-15.0, flip=True, scale=1.1))
    mean_hm, cov_hm = rng.uniform(2, 10, (NUM_JOINTS, 2)), _random_spd(rng)
    inverse = invert_affine(to_heatmap)
    mean_full, cov_full = apply_affine(mean_hm, inverse), transform_covariance(cov_hm, inverse)
    # the full-frame covariance is the covariance of heatmap points mapped back by solving the crop affine
    homogeneous = np.vstack([to_heatmap, [0.0, 0.0, 1.0]])
    back = lambda p: _map_points(p, np.linalg.inv(homogeneous)[:2])            # noqa: E731
    np.testing.assert_allclose(cov_full, _pushed_covariance(mean_hm.reshape(-1), cov_hm, back), rtol=1e-8)
    np.testing.assert_allclose(mean_full, back(mean_hm), atol=1e-9)
    # and forward again gives the crop's Gaussian back
    np.testing.assert_allclose(apply_affine(mean_full, to_heatmap), mean_hm, atol=1e-9)
    np.testing.assert_allclose(transform_covariance(cov_full, to_heatmap), cov_hm, rtol=1e-8, atol=1e-10)
    # a heatmap px is 380 · 1.1 / 11 = 38 full-frame px here: Σ grows by about 38² on the way out
    assert 0.95 < np.trace(cov_full) / np.trace(cov_hm) / (380 * 1.1 / 11) ** 2 < 1.05


@pytest.mark.parametrize("flipped", [False, True])
def test_to_full_frame_maps_the_gaussian_through_the_inverse_crop(flipped):
    """``prob_estimator.to_full_frame``: mean and Σ of heatmap-px Gaussians in full-frame px, computed here
    from points mapped back through the inverse crop (and, for a flipped crop, slot j holding joint
    MIRROR[j]'s mirror image)."""
    from utils.codecs.crop import compose_affine, crop_affine, heatmap_affine
    from utils.stages.prob_estimator import to_full_frame

    rng = np.random.default_rng(2)
    to_heatmap = compose_affine(heatmap_affine((64, 48), (16, 12)),
                                crop_affine([520.0, 470.0], 400.0, (64, 48), rotation=10.0, flip=flipped))
    mean_hm, cov_hm = rng.uniform(2, 10, D), _random_spd(rng)
    homogeneous = np.linalg.inv(np.vstack([to_heatmap, [0.0, 0.0, 1.0]]))[:2]
    order = MIRROR if flipped else list(range(NUM_JOINTS))
    back = lambda p: _map_points(p, homogeneous)[order]                         # noqa: E731
    mean, cov = to_full_frame(torch.from_numpy(mean_hm)[None], torch.from_numpy(cov_hm)[None],
                              torch.from_numpy(to_heatmap)[None], torch.tensor([flipped]))
    np.testing.assert_allclose(mean[0].numpy(), back(mean_hm.reshape(-1, 2)).reshape(-1), atol=1e-8)
    np.testing.assert_allclose(cov[0].numpy(), _pushed_covariance(mean_hm, cov_hm, back), rtol=1e-8)

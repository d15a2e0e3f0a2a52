"""The probabilistic 2D estimator stages (train2D_prob_pose.py, get2Dpredictions_prob_pose.py).

TIC-TAC trains its covariance methods side by side: each method is a deep copy of the same initial
pose network with its own covariance head, all fed the same batches. ``MethodSet`` holds them in one
module so one optimiser, one checkpoint and one loop serve all; their parameters are disjoint, so
summing the losses trains each exactly as alone (Adam is per-parameter; gradient clipping is off).
Metrics are computed in full-frame pixels: the mean and Σ go back through the inverse crop
(μ ↦ A⁻¹(μ − t), Σ ↦ 𝒜⁻¹ Σ 𝒜⁻ᵀ).
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn

from dataloader.crop_dataset import normalise_images
from dataloader.h36m import FLIP_PERMUTATION, NUM_JOINTS
from models.tictac import ProbabilisticPoseModel
from utils.engine.runtime import unwrap
from utils.codecs.crop import apply_affine, invert_affine, permute_covariance, transform_covariance
from utils.prob.tac import calibration, log_likelihood, tac


class MethodSet(nn.Module):
    """One ProbabilisticPoseModel per covariance method, all starting from the same pose network."""

    def __init__(self, pose_model: nn.Module, methods: list[str], **kwargs):
        super().__init__()
        self.methods = list(methods)
        self.models = nn.ModuleDict({m: ProbabilisticPoseModel(copy.deepcopy(pose_model), m, **kwargs) for m in methods})

    def forward(self, images: torch.Tensor) -> dict[str, dict]:
        return {m: self.models[m](images) for m in self.methods}


def model_kwargs(cfg) -> dict:
    c = cfg.prob
    return dict(z_dim=c.z_dim, visibility=c.visibility, use_hessian=c.use_hessian,
                parameterisation=c.parameterisation, eps=c.jitter, mse_warmup_epochs=c.mse_warmup_epochs)


def build_method_set(pose_model, methods, kwargs, tic_chunk_size: int = 0) -> MethodSet:
    """The methods' models side by side. `tic_chunk_size` (`prob.tic_chunk_size`, 0 = the whole batch) is
    how many samples each vmapped TIC Jacobian call takes at once: a speed knob that changes no number,
    so it is not part of the saved kwargs (on a CPU, one sample at a time is 2.3× faster than the whole
    batch of 32: the D backward passes of a large batch leave the cache; on a GPU the whole batch is)."""
    method_set = MethodSet(pose_model, methods, **kwargs)
    for model in method_set.models.values():
        model.tic_chunk_size = tic_chunk_size or None
    return method_set


def make_train_step(heatmap_peak: float, epoch_ref: list[int]):
    def step(model, batch):
        target = batch["target_hm"].flatten(1)
        visible = batch["weights"] > 0
        heatmaps = batch["heatmaps"] * heatmap_peak
        outputs = model(normalise_images(batch["image"]))
        present = batch.get("present")  # COCO/MPII: joints the dataset lacks leave the heatmap term too
        terms = {m: model_of(model, m).loss(out, target, visible, heatmaps, epoch=epoch_ref[0], heatmap_weight=present)
                 for m, out in outputs.items()}
        loss = sum(t["total"] for t in terms.values())
        return loss, {f"{m}_loss": t["total"].item() for m, t in terms.items()}, len(target)
    return step


def model_of(method_set, method: str) -> ProbabilisticPoseModel:
    return unwrap(method_set).models[method]


def flip_back(mean: torch.Tensor, cov: torch.Tensor, heatmap_width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (B, D) and Σ (B, D, D) predicted on a mirrored image → the original image's heatmap frame."""
    mirror = torch.tensor([[-1.0, 0.0, heatmap_width - 1.0], [0.0, 1.0, 0.0]], dtype=mean.dtype, device=mean.device)
    perm = list(FLIP_PERMUTATION)
    mean = apply_affine(mean.view(-1, NUM_JOINTS, 2), mirror)[:, perm].reshape(mean.shape)
    cov = permute_covariance(transform_covariance(cov, mirror), perm)
    return mean, cov


def predict_gaussian(method_model: ProbabilisticPoseModel, images: torch.Tensor, flip_test: bool):
    """(mean (B, D) heatmap px, Σ (B, D, D) heatmap px², visibility or None), float64.

    With flip test the two Gaussians (image and mirror) are merged by moment matching their equal
    mixture: μ = ½(μ₁ + μ₂), Σ = ½(Σ₁ + Σ₂) + ¼(μ₁ − μ₂)(μ₁ − μ₂)ᵀ, which stays SPD.
    """
    out = method_model(images)
    mean, cov = out["mean"].double(), out["covariance"].double()
    if flip_test:
        out_f = method_model(torch.flip(images, dims=[3]))
        mean_f, cov_f = flip_back(out_f["mean"].double(), out_f["covariance"].double(), out["heatmaps"].shape[-1])
        delta = (mean - mean_f)[..., None]
        mean, cov = 0.5 * (mean + mean_f), 0.5 * (cov + cov_f) + 0.25 * delta @ delta.transpose(-1, -2)
    return mean, cov, out["visibility"]


def to_full_frame(mean_hm: torch.Tensor, cov_hm: torch.Tensor, to_heatmap: torch.Tensor, flipped: torch.Tensor):
    """Heatmap-pixel Gaussians (B, D), (B, D, D) → full-frame pixels through each crop's inverse affine."""
    inverse = invert_affine(to_heatmap.double())
    perm = torch.as_tensor(FLIP_PERMUTATION, device=mean_hm.device)
    points = mean_hm.view(-1, NUM_JOINTS, 2)
    if flipped.any():  # training-time flips only; prediction crops are never flipped
        points = torch.where(flipped[:, None, None], points[:, perm], points)
        cov_hm = torch.where(flipped[:, None, None], permute_covariance(cov_hm, list(FLIP_PERMUTATION)), cov_hm)
    mean = apply_affine(points, inverse).reshape(mean_hm.shape)
    return mean, transform_covariance(cov_hm, inverse)


def gaussian_metrics(mean: torch.Tensor, cov: torch.Tensor, target: torch.Tensor, prefix: str) -> dict:
    """2D error, TAC, LL and 1σ/2σ calibration of Gaussians in full-frame pixels."""
    cal = calibration(mean, cov, target)
    return {
        f"{prefix}error_px": (mean - target).view(-1, NUM_JOINTS, 2).norm(dim=-1).mean().item(),
        f"{prefix}tac_px": tac(mean, cov, target).mean().item(),
        f"{prefix}ll": log_likelihood(mean, cov, target).mean().item(),
        f"{prefix}cover1": cal["coverage"][0].item(),
        f"{prefix}cover2": cal["coverage"][1].item(),
    }


def make_eval_step(flip_test: bool):
    def step(model, batch):
        target, images = batch["keypoints"].double().flatten(1), normalise_images(batch["image"])
        metrics = {}
        for m in unwrap(model).methods:
            mean_hm, cov_hm, _ = predict_gaussian(model_of(model, m), images, flip_test)
            mean, cov = to_full_frame(mean_hm, cov_hm, batch["to_heatmap"], batch["flipped"])
            metrics.update(gaussian_metrics(mean, cov, target, f"{m}_"))
        return metrics, len(target)
    return step

"""Metrics of a predicted Gaussian pose: TAC, log-likelihood, calibration, per-joint aggregation.

TAC, Task Agnostic Correlations (TIC-TAC, ICML 2024, Algorithm 2; ``vita-epfl/TIC-TAC: HumanPose/code/utils/tic.py:
calculate_tac_per_sample``): condition the predicted Gaussian N(μ, Σ) on the ground truth of every other
joint and measure the 2-D Euclidean error of the conditional mean of joint i. With r = y − μ, Λ = Σ⁻¹ and
a = {2i, 2i+1}: y_a − μ_{a|b} = Λ_aa⁻¹ (Λ r)_a, so TAC_i = ‖Λ_aa⁻¹ (Λ r)_a‖₂ (one D×D Cholesky and J 2×2
solves per sample instead of J inverses of (D−2)×(D−2)). Calibration: Algorithm 2 and §6 of the paper.

Shape legend: B batch, J joints, D = 2J; poses joint-major interleaved (x0, y0, x1, y1, …) with mean and
target in the same (x, y) order, in whatever pixel units the caller uses (official TIC-TAC: 64×64 heatmap px). All
metrics compute in float64. ``visible`` (B, J) bool keeps the marginal Gaussian of the visible joints (rows
and columns of Σ dropped, as the study's evaluation does); per-joint outputs are NaN for dropped joints so
that aggregation never counts them as zero (the original study's ``train2D_prob_pose.py`` averaged TAC over
every joint, counting the never-visible ones as 0).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from utils.prob.covariance import keep_block, coordinate_mask


def _float64(*tensors: torch.Tensor | None) -> tuple:
    return tuple(None if t is None else t.detach().to(torch.float64) for t in tensors)


def _check_shapes(name: str, mean: torch.Tensor, matrix: torch.Tensor, target: torch.Tensor) -> None:
    batch, dim = mean.shape if mean.ndim == 2 else (None, None)
    if dim is None or dim % 2 or target.shape != mean.shape or matrix.shape != (batch, dim, dim):
        raise ValueError(f"{name}: expected mean and target (B, D) with D = 2J and a matrix (B, D, D), got "
                         f"mean {tuple(mean.shape)}, matrix {tuple(matrix.shape)}, target {tuple(target.shape)}")


def _cholesky_or_raise(matrix: torch.Tensor, name: str) -> torch.Tensor:
    factor, info = torch.linalg.cholesky_ex(matrix)
    if bool((info > 0).any()):
        frame = int((info > 0).nonzero()[0, 0])
        raise ValueError(f"{name}: frame {frame} is not positive definite; check it with "
                         f"utils.prob.covariance.validate_covariance or repair it with make_spd")
    return factor


def _joint_blocks(matrix: torch.Tensor) -> torch.Tensor:
    """(B, D, D) → its J diagonal 2×2 blocks (B, J, 2, 2)."""
    batch, dim = matrix.shape[0], matrix.shape[-1]
    blocks = matrix.reshape(batch, dim // 2, 2, dim // 2, 2).diagonal(dim1=1, dim2=3)  # (B, 2, 2, J)
    return blocks.permute(0, 3, 1, 2)


def _solve_2x2(blocks: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """blocks (..., 2, 2)⁻¹ rhs (..., 2), closed form."""
    a, b, c, d = blocks[..., 0, 0], blocks[..., 0, 1], blocks[..., 1, 0], blocks[..., 1, 1]
    det = a * d - b * c
    x = (d * rhs[..., 0] - b * rhs[..., 1]) / det
    y = (a * rhs[..., 1] - c * rhs[..., 0]) / det
    return torch.stack((x, y), dim=-1)


def _nan_hidden(values: torch.Tensor, visible: torch.Tensor | None) -> torch.Tensor:
    if visible is None:
        return values
    return torch.where(visible.to(torch.bool), values, torch.full_like(values, float("nan")))


def tac(mean: torch.Tensor, covariance: torch.Tensor | None, target: torch.Tensor, *,
        precision: torch.Tensor | None = None, visible: torch.Tensor | None = None) -> torch.Tensor:
    """Per-joint TAC (B, J) float64, closed form, batched.

    Args:
        mean, target: (B, D) in the same pixel units and (x, y) order.
        covariance: Σ (B, D, D) (official TIC-TAC's ``calculate_tac`` argument), or None when ``precision`` Λ is given.
        visible: (B, J) bool; hidden joints are marginalised out and get NaN.
    Returns:
        TAC_i = ‖y_i − E[y_i | y_others]‖₂ in the input units.
    """
    if (covariance is None) == (precision is None):
        raise ValueError("tac: pass exactly one of covariance (Σ) or precision=Λ")
    _check_shapes("tac", mean, covariance if covariance is not None else precision, target)
    mean, target, covariance, precision = _float64(mean, target, covariance, precision)
    batch, dim = mean.shape
    residual = target - mean
    if precision is not None:
        if visible is None:
            return _tac_from_precision(precision, residual)
        covariance = torch.cholesky_inverse(_cholesky_or_raise(precision, "tac precision"))
    if visible is not None:
        keep = coordinate_mask(visible).to(torch.float64)
        residual = residual * keep
        covariance = keep_block(covariance, keep)
    # Λ = WᵀW with W = L⁻¹ (L Lᵀ = Σ): Λ r = Wᵀ (W r) and Λ_aa = W[:, a]ᵀ W[:, a]
    factor = _cholesky_or_raise(covariance, "tac covariance")
    eye = torch.eye(dim, dtype=torch.float64, device=mean.device)
    inverse_factor = torch.linalg.solve_triangular(factor, eye, upper=False)  # W (B, D, D)
    projected = (inverse_factor.mT @ (inverse_factor @ residual[..., None]))[..., 0]  # Λ r: (B, D)
    columns = inverse_factor.reshape(batch, dim, dim // 2, 2)  # (B, D, J, 2): column pairs of W
    blocks = torch.einsum("bkja,bkjc->bjac", columns, columns)  # Λ_aa: (B, J, 2, 2)
    return _finish_tac(blocks, projected, visible)


def _tac_from_precision(precision: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    projected = (precision @ residual[..., None])[..., 0]  # Λ r: (B, D)
    return _finish_tac(_joint_blocks(precision), projected, None)


def _finish_tac(blocks: torch.Tensor, projected: torch.Tensor, visible: torch.Tensor | None) -> torch.Tensor:
    """TAC_i = ‖Λ_aa⁻¹ (Λ r)_a‖ from blocks (B, J, 2, 2) and Λ r (B, D); raises on a non-finite kept entry."""
    error = _solve_2x2(blocks, projected.reshape(projected.shape[0], -1, 2)).norm(dim=-1)  # (B, J)
    kept = visible.to(torch.bool) if visible is not None else torch.ones_like(error, dtype=torch.bool)
    bad = kept & ~torch.isfinite(error)
    if bool(bad.any()):
        frame = int(bad.any(-1).nonzero()[0, 0])
        raise ValueError(f"tac: frame {frame} gives a non-finite TAC (non-finite mean, target or matrix); check "
                         f"it with utils.prob.covariance.validate_covariance")
    return _nan_hidden(error, visible)


def tac_loop_reference(mean: torch.Tensor, covariance: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Official TIC-TAC ``calculate_tac_per_sample`` semantics, one (D−2)×(D−2) explicit inverse per joint; (B, J) float64.

    μ_{a|b} = μ_a + Σ_ab Σ_bb⁻¹ (y_b − μ_b), TAC_i = ‖y_a − μ_{a|b}‖. For tests and the benchmark only.
    """
    _check_shapes("tac_loop_reference", mean, covariance, target)
    mean, covariance, target = _float64(mean, covariance, target)
    batch, dim = mean.shape
    out = torch.empty(batch, dim // 2, dtype=torch.float64, device=mean.device)
    blocks = [(torch.tensor([2 * j, 2 * j + 1], device=mean.device),
               torch.tensor([k for k in range(dim) if k // 2 != j], device=mean.device)) for j in range(dim // 2)]
    for sample in range(batch):
        for joint, (a, b) in enumerate(blocks):
            sigma_ab = covariance[sample][a][:, b]
            sigma_bb_inv = torch.linalg.inv(covariance[sample][b][:, b])
            conditional = mean[sample, a] + sigma_ab @ sigma_bb_inv @ (target[sample, b] - mean[sample, b])
            out[sample, joint] = (target[sample, a] - conditional).norm()
    return out


def log_likelihood(mean: torch.Tensor, covariance: torch.Tensor, target: torch.Tensor,
                   visible: torch.Tensor | None = None) -> torch.Tensor:
    """Gaussian log-density of the target, (B,) float64, in the given units (official TIC-TAC ``calculate_ll``).

    LL = −½ [D ln 2π + ln det Σ + rᵀ Σ⁻¹ r], D = number of kept coordinates (2 × visible joints). Converting
    units by a per-joint linear map A shifts LL by −J ln|det A| (tictac.md §7).
    """
    _check_shapes("log_likelihood", mean, covariance, target)
    mean, covariance, target = _float64(mean, covariance, target)
    residual = target - mean
    dims = torch.full((mean.shape[0],), float(mean.shape[-1]), dtype=torch.float64, device=mean.device)
    if visible is not None:
        keep = coordinate_mask(visible).to(torch.float64)
        residual = residual * keep
        covariance = keep_block(covariance, keep)
        dims = keep.sum(-1)
    factor = _cholesky_or_raise(covariance, "log_likelihood covariance")
    whitened = torch.linalg.solve_triangular(factor, residual[..., None], upper=False)[..., 0]
    logdet = 2.0 * factor.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    return -0.5 * (dims * math.log(2.0 * math.pi) + logdet + whitened.pow(2).sum(-1))


def joint_mahalanobis(mean: torch.Tensor, covariance: torch.Tensor, target: torch.Tensor,
                      visible: torch.Tensor | None = None) -> torch.Tensor:
    """d_i = √(r_iᵀ Σ_ii⁻¹ r_i) per joint (B, J) float64, Σ_ii the 2×2 marginal block (never Λ's block)."""
    _check_shapes("joint_mahalanobis", mean, covariance, target)
    mean, covariance, target = _float64(mean, covariance, target)
    residual = (target - mean).reshape(mean.shape[0], -1, 2)
    blocks = _joint_blocks(covariance)
    squared = (residual * _solve_2x2(blocks, residual)).sum(-1)
    return _nan_hidden(squared.clamp_min(0.0).sqrt(), visible)


def expected_coverage(k: float) -> float:
    """P(d ≤ k) for d² ~ χ²(2): 1 − exp(−k²/2); k = 1: 0.3935, k = 2: 0.8647, k = 3: 0.9889."""
    return 1.0 - math.exp(-0.5 * k * k)


def calibration(mean: torch.Tensor, covariance: torch.Tensor, target: torch.Tensor,
                ks: Sequence[float] = (1.0, 2.0), visible: torch.Tensor | None = None) -> dict:
    """Coverage of the k-σ ellipses of each joint's 2×2 marginal.

    Returns:
        dict with ``ks`` (K,), ``expected`` (K,) from χ²(2), ``coverage`` (K,) over all kept (sample, joint)
        pairs, ``coverage_per_joint`` (K, J) (NaN for a joint never kept) and ``count_per_joint`` (J,).
    """
    distance = joint_mahalanobis(mean, covariance, target, visible)  # (B, J), NaN where hidden
    kept = ~torch.isnan(distance)
    ks_t = torch.as_tensor(tuple(ks), dtype=torch.float64, device=distance.device)
    inside = (distance[None] <= ks_t[:, None, None]) & kept[None]  # (K, B, J)
    count = kept.sum(0).to(torch.float64)  # (J,)
    per_joint = inside.sum(1).to(torch.float64) / count  # (K, J), NaN where count = 0
    return {
        "ks": ks_t,
        "expected": torch.tensor([expected_coverage(k) for k in ks], dtype=torch.float64),
        "coverage": inside.flatten(1).sum(-1).to(torch.float64) / kept.sum().clamp_min(1),
        "coverage_per_joint": per_joint,
        "count_per_joint": count,
    }


class PerJointAverage:
    """Streaming per-joint mean over batches that skips hidden joints (NaN entries) instead of counting 0.

    ``update(values (B, J))``; ``per_joint()`` → (J,) NaN for a joint never seen; ``mean()`` → mean over the
    joints seen at least once (official TIC-TAC "TAC (Mean)"). ``sum``/``count`` are float64 (J,) tensors, summable across
    processes.
    """

    def __init__(self, num_joints: int):
        self.sum = torch.zeros(num_joints, dtype=torch.float64)
        self.count = torch.zeros(num_joints, dtype=torch.float64)

    def update(self, values: torch.Tensor, visible: torch.Tensor | None = None) -> None:
        values = values.detach().to(torch.float64).cpu()
        kept = ~torch.isnan(values)
        if visible is not None:
            kept = kept & visible.detach().cpu().to(torch.bool)
        self.sum += torch.where(kept, values, torch.zeros_like(values)).sum(0)
        self.count += kept.sum(0)

    def per_joint(self) -> torch.Tensor:
        return self.sum / self.count

    def mean(self) -> float:
        per_joint = self.per_joint()
        seen = self.count > 0
        return float(per_joint[seen].mean()) if bool(seen.any()) else float("nan")


def aggregate_per_joint(values: torch.Tensor, visible: torch.Tensor | None = None) -> tuple[torch.Tensor, float]:
    """(B, J) values with NaN (or ``visible`` False) for hidden joints → per-joint mean (J,), mean over seen joints."""
    meter = PerJointAverage(values.shape[-1])
    meter.update(values, visible)
    return meter.per_joint(), meter.mean()

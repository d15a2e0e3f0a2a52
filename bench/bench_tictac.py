"""Benchmarks of the TIC-TAC machinery: vectorised implementations against the per-sample loops they replace.

- ``bench_tac``: closed-form TAC (one Cholesky per sample, J 2×2 solves) vs the official TIC-TAC per-joint loop (one
  (D−2)×(D−2) inverse per joint and sample), J = NUM_JOINTS. Goal ≥ 100× at N = 1024.
- ``bench_tic``: G Gᵀ for a batch with one ``vmap(jacrev)`` call vs one Jacobian call per sample (the
  study's loop), through a ViTPose-style decoder (official TIC-TAC: 2 deconvolutions to 64×64, 1×1 conv to J maps)
  behind the TIC bottleneck. Goal ≥ 10×.

Each returns {name, baseline_s, fast_s, ratio, max_abs_diff, device}; times are the median of ``repeats``
runs after one warm-up run.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch
import torch.nn as nn

from dataloader.h36m import NUM_JOINTS
from models.tictac import ProbabilisticPoseModel
from models.vit_pose import TopdownHeatmapSimpleHead
from utils.prob.tac import tac, tac_loop_reference
from utils.prob.tic import tic_covariance_loop


def _timed(fn: Callable[[], torch.Tensor], device: torch.device, repeats: int) -> tuple[float, torch.Tensor]:
    """Median seconds of ``repeats`` runs after one warm-up, and the last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        result = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _report(name: str, baseline: tuple, fast: tuple, device: torch.device) -> dict:
    (baseline_s, expected), (fast_s, got) = baseline, fast
    return {"name": name, "baseline_s": baseline_s, "fast_s": fast_s, "ratio": baseline_s / fast_s,
            "max_abs_diff": float((expected.to(got.dtype) - got).abs().max()),
            "max_abs_reference": float(expected.abs().max()), "device": str(device)}


def bench_tac(n: int = 1024, device: str = "cpu", repeats: int = 3, seed: int = 0) -> dict:
    """Closed-form TAC vs the per-joint loop on ``n`` random SPD covariances (float64, heatmap-px scale)."""
    dev = torch.device(device)
    g = torch.Generator().manual_seed(seed)
    dim = 2 * NUM_JOINTS
    a = torch.randn(n, dim, dim, generator=g, dtype=torch.float64)
    cov = (a @ a.mT / dim + 0.1 * torch.eye(dim, dtype=torch.float64)).to(dev)
    mean = (torch.rand(n, dim, generator=g, dtype=torch.float64) * 63).to(dev)
    target = mean + torch.randn(n, dim, generator=g, dtype=torch.float64).to(dev) * 2
    baseline = _timed(lambda: tac_loop_reference(mean, cov, target), dev, repeats)
    fast = _timed(lambda: tac(mean, cov, target), dev, max(repeats, 5))
    return _report(f"TAC closed form vs per-joint loop (N={n}, J={NUM_JOINTS})", baseline, fast, dev)


class _FeaturePoseModel(nn.Module):
    """Pose-model stand-in whose ``decode`` is the real ViTPose heatmap head (C×h×w → J×4h×4w), default init."""

    def __init__(self, channels: int, num_joints: int, deconv_filters: tuple[int, int]):
        super().__init__()
        self.num_joints, self.feature_channels = num_joints, channels
        self.keypoint_head = TopdownHeatmapSimpleHead(in_channels=channels, out_channels=num_joints,
                                                      num_deconv_layers=2, num_deconv_filters=deconv_filters,
                                                      num_deconv_kernels=(4, 4))
        for module in self.keypoint_head.modules():  # PyTorch's default init: heatmaps (and G) of order 1
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                module.reset_parameters()

    def encode(self, features):
        return features, None

    def decode(self, features):
        return self.keypoint_head(features)


def bench_tic(batch: int = 32, channels: int = 64, feature_size: tuple[int, int] = (16, 16),
              deconv_filters: tuple[int, int] = (64, 64), z_dim: int = 64, device: str = "cpu",
              chunk_size: int | None = None, repeats: int = 3, seed: int = 0) -> dict:
    """Batched G Gᵀ (vmap over the batch) vs a per-sample loop of Jacobian calls, float32, eval mode.

    Defaults are official TIC-TAC's ViTPose decoder: 16×16×64 features, two 64-filter deconvolutions, 64×64 heatmaps.
    """
    dev = torch.device(device)
    torch.manual_seed(seed)
    pose_model = _FeaturePoseModel(channels, NUM_JOINTS, deconv_filters)
    model = ProbabilisticPoseModel(pose_model, "TIC", z_dim=z_dim, tic_chunk_size=chunk_size).to(dev).eval()
    nn.init.normal_(model.bottleneck.upscale_out.weight, std=0.5)  # zero at init by design: make G ≠ 0
    features = torch.randn(batch, channels, *feature_size, device=dev)
    with torch.no_grad():
        z = model.bottleneck.encode(features)
    ones, zeros = torch.ones(batch, device=dev), torch.zeros(batch, device=dev)
    zero_psd = torch.zeros(batch, 2 * NUM_JOINTS, 2 * NUM_JOINTS, device=dev)
    baseline = _timed(lambda: tic_covariance_loop(model._decode_single, z, ones, zeros, zero_psd,
                                                  extra_args=(features,)), dev, repeats)
    fast = _timed(lambda: model.jacobian_terms(features, z)[0], dev, repeats)
    heatmap = (4 * feature_size[0], 4 * feature_size[1])
    return _report(f"TIC G·Gᵀ batched vs loop (B={batch}, C={channels}, {heatmap[0]}×{heatmap[1]} heatmaps)",
                   baseline, fast, dev)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tac-n", type=int, default=1024)
    parser.add_argument("--tic-batch", type=int, default=32)
    args = parser.parse_args()
    rows = [bench_tac(args.tac_n, args.device),
            bench_tic(args.tic_batch, device=args.device),  # official TIC-TAC ViTPose decoder
            bench_tic(args.tic_batch, feature_size=(8, 6), deconv_filters=(32, 32), device=args.device)]  # tiny
    print(f"{'benchmark':<62} {'baseline s':>11} {'fast s':>10} {'ratio':>8} {'max |diff|':>11}")
    for row in rows:
        print(f"{row['name']:<62} {row['baseline_s']:>11.4f} {row['fast_s']:>10.5f} {row['ratio']:>7.1f}x "
              f"{row['max_abs_diff']:>11.2e}  ({row['device']})")

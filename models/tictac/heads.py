"""Heads of the TIC-TAC probabilistic pose estimator: latent bottleneck, covariance MLP, visibility MLP.

TIC-TAC (Shukla, Salzmann, Alahi, ICML 2024; https://github.com/vita-epfl/TIC-TAC
``HumanPose/code/models/auxiliary/AuxiliaryNet.py``, ``models/vit_pose/ViTPose.py``) and the visibility
head of the study's fork (``Valen12Co/probabilistic_pose: code/models/joint_prediction/JointPrediction.py``).
Configuration: ``vita-epfl/TIC-TAC: HumanPose/code/config.py``, ``configuration.yml``.

Shape legend: B batch, C feature channels, H×W feature map, p pooled size, Z latent size, J joints.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


def _mlp(in_features: int, hidden: Sequence[int], out_features: int, activation: type[nn.Module],
         final_activation: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_features, width), activation()]
        in_features = width
    layers.append(nn.Linear(in_features, out_features))
    if final_activation:
        layers.append(activation())
    return nn.Sequential(*layers)


class TICBottleneck(nn.Module):
    """The latent z that TIC differentiates, and its way back into the feature map.

    z = downscale(flatten(AdaptiveAvgPool(features, p))) and
    inject(features, z) = features + upsample(upscale_out(ReLU(upscale(z)).view(C, p, p))) (bilinear, to H×W).

    Official TIC-TAC's ViTPose has Conv2d(64, 64, k=16) down to 1×1 and ConvTranspose2d(64, 64, k=16) + ReLU back; pooling
    and linear maps here work for any backbone (C, H, W). ``upscale_out`` is a 1×1 convolution initialised
    to zero, so a pretrained deterministic model keeps its exact outputs at the start (a zero-initialised
    Linear before the ReLU would never receive a gradient). Consequence: G = ∂μ/∂z is 0 at initialisation
    and the TIC covariance starts as its PSD term until ``upscale_out`` has learned.

    With ``inject=False`` (the Hourglass, whose TIC latent is the bottom of its last hourglass, as official TIC-TAC) z is
    only the input of the covariance and visibility MLPs, and ``upscale``/``upscale_out`` are not built.

    Args:
        channels: C of the features the pose model's ``decode`` takes.
        z_dim: Z (official TIC-TAC: 64).
        pooled: p, side of the pooled map.
        inject: build the way back into the feature map (False: ``encode`` only).
    """

    def __init__(self, channels: int, z_dim: int = 64, pooled: int = 4, inject: bool = True):
        super().__init__()
        self.channels, self.z_dim, self.pooled = channels, z_dim, pooled
        self.pool = nn.AdaptiveAvgPool2d(pooled)
        self.downscale = nn.Linear(channels * pooled * pooled, z_dim)
        if inject:
            self.upscale = nn.Linear(z_dim, channels * pooled * pooled)
            self.upscale_out = nn.Conv2d(channels, channels, kernel_size=1)
            nn.init.zeros_(self.upscale_out.weight)
            nn.init.zeros_(self.upscale_out.bias)

    def encode(self, features: torch.Tensor) -> torch.Tensor:
        """features (B, C, H, W) → z (B, Z)."""
        return self.downscale(self.pool(features).flatten(1))

    def inject(self, features: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """features (B, C, H, W) + up(z (B, Z)) → (B, C, H, W)."""
        if not hasattr(self, "upscale"):
            raise RuntimeError("this TICBottleneck was built with inject=False: z only feeds the covariance head")
        up = F.relu(self.upscale(z)).view(z.shape[0], self.channels, self.pooled, self.pooled)  # (B, C, p, p)
        up = self.upscale_out(up)  # 1×1 conv commutes with the bilinear resize: apply it at p×p
        up = F.interpolate(up, size=features.shape[-2:], mode="bilinear", align_corners=False)  # (B, C, H, W)
        return features + up


class AuxCovarianceNet(nn.Module):
    """Official TIC-TAC ``AuxNet_ViTPose``: MLP z (B, Z) → raw covariance parameters (B, out_dim), ReLU between layers.

    Official TIC-TAC: Linear 64→64→64→64→(D²+2) (``fc: [64, 64, 64, D²+2]``); ``pytorch_layers`` keeps official TIC-TAC's module name.
    The input must be detached by the caller (official TIC-TAC: no covariance gradient reaches the backbone this way).

    Args:
        z_dim: Z. hidden: widths of the hidden layers. out_dim: width of the raw output
            (``utils.prob.covariance.num_raw_outputs``).
    """

    def __init__(self, z_dim: int = 64, hidden: Sequence[int] = (64, 64, 64), *, out_dim: int):
        super().__init__()
        self.pytorch_layers = _mlp(z_dim, hidden, out_dim, nn.ReLU, final_activation=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.pytorch_layers(z)


class VisibilityHead(nn.Module):
    """The study's ``JointPrediction_ViTPose``: z (B, Z) → per-joint visibility probability (B, J).

    Linear + Sigmoid for every layer including the last (``joint_prediction: {fc: [64, 64]}``).
    """

    def __init__(self, z_dim: int, num_joints: int, hidden: Sequence[int] = (64, 64)):
        super().__init__()
        self.pytorch_layers = _mlp(z_dim, hidden, num_joints, nn.Sigmoid, final_activation=True)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.pytorch_layers(z)

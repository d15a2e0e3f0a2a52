"""The common interface of the deterministic 2D pose models (ViTPose and Stacked Hourglass).

Every model built by :func:`build_pose_model` exposes

- ``input_size`` (H, W) pixels of the input crop, ``heatmap_size`` (h, w), ``num_stacks`` S, ``num_joints`` J,
  ``feature_channels`` C and ``feature_size`` (spatial size of the features ``decode`` takes);
- ``encode(images (B, 3, H, W)) -> (features (B, C, ·, ·), intermediate_heatmaps (B, S−1, J, h, w))``;
- ``decode(features) -> heatmaps (B, J, h, w)``, a pure function of its input (the TIC-TAC covariance
  head differentiates it with ``torch.func``);
- ``forward(images) = cat(intermediate_heatmaps, decode(features)[:, None]) -> (B, S, J, h, w)``.

ViTPose: S = 1, ``encode`` = backbone, ``decode`` = keypoint head. Hourglass: ``features`` = the last
stack's hourglass output, ``decode`` = that stack's ``features`` and ``outs``, the intermediate heatmaps
are the predictions of the earlier stacks.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from contextlib import contextmanager

import torch
import torch.nn as nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from models.stacked_hourglass import HOURGLASS_PRESETS, PoseNet
from models.vit_pose import VITPOSE_PRESETS, ViTPose

def build_vitpose(preset: str, num_joints: int, **overrides) -> ViTPose:
    """A :class:`ViTPose` from a ``VITPOSE_PRESETS`` entry, with keyword overrides (e.g. ``head='simple'``)."""
    return ViTPose(**_resolve("ViTPose", VITPOSE_PRESETS, preset, ViTPose, num_joints=num_joints, **overrides))


def build_hourglass(preset: str, num_joints: int, **overrides) -> PoseNet:
    """A :class:`PoseNet` from a ``HOURGLASS_PRESETS`` entry; ``num_joints`` is the official ``oup_dim``."""
    return PoseNet(**_resolve("Hourglass", HOURGLASS_PRESETS, preset, PoseNet, oup_dim=num_joints, **overrides))


POSE_MODELS: dict[str, Callable[..., nn.Module]] = {"ViTPose": build_vitpose, "Hourglass": build_hourglass}
POSE_PRESETS: dict[str, dict[str, dict]] = {"ViTPose": VITPOSE_PRESETS, "Hourglass": HOURGLASS_PRESETS}


def build_pose_model(name: str, preset: str, num_joints: int, **overrides) -> nn.Module:
    """Build a 2D pose model by family name and preset.

    Args:
        name: 'ViTPose' or 'Hourglass'.
        preset: a key of that family's presets (ViTPose: S, B, L, H, tiny, tiny64; Hourglass: 8stack,
            2stack, tiny).
        num_joints: J, number of heatmaps.
        **overrides: constructor keyword arguments that replace the preset's (official names, e.g.
            ``drop_path_rate=0.0`` or ``nstack=4``).

    Returns:
        The model (random init), following the interface described in this module's docstring.
    """
    if name not in POSE_MODELS:
        raise KeyError(f"unknown 2D pose model {name!r}; valid models: {', '.join(POSE_MODELS)}")
    return POSE_MODELS[name](preset, num_joints, **overrides)


def _resolve(family: str, presets: Mapping[str, dict], preset: str, cls: type, **kwargs) -> dict:
    if preset not in presets:
        raise KeyError(f"unknown {family} preset {preset!r}; valid presets: {', '.join(presets)}")
    valid = set(inspect.signature(cls).parameters)
    unknown = sorted(set(kwargs) - valid)
    if unknown:
        raise TypeError(f"unknown {family} argument(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
    return {**presets[preset], **kwargs}


def _conv_batchnorm_pairs(model: nn.Module):
    """(sequential, conv name, norm name) for every BatchNorm2d with running statistics that directly follows a
    Conv2d / ConvTranspose2d inside an ``nn.Sequential`` of ``model``."""
    for module in model.modules():
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for first, second in zip(names, names[1:]):
            conv, norm = module._modules[first], module._modules[second]
            if isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)) and isinstance(norm, nn.BatchNorm2d) \
                    and norm.track_running_stats:
                yield module, first, second


def _fused(conv: nn.Module, norm: nn.BatchNorm2d) -> nn.Module:
    return fuse_conv_bn_eval(conv, norm, transpose=isinstance(conv, nn.ConvTranspose2d))


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every eval-mode BatchNorm2d that directly follows a Conv2d / ConvTranspose2d in an ``nn.Sequential``
    into that convolution's weight and bias, in place; returns ``model`` (in eval mode).

    For prediction only: the same function up to float rounding (ViTPose tiny's TIC covariance: 6e-8 relative), and
    the TIC Jacobian no longer back-propagates through the BatchNorm (its backward was a third of the Probabilistic
    prediction's time on a CPU). The folded layer replaces the convolution and an ``nn.Identity`` the BatchNorm, so
    the module indices stay; the state dict loses the BatchNorm keys, so never save a folded model. The Stacked
    Hourglass's pre-activation blocks (BatchNorm → ReLU → convolution) have nothing to fold.
    """
    model.eval()
    for sequential, first, second in list(_conv_batchnorm_pairs(model)):
        sequential._modules[first] = _fused(sequential._modules[first], sequential._modules[second])
        sequential._modules[second] = nn.Identity()
    return model


@contextmanager
def batchnorm_folded(model: nn.Module):
    """Within the block, ``model``'s convolution + BatchNorm pairs (as :func:`fold_batchnorm`) are replaced by
    folded copies of their current weights, detached from autograd; the original modules are back afterwards.

    For a derivative that is taken in eval mode and carries no gradient to the weights (official TIC-TAC's TIC
    Jacobian during training): the same function up to float rounding, about half the backward passes' time on a
    CPU. Training mode is refused: there BatchNorm normalises with the batch's statistics, which a fold cannot.
    """
    pairs = list(_conv_batchnorm_pairs(model))
    if any(sequential._modules[second].training for sequential, _, second in pairs):
        raise RuntimeError("batchnorm_folded needs the BatchNorm layers in eval mode (model.eval() first)")
    with torch.no_grad():
        folded = [_fused(sequential._modules[first], sequential._modules[second]) for sequential, first, second in pairs]
    saved = [(sequential._modules[first], sequential._modules[second]) for sequential, first, second in pairs]
    try:
        for (sequential, first, second), conv in zip(pairs, folded):
            sequential._modules[first], sequential._modules[second] = conv, nn.Identity()
        yield model
    finally:
        for (sequential, first, second), (conv, norm) in zip(pairs, saved):
            sequential._modules[first], sequential._modules[second] = conv, norm

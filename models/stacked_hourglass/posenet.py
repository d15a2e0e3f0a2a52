"""Stacked Hourglass network (PoseNet).

Newell, Yang, Deng, "Stacked Hourglass Networks for Human Pose Estimation", ECCV 2016 (arXiv 1603.06937).
Official PyTorch code: ``princeton-vl/pytorch_stacked_hourglass: models/posenet.py, models/layers.py``.
Checkpoint format: ``train.py``; recipe: ``task/pose.py``.

The module tree and parameter names are the official ones (``pre``, ``hgs``, ``features``, ``outs``,
``merge_features``, ``merge_preds``; ``Conv`` with ``.conv``/``.bn``; ``Residual`` with an always-built
``skip_layer``), so a released checkpoint loads with ``strict=True`` through :func:`load_official_hourglass`.
One difference: :meth:`PoseNet.forward` takes NCHW images, where the official forward takes NHWC and
permutes them inside; the weights do not depend on that layout.

Legend: B batch, C channels (``inp_dim``), J joints (``oup_dim``), S stacks, H×W input, h×w = H/4 × W/4 heatmaps.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn as nn

from models._checkpoint import load_state_dict_strict, read_checkpoint

logger = logging.getLogger(__name__)

HOURGLASS_PRESETS: dict[str, dict] = {
    "8stack": dict(nstack=8, inp_dim=256, input_size=(256, 256)),  # released 8HG model, 32,819,328 params (J=16)
    "2stack": dict(nstack=2, inp_dim=256, input_size=(256, 256)),  # released 2HG model
    # CPU preset: 2 stacks of 32 channels behind a narrow stem (16, 32); 148,450 params (J=17). At the official stem
    # widths (64, 128; 280,738 params) the stem costs 2.4× the rest of the network: 11.9 against 5.0 ms per crop
    # for a training step on one thread.
    "tiny": dict(nstack=2, inp_dim=32, input_size=(64, 64), stem=(16, 32)),
    # The same network on 128×128 crops (32×32 heatmaps, the official input / heatmap ratio of 4): the quick profile's
    # Hourglass. On 64×64 a forearm is ~2 crop pixels wide and a heatmap pixel ~35 full-frame pixels; quick data, 24
    # epochs: 11.5 px against 16.8 px on 64×64, for 2.2× the training time.
    "tiny128": dict(nstack=2, inp_dim=32, input_size=(128, 128), stem=(16, 32)),
}

HOURGLASS_DEPTH = 4  # recursion depth of every hourglass in PoseNet: 2⁴ down-sampling
STEM_CHANNELS = (64, 128)  # official widths of ``pre``: the 7×7 stride-2 conv, then the residuals before the stacks
DOWNSAMPLE = 4  # input / heatmap size (stride-2 conv and a 2×2 max-pool in ``pre``)

Pool = nn.MaxPool2d


class Conv(nn.Module):
    """Conv2d (bias, 'same' padding) → optional BatchNorm → optional ReLU."""

    def __init__(self, inp_dim: int, out_dim: int, kernel_size: int = 3, stride: int = 1, bn: bool = False,
                 relu: bool = True):
        super().__init__()
        self.inp_dim = inp_dim
        self.conv = nn.Conv2d(inp_dim, out_dim, kernel_size, stride, padding=(kernel_size - 1) // 2, bias=True)
        self.relu = nn.ReLU() if relu else None
        self.bn = nn.BatchNorm2d(out_dim) if bn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.inp_dim:
            raise ValueError(f"Conv expects {self.inp_dim} input channels, got {x.shape[1]}")
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.relu is not None:
            x = self.relu(x)
        return x


class Residual(nn.Module):
    """Pre-activation bottleneck: BN→ReLU→1×1 (C/2) → BN→ReLU→3×3 → BN→ReLU→1×1 (C), plus a skip.

    ``skip_layer`` (1×1 conv) is built even when ``inp_dim == out_dim`` and the skip is the identity,
    because the official checkpoints hold its (unused) weights.
    """

    def __init__(self, inp_dim: int, out_dim: int):
        super().__init__()
        self.relu = nn.ReLU()
        self.bn1 = nn.BatchNorm2d(inp_dim)
        self.conv1 = Conv(inp_dim, out_dim // 2, 1, relu=False)
        self.bn2 = nn.BatchNorm2d(out_dim // 2)
        self.conv2 = Conv(out_dim // 2, out_dim // 2, 3, relu=False)
        self.bn3 = nn.BatchNorm2d(out_dim // 2)
        self.conv3 = Conv(out_dim // 2, out_dim, 1, relu=False)
        self.skip_layer = Conv(inp_dim, out_dim, 1, relu=False)
        self.need_skip = inp_dim != out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.skip_layer(x) if self.need_skip else x
        out = self.conv1(self.relu(self.bn1(x)))
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        return out + residual


class Hourglass(nn.Module):
    """Recursive hourglass of depth n: out = up1(x) + upsample(low3(low2(low1(pool(x))))).

    ``bn`` is accepted and unused, and ``increase`` is not passed down the recursion, as in the official code.
    """

    def __init__(self, n: int, f: int, bn: bool | None = None, increase: int = 0):
        super().__init__()
        nf = f + increase
        self.up1 = Residual(f, f)
        self.pool1 = Pool(2, 2)
        self.low1 = Residual(f, nf)
        self.n = n
        self.low2 = Hourglass(n - 1, nf, bn=bn) if n > 1 else Residual(nf, nf)
        self.low3 = Residual(nf, f)
        self.up2 = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up1 = self.up1(x)  # (B, f, h, w)
        low = self.low3(self.low2(self.low1(self.pool1(x))))  # (B, f, h/2, w/2)
        return up1 + self.up2(low)

    def descend(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The down path: x (B, f, h, w) → the bottom latent (B, f, h/2ⁿ, w/2ⁿ), the innermost ``low2``
        output, and the skip branches ``up1`` of every level, outermost first. ``ascend`` completes it."""
        skips = [self.up1(x)]  # (B, f, h, w)
        low = self.low1(self.pool1(x))  # (B, nf, h/2, w/2)
        if isinstance(self.low2, Hourglass):
            latent, inner = self.low2.descend(low)
            return latent, skips + inner
        return self.low2(low), skips

    def ascend(self, latent: torch.Tensor, skips: Sequence[torch.Tensor]) -> torch.Tensor:
        """The up path from the bottom latent, the skips held as given: ``ascend(*descend(x)) == forward(x)``."""
        low = self.low2.ascend(latent, skips[1:]) if isinstance(self.low2, Hourglass) else latent
        return skips[0] + self.up2(self.low3(low))


class Merge(nn.Module):
    """1×1 conv (no BN, no ReLU) that maps predictions or features back into the stack input."""

    def __init__(self, x_dim: int, y_dim: int):
        super().__init__()
        self.conv = Conv(x_dim, y_dim, 1, relu=False, bn=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class PoseNet(nn.Module):
    """Stacked hourglass: images (B, 3, H, W) → heatmaps of every stack (B, S, J, H/4, W/4).

    Follows the common 2D interface of ``models.pose2d``: ``encode`` runs ``pre`` and all stacks up to the
    last hourglass; ``decode`` runs the last stack's ``features`` and ``outs`` only, so it is a pure
    function of the last hourglass output. ``encode_latent`` / ``decode_latent`` split the last hourglass
    at its bottom instead (the latent TIC-TAC differentiates).

    Args:
        nstack: S, number of stacked hourglasses (intermediate supervision on each).
        inp_dim: C, channels inside the hourglasses.
        oup_dim: J, number of heatmaps.
        bn: unused (official signature).
        increase: extra channels in the first recursion level of each hourglass (0 in the official models).
        input_size: (H, W) nominal input size in pixels (not in the official code; H and W must be
            multiples of 64), used by data pipelines through ``input_size`` / ``heatmap_size``.
        stem: (c1, c2) widths of ``pre`` (official: 64, 128; not in the official signature): the 7×7 stride-2 conv has
            c1 channels, the residuals after it c2. The CPU preset narrows them.
    """

    def __init__(self, *, nstack: int, inp_dim: int, oup_dim: int, bn: bool = False, increase: int = 0,
                 input_size: tuple[int, int] = (256, 256), stem: tuple[int, int] = STEM_CHANNELS):
        super().__init__()
        multiple = DOWNSAMPLE * 2 ** HOURGLASS_DEPTH
        if input_size[0] % multiple or input_size[1] % multiple:
            raise ValueError(f"input_size {tuple(input_size)} must be multiples of {multiple}")
        self.nstack = nstack
        c1, c2 = stem
        self.pre = nn.Sequential(
            Conv(3, c1, 7, 2, bn=True, relu=True),
            Residual(c1, c2),
            Pool(2, 2),
            Residual(c2, c2),
            Residual(c2, inp_dim),
        )
        self.hgs = nn.ModuleList([nn.Sequential(Hourglass(HOURGLASS_DEPTH, inp_dim, bn, increase))
                                  for _ in range(nstack)])
        self.features = nn.ModuleList([
            nn.Sequential(Residual(inp_dim, inp_dim), Conv(inp_dim, inp_dim, 1, bn=True, relu=True))
            for _ in range(nstack)
        ])
        self.outs = nn.ModuleList([Conv(inp_dim, oup_dim, 1, relu=False, bn=False) for _ in range(nstack)])
        self.merge_features = nn.ModuleList([Merge(inp_dim, inp_dim) for _ in range(nstack - 1)])
        self.merge_preds = nn.ModuleList([Merge(oup_dim, inp_dim) for _ in range(nstack - 1)])

        self.num_stacks = nstack
        self.num_joints = oup_dim
        self.feature_channels = inp_dim
        self.input_size = tuple(input_size)  # (H, W) pixels
        self.heatmap_size = (input_size[0] // DOWNSAMPLE, input_size[1] // DOWNSAMPLE)  # (h, w)
        self.feature_size = self.heatmap_size  # the hourglass output has the heatmap resolution

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) images → last hourglass output (B, C, h, w) and earlier predictions (B, S−1, J, h, w)."""
        x, intermediate = self._up_to_last_hourglass(images)
        return self.hgs[-1](x), intermediate

    def encode_latent(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """(B, 3, H, W) images → the last hourglass's bottom latent (B, C, h/16, w/16), its skip branches
        (outermost first, :meth:`Hourglass.descend`) and the earlier predictions (B, S−1, J, h, w).

        TIC-TAC differentiates the mean with respect to this latent (``vita-epfl/TIC-TAC:
        HumanPose/code/utils/tic.py``, ``_get_derivatives_hg``); :meth:`decode_latent` is the rest of the path.
        """
        x, intermediate = self._up_to_last_hourglass(images)
        latent, skips = self.hgs[-1][0].descend(x)
        return latent, skips, intermediate

    def decode_latent(self, latent: torch.Tensor, skips: Sequence[torch.Tensor]) -> torch.Tensor:
        """Bottom latent and skips → the last hourglass output (B, C, h, w), the input of :meth:`decode`."""
        return self.hgs[-1][0].ascend(latent, skips)

    def _up_to_last_hourglass(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) → the last hourglass's input (B, C, h, w) and the earlier predictions (B, S−1, J, h, w)."""
        multiple = DOWNSAMPLE * 2 ** HOURGLASS_DEPTH
        if images.ndim != 4 or images.shape[1] != 3 or images.shape[2] % multiple or images.shape[3] % multiple:
            raise ValueError(f"PoseNet expects NCHW images (B, 3, H, W) with H, W multiples of {multiple}, "
                             f"got {tuple(images.shape)}")
        x = self.pre(images)  # (B, C, h, w)
        intermediate = []
        for s in range(self.nstack - 1):
            hg = self.hgs[s](x)
            feature = self.features[s](hg)
            preds = self.outs[s](feature)  # (B, J, h, w)
            intermediate.append(preds)
            x = x + self.merge_preds[s](preds) + self.merge_features[s](feature)
        if intermediate:
            intermediate = torch.stack(intermediate, dim=1)  # (B, S−1, J, h, w)
        else:
            intermediate = x.new_zeros((x.shape[0], 0, self.num_joints, *x.shape[2:]))
        return x, intermediate

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) last hourglass output → (B, J, h, w) heatmaps of the last stack."""
        return self.outs[-1](self.features[-1](features))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images → (B, S, J, H/4, W/4) heatmaps, one per stack."""
        features, intermediate = self.encode(images)
        return torch.cat([intermediate, self.decode(features).unsqueeze(1)], dim=1)


def load_official_hourglass(model: PoseNet,
                            path_or_state_dict: str | Path | Mapping[str, torch.Tensor]) -> PoseNet:
    """Load a princeton-vl checkpoint (or our own state dict) into ``model`` with strict key matching.

    The official ``train.py`` saves ``{'state_dict', 'optimizer', 'epoch'}`` whose keys carry the
    ``model.module.`` prefix of its ``Trainer(DataParallel(PoseNet))``; ``model.module.``, ``module.``
    and ``model.`` prefixes are stripped.

    Args:
        model: a :class:`PoseNet` with the checkpoint's ``nstack``, ``inp_dim`` and ``oup_dim``.
        path_or_state_dict: checkpoint file (read with ``weights_only=True``) or dict.

    Returns:
        ``model``, with the weights loaded.

    Raises:
        ValueError: unreadable file or a checkpoint of another architecture (stacks, channels, joints),
            with a one-line message naming the file and the first offending keys.
    """
    state_dict, source = read_checkpoint(path_or_state_dict, family="Stacked Hourglass",
                                         strip_prefixes=("model.module.", "module.", "model."),
                                         download="download the official weights: princeton-vl/pytorch_stacked_hourglass README")
    load_state_dict_strict(model, state_dict, source=source, hint=_mismatch_hint(state_dict, model))
    logger.info("loaded Stacked Hourglass weights from %s", source)
    return model


def _mismatch_hint(state_dict: Mapping[str, torch.Tensor], model: PoseNet) -> str:
    """The likely architectural cause of a mismatch, in words ('' if none stands out)."""
    hints = []
    nstack = 1 + max((int(k.split(".")[1]) for k in state_dict if k.startswith("outs.")), default=-1)
    if nstack != model.nstack:
        hints.append(f"the checkpoint has {nstack} stacks but the model has {model.nstack}: build it with nstack={nstack}")
    key = "outs.0.conv.weight"
    if key in state_dict:
        joints, channels = state_dict[key].shape[:2]
        if joints != model.num_joints:
            hints.append(f"the checkpoint has {joints} joints ({key} {tuple(state_dict[key].shape)}) but the model "
                         f"has {model.num_joints}: build it with num_joints={joints}")
        if channels != model.feature_channels:
            hints.append(f"the checkpoint has inp_dim {channels}, the model {model.feature_channels}")
    return "; ".join(hints)

"""ViTPose: a plain Vision Transformer backbone with a heatmap head.

Xu, Zhang, Zhang, Tao, "ViTPose: Simple Vision Transformer Baselines for Human Pose Estimation",
NeurIPS 2022 (arXiv 2204.12484). Official code: ``ViTAE-Transformer/ViTPose: mmpose/models/backbones/vit.py``
and ``mmpose/models/detectors/top_down.py``; head: ``mmpose/models/heads/topdown_heatmap_simple_head.py``.

Module and parameter names are the official ones, so that a released mmpose checkpoint
(``backbone.*``, ``keypoint_head.*``) loads with ``strict=True`` through :func:`load_official_vitpose`.
The transformer blocks are timm's ``Block`` (same key names and math as the official ``Block``: pre-norm,
LayerNorm eps 1e-6, fused q|k|v projection, exact GELU, per-sample drop path).

Legend: B batch, C channels, J joints, H×W input image, Hp×Wp patch grid (H/16 × W/16), h×w heatmap.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

import torch
import torch.nn as nn
from timm.layers import trunc_normal_
from timm.models.vision_transformer import Block

from models._checkpoint import load_state_dict_strict, read_checkpoint

from .head import TopdownHeatmapSimpleHead

logger = logging.getLogger(__name__)

# Architectures of the released models (COCO 256×192) and the tiny CPU presets (models.md tables).
VITPOSE_PRESETS: dict[str, dict] = {
    "S": dict(img_size=(256, 192), embed_dim=384, depth=12, num_heads=12, drop_path_rate=0.1),
    "B": dict(img_size=(256, 192), embed_dim=768, depth=12, num_heads=12, drop_path_rate=0.3),
    "L": dict(img_size=(256, 192), embed_dim=1024, depth=24, num_heads=16, drop_path_rate=0.5),
    "H": dict(img_size=(256, 192), embed_dim=1280, depth=32, num_heads=16, drop_path_rate=0.55),
    # tiny-128 of models.md: 202,289 parameters with 17 joints, heatmaps 32×24
    "tiny": dict(img_size=(128, 96), embed_dim=64, depth=2, num_heads=4, drop_path_rate=0.0,
                 deconv_filters=(32, 32)),
    # tiny with 8-px patches: the official 16×12 token grid on a 128×96 crop, one deconvolution to 32×24 heatmaps;
    # 158,193 parameters with 17 joints, about 2× tiny's training time on a CPU
    "tiny_p8": dict(img_size=(128, 96), patch_size=8, embed_dim=64, depth=2, num_heads=4, drop_path_rate=0.0,
                    deconv_filters=(32,)),
    # tiny with 128-dim tokens (4 heads of 32): the same 8×6 tokens, decoder and 32×24 heatmaps; 584,113 parameters
    # with 17 joints, about 1.4× tiny's training time on a CPU (quick, one thread: 227 against 166 s)
    "tiny_w128": dict(img_size=(128, 96), embed_dim=128, depth=2, num_heads=4, drop_path_rate=0.0,
                      deconv_filters=(32, 32)),
    # tiny-64 of models.md: 63,137 parameters with 17 joints, heatmaps 16×12
    "tiny64": dict(img_size=(64, 48), embed_dim=32, depth=2, num_heads=2, drop_path_rate=0.0,
                   deconv_filters=(16, 16)),
}

# Keys of released checkpoints that are not part of the model (models.md § Official checkpoint format).
_EXTRA_KEYS = ("backbone.cls_token",)
_EXTRA_PREFIXES = ("associate_keypoint_heads.",)


class PatchEmbed(nn.Module):
    """Image → patch tokens with a strided convolution (kernel 16, stride 16, padding 2 as in the official code).

    Patch i covers input rows 16i−2 … 16i+13, so the last 2 rows and columns are never seen.
    """

    def __init__(self, *, img_size: tuple[int, int], patch_size: int = 16, in_chans: int = 3, embed_dim: int = 768,
                 ratio: int = 1):
        super().__init__()
        self.patch_shape = (img_size[0] // patch_size * ratio, img_size[1] // patch_size * ratio)  # (Hp, Wp)
        self.num_patches = self.patch_shape[0] * self.patch_shape[1]
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size // ratio,
                              padding=4 + 2 * (ratio // 2 - 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        x = self.proj(x)  # (B, C, Hp, Wp)
        hp, wp = x.shape[2], x.shape[3]
        return x.flatten(2).transpose(1, 2), (hp, wp)  # (B, Hp·Wp, C), row-major tokens


class ViT(nn.Module):
    """ViTPose backbone (official ``ViT``): images (B, 3, H, W) → feature map (B, C, H/16, W/16).

    The absolute position embedding has one extra slot (slot 0, the former class-token slot of MAE
    pre-training) that is broadcast-added to every token; there is no class token and no run-time
    interpolation, so the input must be exactly ``img_size``.

    Args:
        img_size: (H, W) input size in pixels, multiples of ``patch_size``.
        patch_size: patch side in pixels.
        in_chans: image channels.
        embed_dim: C, token width.
        depth: number of transformer blocks.
        num_heads: attention heads (head_dim = C / heads).
        mlp_ratio: MLP hidden width / C.
        qkv_bias: bias of the q|k|v projection (True in every ViTPose config).
        drop_path_rate: stochastic depth of the last block; block i gets rate·i/(depth−1).
        ratio: patch-embedding overlap ratio of the official code (1 in every ViTPose config).
    """

    def __init__(self, *, img_size: tuple[int, int] = (256, 192), patch_size: int = 16, in_chans: int = 3,
                 embed_dim: int = 768, depth: int = 12, num_heads: int = 12, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, drop_path_rate: float = 0.0, ratio: int = 1):
        super().__init__()
        img_size = tuple(img_size)
        if img_size[0] % patch_size or img_size[1] % patch_size:
            raise ValueError(f"img_size {img_size} must be multiples of patch_size {patch_size}")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} must be divisible by num_heads {num_heads}")
        self.img_size = img_size
        self.embed_dim = embed_dim
        norm_layer = partial(nn.LayerNorm, eps=1e-6)
        self.patch_embed = PatchEmbed(img_size=img_size, patch_size=patch_size, in_chans=in_chans,
                                      embed_dim=embed_dim, ratio=ratio)
        # (1, N+1, C): slot 0 is the MAE class-token slot, kept so that the official weights load
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, embed_dim))
        drop_path_rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]  # 0 … rate
        self.blocks = nn.ModuleList([
            Block(dim=embed_dim, num_heads=num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
                  drop_path=drop_path_rates[i], norm_layer=norm_layer, act_layer=nn.GELU)
            for i in range(depth)
        ])
        self.last_norm = norm_layer(embed_dim)
        self.init_weights()

    def init_weights(self) -> None:
        """Official init without pre-training: pos_embed and Linear weights trunc-normal std 0.02, biases 0,
        LayerNorm weight 1 bias 0, patch conv PyTorch default."""
        trunc_normal_(self.pos_embed, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images → (B, C, Hp, Wp) features."""
        if x.ndim != 4 or tuple(x.shape[2:]) != self.img_size:
            raise ValueError(f"ViT expects images (B, 3, {self.img_size[0]}, {self.img_size[1]}) "
                             f"(no position-embedding interpolation), got {tuple(x.shape)}")
        b = x.shape[0]
        x, (hp, wp) = self.patch_embed(x)  # (B, N, C)
        x = x + self.pos_embed[:, 1:] + self.pos_embed[:, :1]  # slot 0 broadcast to every token
        for block in self.blocks:
            x = block(x)
        x = self.last_norm(x)
        return x.permute(0, 2, 1).reshape(b, -1, hp, wp).contiguous()  # (B, C, Hp, Wp)


class ViTPose(nn.Module):
    """ViTPose top-down estimator (mmpose ``TopDown`` with a ``ViT`` backbone and a heatmap head).

    Submodules ``backbone`` and ``keypoint_head`` give the official state-dict keys. The model follows
    the common 2D interface of ``models.pose2d``: ``encode`` = backbone, ``decode`` = keypoint head,
    ``forward`` returns (B, 1, J, h, w) (one "stack", unlike mmpose's (B, J, h, w)).

    Args:
        img_size: (H, W) input size in pixels.
        patch_size: patch side in pixels.
        embed_dim: C, token width.
        depth: number of transformer blocks.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width / C.
        qkv_bias: bias of the q|k|v projection.
        drop_path_rate: stochastic depth of the last block.
        num_joints: J, number of heatmaps.
        deconv_filters: channels of the classic head's stride-2 deconvolutions (heatmap = 4× the patch
            grid with two of them).
        head: 'classic' (deconvolutions + 1×1 conv) or 'simple' (ReLU, bilinear ×4, 3×3 conv).
    """

    num_stacks = 1

    def __init__(self, *, img_size: tuple[int, int] = (256, 192), patch_size: int = 16, embed_dim: int = 768,
                 depth: int = 12, num_heads: int = 12, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 drop_path_rate: float = 0.0, num_joints: int, deconv_filters: Sequence[int] = (256, 256),
                 head: str = "classic"):
        super().__init__()
        self.backbone = ViT(img_size=img_size, patch_size=patch_size, embed_dim=embed_dim, depth=depth,
                            num_heads=num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
                            drop_path_rate=drop_path_rate)
        if head == "classic":
            self.keypoint_head = TopdownHeatmapSimpleHead(
                in_channels=embed_dim, out_channels=num_joints, num_deconv_layers=len(deconv_filters),
                num_deconv_filters=tuple(deconv_filters), num_deconv_kernels=(4,) * len(deconv_filters),
                final_conv_kernel=1)
        elif head == "simple":
            self.keypoint_head = TopdownHeatmapSimpleHead(
                in_channels=embed_dim, out_channels=num_joints, num_deconv_layers=0, num_deconv_filters=(),
                num_deconv_kernels=(), final_conv_kernel=3, upsample=4)
        else:
            raise ValueError(f"unknown ViTPose head {head!r}; valid heads: 'classic', 'simple'")
        self.num_joints = num_joints
        self.input_size = self.backbone.img_size  # (H, W) pixels
        self.feature_channels = embed_dim
        self.feature_size = self.backbone.patch_embed.patch_shape  # (Hp, Wp)
        s = self.keypoint_head.scale_factor
        self.heatmap_size = (self.feature_size[0] * s, self.feature_size[1] * s)  # (h, w)

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) images → features (B, C, Hp, Wp) and the intermediate heatmaps (B, 0, J, h, w) (none)."""
        features = self.backbone(images)
        intermediate = features.new_zeros((features.shape[0], 0, self.num_joints, *self.heatmap_size))
        return features, intermediate

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        """(B, C, Hp, Wp) features → (B, J, h, w) heatmaps (the keypoint head alone)."""
        return self.keypoint_head(features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images → (B, 1, J, h, w) heatmaps."""
        features, intermediate = self.encode(images)
        return torch.cat([intermediate, self.decode(features).unsqueeze(1)], dim=1)


def load_official_vitpose(model: ViTPose, path_or_state_dict: str | Path | Mapping[str, torch.Tensor], *,
                          backbone_only: bool = False) -> ViTPose:
    """Load a released ViTPose (mmpose) checkpoint into ``model`` with strict key matching.

    Accepts a file or an already loaded dict: ``{'state_dict': …, 'meta': …}`` as saved by mmcv, or a
    ``model`` / ``module`` wrapper, or a bare state dict, with or without a leading ``module.`` prefix.
    The extras of some released files (``backbone.cls_token``, ``associate_keypoint_heads.*``) are dropped.

    Args:
        model: a :class:`ViTPose` of the checkpoint's architecture.
        path_or_state_dict: checkpoint file (read with ``weights_only=True``) or dict.
        backbone_only: load only the ``backbone.*`` keys (strictly) and keep the head as it is, e.g. to
            start Human3.6M training from a COCO checkpoint whose head predicts other joints.

    Returns:
        ``model``, with the weights loaded.

    Raises:
        ValueError: unreadable file or a checkpoint of another architecture (joint count, size, head type),
            with a one-line message naming the file and the first offending keys.
    """
    state_dict, source = read_checkpoint(path_or_state_dict, family="ViTPose", strip_prefixes=("module.",),
                                         download="download the official weights: ViTAE-Transformer/ViTPose README")
    state_dict = {k: v for k, v in state_dict.items()
                  if k not in _EXTRA_KEYS and not k.startswith(_EXTRA_PREFIXES)}
    if backbone_only:
        state_dict = {k: v for k, v in state_dict.items() if k.startswith("backbone.")}
        load_state_dict_strict(model.backbone, {k[len("backbone."):]: v for k, v in state_dict.items()},
                               source=source, hint=_mismatch_hint(state_dict, model))
    else:
        load_state_dict_strict(model, state_dict, source=source, hint=_mismatch_hint(state_dict, model))
    logger.info("loaded ViTPose weights from %s%s", source, " (backbone only)" if backbone_only else "")
    return model


def _mismatch_hint(state_dict: Mapping[str, torch.Tensor], model: ViTPose) -> str:
    """The likely architectural cause of a mismatch, in words ('' if none stands out)."""
    own = model.state_dict()
    hints = []
    key = "keypoint_head.final_layer.weight"
    if key in state_dict and state_dict[key].shape[0] != own[key].shape[0]:
        hints.append(f"the checkpoint has {state_dict[key].shape[0]} joints ({key} {tuple(state_dict[key].shape)}) "
                     f"but the model has {own[key].shape[0]}: build it with num_joints={state_dict[key].shape[0]} "
                     f"or pass backbone_only=True")
    if key in state_dict and state_dict[key].shape[2:] != own[key].shape[2:]:
        ckpt_head = "simple" if state_dict[key].shape[-1] == 3 else "classic"
        hints.append(f"the checkpoint has the {ckpt_head} head: build the model with head='{ckpt_head}'")
    key = "backbone.pos_embed"
    if key in state_dict and state_dict[key].shape != own[key].shape:
        hints.append(f"{key} is {tuple(state_dict[key].shape)} in the checkpoint, {tuple(own[key].shape)} in the "
                     f"model: use the checkpoint's img_size and embed_dim (ViTPose presets: {', '.join(VITPOSE_PRESETS)})")
    depth = 1 + max((int(k.split(".")[2]) for k in state_dict if k.startswith("backbone.blocks.")), default=-1)
    if depth != len(model.backbone.blocks):
        hints.append(f"the checkpoint has depth {depth}, the model {len(model.backbone.blocks)}")
    return "; ".join(hints)

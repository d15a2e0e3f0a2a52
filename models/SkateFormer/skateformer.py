"""SkateFormer: skeletal-temporal transformer for skeleton action recognition.

Do et al., "SkateFormer: Skeletal-Temporal Transformer for Human Action Recognition", ECCV 2024
(arXiv:2403.09508). Official code: ``KAIST-VICLab/SkateFormer: model/SkateFormer.py``; training recipe and checkpoints:
``config/train/*/*.yaml``, ``main.py`` and the repository README.

Module and parameter names are the official ones, so released checkpoints load with ``strict=True`` through
:func:`load_official_skateformer`. Each block mixes the joints × frames grid four ways at once: a learned
per-group joint mixing (G-Conv), a temporal convolution (T-Conv) and self-attention inside four kinds of
partitions, the Skate-Types (neighbouring or distant joints × local or global frames).

Legend: B batch, C channels, T frames, V joints per person, M people, J = M·V joints on the internal axis,
(N_f | M_f, L | K) the (frames, joints) size of a partition, P0·P1 tokens per partition.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn as nn
from einops import rearrange
from timm.layers import DropPath, Mlp, trunc_normal_

from dataloader.h36m import ACTIONS
from models._checkpoint import load_state_dict_strict, read_checkpoint
from models.SkateFormer.partition import NUM_POINTS as H36M_NUM_POINTS, skate_type_sizes

logger = logging.getLogger(__name__)

SKATEFORMER_PRESETS = {
    # NTU-60 joint model (config/train/ntu_cs/SkateFormer_j.yaml through SkateFormer_): 25 → 24 joints, 2 people
    "ntu": dict(in_channels=3, depths=(2, 2, 2, 2), channels=(96, 192, 192, 192), num_classes=60, embed_dim=96,
                num_people=2, num_frames=64, num_points=24, kernel_size=7, num_heads=32,
                type_1_size=(8, 8), type_2_size=(8, 12), type_3_size=(8, 8), type_4_size=(8, 12),
                attn_drop=0.5, head_drop=0.0, rel=True, drop_path=0.2, mlp_ratio=4.0, index_t=True),
    # official sizes on 2D Human3.6M, joints in the 6 × 3 part-major layout of partition.py
    "h36m": dict(in_channels=2, depths=(2, 2, 2, 2), channels=(96, 192, 192, 192), num_classes=len(ACTIONS),
                 embed_dim=96, num_people=1, num_frames=64, num_points=H36M_NUM_POINTS, kernel_size=7,
                 num_heads=32, **skate_type_sizes(8), attn_drop=0.5, head_drop=0.0, rel=True, drop_path=0.2,
                 mlp_ratio=4.0, index_t=True),
    # CPU-sized, same module tree (models.md "Tiny CPU presets"), Human3.6M layout, 16 frames (last stage: 2)
    "tiny": dict(in_channels=2, depths=(1, 1, 1, 1), channels=(16, 32, 32, 32), num_classes=len(ACTIONS),
                 embed_dim=16, num_people=1, num_frames=16, num_points=H36M_NUM_POINTS, kernel_size=3,
                 num_heads=8, **skate_type_sizes(2), attn_drop=0.0, head_drop=0.0, rel=True, drop_path=0.1,
                 mlp_ratio=2.0, index_t=True),
}

# Skate-Type partitions of a (B, C, T, J) map into (B·groups, P0·P1, C) token sets, frame-major inside a set.
# Type 1: local frames (windows of N_f) × neighbouring joints (blocks of L).
# Type 2: local frames × distant joints (K joints at stride J/K: joint k·(J/K) + g of group g).
# Type 3: global frames (M_f frames at stride T/M_f) × neighbouring joints.
# Type 4: global frames × distant joints.
_PARTITION_PATTERNS = (
    "b c (tp n) (jp l)",
    "b c (tp n) (l jp)",
    "b c (n tp) (jp l)",
    "b c (n tp) (l jp)",
)
_TOKENS = "(b tp jp) (n l) c"


def partition(x: torch.Tensor, skate_type: int, partition_size: Sequence[int]) -> torch.Tensor:
    """(B, C, T, J) → (B·T/P0·J/P1, P0·P1, C) tokens of Skate-Type `skate_type` (1..4); size (P0, P1)."""
    pattern = _PARTITION_PATTERNS[skate_type - 1]
    return rearrange(x, f"{pattern} -> {_TOKENS}", n=partition_size[0], l=partition_size[1])


def reverse(tokens: torch.Tensor, skate_type: int, partition_size: Sequence[int], batch: int,
            frames: int) -> torch.Tensor:
    """Inverse of :func:`partition`: (B·groups, P0·P1, C) → (B, C, T, J); `batch` = B, `frames` = T."""
    pattern = _PARTITION_PATTERNS[skate_type - 1]
    return rearrange(tokens, f"{_TOKENS} -> {pattern}", b=batch, tp=frames // partition_size[0],
                     n=partition_size[0], l=partition_size[1])


def relative_position_index_1d(length: int) -> torch.Tensor:
    """(P0, P0) int64 index i − j + P0 − 1 into a table of 2·P0 − 1 frame offsets."""
    positions = torch.arange(length)
    return positions[:, None] - positions[None, :] + length - 1


class MultiHeadSelfAttention(nn.Module):
    """Self-attention inside one Skate-Type partition, without projections of its own.

    Input (B', P0·P1, 3·C') holds q, k, v as consecutive channel thirds; output (B', P0·P1, C').
    The relative bias is looked up in a table (2·P0 − 1, h) for types 1/3 (see the note in
    ``_relative_positional_bias``) and (2·P0 − 1, P1, P1, h) for types 2/4 (frame offset and both joints).
    """

    def __init__(self, in_channels: int, rel_type: str, num_heads: int = 32, partition_size: Sequence[int] = (1, 1),
                 attn_drop: float = 0.0, rel: bool = True):
        super().__init__()
        self.in_channels = in_channels
        self.rel_type = rel_type
        self.num_heads = num_heads
        self.partition_size = tuple(partition_size)
        self.scale = num_heads ** -0.5  # official: heads, not head dimension
        self.attn_area = partition_size[0] * partition_size[1]
        self.attn_drop = nn.Dropout(p=attn_drop)
        self.rel = rel
        if rel:
            frames, joints = self.partition_size
            if rel_type in ("type_1", "type_3"):
                table = torch.zeros(2 * frames - 1, num_heads)
            elif rel_type in ("type_2", "type_4"):
                table = torch.zeros(2 * frames - 1, joints, joints, num_heads)
            else:
                raise ValueError(f"rel_type must be one of type_1, type_2, type_3, type_4, got {rel_type!r}")
            self.relative_position_bias_table = nn.Parameter(table)
            self.register_buffer("relative_position_index", relative_position_index_1d(frames))
            trunc_normal_(self.relative_position_bias_table, std=0.02)

    def _relative_positional_bias(self) -> torch.Tensor:
        """(1, h, P0·P1, P0·P1) bias over the frame-major tokens (token = frame·P1 + joint)."""
        frames, joints = self.partition_size
        if self.rel_type in ("type_1", "type_3"):
            # As the official code computes it: its 6-size `repeat` on a 5-D tensor tiles the (P0, P0) table
            # instead of repeating each entry, so token t is given "frame" t mod P0, not t // P1. For
            # NTU (P0 = P1 = 8) this makes the type 1/3 bias a function of the joint offset. Kept, so that
            # released checkpoints give the published outputs.
            slot = torch.arange(frames * joints, device=self.relative_position_index.device) % frames
            bias = self.relative_position_bias_table[self.relative_position_index[slot[:, None], slot[None, :]]]
            return rearrange(bias, "q k h -> 1 h q k")
        bias = self.relative_position_bias_table[self.relative_position_index]  # (P0, P0, P1, P1, h)
        # query (frame i, joint a), key (frame j, joint b): table[i − j + P0 − 1, a, b]
        return rearrange(bias, "i j a b h -> 1 h (i a) (j b)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = rearrange(x, "b n (three h d) -> three b h n d", three=3, h=self.num_heads)  # (B', h, n, d) each
        attn = (q * self.scale) @ k.transpose(-2, -1)  # (B', h, n, n)
        if self.rel:
            attn = attn + self._relative_positional_bias()
        attn = self.attn_drop(attn.softmax(dim=-1))
        return rearrange(attn @ v, "b h n d -> b n (h d)")  # (B', n, C')


class SkateFormerBlock(nn.Module):
    """One SkateFormer block on (B, C, T, J): [G-Conv | T-Conv | 4 × Skate-MSA] → proj, then an MLP.

    Channels after ``mapping`` (C → 2C): C/4 G-Conv, C/4 T-Conv, 4 × 3C/8 attention (q, k, v of C/8 each);
    outputs C/4 + C/4 + 4 · C/8 = C.
    """

    def __init__(self, in_channels: int, num_points: int = 50, kernel_size: int = 7, num_heads: int = 32,
                 type_1_size: Sequence[int] = (1, 1), type_2_size: Sequence[int] = (1, 1),
                 type_3_size: Sequence[int] = (1, 1), type_4_size: Sequence[int] = (1, 1),
                 attn_drop: float = 0.0, drop: float = 0.0, rel: bool = True, drop_path: float = 0.0,
                 mlp_ratio: float = 4.0, act_layer: type[nn.Module] = nn.GELU,
                 norm_layer: type[nn.Module] = nn.LayerNorm):
        super().__init__()
        self.partition_size = [tuple(type_1_size), tuple(type_2_size), tuple(type_3_size), tuple(type_4_size)]
        num_types = len(self.partition_size)
        self.norm_1 = norm_layer(in_channels)
        self.mapping = nn.Linear(in_features=in_channels, out_features=2 * in_channels, bias=True)
        self.gconv = nn.Parameter(torch.zeros(num_heads // 4, num_points, num_points))  # (groups, J, J)
        trunc_normal_(self.gconv, std=0.02)
        self.tconv = nn.Conv2d(in_channels // 4, in_channels // 4, kernel_size=(kernel_size, 1),
                               padding=((kernel_size - 1) // 2, 0), groups=num_heads // 4)
        self.attention = nn.ModuleList([
            MultiHeadSelfAttention(in_channels=in_channels // (2 * num_types), rel_type=f"type_{i + 1}",
                                   num_heads=num_heads // (2 * num_types), partition_size=self.partition_size[i],
                                   attn_drop=attn_drop, rel=rel)
            for i in range(num_types)])
        self.proj = nn.Linear(in_features=in_channels, out_features=in_channels, bias=True)
        self.proj_drop = nn.Dropout(p=drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm_2 = norm_layer(in_channels)
        self.mlp = Mlp(in_features=in_channels, hidden_features=int(mlp_ratio * in_channels), act_layer=act_layer,
                       drop=drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, T, J = x.shape
        x = rearrange(x, "b c t j -> b t j c")
        f = rearrange(self.mapping(self.norm_1(x)), "b t j c -> b c t j")  # (B, 2C, T, J)
        f_gconv, f_tconv, f_attn = torch.split(f, [C // 4, C // 4, 3 * C // 2], dim=1)

        groups = self.gconv.shape[0]
        y_gconv = torch.einsum("bgctu,gvu->bgctv", rearrange(f_gconv, "b (g c) t j -> b g c t j", g=groups),
                               self.gconv)  # group g mixes joints with its own (J, J) matrix
        y = [rearrange(y_gconv, "b g c t j -> b (g c) t j"), self.tconv(f_tconv)]  # (B, C/4, T, J) each
        for i, (chunk, size) in enumerate(zip(torch.chunk(f_attn, len(self.attention), dim=1), self.partition_size)):
            tokens = self.attention[i](partition(chunk, i + 1, size))  # (B·groups, P0·P1, C/8)
            y.append(reverse(tokens, i + 1, size, batch=B, frames=T))  # (B, C/8, T, J)

        out = self.proj_drop(self.proj(rearrange(torch.cat(y, dim=1), "b c t j -> b t j c")))
        x = x + self.drop_path(out)
        x = x + self.drop_path(self.mlp(self.norm_2(x)))
        return rearrange(x, "b t j c -> b c t j")


class PatchMergingTconv(nn.Module):
    """Temporal downsampling between stages: Conv (kernel_size × 1, stride 2) + BatchNorm, T → ⌈T/2⌉."""

    def __init__(self, dim_in: int, dim_out: int, kernel_size: int = 7, stride: int = 2, dilation: int = 1):
        super().__init__()
        self.dim_in = dim_in
        self.dim_out = dim_out
        pad = (kernel_size + (kernel_size - 1) * (dilation - 1) - 1) // 2
        self.reduction = nn.Conv2d(dim_in, dim_out, kernel_size=(kernel_size, 1), padding=(pad, 0),
                                   stride=(stride, 1), dilation=(dilation, 1))
        self.bn = nn.BatchNorm2d(dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.reduction(x))


class SkateFormerBlockDS(nn.Module):
    """A block, preceded by ``downsample`` (:class:`PatchMergingTconv`) when `downscale`."""

    def __init__(self, in_channels: int, out_channels: int, num_points: int = 50, kernel_size: int = 7,
                 downscale: bool = False, num_heads: int = 32, type_1_size: Sequence[int] = (1, 1),
                 type_2_size: Sequence[int] = (1, 1), type_3_size: Sequence[int] = (1, 1),
                 type_4_size: Sequence[int] = (1, 1), attn_drop: float = 0.0, drop: float = 0.0, rel: bool = True,
                 drop_path: float = 0.0, mlp_ratio: float = 4.0, act_layer: type[nn.Module] = nn.GELU,
                 norm_layer_transformer: type[nn.Module] = nn.LayerNorm):
        super().__init__()
        self.downsample = PatchMergingTconv(in_channels, out_channels, kernel_size=kernel_size) if downscale else None
        self.transformer = SkateFormerBlock(
            in_channels=out_channels, num_points=num_points, kernel_size=kernel_size, num_heads=num_heads,
            type_1_size=type_1_size, type_2_size=type_2_size, type_3_size=type_3_size, type_4_size=type_4_size,
            attn_drop=attn_drop, drop=drop, rel=rel, drop_path=drop_path, mlp_ratio=mlp_ratio,
            act_layer=act_layer, norm_layer=norm_layer_transformer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.downsample is not None:
            x = self.downsample(x)
        return self.transformer(x)


class SkateFormerStage(nn.Module):
    """`depth` blocks at width `out_channels`; all but the first stage halve T in their first block."""

    def __init__(self, depth: int, in_channels: int, out_channels: int, first_depth: bool = False,
                 num_points: int = 50, kernel_size: int = 7, num_heads: int = 32, type_1_size: Sequence[int] = (1, 1),
                 type_2_size: Sequence[int] = (1, 1), type_3_size: Sequence[int] = (1, 1),
                 type_4_size: Sequence[int] = (1, 1), attn_drop: float = 0.0, drop: float = 0.0, rel: bool = True,
                 drop_path: float | Sequence[float] = 0.0, mlp_ratio: float = 4.0,
                 act_layer: type[nn.Module] = nn.GELU, norm_layer_transformer: type[nn.Module] = nn.LayerNorm):
        super().__init__()
        self.blocks = nn.ModuleList([
            SkateFormerBlockDS(
                in_channels=in_channels if index == 0 else out_channels, out_channels=out_channels,
                num_points=num_points, kernel_size=kernel_size, downscale=index == 0 and not first_depth,
                num_heads=num_heads, type_1_size=type_1_size, type_2_size=type_2_size, type_3_size=type_3_size,
                type_4_size=type_4_size, attn_drop=attn_drop, drop=drop, rel=rel,
                drop_path=drop_path if isinstance(drop_path, float) else drop_path[index], mlp_ratio=mlp_ratio,
                act_layer=act_layer, norm_layer_transformer=norm_layer_transformer)
            for index in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class SkateFormer(nn.Module):
    """Skeleton sequence (B, C + E, T, V, M) and frame positions (B, T) → class logits (B, num_classes).

    Args:
        in_channels: C, coordinates per joint (3 for NTU, 2 for 2D Human3.6M).
        depths: blocks per stage.
        channels: width of each stage; each divisible by num_heads.
        num_classes: classifier outputs.
        embed_dim: stem output width (even).
        num_people: M.
        num_frames: T; used only by the learned embedding when index_t is False.
        num_points: V, joints per person; J = V·M must be divisible by L (types 1/3) and K (types 2/4).
        kernel_size: T-Conv and downsampling temporal kernel.
        num_heads: total heads, a multiple of 8 (each Skate-Type gets num_heads/8, G-Conv num_heads/4 groups).
        type_1_size .. type_4_size: (frames, joints) of a partition: (N_f, L), (N_f, K), (M_f, L), (M_f, K);
            the temporal length at every stage must be divisible by N_f and M_f.
        attn_drop: dropout on attention weights.
        head_drop: dropout before the classifier (no module when 0).
        drop: dropout after ``proj`` and inside the MLPs.
        rel: use relative position biases.
        drop_path: largest stochastic-depth rate, linear over all blocks.
        mlp_ratio: MLP hidden width / C.
        act_layer, norm_layer_transformer: activation and normalisation classes.
        index_t: add the Skate-Embedding (sinusoids of index_t × learned joint embedding) instead of a learned
            joint-temporal embedding.
        global_pool: 'avg' or 'max' over (T, J) before the head.
        extra_channels: E, input channels per joint beyond the C coordinates (the 2D uncertainty of
            ``utils.codecs.uncertainty``); only the first stem convolution's in-features grow, from C to C + E,
            so every other parameter keeps its official shape (0: the official model).
    """

    def __init__(self, *, in_channels: int = 3, depths: Sequence[int] = (2, 2, 2, 2),
                 channels: Sequence[int] = (96, 192, 192, 192), num_classes: int = 60, embed_dim: int = 64,
                 num_people: int = 2, num_frames: int = 64, num_points: int = 50, kernel_size: int = 7,
                 num_heads: int = 32, type_1_size: Sequence[int] = (1, 1), type_2_size: Sequence[int] = (1, 1),
                 type_3_size: Sequence[int] = (1, 1), type_4_size: Sequence[int] = (1, 1), attn_drop: float = 0.0,
                 head_drop: float = 0.0, drop: float = 0.0, rel: bool = True, drop_path: float = 0.0,
                 mlp_ratio: float = 4.0, act_layer: type[nn.Module] = nn.GELU,
                 norm_layer_transformer: type[nn.Module] = nn.LayerNorm, index_t: bool = False,
                 global_pool: str = "avg", extra_channels: int = 0):
        super().__init__()
        if extra_channels < 0:
            raise ValueError(f"extra_channels must be ≥ 0, got {extra_channels}")
        self.type_sizes = [tuple(type_1_size), tuple(type_2_size), tuple(type_3_size), tuple(type_4_size)]
        num_joints = num_points * num_people
        _check_sizes(depths, channels, num_heads, embed_dim, num_joints, self.type_sizes, global_pool)
        self.in_channels = in_channels
        self.extra_channels = extra_channels
        self.num_classes = num_classes
        self.num_people = num_people
        self.num_points = num_points
        self.head_drop = head_drop
        self.index_t = index_t
        self.embed_dim = embed_dim
        self.global_pool = global_pool
        self.dropout = nn.Dropout(p=head_drop) if head_drop != 0 else None

        self.stem = nn.ModuleList([
            nn.Conv2d(in_channels + extra_channels, 2 * in_channels, kernel_size=(1, 1)),
            act_layer(),
            nn.Conv2d(2 * in_channels, 3 * in_channels, kernel_size=(1, 1)),
            act_layer(),
            nn.Conv2d(3 * in_channels, embed_dim, kernel_size=(1, 1)),
        ])
        if index_t:
            self.joint_person_embedding = nn.Parameter(torch.zeros(embed_dim, num_joints))
            trunc_normal_(self.joint_person_embedding, std=0.02)
        else:
            self.joint_person_temporal_embedding = nn.Parameter(torch.zeros(1, embed_dim, num_frames, num_joints))
            trunc_normal_(self.joint_person_temporal_embedding, std=0.02)

        rates = torch.linspace(0.0, drop_path, sum(depths), device="cpu").tolist()
        self.stages = nn.ModuleList([
            SkateFormerStage(
                depth=depth, in_channels=embed_dim if index == 0 else channels[index - 1], out_channels=channel,
                first_depth=index == 0, num_points=num_joints, kernel_size=kernel_size, num_heads=num_heads,
                type_1_size=type_1_size, type_2_size=type_2_size, type_3_size=type_3_size, type_4_size=type_4_size,
                attn_drop=attn_drop, drop=drop, rel=rel, drop_path=rates[sum(depths[:index]):sum(depths[:index + 1])],
                mlp_ratio=mlp_ratio, act_layer=act_layer, norm_layer_transformer=norm_layer_transformer)
            for index, (depth, channel) in enumerate(zip(depths, channels))])
        self.head = nn.Linear(channels[-1], num_classes)

    def skate_embedding(self, index_t: torch.Tensor) -> torch.Tensor:
        """(B, T) frame positions in [−1, 1] → (B, T, embed_dim) sinusoids, [sin ω_0 t, cos ω_0 t, sin ω_1 t, …]."""
        omega = torch.exp(torch.arange(0, self.embed_dim, 2, dtype=torch.float32, device=index_t.device)
                          * -(math.log(10000.0) / self.embed_dim))  # (embed_dim/2,)
        angle = index_t.float()[..., None] * omega  # (B, T, embed_dim/2)
        return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(-2)  # (B, T, embed_dim)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            x = stage(x)
        return x  # (B, C_last, T_last, J)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x.mean(dim=(2, 3)) if self.global_pool == "avg" else torch.amax(x, dim=(2, 3))  # (B, C_last)
        if self.dropout is not None:
            x = self.dropout(x)
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor, index_t: torch.Tensor) -> torch.Tensor:
        """x (B, C + E, T, V, M) coordinates and extra channels; index_t (B, T) frame positions in [−1, 1] (unused if not index_t)."""
        self._check_input(x, index_t)
        x = rearrange(x, "b c t v m -> b c t (m v)")  # person 0's joints first
        for layer in self.stem:
            x = layer(x)  # (B, embed_dim, T, J)
        if self.index_t:
            x = x + torch.einsum("btc,cj->bctj", self.skate_embedding(index_t), self.joint_person_embedding)
        else:
            x = x + self.joint_person_temporal_embedding
        return self.forward_head(self.forward_features(x))

    def _check_input(self, x: torch.Tensor, index_t: torch.Tensor) -> None:
        """Shapes at the boundary, with the numbers in the message."""
        expected = (self.in_channels + self.extra_channels, self.num_points, self.num_people)
        if x.ndim != 5 or (x.shape[1], x.shape[3], x.shape[4]) != expected:
            raise ValueError(f"SkateFormer expects (B, C={expected[0]}, T, V={expected[1]}, M={expected[2]}) input, "
                             f"got {tuple(x.shape)}")
        if self.index_t and tuple(index_t.shape) != (x.shape[0], x.shape[2]):
            raise ValueError(f"index_t must be (B, T) = {(x.shape[0], x.shape[2])}, got {tuple(index_t.shape)}")
        length = x.shape[2]
        for s, stage in enumerate(self.stages):
            if s > 0 and len(stage.blocks) > 0:
                length = (length + 1) // 2  # stride-2 downsampling, ⌈T/2⌉
            bad = [size[0] for size in self.type_sizes if length % size[0]]
            if bad:
                raise ValueError(f"T={x.shape[2]} gives {length} frames at stage {s}, not divisible by the "
                                 f"partition frames {bad}; use T = a multiple of "
                                 f"{max(size[0] for size in self.type_sizes) * 2 ** (len(self.stages) - 1)}")


def _check_sizes(depths, channels, num_heads, embed_dim, num_joints, type_sizes, global_pool) -> None:
    """Constructor constraints of the official code, as one-line errors."""
    if len(depths) != len(channels):
        raise ValueError(f"depths {tuple(depths)} and channels {tuple(channels)} must have the same length")
    if num_heads % 8:
        raise ValueError(f"num_heads must be a multiple of 8 (4 Skate-Types × q/k/v halves), got {num_heads}")
    bad = [c for c in channels if c % num_heads]
    if bad:
        raise ValueError(f"every stage width must be divisible by num_heads={num_heads}; bad: {bad}")
    if embed_dim % 2:
        raise ValueError(f"embed_dim must be even (sin/cos pairs), got {embed_dim}")
    bad = [size for size in type_sizes if num_joints % size[1]]
    if bad:
        raise ValueError(f"J = num_points·num_people = {num_joints} is not divisible by the partition joint sizes "
                         f"of {bad}")
    if global_pool not in ("avg", "max"):
        raise ValueError(f"global_pool must be 'avg' or 'max', got {global_pool!r}")


def load_official_skateformer(model: SkateFormer,
                              path_or_sd: str | Path | Mapping[str, torch.Tensor]) -> SkateFormer:
    """Load an official SkateFormer state_dict (``pretrained/*/SkateFormer_*.pt``) into `model`, strictly.

    Strips a ``module.`` prefix; raises ValueError with one line listing missing/unexpected keys or shape
    mismatches (with the constructor argument that explains them). Returns `model`.
    """
    state_dict, origin = read_checkpoint(path_or_sd, family="SkateFormer", strip_prefixes=("module.",), wrappers=(),
                                         download="unpack the official pretrained.zip: KAIST-VICLab/SkateFormer README")
    if model.extra_channels:
        raise ValueError(f"{origin}: official SkateFormer weights take coordinates alone; the model has "
                         f"extra_channels={model.extra_channels} (action.input other than xy): build it with "
                         "extra_channels=0")
    load_state_dict_strict(model, state_dict, source=origin,
                           hint="check depths, rel, index_t, channels, embed_dim, num_points·num_people, num_classes, "
                                "type_*_size")
    logger.info("loaded SkateFormer weights from %s (%d keys)", origin, len(state_dict))
    return model

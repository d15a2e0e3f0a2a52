"""GraphMLP: a graph MLP-like architecture for 2D → 3D human pose lifting.

Li et al., "GraphMLP: A Graph MLP-Like Architecture for 3D Human Pose Estimation", Pattern Recognition 2025
(arXiv:2206.06420). Official code: ``Vegetebird/GraphMLP: model/graphmlp.py``, ``model/block/mlp_gcn.py``,
``model/block/graph_frames.py``; arguments and recipe: ``common/arguments.py``, ``main.py``.

Module and parameter names are the official ones, so the released checkpoints load with ``strict=True``
through :func:`load_official_graphmlp`. The adjacency ``A`` (4, J, J) is a frozen parameter shared by the
model, every block (``adj``) and every GCN (``adj``), and therefore saved under all of those names.

Legend: B batch, T frames, J joints, C channels.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange
from timm.layers import DropPath, Mlp

from dataloader.h36m import NUM_JOINTS, PARENTS
from models._checkpoint import load_state_dict_strict, read_checkpoint
from models.GraphMLP.graph import spatial_adjacency

logger = logging.getLogger(__name__)

GRAPHMLP_PRESETS = {
    # official sizes (README / common/arguments.py); 'frames' is the receptive field T
    "T1": dict(frames=1, layers=3, channel=512, d_hid=1024, token_dim=256),
    "T27": dict(frames=27, layers=3, channel=512, d_hid=1024, token_dim=256),
    "T81": dict(frames=81, layers=3, channel=512, d_hid=1024, token_dim=256),
    "T243": dict(frames=243, layers=3, channel=512, d_hid=1024, token_dim=256),
    # same module tree and key names, CPU-sized (models.md "Tiny CPU presets")
    "tiny": dict(frames=1, layers=2, channel=32, d_hid=64, token_dim=16),
    "small9": dict(frames=9, layers=3, channel=64, d_hid=128, token_dim=32),  # quick profile: 156k parameters, a wider lifter learns several times faster per epoch than tiny27
    "tiny27": dict(frames=27, layers=2, channel=32, d_hid=64, token_dim=16),
}


class Gcn(nn.Module):
    """Spatial graph convolution: (B, C, 1, J) → (B, C_out, 1, J), out[w] = Σ_k Σ_v conv(x)_k[v] · A_k[v, w].

    ``conv`` is the official 1×1 ``nn.Conv2d`` (its weight and key), applied as the linear map over channels it
    is: the same numbers up to float rounding, and a 1.3× faster GraphMLP training step on one CPU thread than
    the 1×1 convolution (oneDNN's convolution is slow at this shape: B × 1 × 17 positions).
    """

    def __init__(self, in_channels: int, out_channels: int, adj: nn.Parameter):
        super().__init__()
        self.adj = adj  # shared (K, J, J) parameter, registered here too (official key `gcn_*.adj`)
        self.kernel_size = adj.size(0)
        self.conv = nn.Conv2d(in_channels, out_channels * self.kernel_size, kernel_size=(1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = rearrange(x, "b c 1 v -> b v c")  # (B, J, C)
        x = F.linear(x, self.conv.weight.flatten(1), self.conv.bias)  # (B, J, K·C): conv(x), channel index k·C + c
        x = rearrange(x, "b v (k c) -> b v k c", k=self.kernel_size)  # (B, J, K, C)
        return torch.einsum("nvkc,kvw->ncw", x, self.adj).unsqueeze(2)  # (B, C, 1, J)


class MlpLN(nn.Module):
    """Token-mixing MLP of the multi-frame model (official ``Mlp_ln``): LayerNorm after each Linear.

    Keys ``fc1.0`` (Linear), ``fc1.1`` (LayerNorm, eps 1e-5), ``fc2.0``, ``fc2.1``.
    """

    def __init__(self, in_features: int, hidden_features: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Sequential(nn.Linear(in_features, hidden_features), nn.LayerNorm(hidden_features))
        self.act = nn.GELU()
        self.fc2 = nn.Sequential(nn.Linear(hidden_features, in_features), nn.LayerNorm(in_features))
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Block(nn.Module):
    """One MLP-GCN block on (B, J, C): a spatial half (mixes joints) and a channel half (mixes channels).

    Each half is x ← x + DropPath(MLP(norm(x)) + GCN(norm(x))). The spatial half works on (B, C, J), so
    its LayerNorm ``norm1`` and MLP ``mlp_1`` act over the joint axis.
    """

    def __init__(self, *, length: int, frames: int, dim: int, tokens_dim: int, channels_dim: int,
                 adj: nn.Parameter, drop: float = 0.0, drop_path: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(length, eps=1e-6)
        self.gcn_1 = Gcn(dim, dim, adj)
        self.gcn_2 = Gcn(dim, dim, adj)
        self.adj = adj
        if frames == 1:
            self.mlp_1 = Mlp(in_features=length, hidden_features=tokens_dim, drop=drop)
        else:
            self.mlp_1 = MlpLN(in_features=length, hidden_features=tokens_dim, drop=drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp_2 = Mlp(in_features=dim, hidden_features=channels_dim, drop=drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # spatial graph MLP
        x = rearrange(x, "b j c -> b c j")
        y = self.norm1(x)
        y_gcn = rearrange(self.gcn_1(rearrange(y, "b c j -> b c 1 j")), "b c 1 j -> b c j")
        x = x + self.drop_path(self.mlp_1(y) + y_gcn)  # (B, C, J)
        # channel graph MLP
        x = rearrange(x, "b c j -> b j c")
        y = self.norm2(x)
        y_gcn = rearrange(self.gcn_2(rearrange(y, "b j c -> b c 1 j")), "b c 1 j -> b j c")
        return x + self.drop_path(self.mlp_2(y) + y_gcn)  # (B, J, C)


class MlpGcn(nn.Module):
    """The stack of blocks and the final LayerNorm (official ``Mlp_gcn``; keys ``blocks.i.*``, ``norm``)."""

    def __init__(self, *, depth: int, embed_dim: int, channels_dim: int, tokens_dim: int, adj: nn.Parameter,
                 length: int, frames: int, drop_rate: float = 0.1, drop_path_rate: float = 0.2):
        super().__init__()
        dpr = torch.linspace(0, drop_path_rate, depth, device="cpu").tolist()  # stochastic depth per block
        self.blocks = nn.ModuleList([
            Block(length=length, frames=frames, dim=embed_dim, tokens_dim=tokens_dim, channels_dim=channels_dim,
                  adj=adj, drop=drop_rate, drop_path=dpr[i])
            for i in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


class GraphMLP(nn.Module):
    """2D pose window (B, T, J, 2 + E) → 3D pose of the centre frame (B, 1, J, 3).

    Input: normalised screen coordinates (``dataloader.camera.normalize_screen_coordinates``), T = `frames`
    consecutive frames centred on the target frame, followed by E = `extra_channels` per-joint channels (the 2D
    uncertainty of ``utils.codecs.uncertainty``; E = 0 officially). Output: root-relative camera-frame 3D in
    metres (the official training target; the root row is not forced to 0).

    Args:
        frames: T, input frames (1, 27, 81, 243 officially).
        layers: number of MLP-GCN blocks.
        channel: embedding width C.
        d_hid: hidden width of the channel MLP.
        token_dim: hidden width of the joint-mixing MLP.
        n_joints: J; must equal the skeleton of ``dataloader.h36m`` (the graph is built from it).
        out_joints: output joints; the official code ignores it (outputs n_joints rows), so it must equal n_joints.
        drop_rate: dropout in every MLP (fixed at 0.1 in the official code).
        drop_path_rate: largest stochastic-depth rate, spread linearly over the blocks (official 0.2).
        extra_channels: E, input channels per joint beyond (x, y); only ``embedding``'s in-features grow, from
            2·T to (2 + E)·T, so every other parameter keeps its official shape (0: the official model).
    """

    def __init__(self, *, frames: int = 1, layers: int = 3, channel: int = 512, d_hid: int = 1024,
                 token_dim: int = 256, n_joints: int = NUM_JOINTS, out_joints: int = NUM_JOINTS,
                 drop_rate: float = 0.1, drop_path_rate: float = 0.2, extra_channels: int = 0):
        super().__init__()
        if n_joints != len(PARENTS) or out_joints != n_joints:
            raise ValueError(f"GraphMLP's graph is the {len(PARENTS)}-joint Human3.6M skeleton: n_joints and "
                             f"out_joints must be {len(PARENTS)}, got n_joints={n_joints}, out_joints={out_joints}")
        if frames < 1 or frames % 2 == 0:
            raise ValueError(f"frames must be a positive odd number (a window centred on the target), got {frames}")
        if extra_channels < 0:
            raise ValueError(f"extra_channels must be ≥ 0, got {extra_channels}")
        self.frames = frames
        self.n_joints = n_joints
        self.in_channels = 2 + extra_channels
        self.A = nn.Parameter(torch.as_tensor(spatial_adjacency(), dtype=torch.float32), requires_grad=False)
        self.embedding = nn.Linear(self.in_channels * frames, channel)
        self.mlp_gcn = MlpGcn(depth=layers, embed_dim=channel, channels_dim=d_hid, tokens_dim=token_dim,
                              adj=self.A, length=n_joints, frames=frames, drop_rate=drop_rate,
                              drop_path_rate=drop_path_rate)
        self.head = nn.Linear(channel, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1:] != (self.frames, self.n_joints, self.in_channels):
            raise ValueError(f"GraphMLP expects (B, {self.frames}, {self.n_joints}, {self.in_channels}) input, "
                             f"got {tuple(x.shape)}")
        x = rearrange(x, "b f j c -> b j (c f)")  # (B, J, (2+E)·T): all x over time, then all y, then each extra
        x = self.embedding(x)  # (B, J, C)
        x = self.mlp_gcn(x)  # (B, J, C)
        x = self.head(x)  # (B, J, 3)
        return rearrange(x, "b j c -> b 1 j c")  # (B, 1, J, 3)


def load_official_graphmlp(model: GraphMLP, path_or_sd: str | Path | Mapping[str, torch.Tensor]) -> GraphMLP:
    """Load an official (or the original study's DataParallel) GraphMLP state_dict into `model`, strictly.

    Strips a ``module.`` prefix, checks that the checkpoint's receptive field, depth and adjacency match the
    model, then ``load_state_dict(strict=True)``. Raises ValueError with one line naming what differs.
    Returns `model`.
    """
    state_dict, origin = read_checkpoint(path_or_sd, family="GraphMLP", strip_prefixes=("module.",), wrappers=(),
                                         download="download the official weights: Vegetebird/GraphMLP README")
    if model.in_channels != 2:
        raise ValueError(f"{origin}: official GraphMLP weights take (x, y) input; the model has extra_channels="
                         f"{model.in_channels - 2} (lifting.input other than xy): build it with extra_channels=0")
    embedding = state_dict.get("embedding.weight")
    if embedding is not None and embedding.shape[1] != 2 * model.frames:
        raise ValueError(f"{origin}: checkpoint was trained with frames={embedding.shape[1] // 2}, model has "
                         f"frames={model.frames}; build GraphMLP(frames={embedding.shape[1] // 2}, ...)")
    ckpt_layers = len({k.split(".")[2] for k in state_dict if k.startswith("mlp_gcn.blocks.")})
    if ckpt_layers and ckpt_layers != len(model.mlp_gcn.blocks):
        raise ValueError(f"{origin}: checkpoint has layers={ckpt_layers}, model has "
                         f"layers={len(model.mlp_gcn.blocks)}; build GraphMLP(layers={ckpt_layers}, ...)")
    adjacency = state_dict.get("A")
    if adjacency is not None and adjacency.shape == model.A.shape and model.A.device.type != "meta" \
            and not torch.allclose(adjacency.to(model.A.dtype), model.A.detach().cpu(), atol=1e-6):
        raise ValueError(f"{origin}: checkpoint adjacency 'A' differs from the Human3.6M graph "
                         f"(models/GraphMLP/graph.py); it was trained on another skeleton")
    load_state_dict_strict(model, state_dict, source=origin, hint="check channel, d_hid, token_dim")
    logger.info("loaded GraphMLP weights from %s (%d keys)", origin, len(state_dict))
    return model

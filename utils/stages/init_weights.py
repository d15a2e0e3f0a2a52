"""Starting weights of a 2D pose network from a file: `pose2d.init` / `pose2d.hourglass_init` (train2D.py) and
`prob.init` (train2D_prob_pose.py).

The kind of file is read from its keys (README, "Pretrained weights", says where each official file comes from):

- ``ours``: a ``model.pt`` / ``last.pt`` of this framework (``model``, ``model_name``, ``model_kwargs``): the same
  family and preset, loaded whole; of a TIC-TAC run (``Probabilistic_<family>``), the pose network of its TIC
  method (else its first), kind ``ours-probabilistic`` (its heatmaps already peak at ``prob.heatmap_peak``);
- ``mmpose``: a released ViTPose (``ViTAE-Transformer/ViTPose``, mmcv's ``{'state_dict': {'backbone.*',
  'keypoint_head.*'}, 'meta'}``);
- ``mae``: an MAE ImageNet encoder (``facebookresearch/mae`` ``mae_pretrain_vit_*.pth``: ``{'model': {'cls_token',
  'pos_embed', 'patch_embed.*', 'blocks.*', 'norm.*'}}``), loaded into the ViTPose backbone as ViTPose's own
  ``mmcv_custom/checkpoint.py`` does: the position embedding resized bicubically from the square pre-training grid
  to the model's (slot 0 kept), a smaller patch kernel (ViT-H/14) zero-padded to 16×16, ``cls_token`` and the
  encoder's final ``norm`` left out (ViTPose's ``last_norm`` keeps its initialisation), no head;
- ``hourglass``: a princeton-vl Stacked Hourglass (``princeton-vl/pytorch_stacked_hourglass``
  ``checkpoint.pth.tar``: ``{'state_dict': {'model.module.pre.*', …}}``).

Everything but the joint layers loads with strict key and shape matching. The joint layers depend on the joint
set (COCO's 17, MPII's 16, Human3.6M's 17 in another order): an official file never has the Human3.6M joints, so
its joint layers are re-initialised (ViTPose ``keypoint_head.final_layer``; Hourglass ``outs.*`` and the
``merge_preds.*`` that read their heatmaps), and one log line says what was loaded and what was not. A file of
another family or size is refused with one line naming both architectures.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from models._checkpoint import load_state_dict_strict, read_checkpoint
from models.pose2d import POSE_PRESETS
from utils.engine.checkpoint import CheckpointError

logger = logging.getLogger(__name__)

DOCS = "README, 'Pretrained weights'"
KINDS = {"ours": "a checkpoint of this framework", "mmpose": "an official ViTPose (mmpose)",
         "mae": "an MAE ViT encoder (facebookresearch/mae)", "hourglass": "an official Stacked Hourglass (princeton-vl)"}
FAMILY_OF_KIND = {"mmpose": "ViTPose", "mae": "ViTPose", "hourglass": "Hourglass"}
# Keys of released files that belong to no module of ours (models.md: MAE leftovers, multi-task heads).
_VITPOSE_EXTRAS = ("backbone.cls_token",)
_VITPOSE_EXTRA_PREFIXES = ("associate_keypoint_heads.",)
_MAE_EXTRAS = ("cls_token", "mask_token", "norm.weight", "norm.bias")
_MAE_EXTRA_PREFIXES = ("decoder_",)
OFFICIAL_JOINT_SETS = {17: "COCO's 17 joints", 16: "MPII's 16 joints"}


@dataclass(frozen=True)
class InitReport:
    """What `initialise` did: the kind of file, whether the joint layers came from it, the log line."""
    kind: str
    head_loaded: bool
    message: str
    heatmap_peak: float | None = None   # ours-probabilistic: the TIC-TAC run's prob.heatmap_peak (its heatmaps' scale)


def initialise(model: nn.Module, kwargs: dict, path: str | Path, *, key: str) -> InitReport:
    """Load the starting weights of the 2D pose network `model` (built from `kwargs`: name, preset, num_joints)
    from `path`, the file config key `key` names; logs one line saying what was loaded.

    Raises:
        CheckpointError: a missing or unreadable file, a file of no known kind, or of another family or size,
            with one line naming the file, both architectures and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{key}={path}: file not found; download it ({DOCS}), train it, or set {key}= for "
                              f"random weights")
    try:
        with torch.serialization.safe_globals(_numpy_scalars()):
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, pickled objects weights_only refuses, garbage bytes
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{key}={path}: cannot read the file ({reason}); download it again ({DOCS}) or set "
                              f"{key}= for random weights") from None
    if isinstance(loaded, Mapping) and "model_name" in loaded and "model" in loaded:
        report = _load_ours(model, kwargs, loaded, path, key)
    else:
        report = _load_official(model, kwargs, loaded, path, key)
    logger.info(report.message)
    return report


def _numpy_scalars() -> list:
    """NumPy scalar types the `meta` of an mmcv checkpoint may hold (a best score, an epoch): plain numbers that
    `weights_only=True` would otherwise refuse. Nothing executable is allowed."""
    import numpy as np

    core = getattr(np, "_core", None) or np.core
    return [core.multiarray.scalar, np.dtype, *(getattr(np.dtypes, n) for n in
                                              ("Float64DType", "Float32DType", "Int64DType", "Int32DType", "BoolDType")
                                              if hasattr(np, "dtypes") and hasattr(np.dtypes, n))]


def file_kind(state_dict: Mapping[str, torch.Tensor]) -> str | None:
    """'mmpose', 'mae' or 'hourglass' from the keys of an official state dict (prefixes stripped), else None."""
    if "backbone.patch_embed.proj.weight" in state_dict and "keypoint_head.final_layer.weight" in state_dict:
        return "mmpose"
    if "patch_embed.proj.weight" in state_dict and "blocks.0.attn.qkv.weight" in state_dict:
        return "mae"
    if "pre.0.conv.weight" in state_dict and "outs.0.conv.weight" in state_dict:
        return "hourglass"
    return None


def _load_ours(model, kwargs, ckpt, path, key) -> InitReport:
    name, theirs, state, kind = ckpt["model_name"], ckpt.get("model_kwargs") or {}, ckpt["model"], "ours"
    origin, peak = "ours", None
    if name == f"Probabilistic_{kwargs['name']}" and isinstance(theirs.get("pose"), dict):
        # a TIC-TAC run of ours (train2D_prob_pose.py): the pose network of its TIC method (else its first)
        methods = list(theirs.get("methods") or [])
        method = "TIC" if "TIC" in methods else methods[0] if methods else ""
        prefix = f"models.{method}.pose_model."
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        name, theirs, kind = kwargs["name"], theirs["pose"], "ours-probabilistic"
        origin = f"ours, the {method} method's pose network of a TIC-TAC run"
        peak = float(((ckpt.get("config") or {}).get("prob") or {}).get("heatmap_peak") or 0) or None
    if name != kwargs["name"] or theirs.get("preset") != kwargs["preset"]:
        raise CheckpointError(f"{key}={path} holds our {name} preset {theirs.get('preset')!r}, the model is "
                              f"{kwargs['name']} preset {kwargs['preset']!r}; give a file of the same model and "
                              f"preset, or change the preset (pose2d.vitpose_preset / pose2d.hourglass_preset)")
    if theirs.get("num_joints") != kwargs["num_joints"]:
        raise CheckpointError(f"{key}={path} holds {theirs.get('num_joints')} joints, the model "
                              f"{kwargs['num_joints']}; every model of this framework predicts the 17 Human3.6M joints")
    try:
        load_state_dict_strict(model, state, source=str(path))
    except ValueError as exc:
        raise CheckpointError(f"{key}: {exc}") from None
    return InitReport(kind, True, f"{key}: {kwargs['name']} loaded whole from {path} ({origin}, preset "
                                  f"{kwargs['preset']!r}, the 17 Human3.6M joints)", heatmap_peak=peak)


def _official_state_dict(loaded, path, key) -> dict[str, torch.Tensor]:
    try:
        state_dict, _ = read_checkpoint(loaded, family="official")
    except ValueError as exc:
        raise CheckpointError(f"{key}={path}: {str(exc).replace('official checkpoint <state dict>', 'the file')}") \
            from None
    for prefix in ("model.module.", "module.", "model."):  # DataParallel / princeton-vl Trainer wrappers
        if all(k.startswith(prefix) for k in state_dict):
            return {k[len(prefix):]: v for k, v in state_dict.items()}
    return state_dict


def _load_official(model, kwargs, loaded, path, key) -> InitReport:
    state_dict = _official_state_dict(loaded, path, key)
    kind = file_kind(state_dict)
    if kind is None:
        raise CheckpointError(f"{key}={path} is neither a checkpoint of this framework nor an official ViTPose "
                              f"(mmpose), MAE ViT or Stacked Hourglass (princeton-vl) file (first keys: "
                              f"{', '.join(list(state_dict)[:3])}); see {DOCS}")
    family = FAMILY_OF_KIND[kind]
    model_desc = _describe_model(model, kwargs)
    if family != kwargs["name"]:
        raise CheckpointError(f"{key}={path} holds {_describe_file(kind, state_dict)}, the model is {model_desc}; "
                              f"give a {kwargs['name']} file, or train the {family} (model_2D_prediction / "
                              f"model_prob_pose)")
    if kind == "hourglass":
        return _load_hourglass(model, kwargs, state_dict, path, key, model_desc)
    return _load_vitpose(model, kwargs, state_dict, path, key, kind, model_desc)


# --- ViTPose ----------------------------------------------------------------------------------------------------

def _vit_arch(embed_dim: int, depth: int, tokens: int) -> str:
    name = next((p for p, a in POSE_PRESETS["ViTPose"].items()
                 if a["embed_dim"] == embed_dim and a["depth"] == depth), None)
    label = f"ViTPose-{name}" if name in ("S", "B", "L", "H") else f"ViTPose preset {name!r}" if name else "ViT"
    return f"{label} (embed_dim {embed_dim}, depth {depth}, {tokens} patches)"


def _depth(state_dict, prefix: str) -> int:
    return 1 + max((int(k[len(prefix):].split(".")[0]) for k in state_dict if k.startswith(prefix)), default=-1)


def _file_head(sd) -> tuple[str, tuple[int, ...]]:
    """('classic' | 'simple', deconvolution filters) of an mmpose state dict."""
    filters = tuple(sd[f"keypoint_head.deconv_layers.{3 * i}.weight"].shape[1]
                    for i in range(4) if f"keypoint_head.deconv_layers.{3 * i}.weight" in sd)
    return ("simple" if sd["keypoint_head.final_layer.weight"].shape[-1] == 3 else "classic"), filters


def _model_head(model) -> tuple[str, tuple[int, ...]]:
    head = model.keypoint_head
    filters = tuple(m.out_channels for m in head.deconv_layers.modules() if isinstance(m, nn.ConvTranspose2d))
    return ("simple" if head.final_layer.kernel_size[0] == 3 else "classic"), filters


def _describe_file(kind: str, sd: Mapping[str, torch.Tensor]) -> str:
    if kind == "hourglass":
        joints, channels = sd["outs.0.conv.weight"].shape[:2]
        return (f"a Stacked Hourglass (princeton-vl; {_depth(sd, 'outs.')} stacks, inp_dim {channels}, "
                f"{OFFICIAL_JOINT_SETS.get(joints, f'{joints} joints')})")
    prefix = "backbone." if kind == "mmpose" else ""
    embed_dim, depth = sd[prefix + "pos_embed"].shape[-1], _depth(sd, prefix + "blocks.")
    tokens = sd[prefix + "pos_embed"].shape[1] - 1
    if kind == "mae":
        return f"an MAE encoder {_vit_arch(embed_dim, depth, tokens)}"
    final = sd["keypoint_head.final_layer.weight"]
    head, filters = _file_head(sd)
    return (f"an mmpose {_vit_arch(embed_dim, depth, tokens)} with the {head} head {filters} and "
            f"{OFFICIAL_JOINT_SETS.get(final.shape[0], f'{final.shape[0]} joints')}")


def _describe_model(model, kwargs) -> str:
    if kwargs["name"] == "Hourglass":
        return (f"Hourglass preset {kwargs['preset']!r} ({model.nstack} stacks, inp_dim {model.feature_channels}): "
                f"pose2d.hourglass_preset")
    backbone = model.backbone
    head, filters = _model_head(model)
    return (f"ViTPose preset {kwargs['preset']!r} (embed_dim {backbone.embed_dim}, depth {len(backbone.blocks)}, "
            f"{backbone.patch_embed.num_patches} patches, {head} head {filters}): pose2d.vitpose_preset")


def resize_pos_embed(pos_embed: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """(1, 1 + g², C) position embedding of a square g×g pre-training grid → (1, 1 + Hp·Wp, C): slot 0 (the class
    slot) kept, the grid resized bicubically (align_corners=False) to (Hp, Wp) and flattened row-major, as ViTPose's
    ``mmcv_custom/checkpoint.py`` does for MAE weights."""
    tokens, channels = pos_embed.shape[1] - 1, pos_embed.shape[2]
    side = round(tokens ** 0.5)
    if side * side != tokens:
        raise ValueError(f"pos_embed {tuple(pos_embed.shape)} is not 1 + a square grid of tokens")
    if (side, side) == tuple(grid):
        return pos_embed
    tokens_2d = pos_embed[:, 1:].reshape(1, side, side, channels).permute(0, 3, 1, 2).float()
    resized = F.interpolate(tokens_2d, size=tuple(grid), mode="bicubic", align_corners=False)
    return torch.cat([pos_embed[:, :1], resized.permute(0, 2, 3, 1).flatten(1, 2).to(pos_embed.dtype)], dim=1)


def _mae_to_backbone(sd: dict, backbone) -> tuple[dict, str]:
    """An MAE encoder state dict → our ViT's keys (what ViTPose's MAE loading does); returns it and a note."""
    sd = {k: v for k, v in sd.items() if k not in _MAE_EXTRAS and not k.startswith(_MAE_EXTRA_PREFIXES)}
    notes = []
    weight = sd["patch_embed.proj.weight"]
    kernel = tuple(backbone.patch_embed.proj.weight.shape[2:])
    if tuple(weight.shape[2:]) != kernel and weight.shape[2] <= kernel[0]:
        pad = kernel[0] - weight.shape[2]
        sd["patch_embed.proj.weight"] = F.pad(weight, (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2))
        notes.append(f"patch kernel {weight.shape[2]}×{weight.shape[3]} zero-padded to {kernel[0]}×{kernel[1]}")
    pos = sd["pos_embed"]
    grid = backbone.patch_embed.patch_shape
    if pos.shape[-1] == backbone.embed_dim and pos.shape[1] != backbone.pos_embed.shape[1]:
        side = round((pos.shape[1] - 1) ** 0.5)
        sd["pos_embed"] = resize_pos_embed(pos, grid)
        notes.append(f"pos_embed {side}×{side} → {grid[0]}×{grid[1]} bicubic")
    for name, value in backbone.last_norm.state_dict().items():  # MAE's `norm` is not ViTPose's `last_norm`
        sd[f"last_norm.{name}"] = value
    notes.append("last_norm initialised as in ViTPose")
    return sd, ", ".join(notes)


def _load_vitpose(model, kwargs, sd, path, key, kind, model_desc) -> InitReport:
    backbone = model.backbone
    prefix = "backbone." if kind == "mmpose" else ""
    pos = sd[prefix + "pos_embed"]
    file_arch = (pos.shape[-1], _depth(sd, prefix + "blocks."))
    if file_arch != (backbone.embed_dim, len(backbone.blocks)) or (kind == "mmpose" and (
            pos.shape != backbone.pos_embed.shape or _file_head(sd) != _model_head(model))):
        raise CheckpointError(f"{key}={path} holds {_describe_file(kind, sd)}, the model is {model_desc}; choose "
                              f"the file's size ({DOCS}) or another file")
    desc = _describe_file(kind, sd)
    try:
        if kind == "mae":
            backbone_sd, note = _mae_to_backbone(sd, backbone)
            load_state_dict_strict(backbone, backbone_sd, source=str(path))
            model.keypoint_head.init_weights()
            message = (f"{key}: ViTPose backbone loaded strictly from {path} ({desc}; {note}); keypoint_head "
                       f"initialised at random (the file has none)")
            return InitReport(kind, False, message)
        sd = {k: v for k, v in sd.items() if k not in _VITPOSE_EXTRAS and not k.startswith(_VITPOSE_EXTRA_PREFIXES)}
        head_keys = [k for k in model.state_dict() if k.startswith("keypoint_head.final_layer.")]
        own = model.state_dict()
        sd = {**{k: v for k, v in sd.items() if k not in head_keys}, **{k: own[k] for k in head_keys}}
        load_state_dict_strict(model, sd, source=str(path))
    except ValueError as exc:
        raise CheckpointError(f"{key}: {exc}") from None
    final = model.keypoint_head.final_layer
    nn.init.normal_(final.weight, std=0.001)  # the head's own initialisation (TopdownHeatmapSimpleHead)
    nn.init.zeros_(final.bias)
    message = (f"{key}: ViTPose loaded strictly from {path} ({desc}) except keypoint_head.final_layer, "
               f"re-initialised for the {kwargs['num_joints']} Human3.6M joints")
    return InitReport(kind, False, message)


# --- Stacked Hourglass ------------------------------------------------------------------------------------------

def _hourglass_head_keys(names) -> list[str]:
    """The joint layers: each stack's heatmap conv `outs.s` and the `merge_preds.s` conv that reads its heatmaps."""
    return [k for k in names if k.startswith(("outs.", "merge_preds."))]


def _load_hourglass(model, kwargs, sd, path, key, model_desc) -> InitReport:
    channels = sd["outs.0.conv.weight"].shape[1]
    desc = _describe_file("hourglass", sd)
    if (_depth(sd, "outs."), channels) != (model.nstack, model.feature_channels):
        raise CheckpointError(f"{key}={path} holds {desc}, the model is {model_desc}; choose the file's size "
                              f"({DOCS}) or another file")
    own = model.state_dict()
    head = _hourglass_head_keys(own)
    sd = {**{k: v for k, v in sd.items() if k not in _hourglass_head_keys(sd)}, **{k: own[k] for k in head}}
    try:
        load_state_dict_strict(model, sd, source=str(path))
    except ValueError as exc:
        raise CheckpointError(f"{key}: {exc}") from None
    for out in model.outs:  # PyTorch's default Conv2d initialisation, as PoseNet is built
        out.conv.reset_parameters()
    for merge in model.merge_preds:
        merge.conv.conv.reset_parameters()
    message = (f"{key}: Hourglass loaded strictly from {path} ({desc}) except outs.* and merge_preds.*, "
               f"re-initialised for the {kwargs['num_joints']} Human3.6M joints")
    return InitReport("hourglass", False, message)

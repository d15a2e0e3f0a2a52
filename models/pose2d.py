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

This module also holds the checkpoint-reading helpers shared by the official-weight converters.
"""
from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
import torch.nn as nn

from models.stacked_hourglass import HOURGLASS_PRESETS, PoseNet
from models.vit_pose import VITPOSE_PRESETS, ViTPose

logger = logging.getLogger(__name__)


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


# --- checkpoints of the official implementations ----------------------------------------------

_WRAPPERS = ("state_dict", "model", "module")


def read_checkpoint(path_or_state_dict: str | Path | Mapping[str, torch.Tensor], *,
                    strip_prefixes: tuple[str, ...] = ()) -> tuple[dict[str, torch.Tensor], str]:
    """Read a checkpoint file (``weights_only=True``) or take a dict; unwrap and strip key prefixes.

    A ``state_dict`` / ``model`` / ``module`` entry holding a dict is unwrapped (mmcv and DataParallel-era
    files); the first of ``strip_prefixes`` that every key starts with is removed from all keys.

    Returns:
        (state dict name → tensor, a name of the source for messages).
    """
    if isinstance(path_or_state_dict, Mapping):
        checkpoint, source = path_or_state_dict, "<state dict>"
    else:
        path = Path(path_or_state_dict)
        source = str(path)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path} does not exist; check the path (download the official "
                                    f"weights first)")
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # truncated zip, not a torch file, disallowed pickled objects…
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ValueError(f"cannot read checkpoint {path}: {reason[:200]}; the file is truncated or corrupt "
                             f"(download it again), or holds non-tensor objects (re-save its state_dict with "
                             f"torch.save)") from error
    for _ in range(2):  # at most two wrapper levels, e.g. {'model': {'state_dict': …}}
        wrapper = next((w for w in _WRAPPERS if isinstance(checkpoint, Mapping)
                        and isinstance(checkpoint.get(w), Mapping)), None)
        if wrapper is None:
            break
        checkpoint = checkpoint[wrapper]
    if not isinstance(checkpoint, Mapping) or not checkpoint:
        raise ValueError(f"checkpoint {source} holds no state dict (expected a dict of tensors, possibly under "
                         f"one of {', '.join(_WRAPPERS)})")
    bad = next((k for k, v in checkpoint.items() if not isinstance(v, torch.Tensor)), None)
    if bad is not None:
        raise ValueError(f"checkpoint {source}: entry {bad!r} is a {type(checkpoint[bad]).__name__}, not a tensor; "
                         f"expected a state dict, possibly under one of {', '.join(_WRAPPERS)}")
    state_dict = dict(checkpoint)
    for prefix in strip_prefixes:
        if all(k.startswith(prefix) for k in state_dict):
            state_dict = {k[len(prefix):]: v for k, v in state_dict.items()}
            break
    return state_dict, source


def load_state_dict_strict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], *, source: str,
                           hint: str = "", shown: int = 3) -> None:
    """``model.load_state_dict(state_dict, strict=True)`` with a one-line error naming the first missing,
    unexpected and mis-shaped keys (and ``hint``, the likely architectural cause)."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [f"{k} {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}"
              for k in own if k in state_dict and state_dict[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = [f"{len(keys)} {what} (first: {', '.join(keys[:shown])})"
                 for what, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                                    ("keys of another shape, checkpoint vs model", shapes)) if keys]
        raise ValueError(f"checkpoint {source} does not fit {type(model).__name__}: "
                         f"{hint + '; ' if hint else ''}{'; '.join(parts)}")
    model.load_state_dict(state_dict, strict=True)

"""Reading the checkpoints of the official implementations, shared by the four model families.

Each family's ``load_official_*`` converts keys and checks the architecture; what they share lives here:
reading a file with ``weights_only=True`` (or taking a dict already loaded), unwrapping the containers the
official training scripts save (``{'state_dict': …}``, ``{'model': …}``, DataParallel's ``module.``
prefix) and a strict ``load_state_dict`` whose error names the first missing, unexpected and mis-shaped
keys. Checkpoints written by this framework (model, optimiser, RNG states…) load through
``utils.engine.checkpoint.load_checkpoint`` instead. Private to ``models``: imports torch only.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn as nn

WRAPPERS = ("state_dict", "model", "module")


def read_checkpoint(path_or_state_dict: str | Path | Mapping[str, torch.Tensor], *, family: str = "",
                    download: str = "download the official weights first",
                    strip_prefixes: tuple[str, ...] = (),
                    wrappers: tuple[str, ...] = WRAPPERS) -> tuple[dict[str, torch.Tensor], str]:
    """Read a checkpoint file (``weights_only=True``) or take a dict; unwrap and strip key prefixes.

    Args:
        path_or_state_dict: a checkpoint file or an already loaded dict.
        family: the model family, for messages (e.g. 'GraphMLP').
        download: where the official weights come from, for the message of a missing file.
        strip_prefixes: the first of these that every key starts with is removed from all keys.
        wrappers: entries holding the state dict (at most two levels, e.g. ``{'model': {'state_dict': …}}``,
            mmcv and DataParallel-era files); ``()`` accepts a bare state dict only.

    Returns:
        (state dict name → tensor, a name of the source for messages).
    """
    what = f"{family} checkpoint" if family else "checkpoint"
    if isinstance(path_or_state_dict, Mapping):
        checkpoint, source = path_or_state_dict, "<state dict>"
    else:
        path = Path(path_or_state_dict)
        source = str(path)
        if not path.is_file():
            raise FileNotFoundError(f"{what} {path} not found; check the path ({download})")
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # truncated zip, not a torch file, disallowed pickled objects…
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ValueError(f"cannot read {what} {path}: {reason[:200]}; the file is truncated or corrupt "
                             f"(download it again), or holds non-tensor objects (re-save its state_dict with "
                             f"torch.save)") from error
    for _ in range(2):
        wrapper = next((w for w in wrappers if isinstance(checkpoint, Mapping)
                        and isinstance(checkpoint.get(w), Mapping)), None)
        if wrapper is None:
            break
        checkpoint = checkpoint[wrapper]
    expected = (f"expected a state dict (name → tensor), possibly under one of {', '.join(wrappers)}" if wrappers
                else "expected a plain state dict (name → tensor)")
    framework = "; framework checkpoints load through utils.engine.checkpoint.load_checkpoint"
    if not isinstance(checkpoint, Mapping) or not checkpoint:
        raise ValueError(f"{what} {source} holds no state dict ({expected}){framework}")
    bad = next((k for k, v in checkpoint.items() if not isinstance(v, torch.Tensor)), None)
    if bad is not None:
        raise ValueError(f"{what} {source}: entry {bad!r} is a {type(checkpoint[bad]).__name__}, not a tensor; "
                         f"{expected}{framework}")
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

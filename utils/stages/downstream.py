"""Downstream models (GraphMLP lifting, SkateFormer action recognition): builders, steps, schedules.

`main.py` and `get3Dprediction.py` stay thin by taking everything model-specific from here:
a builder that maps the configuration to the model's official keyword arguments, the training and
evaluation steps used by ``utils.engine.training.fit``, and the learning-rate schedules of the papers.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from config import SPLITS  # action recognition: cross-subject and cross-view (`action.splits` picks among them)
from dataloader.h36m import ACTIONS, ROOT
from dataloader.lifting_dataset import flip_2d, flip_3d
from models.registry import family
from utils.codecs.uncertainty import EXTRA_CHANNELS, mode_of


def sequence_keys(cfg, data, subjects):
    """(subject, sequence, camera) of every sequence of `subjects` and every configured camera that has 2D."""
    return [(k.subject, k.sequence, c) for k in data.sequences(subjects=subjects) for c in cfg.data.cameras
            if c in data.cameras_of(k)]


# --- builders -------------------------------------------------------------------------------

def input_mode(cfg) -> str:
    """The downstream model's input channels: `action.input` for SkateFormer, `lifting.input` for GraphMLP."""
    return getattr(cfg, family(cfg.model_3D_prediction).task).input


def checkpoint_input_mode(model_kwargs: dict) -> str:
    """The input channels a downstream checkpoint was trained on, from its stored kwargs (none stored: xy)."""
    return mode_of(model_kwargs.get("extra_channels", 0))


def _channels(input: str) -> dict:
    extra = EXTRA_CHANNELS[input]
    return {"extra_channels": extra} if extra else {}  # xy: the official kwargs, unchanged


def build_model(name: str, preset: str, input: str = "xy"):
    """(model, kwargs) of the downstream family `name` (GraphMLP, SkateFormer) at `preset`, with the input
    channels of `input`; kwargs rebuild it (they go into the checkpoint)."""
    fam = family(name)
    presets = fam.preset_table()
    if preset not in presets:
        raise SystemExit(f"{fam.task}.preset={preset!r} is not a {name} preset; valid: {', '.join(presets)}")
    kwargs = dict(presets[preset], **_channels(input))
    if fam.task == "action" and kwargs.get("num_classes") != len(ACTIONS):
        raise SystemExit(f"action.preset={preset!r} has {kwargs.get('num_classes')} classes; Human3.6M needs "
                         f"{len(ACTIONS)} (use the h36m or tiny preset)")
    return fam.model_class()(**kwargs), kwargs


def build_downstream(cfg):
    """(model, kwargs, receptive field T) of `cfg.model_3D_prediction`, with the input channels of :func:`input_mode`."""
    fam = family(cfg.model_3D_prediction)
    section = getattr(cfg, fam.task)
    model, kwargs = build_model(fam.name, section.preset, section.input)
    return model, kwargs, kwargs[fam.window]


# --- lifting ------------------------------------------------------------------------------

def predict_3d(model, inputs: torch.Tensor, test_flip: bool) -> torch.Tensor:
    """(B, T, J, C) → (B, J, 3) root-relative metres; optional flip test-time averaging.

    As the official GraphMLP (``Vegetebird/GraphMLP: main.py``, ``test``: ``output_3D[:, :, args.root_joint] = 0``)
    the root joint of the prediction is set to 0 and the other joints are kept as predicted; the predicted
    root is not subtracted from them. The training loss (:func:`lifting_train_step`) compares all joints,
    root included, with the root-relative target (root = 0), as the official ``train``.
    """
    pred = model(inputs)[:, 0]  # (B, J, 3)
    if test_flip:
        pred = 0.5 * (pred + flip_3d(model(flip_2d(inputs))[:, 0]))
    root = torch.arange(pred.shape[-2], device=pred.device) == ROOT  # (J,)
    return pred.masked_fill(root[:, None], 0.0)


def lifting_train_step(model, batch):
    from utils.metrics import mpjpe

    pred = model(batch["inputs"])[:, 0]
    loss = mpjpe(pred.float(), batch["target"])
    return loss, {"mpjpe_mm": loss.item() * 1000}, len(pred)


def make_lifting_eval_step(test_flip: bool):
    def step(model, batch):
        from utils.metrics import mpjpe

        pred = predict_3d(model, batch["inputs"], test_flip).float()
        return {"mpjpe_mm": mpjpe(pred, batch["target"]).item() * 1000}, len(pred)
    return step


def graphmlp_lr_lambda(decay: float, halve_every: int):
    """Official GraphMLP schedule: after epoch e (1-based), ×0.5 if e % k == 0 else ×decay."""
    def factor(epochs_done: int) -> float:
        return math.prod(0.5 if e % halve_every == 0 else decay for e in range(1, epochs_done + 1))
    return factor


# --- action recognition ---------------------------------------------------------------------

def to_skateformer_input(inputs: torch.Tensor) -> torch.Tensor:
    """(B, T, 17, C) → (B, C, T, V, M=1) in SkateFormer's part-major joint layout (C = 2 + the extra channels)."""
    from models.SkateFormer.partition import to_skateformer_layout

    x = to_skateformer_layout(inputs)           # (B, T, V, C)
    return x.permute(0, 3, 1, 2).unsqueeze(-1)  # (B, C, T, V, 1)


def make_action_train_step(label_smoothing: float):
    def step(model, batch):
        logits = model(to_skateformer_input(batch["inputs"]), batch["index_t"]).float()
        loss = F.cross_entropy(logits, batch["label"], label_smoothing=label_smoothing)
        acc = (logits.argmax(1) == batch["label"]).float().mean().item()
        return loss, {"top1": acc}, len(logits)
    return step


def action_eval_step(model, batch):
    logits = model(to_skateformer_input(batch["inputs"]), batch["index_t"]).float()
    return {"loss": F.cross_entropy(logits, batch["label"]).item(),
            "top1": (logits.argmax(1) == batch["label"]).float().mean().item()}, len(logits)


def warmup_cosine_lambda(total_steps: int, warmup_steps: int, min_factor: float = 0.01):
    """Per-step factor: linear warm-up, then cosine to `min_factor` (SkateFormer's recipe shape)."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(warmup_steps, 1)
        t = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
        return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
    return factor

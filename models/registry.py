"""Every model family of the framework, by the name the configuration uses: the one place a family name
is mapped to its class, its presets, the task it serves and the configuration keys it reads.

The stage builders (``utils.stages``), the downstream checkpoint loader and the bench look a family up
here instead of branching on its name. Classes are imported on first use, so reading the table costs
nothing and no model module imports this one back.

    >>> family("Hourglass").task
    'pose2d'
    >>> pose2d_setting(cfg, "Hourglass", "epochs")   # pose2d.hourglass_epochs when set, else pose2d.epochs
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """One model family.

    name: the configuration's name (``model_2D_prediction`` / ``model_3D_prediction``).
    module, cls, presets: where the class and its preset table (preset → constructor kwargs) live.
    task: ``pose2d`` (2D estimator), ``lifting`` or ``action``; a downstream family reads the
        configuration section of that name (``lifting.preset``, ``action.input``, …).
    own_keys: 2D families only, the prefix of the ``pose2d`` keys that override the shared ones for this
        family (``hourglass_`` → ``pose2d.hourglass_epochs`` over ``pose2d.epochs``); "" = none.
    preset_key: 2D families only, the ``pose2d`` key naming the preset.
    window: downstream families only, the constructor kwarg holding the frames a sample spans.
    """
    name: str
    module: str
    cls: str
    presets: str
    task: str
    own_keys: str = ""
    preset_key: str = ""
    window: str = ""

    def model_class(self) -> type:
        return getattr(importlib.import_module(self.module), self.cls)

    def preset_table(self) -> dict[str, dict]:
        return getattr(importlib.import_module(self.module), self.presets)


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("ViTPose", "models.vit_pose", "ViTPose", "VITPOSE_PRESETS", "pose2d", preset_key="vitpose_preset"),
    Family("Hourglass", "models.stacked_hourglass", "PoseNet", "HOURGLASS_PRESETS", "pose2d",
           own_keys="hourglass_", preset_key="hourglass_preset"),
    Family("GraphMLP", "models.GraphMLP", "GraphMLP", "GRAPHMLP_PRESETS", "lifting", window="frames"),
    Family("SkateFormer", "models.SkateFormer", "SkateFormer", "SKATEFORMER_PRESETS", "action", window="num_frames"),
)}


def family(name: str) -> Family:
    """The family called `name`; KeyError naming the valid ones otherwise."""
    if name not in FAMILIES:
        raise KeyError(f"unknown model family {name!r}; valid: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def pose2d_setting_key(cfg, name: str, key: str) -> str:
    """The ``pose2d`` key the 2D family `name` reads for `key`: its own ``<own_keys><key>`` when that is set
    (non-zero, non-empty), else the shared `key` (``Hourglass``, ``epochs`` → ``hourglass_epochs`` if set)."""
    prefix = family(name).own_keys
    return prefix + key if prefix and getattr(cfg.pose2d, prefix + key, None) else key


def pose2d_setting(cfg, name: str, key: str):
    """`pose2d.<key>` as the 2D family `name` trains with (:func:`pose2d_setting_key`)."""
    return getattr(cfg.pose2d, pose2d_setting_key(cfg, name, key))


def pose2d_preset(cfg, name: str) -> str:
    """The preset the 2D family `name` is built with (`pose2d.vitpose_preset` / `pose2d.hourglass_preset`)."""
    return getattr(cfg.pose2d, family(name).preset_key)


def pose2d_init_file(cfg, name: str):
    """The file the 2D family `name` starts from (a Path; None for random weights): `pose2d.hourglass_init` for the
    Hourglass when set (``random``: random weights), else `pose2d.init`; a relative path is relative to the repo.

    Here, beside the other per-family settings, so that the study's planner reads it without importing a model."""
    from config import resolve_path

    init = pose2d_setting(cfg, name, "init")
    return None if init in ("", "random") else resolve_path(init)

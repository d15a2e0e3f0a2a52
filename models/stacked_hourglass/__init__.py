"""Stacked Hourglass (princeton-vl PoseNet, official key names): presets and checkpoint loader."""
from .posenet import HOURGLASS_PRESETS, Conv, Hourglass, Merge, PoseNet, Residual, load_official_hourglass

__all__ = ["HOURGLASS_PRESETS", "Conv", "Hourglass", "Merge", "PoseNet", "Residual", "load_official_hourglass"]

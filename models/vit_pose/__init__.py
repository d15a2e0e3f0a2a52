"""ViTPose (official architecture and key names): backbone, heatmap head, presets, checkpoint loader."""
from .head import TopdownHeatmapSimpleHead
from .vit import VITPOSE_PRESETS, PatchEmbed, ViT, ViTPose, load_official_vitpose

__all__ = ["VITPOSE_PRESETS", "PatchEmbed", "TopdownHeatmapSimpleHead", "ViT", "ViTPose", "load_official_vitpose"]

"""SkateFormer skeleton action recognition (official architecture and parameter names) and the Human3.6M layout."""
from models.SkateFormer.partition import NUM_POINTS, skate_type_sizes, to_skateformer_layout
from models.SkateFormer.skateformer import SKATEFORMER_PRESETS, SkateFormer, load_official_skateformer

__all__ = ["NUM_POINTS", "SKATEFORMER_PRESETS", "SkateFormer", "load_official_skateformer", "skate_type_sizes",
           "to_skateformer_layout"]

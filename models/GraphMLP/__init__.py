"""GraphMLP 2D → 3D lifting (official architecture and parameter names)."""
from models.GraphMLP.graphmlp import GRAPHMLP_PRESETS, GraphMLP, load_official_graphmlp

__all__ = ["GRAPHMLP_PRESETS", "GraphMLP", "load_official_graphmlp"]

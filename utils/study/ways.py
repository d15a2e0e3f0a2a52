"""The ways a downstream model can use the probabilistic 2D source, compared side by side
(`compare.uncertainty_comparison`).

A probabilistic estimator gives a mean pose and a covariance Σ. A downstream model can use it in four ways, each
one downstream training run on the Probabilistic artifact:

| way | trained on | input channels |
|---|---|---|
| mean only | ProbabilisticMean (the means, never sampled) | xy |
| samples | Probabilistic (a fresh draw of N(μ, Σ) per window read) | xy |
| uncertainty input | ProbabilisticMean | `compare.uncertainty_input` (xy+cov or xy+conf) |
| samples + uncertainty input | Probabilistic | `compare.uncertainty_input` |

Each is evaluated on every source of the model's table: the Probabilistic means with their Σ, and the
deterministic sources with the constant "no uncertainty" channels (utils.codecs.uncertainty). The first two are
the ProbabilisticMean and Probabilistic rows of the main tables (the same runs when those list them).
"""
from __future__ import annotations

from dataclasses import dataclass

TASKS = {"GraphMLP": "lifting", "SkateFormer": "action"}  # downstream model → its configuration section


@dataclass(frozen=True)
class Way:
    name: str     # how the tables and the summary name it
    source: str   # the training 2D source (model_2D_prediction)
    input: str    # lifting.input / action.input


def ways(cfg) -> list[Way]:
    """The four ways of using the Probabilistic source, with `compare.uncertainty_input` as the uncertainty channels."""
    u = cfg.compare.uncertainty_input
    return [Way("mean only", "ProbabilisticMean", "xy"), Way("samples", "Probabilistic", "xy"),
            Way(f"uncertainty input ({u})", "ProbabilisticMean", u),
            Way(f"samples + uncertainty input ({u})", "Probabilistic", u)]


def compared_models(cfg) -> list[str]:
    """The downstream models of `compare.uncertainty_comparison`, in the study's order (GraphMLP, SkateFormer)."""
    return [m for m in TASKS if m in cfg.compare.uncertainty_comparison]

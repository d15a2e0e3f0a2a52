"""The comparison tables: train-source × eval-source matrices as markdown, CSV and a heatmap figure."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def heatmap_figure(path: Path, matrix: np.ndarray, row_labels: list[str], col_labels: list[str], title: str,
                   unit: str, lower_is_better: bool = True, digits: int = 1) -> None:
    """A train × eval matrix as an annotated colour map (missing cells blank)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.6 + 1.55 * len(col_labels), 1.2 + 0.62 * len(row_labels)))
    masked = np.ma.masked_invalid(matrix)
    cmap = plt.get_cmap("viridis_r" if lower_is_better else "viridis").with_extremes(bad="#eeeeee")
    im = ax.imshow(masked, cmap=cmap, aspect="auto")
    finite = matrix[np.isfinite(matrix)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            v = matrix[i, j]
            if np.isfinite(v):
                dark = (v > mid) if lower_is_better else (v < mid)
                ax.text(j, i, f"{v:.{digits}f}", ha="center", va="center", fontsize=10,
                        color="white" if dark else "black")
    ax.set_xticks(range(len(col_labels)), col_labels, rotation=20, ha="right")
    ax.set_yticks(range(len(row_labels)), row_labels)
    ax.set_xlabel("evaluated on (2D source)")
    ax.set_ylabel("trained on (2D source)")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label=unit, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def calibration_figure(path: Path, curves: dict[str, dict]) -> None:
    """3D quantile calibration (cGNF): per curve, the fraction of ground-truth joints within the q-quantile
    of the samples against q (solid), and the same for a sample in place of the ground truth (dotted: a
    calibrated lifter at this number of samples); the diagonal is calibration with many samples.

    curves: label → dict(quantiles, fraction, fraction_calibrated, ece, samples_per_curve)
    (``utils.metrics.leave_one_out_calibration``).
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 4.8))
    ax.plot([0, 1], [0, 1], ls="--", c="0.6", lw=1, label="diagonal")
    colours = plt.get_cmap("tab10")
    for i, (label, c) in enumerate(curves.items()):
        ax.plot(c["quantiles"], c["fraction"], c=colours(i), lw=2, label=f"trained on {label} (ECE {c['ece']:.3f})")
        ax.plot(c["quantiles"], c["fraction_calibrated"], c=colours(i), lw=1, ls=":")
    k = sorted({c["samples_per_curve"] for c in curves.values()})
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("quantile level q")
    ax.set_ylabel("fraction of ground-truth joints within the q-quantile")
    ax.set_title(f"3D calibration of the lifted Probabilistic samples ({', '.join(map(str, k))} samples per curve)\n"
                 "dotted: a sample in place of the ground truth (a calibrated lifter)", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

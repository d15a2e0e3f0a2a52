"""Stage 6c: predicted vs ground-truth 3D skeletons of the lifter, one sample per action, two views.

Reads the GraphMLP evaluation selected by the study's switches,
checkpoint/<experiment>/eval/GraphMLP_<model_2D_prediction>[_noise<s>]_on_<model_2D_dataset>/
(predictions_3d.npy, targets_3d.npy: (N, J, 3) camera frame, root-relative, metres; index.npy;
metrics.json), and draws for each action one frame (vis.frames[0], default the middle of its first
sequence of vis.subjects / vis.cameras) from the front (the camera's view) and the side, with
up = −y so people stand upright; the title gives the frame's MPJPE in mm.
Writes figures/pose3d_GraphMLP_<train source>_on_<eval source>.png.

    python visualisation3D.py model_2D_prediction=ViTPose model_2D_dataset=GroundTruth
    python visualisation3D.py model_2D_prediction=Probabilistic model_2D_dataset=Probabilistic vis.frames=[100]
"""
from __future__ import annotations

import logging

import numpy as np

from dataloader.h36m import canonical_action
from utils.engine import layout
from utils import visualisation as vis
from utils.engine.cli import run, setup
from utils.metrics import mpjpe

logger = logging.getLogger("visualisation3D")
MODEL = "GraphMLP"  # the 2D → 3D lifter; SkateFormer (actions) has no 3D output


def one_per_action(groups: dict, keys: list, index: np.ndarray, frames: list) -> list[tuple[tuple, int]]:
    """(key, row) for the first key of each action: the row of frames[0] if present, else the middle row."""
    chosen, seen = [], set()
    for key in keys:
        action = canonical_action(key[1])
        if action in seen:
            continue
        seen.add(action)
        rows = groups[key]
        match = rows[index[rows, 3] == frames[0]] if frames else rows[:0]
        chosen.append((key, int(match[0]) if len(match) else int(rows[len(rows) // 2])))
    return chosen


def draw_sample(subfig, prediction: np.ndarray, target: np.ndarray, title: str) -> None:
    axes = [subfig.add_subplot(1, 2, i + 1, projection="3d") for i in range(2)]
    for ax, view in zip(axes, ("front", "side")):
        vis.draw_pose_3d(ax, target, ground_truth=True)
        vis.draw_pose_3d(ax, prediction)
        vis.setup_axes_3d(ax, [prediction, target], view=view)
        ax.set_title(f"{view} view", fontsize=8, pad=0)
    subfig.suptitle(f"{title}\nMPJPE {mpjpe(prediction, target) * 1000:.1f} mm", fontsize=9)


def main(argv):
    cfg, _, _ = setup(argv)
    path, ev = vis.require_evaluation(cfg, MODEL)
    index = ev["index"]
    groups = vis.group_rows(index, ev["metrics"]["sequences"])
    fix = f"evaluate them with `{ev['command']}`"
    keys = vis.filter_sequences(groups, vis.default_subjects(cfg), cfg.vis.actions, cfg.vis.cameras,
                                f"the evaluation {path}", fix)
    samples = sorted(one_per_action(groups, keys, index, cfg.vis.frames), key=lambda s: canonical_action(s[0][1]))

    rows, columns = vis.grid_shape(len(samples))
    fig = vis.new_figure(6.4 * columns, 3.6 * rows + 1.0, dpi=cfg.vis.dpi)
    subfigs = np.atleast_1d(fig.subfigures(rows, columns, squeeze=False)).ravel()
    for subfig, ((subject, sequence, cam), row) in zip(subfigs, samples):
        title = f"{canonical_action(sequence)}: {subject} · {sequence} · cam {cam} · frame {int(index[row, 3])}"
        draw_sample(subfig, ev["predictions"][row], ev["targets"][row], title)
    train_tag = layout.source_tag(cfg.model_2D_prediction, cfg.noise_std, cfg.lifting.input)
    overall = ev["metrics"].get("mpjpe_mm")
    summary = f" (action-wise MPJPE {overall:.1f} mm)" if isinstance(overall, (int, float)) else ""
    fig.suptitle(f"{MODEL} trained on {train_tag}, evaluated on {cfg.model_2D_dataset}{summary}\n"
                 f"prediction (coloured) vs ground truth (black, dashed); camera frame, root-relative", fontsize=11)
    vis.add_legend(fig, vis.side_legend_handles(ground_truth="3d"), ncol=4, fontsize=9)
    name = f"pose3d_{MODEL}_{train_tag}_on_{cfg.model_2D_dataset}"
    out = layout.figures_dir(cfg) / vis.figure_name(name, cfg.vis.tag)
    vis.save_figure(fig, out)
    logger.info("%d actions of %s written to %s", len(samples), path.name, out)


if __name__ == "__main__":
    run(main, reads=("model_2D_prediction", "model_2D_dataset", "model_3D_prediction", "noise_std", "vis"))

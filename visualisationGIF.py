"""Stage 6d: a GIF of one test sequence: the video frame with the 2D input of the lifter beside the
lifted 3D skeleton and the ground truth.

Reads the GraphMLP evaluation selected by the switches (as visualisation3D.py) and the 2D source it
was evaluated on, model_2D_dataset: the ground truth, or that source's artifact (with the 1σ / 2σ
ellipses of every joint for Probabilistic). The sequence is the first of vis.subjects (default the
test subjects), vis.actions and vis.cameras; it starts at vis.frames[0] (default 0) and takes every
vis.frame_step-th frame, at most vis.max_frames, at vis.fps frames per second.
Writes figures/sequence_GraphMLP_<train source>_on_<eval source>_<subject>_<sequence>_cam<c>.gif.

    python visualisationGIF.py model_2D_prediction=Probabilistic model_2D_dataset=Probabilistic
    python visualisationGIF.py vis.subjects=[S11] vis.actions=[Walking] vis.max_frames=100 vis.frame_step=2
"""
from __future__ import annotations

import logging

import imageio.v3 as iio
import numpy as np

from dataloader.crop_dataset import read_frame
from dataloader.reader import load_human36m
from utils.engine import layout
from utils import visualisation as vis
from utils.engine.cli import run, setup
from utils.metrics import mean_joint_error_2d, mpjpe

logger = logging.getLogger("visualisationGIF")
MODEL = "GraphMLP"


def clip_rows(cfg, ev, key, groups) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the evaluation and their frame numbers for the clip (start, step, cap from vis.*)."""
    rows = groups[key]
    frames = ev["index"][rows, 3]
    start = cfg.vis.frames[0] if cfg.vis.frames else int(frames[0])
    keep = np.flatnonzero(frames >= start)[::max(cfg.vis.frame_step, 1)][:cfg.vis.max_frames]
    if not len(keep):
        raise SystemExit(f"error: {key[0]} {key[1]!r} camera {key[2]} has no frame ≥ {start} (vis.frames); "
                         f"its frames are {int(frames.min())}..{int(frames.max())}")
    return rows[keep], frames[keep]


def source_2d(cfg, key, frames: np.ndarray):
    """(keypoints (T, J, 2) or None for GroundTruth, covariances (T, 2J, 2J) or None) of the evaluation source."""
    if cfg.model_2D_dataset == "GroundTruth":
        return None, None
    art = vis.require_artifact(cfg, cfg.model_2D_dataset)
    rows = art.sequences().get(key)
    by_frame = dict(zip(art.index[rows, 3].tolist(), rows.tolist())) if rows is not None else {}
    missing = [int(f) for f in frames if int(f) not in by_frame]
    if missing:
        raise SystemExit(f"error: {art.path} has no prediction for {key[0]} {key[1]!r} camera {key[2]} frame "
                         f"{missing[0]}; re-create it with `{layout.prediction_command(cfg.model_2D_dataset)}` "
                         f"(data.frame_stride 1) or choose other frames with vis.frames / vis.frame_step")
    picked = [by_frame[int(f)] for f in frames]
    return art.keypoints[picked], (art.covariance[picked] if art.probabilistic else None)


def make_figure(cfg, title: str):
    """A figure of fixed size with fixed axes (every GIF frame alike): the 2D crop left, the 3D skeleton right,
    and a text line above each that the frames update."""
    fig = vis.new_figure(9.0, 5.2, dpi=cfg.vis.dpi, engine=None)
    ax2d = fig.add_axes((0.06, 0.21, 0.40, 0.66))
    ax3d = fig.add_axes((0.52, 0.19, 0.44, 0.70), projection="3d")
    titles = (fig.text(0.26, 0.885, "", ha="center", fontsize=9), fig.text(0.74, 0.885, "", ha="center", fontsize=9))
    fig.suptitle(title, fontsize=10)
    return fig, ax2d, ax3d, titles


def main(argv):
    cfg, _, _ = setup(argv)
    path, ev = vis.require_evaluation(cfg, MODEL)
    groups = vis.group_rows(ev["index"], ev["metrics"]["sequences"])
    fix = f"evaluate them with `{ev['command']}`"
    key = vis.filter_sequences(groups, vis.default_subjects(cfg), cfg.vis.actions, cfg.vis.cameras,
                               f"the evaluation {path}", fix)[0]
    subject, sequence, cam = key
    train_tag = layout.source_tag(cfg.model_2D_prediction, cfg.noise_std, cfg.lifting.input)
    rows, frames = clip_rows(cfg, ev, key, groups)
    predicted, covariances = source_2d(cfg, key, frames)
    data = load_human36m(cfg.data_root, cfg.data.frame_template, subjects=[subject])
    truth_2d = data.positions_2d[subject][sequence][cam][frames]
    shown_2d = truth_2d if predicted is None else predicted
    poses, targets = ev["predictions"][rows], ev["targets"][rows]
    camera = data.camera(subject, cam)
    boxes = [vis.crop_box([shown_2d[t], truth_2d[t]] + ([] if covariances is None else
                                                        [vis.ellipse_corners(shown_2d[t], covariances[t])]))
             for t in range(len(frames))]
    side = max(size for _, size in boxes)  # one box size for the clip: no zoom pumping

    fig, ax2d, ax3d, titles = make_figure(cfg, f"{subject} · {sequence} · cam {cam}: {MODEL} trained on {train_tag}, "
                                               f"2D input {cfg.model_2D_dataset}")
    image = vis.show_crop(ax2d, np.zeros((cfg.vis.panel_size, cfg.vis.panel_size, 3), np.uint8), (0, 1, 1, 0))
    ax2d.set_xticks([])  # the crop follows the person: moving pixel ticks would only flicker
    ax2d.set_yticks([])
    ax2d.set_xlabel("crop around the person (full-frame pixels)", fontsize=8)
    ax2d.set_ylabel("")
    gt_2d = vis.draw_pose_2d(ax2d, truth_2d[0], ground_truth=True) if predicted is not None else []
    ellipses = vis.draw_ellipses(ax2d, shown_2d[0], covariances[0]) if covariances is not None else []
    pose_2d = vis.draw_pose_2d(ax2d, shown_2d[0])
    gt_3d = vis.draw_pose_3d(ax3d, targets[0], ground_truth=True)
    pose_3d = vis.draw_pose_3d(ax3d, poses[0])
    vis.setup_axes_3d(ax3d, list(poses) + list(targets), view="oblique")
    handles = vis.side_legend_handles(ground_truth=None, prediction="")
    handles += [vis.ground_truth_handle("2d", "2D ground truth")] if gt_2d else []
    handles += [vis.ground_truth_handle("3d", "3D ground truth")] + (vis.ellipse_legend_handles() if ellipses else [])
    vis.add_legend(fig, handles, ncol=3 if ellipses else 5, fontsize=7.5, loc="lower center")

    images = []
    for t, frame in enumerate(frames):
        crop, extent = vis.person_crop(read_frame(data.frame_path((subject, sequence), cam, int(frame))),
                                       (camera.res_w, camera.res_h), boxes[t][0], side, cfg.vis.panel_size)
        image.set_data(vis.dim_image(crop))
        image.set_extent(extent)
        ax2d.set_xlim(extent[0], extent[1])
        ax2d.set_ylim(extent[2], extent[3])
        vis.update_pose_2d(pose_2d, shown_2d[t])
        if gt_2d:
            vis.update_pose_2d(gt_2d, truth_2d[t])
        if ellipses:
            vis.update_ellipses(ellipses, shown_2d[t], covariances[t])
        vis.update_pose_3d(pose_3d, poses[t])
        vis.update_pose_3d(gt_3d, targets[t])
        error_2d = "" if predicted is None else f" · error {mean_joint_error_2d(shown_2d[t], truth_2d[t]):.1f} px"
        titles[0].set_text(f"frame {int(frame)} · 2D input: {cfg.model_2D_dataset}{error_2d}")
        titles[1].set_text(f"lifted 3D · MPJPE {mpjpe(poses[t], targets[t]) * 1000:.1f} mm")
        images.append(vis.figure_to_rgb(fig))

    name = f"sequence_{MODEL}_{train_tag}_on_{cfg.model_2D_dataset}_{subject}_{sequence}_cam{cam}"
    out = layout.figures_dir(cfg) / vis.figure_name(name, cfg.vis.tag, suffix=".gif")
    out.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(out, np.stack(images), extension=".gif", duration=1000.0 / cfg.vis.fps, loop=0)
    logger.info("wrote %s (%d frames, %d × %d px, %.3g fps)", out, len(images), images[0].shape[1],
                images[0].shape[0], cfg.vis.fps)


if __name__ == "__main__":
    run(main, reads=("model_2D_prediction", "model_2D_dataset", "model_3D_prediction", "noise_std", "data", "vis"))

"""Stage 6a: a grid of video frames with the predicted 2D skeleton of a 2D source over the ground truth.

Reads the 2D prediction artifact checkpoint/<experiment>/predictions/<source>/ (source = vis.source,
default model_2D_prediction) and the frames of the data root; each panel is a crop around the person,
upscaled to vis.panel_size pixels, titled with subject, sequence, camera, frame (0-based row) and the
frame's mean 2D joint error in pixels. Samples are chosen by vis.subjects (default the test subjects),
vis.actions, vis.cameras and vis.frames (default vis.num_samples frames spread over the sequences).
Writes checkpoint/<experiment>/figures/pose2d_<source>.png.

    python visualisation2D.py
    python visualisation2D.py vis.source=Hourglass vis.subjects=[S9] vis.actions=[Walking,Eating] vis.frames=[0,60]
"""
from __future__ import annotations

import logging

from config import SOURCES_2D
from dataloader.crop_dataset import read_frame
from dataloader.h36m import CAMERA_IDS
from dataloader.reader import load_human36m
from utils.engine import layout
from utils import visualisation as vis
from utils.engine.cli import run, setup
from utils.metrics import mean_joint_error_2d

logger = logging.getLogger("visualisation2D")


def draw_panel(ax, data, key, frame: int, prediction, panel_size: int) -> None:
    """One panel: the upscaled person crop of a frame, the (J, 2) prediction over the ground truth."""
    subject, sequence, cam = key
    ground_truth = data.positions_2d[subject][sequence][cam][frame]
    camera = data.camera(subject, cam)
    image = read_frame(data.frame_path((subject, sequence), cam, frame))
    center, side = vis.crop_box([prediction, ground_truth])
    crop, extent = vis.person_crop(image, (camera.res_w, camera.res_h), center, side, panel_size)
    vis.show_crop(ax, crop, extent)
    vis.draw_pose_2d(ax, ground_truth, ground_truth=True)
    vis.draw_pose_2d(ax, prediction)
    ax.set_title(f"{subject} · {sequence} · cam {cam} ({CAMERA_IDS[cam]}) · frame {frame}\n"
                 f"2D error {mean_joint_error_2d(prediction, ground_truth):.1f} px", fontsize=8)


def main(argv):
    cfg, _, _ = setup(argv)
    source = cfg.vis.source or cfg.model_2D_prediction
    predicted = [s for s in SOURCES_2D if s != "GroundTruth"]
    if source not in predicted:
        raise SystemExit(f"error: visualisation2D.py draws a predicted 2D source against the ground truth; "
                         f"set vis.source to one of {', '.join(predicted)} (got {source!r})")
    art = vis.require_artifact(cfg, source)
    groups = art.sequences()
    keys = vis.filter_sequences(groups, vis.default_subjects(cfg), cfg.vis.actions, cfg.vis.cameras,
                                f"the {source} artifact {art.path}",
                                f"predict them with `{layout.prediction_command(source)}`")
    samples = vis.choose_samples(groups, keys, lambda rows: art.index[rows, 3], cfg.vis.frames, cfg.vis.num_samples)
    data = load_human36m(cfg.data_root, cfg.data.frame_template, subjects=sorted({k[0] for k, _ in samples}))

    rows, columns = vis.grid_shape(len(samples))
    fig = vis.new_figure(3.3 * columns, 3.5 * rows + 0.9, dpi=cfg.vis.dpi)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, (key, row) in zip(axes, samples):
        draw_panel(ax, data, key, int(art.index[row, 3]), art.keypoints[row], cfg.vis.panel_size)
    for ax in axes[len(samples):]:
        ax.set_axis_off()
    method = f", {art.meta['method']}" if art.meta.get("method") else ""
    fig.suptitle(f"{source}{method} 2D predictions (coloured) vs ground truth (white, dashed), "
                 f"experiment '{cfg.experiment}'", fontsize=10)
    vis.add_legend(fig, vis.side_legend_handles(prediction=source))
    out = layout.figures_dir(cfg) / vis.figure_name(f"pose2d_{source}", cfg.vis.tag)
    vis.save_figure(fig, out)
    logger.info("%d panels of %s predictions written to %s", len(samples), source, out)


if __name__ == "__main__":
    run(main, reads=("model_2D_prediction", "data", "vis"))

"""Stage 6b: what the probabilistic 2D estimator says about each joint (the study's Figure 1).

Reads the Probabilistic artifact checkpoint/<experiment>/predictions/Probabilistic/ (mean (N, J, 2) and
covariance (N, 2J, 2J) in full-frame pixels) and draws, on a crop of each chosen frame: the mean
skeleton, the 1σ and 2σ ellipses of every joint's 2×2 marginal covariance, vis.pose_samples poses
drawn from the full covariance (so correlated joints move together) and the ground truth; the title
gives the 2D error and the mean σ (per joint √(trace Σ_j / 2), averaged over the joints). With
vis.correlation, a second figure shows the joint correlation matrix of the first frame and its mean
over the artifact's frames of the chosen subjects. Samples are chosen as in visualisation2D.py.
Writes figures/pose2d_probabilistic.png and figures/pose2d_probabilistic_correlation.png.

    python visualisation2Dprobpose.py
    python visualisation2Dprobpose.py vis.actions=[Sitting] vis.frames=[40] vis.pose_samples=8
"""
from __future__ import annotations

import logging

import numpy as np

from dataloader.crop_dataset import read_frame
from dataloader.h36m import CAMERA_IDS
from dataloader.reader import load_human36m
from utils.engine import layout
from utils import visualisation as vis
from utils.engine.cli import run, setup
from utils.metrics import mean_joint_error_2d

logger = logging.getLogger("visualisation2Dprobpose")
SOURCE = "Probabilistic"
MAX_CORRELATION_FRAMES = 2000  # frames averaged for the mean correlation (evenly spaced)


def draw_panel(ax, data, key, frame: int, mean, covariance, num_poses: int, panel_size: int, rng) -> None:
    """One panel: poses sampled from N(mean, Σ), the 1σ/2σ ellipses, the ground truth and the mean skeleton."""
    subject, sequence, cam = key
    ground_truth = data.positions_2d[subject][sequence][cam][frame]
    camera = data.camera(subject, cam)
    image = read_frame(data.frame_path((subject, sequence), cam, frame))
    poses = vis.sample_poses(mean, covariance, num_poses, rng)
    center, side = vis.crop_box([mean, ground_truth, vis.ellipse_corners(mean, covariance)], margin=1.15)
    crop, extent = vis.person_crop(image, (camera.res_w, camera.res_h), center, side, panel_size)
    vis.show_crop(ax, crop, extent, dim=0.4)
    for pose in poses:
        vis.draw_pose_2d(ax, pose, colour=vis.SAMPLE_COLOUR, linewidth=1.0, alpha=0.6, markersize=0, zorder=2)
    vis.draw_ellipses(ax, mean, covariance)
    vis.draw_pose_2d(ax, ground_truth, ground_truth=True)
    vis.draw_pose_2d(ax, mean, markersize=2.5)
    sigma = np.sqrt(np.trace(vis.marginal_covariances(covariance), axis1=-2, axis2=-1) / 2).mean()
    ax.set_title(f"{subject} · {sequence} · cam {cam} ({CAMERA_IDS[cam]}) · frame {frame}\n"
                 f"2D error {mean_joint_error_2d(mean, ground_truth):.1f} px · mean σ {sigma:.1f} px", fontsize=8)


def correlation_figure(cfg, art, first: tuple, rows: np.ndarray):
    """Correlation matrix of the frame `first` = (key, row) and its mean over `rows`."""
    (subject, sequence, cam), row = first
    step = max(1, len(rows) // MAX_CORRELATION_FRAMES)
    mean = vis.correlation_matrix(art.covariance[rows[::step]]).mean(0)
    fig = vis.new_figure(11.5, 5.6, dpi=cfg.vis.dpi)
    axes = fig.subplots(1, 2)
    panels = ((vis.correlation_matrix(art.covariance[row]),
               f"{subject} · {sequence} · cam {cam} · frame {int(art.index[row, 3])}"),
              (mean, f"mean over {len(rows[::step])} frames of {', '.join(vis.default_subjects(cfg))}"))
    for ax, (matrix, title) in zip(axes, panels):
        image = vis.draw_correlation(ax, matrix)
        ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=axes, shrink=0.8, label="correlation coefficient")
    fig.suptitle("Joint correlation of the predicted 2D covariance (each joint a 2×2 block of x, y)", fontsize=10)
    return fig


def main(argv):
    cfg, _, _ = setup(argv)
    art = vis.require_artifact(cfg, SOURCE)
    if not art.probabilistic:
        raise SystemExit(f"error: {art.path} has no covariance_2d.npy; re-create it with "
                         f"`{layout.prediction_command(SOURCE)}`")
    groups = art.sequences()
    subjects = vis.default_subjects(cfg)
    keys = vis.filter_sequences(groups, subjects, cfg.vis.actions, cfg.vis.cameras, f"the {SOURCE} artifact {art.path}",
                                f"predict them with `{layout.prediction_command(SOURCE)}`")
    samples = vis.choose_samples(groups, keys, lambda rows: art.index[rows, 3], cfg.vis.frames, cfg.vis.num_samples)
    data = load_human36m(cfg.data_root, cfg.data.frame_template, subjects=sorted({k[0] for k, _ in samples}))
    rng = np.random.default_rng(cfg.seed)

    rows, columns = vis.grid_shape(len(samples))
    fig = vis.new_figure(3.4 * columns, 3.6 * rows + 1.0, dpi=cfg.vis.dpi)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, (key, row) in zip(axes, samples):
        draw_panel(ax, data, key, int(art.index[row, 3]), art.keypoints[row], art.covariance[row],
                   cfg.vis.pose_samples, cfg.vis.panel_size, rng)
    for ax in axes[len(samples):]:
        ax.set_axis_off()
    method = art.meta.get("method") or "?"
    fig.suptitle(f"Probabilistic 2D pose ({method}): mean, per-joint ellipses and {cfg.vis.pose_samples} samples "
                 f"from the full covariance, experiment '{cfg.experiment}'", fontsize=10)
    handles = vis.side_legend_handles(prediction="mean") + vis.ellipse_legend_handles()
    handles.append(vis.Line2D([], [], color=vis.SAMPLE_COLOUR, lw=1.0, label="pose sampled from N(mean, Σ)"))
    vis.add_legend(fig, handles)
    out_dir = layout.figures_dir(cfg)
    vis.save_figure(fig, out_dir / vis.figure_name("pose2d_probabilistic", cfg.vis.tag))

    if cfg.vis.correlation:
        chosen = np.sort(np.concatenate([rows for key, rows in groups.items() if not subjects or key[0] in subjects]))
        fig = correlation_figure(cfg, art, samples[0], chosen)
        vis.save_figure(fig, out_dir / vis.figure_name("pose2d_probabilistic_correlation", cfg.vis.tag))
    logger.info("%d probabilistic panels written to %s", len(samples), out_dir)


if __name__ == "__main__":
    run(main, reads=("model_prob_pose", "data", "prob", "vis"))

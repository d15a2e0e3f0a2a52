"""Drawing code shared by the visualisation*.py scripts: skeletons in 2D and 3D, covariance ellipses,
poses sampled from a covariance, the joint-correlation matrix, person crops, and the choice of samples.

Conventions: 2D keypoints are (J, 2) (x, y) full-frame pixels (the artifact's units) and every 2D axis
is drawn in those pixels, whatever the stored image size; covariances are (2J, 2J) pixels², joint-major
interleaved (x0, y0, x1, y1, …); 3D poses are (J, 3) camera-frame metres (x right, y down, z forward)
and are plotted with up = −y so people stand upright. Left joints are blue, right joints red, the
spine yellow (``SIDE_COLOURS``); ground truth is white (2D) or black (3D) and dashed.

Figures are built with ``matplotlib.figure.Figure`` and an Agg canvas (no pyplot, no global state).
"""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MultipleLocator

from dataloader.h36m import ACTIONS, BONES, JOINT_NAMES, JOINTS_LEFT, JOINTS_RIGHT, canonical_action
from utils.engine import layout
from utils.codecs.crop import crop_affine, person_box
from utils.prob.covariance import sample_gaussian

logger = logging.getLogger(__name__)

SIDE_COLOURS = {"left": "#1e90ff", "right": "#ff3030", "centre": "#ffc400"}
GROUND_TRUTH_2D = "white"
GROUND_TRUTH_3D = "black"
SAMPLE_COLOUR = "#7dff3a"                  # poses sampled from a predicted covariance
SIGMA_LEVELS = (1.0, 2.0)
# Probability mass of a 2D Gaussian inside its kσ ellipse: 1 − exp(−k²/2).
SIGMA_MASS = {k: 1.0 - np.exp(-k * k / 2.0) for k in SIGMA_LEVELS}
# (elevation, azimuth) in degrees of the 3D views: 'front' looks along the camera's optical axis.
VIEWS = {"front": (12.0, -90.0), "side": (12.0, 0.0), "oblique": (15.0, -60.0)}


# --- figures -----------------------------------------------------------------------------------

def new_figure(width: float, height: float, dpi: int = 100, engine: str | None = "constrained") -> Figure:
    """A Figure of width × height inches with its own Agg canvas (safe without a display).

    `engine` is matplotlib's layout engine; None keeps the axes where they are put (animations).
    """
    fig = Figure(figsize=(width, height), dpi=dpi, layout=engine)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: Path, dpi: int | None = None) -> Path:
    """Write `fig` as PNG (parent folders created) and log the file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi or fig.dpi, facecolor="white")
    logger.info("wrote %s", path)
    return path


def figure_to_rgb(fig: Figure) -> np.ndarray:
    """Render `fig` with Agg: uint8 (H, W, 3) RGB."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def figure_name(stem: str, tag: str = "", suffix: str = ".png") -> str:
    """'pose2d_ViTPose' + tag 'S9' → 'pose2d_ViTPose_S9.png' (spaces become '-')."""
    name = f"{stem}_{tag}" if tag else stem
    return name.replace(" ", "-").replace("/", "-") + suffix


# --- skeleton colours --------------------------------------------------------------------------

def joint_side(joint: int) -> str:
    """'left', 'right' or 'centre' (dataloader.h36m.JOINTS_LEFT / JOINTS_RIGHT)."""
    return "left" if joint in JOINTS_LEFT else "right" if joint in JOINTS_RIGHT else "centre"


def bone_colours() -> list[str]:
    """Colour of each bone of ``BONES`` (child joint, parent joint), by the side of its child joint."""
    return [SIDE_COLOURS[joint_side(child)] for child, _ in BONES]


def joint_colours(num_joints: int) -> list[str]:
    return [SIDE_COLOURS[joint_side(j)] for j in range(num_joints)]


def ground_truth_handle(kind: str = "2d", label: str = "ground truth"):
    """Legend entry of the ground-truth style: '2d' white dashed over black, '3d' black dashed."""
    if kind == "2d":
        return (Line2D([], [], color="black", lw=2.0),
                Line2D([], [], color=GROUND_TRUTH_2D, lw=1.0, ls="--", label=label))
    return Line2D([], [], color=GROUND_TRUTH_3D, lw=1.2, ls="--", label=label)


def side_legend_handles(ground_truth: str | None = "2d", prediction: str = "prediction") -> list:
    """Legend entries: one per side colour ('<prediction>: left', …; 'left side', … when `prediction` is
    empty), then the ground-truth style ('2d', '3d' or None)."""
    plain = {"left": "left side", "right": "right side", "centre": "spine and head"}
    handles = [Line2D([], [], color=SIDE_COLOURS[s], lw=2.5, label=f"{prediction}: {s}" if prediction else plain[s])
               for s in SIDE_COLOURS]
    return handles + ([ground_truth_handle(ground_truth)] if ground_truth else [])


def add_legend(fig, handles: list, ncol: int = 4, fontsize: float = 8, loc: str = "outside lower center"):
    """Figure legend (below the panels by default); tuple handles are drawn on top of each other."""
    labels = [(h[-1] if isinstance(h, tuple) else h).get_label() for h in handles]
    return fig.legend(handles, labels, loc=loc, ncol=ncol, fontsize=fontsize)


# --- 2D ----------------------------------------------------------------------------------------

def draw_pose_2d(ax, keypoints: np.ndarray, *, ground_truth: bool = False, colour: str | None = None,
                 linewidth: float = 2.5, alpha: float = 1.0, markersize: float = 3.5, zorder: float = 3) -> list:
    """Draw one 2D skeleton; returns its Line2D artists, to move them with :func:`update_pose_2d`.

    Args:
        ax: a matplotlib 2D axis in full-frame pixel coordinates.
        keypoints: (J, 2) (x, y) pixels.
        ground_truth: thin white dashed bones over a black line (readable on any image), no joint markers,
            under the predictions (zorder − 0.5): visible where a prediction departs from it.
        colour: one colour for every bone (e.g. for sampled poses); default the side colours.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    layers = ([("black", "-", 2.0), (GROUND_TRUTH_2D, "--", 1.0)] if ground_truth
              else [(colour, "-", linewidth)])
    artists = []
    zorder = zorder - 0.5 if ground_truth else zorder
    for layer_colour, style, width in layers:
        colours = [layer_colour] * len(BONES) if layer_colour else bone_colours()
        artists += [ax.plot(*keypoints[[child, parent]].T, color=c, ls=style, lw=width, alpha=alpha, zorder=zorder,
                            solid_capstyle="round")[0] for (child, parent), c in zip(BONES, colours)]
    if markersize > 0 and not ground_truth:
        artists.append(ax.plot(*keypoints.T, ls="none", marker="o", ms=markersize, alpha=alpha, zorder=zorder + 0.1,
                               mfc=colour or "white", mec="black", mew=0.6, gid="joints")[0])
    return artists


def update_pose_2d(artists: list, keypoints: np.ndarray) -> None:
    """Move the artists of :func:`draw_pose_2d` to new (J, 2) keypoints."""
    keypoints = np.asarray(keypoints)
    for i, line in enumerate(artists):
        if line.get_gid() == "joints":
            line.set_data(*keypoints.T)
        else:
            child, parent = BONES[i % len(BONES)]
            line.set_data(*keypoints[[child, parent]].T)


def crop_box(keypoints: list[np.ndarray], margin: float = 1.4) -> tuple[np.ndarray, float]:
    """Square box (centre (2,), side) in full-frame pixels around all the given (J, 2) poses."""
    points = np.concatenate([np.asarray(k, dtype=np.float64).reshape(-1, 2) for k in keypoints])
    return person_box(points, margin=margin)


def person_crop(image: np.ndarray, resolution: tuple[int, int], center: np.ndarray, side: float,
                size: int) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Cut the square box (center, side) out of a frame and upscale it (bicubic) to size × size pixels.

    Args:
        image: (H, W, 3) frame, possibly stored smaller than the camera resolution.
        resolution: (res_w, res_h) of the camera: the pixel grid of the keypoints and of the box.
        center, side: the box in full-frame pixels (:func:`crop_box`).
        size: side of the returned crop in pixels.

    Returns:
        the crop (size, size, 3) and its imshow extent (left, right, bottom, top) in full-frame pixels,
        so keypoints are drawn over it unchanged.
    """
    to_crop = crop_affine(center, side, (size, size))                                 # full px → crop px
    to_image = np.diag([image.shape[1] / resolution[0], image.shape[0] / resolution[1]])
    affine = to_crop.copy()
    affine[:, :2] = to_crop[:, :2] @ np.linalg.inv(to_image)                          # image px → crop px
    crop = cv2.warpAffine(image, affine, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(40, 40, 40))
    k = to_crop[0, 0]                                                                 # crop px per full px
    center = np.asarray(center, dtype=np.float64)
    low = center - ((size - 1) / 2 + 0.5) / k                                         # outer edge of pixel 0
    high = center + ((size - 1) / 2 + 0.5) / k
    return crop, (low[0], high[0], high[1], low[1])


def dim_image(image: np.ndarray, dim: float = 0.25) -> np.ndarray:
    """Blend a uint8 image `dim` of the way towards mid-grey, so skeletons drawn over it stand out."""
    return (image.astype(np.float32) * (1 - dim) + 128 * dim).astype(np.uint8)


def show_crop(ax, crop: np.ndarray, extent, dim: float = 0.25):
    """imshow a crop in full-frame pixel coordinates, blended `dim` towards grey so skeletons stand out."""
    artist = ax.imshow(dim_image(crop, dim), extent=extent, interpolation="nearest", zorder=0)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel("x (px)", fontsize=8)
    ax.set_ylabel("y (px)", fontsize=8)
    ax.tick_params(labelsize=7)
    return artist


def marginal_covariances(covariance: np.ndarray) -> np.ndarray:
    """(..., 2J, 2J) joint-major covariance → (..., J, 2, 2) per-joint marginals (the diagonal blocks)."""
    covariance = np.asarray(covariance)
    j = covariance.shape[-1] // 2
    blocks = covariance.reshape(*covariance.shape[:-2], j, 2, j, 2)
    return np.stack([blocks[..., i, :, i, :] for i in range(j)], axis=-3)


def ellipse_outline(mean: np.ndarray, covariance: np.ndarray, k: float = 1.0, num_points: int = 48) -> np.ndarray:
    """(num_points, 2) closed outline of the kσ ellipse of N(mean, covariance) in 2D.

    Σ = V diag(λ) Vᵀ (eigen-decomposition); the ellipse is mean + V diag(k √λ) (cos t, sin t), so its
    semi-axes are k √λ along the eigenvectors (points x with (x − μ)ᵀ Σ⁻¹ (x − μ) = k²).
    """
    eigenvalues, eigenvectors = np.linalg.eigh(np.asarray(covariance, dtype=np.float64))
    t = np.linspace(0.0, 2.0 * np.pi, num_points)
    circle = np.stack([np.cos(t), np.sin(t)])                                         # (2, P)
    axes = eigenvectors * (k * np.sqrt(np.clip(eigenvalues, 0.0, None)))            # columns: semi-axes
    return np.asarray(mean, dtype=np.float64) + (axes @ circle).T


def draw_ellipses(ax, keypoints: np.ndarray, covariance: np.ndarray, levels=SIGMA_LEVELS, zorder: float = 2.5) -> list:
    """Per-joint kσ ellipses of the (2J, 2J) covariance, coloured by side (1σ solid, 2σ dashed).

    Returns the Line2D artists, ordered level-major then joint, for :func:`update_ellipses`.
    """
    marginals = marginal_covariances(covariance)
    colours = joint_colours(len(keypoints))
    artists = []
    for level in levels:
        for j, (mean, cov) in enumerate(zip(keypoints, marginals)):
            style = "-" if level == levels[0] else "--"
            artists.append(ax.plot(*ellipse_outline(mean, cov, level).T, color=colours[j], ls=style, lw=1.0,
                                   alpha=0.9, zorder=zorder)[0])
    return artists


def update_ellipses(artists: list, keypoints: np.ndarray, covariance: np.ndarray, levels=SIGMA_LEVELS) -> None:
    marginals = marginal_covariances(covariance)
    it = iter(artists)
    for level in levels:
        for mean, cov in zip(keypoints, marginals):
            next(it).set_data(*ellipse_outline(mean, cov, level).T)


def ellipse_corners(keypoints: np.ndarray, covariance: np.ndarray, k: float = SIGMA_LEVELS[-1]) -> np.ndarray:
    """(2J, 2) corners of the boxes around every joint's kσ ellipse (μ ± k (σ_x, σ_y)): to fit a crop to them."""
    std = np.sqrt(np.clip(np.diagonal(marginal_covariances(covariance), axis1=-2, axis2=-1), 0.0, None))  # (J, 2)
    return np.concatenate([keypoints - k * std, keypoints + k * std])


def ellipse_legend_handles() -> list[Line2D]:
    return [Line2D([], [], color="0.3", lw=1.0, ls="-" if k == SIGMA_LEVELS[0] else "--",
                   label=f"{k:g}σ ellipse ({100 * SIGMA_MASS[k]:.1f} % mass)") for k in SIGMA_LEVELS]


def sample_poses(keypoints: np.ndarray, covariance: np.ndarray, num_samples: int,
                 rng: np.random.Generator) -> np.ndarray:
    """(num_samples, J, 2) poses drawn from N(vec(keypoints), covariance) with the full (2J, 2J) Σ.

    The numpy face of the framework's one Gaussian sampler, ``utils.prob.covariance.sample_gaussian`` (float64
    Cholesky; a covariance that is not SPD is refused naming the frame); ``rng`` seeds its generator.
    """
    mean = torch.as_tensor(np.asarray(keypoints, dtype=np.float64).reshape(1, -1))
    cov = torch.as_tensor(np.asarray(covariance, dtype=np.float64))[None]
    generator = torch.Generator().manual_seed(int(rng.integers(2 ** 63 - 1)))
    samples = sample_gaussian(mean, cov, num_samples, generator=generator)  # (S, 1, 2J)
    return samples[:, 0].numpy().reshape(num_samples, -1, 2)


def correlation_matrix(covariance: np.ndarray) -> np.ndarray:
    """(..., D, D) covariance → correlation D^-½ Σ D^-½ (D = its diagonal), entries in [−1, 1]."""
    covariance = np.asarray(covariance, dtype=np.float64)
    std = np.sqrt(np.clip(np.diagonal(covariance, axis1=-2, axis2=-1), 1e-12, None))
    return np.clip(covariance / (std[..., :, None] * std[..., None, :]), -1.0, 1.0)


def draw_correlation(ax, correlation: np.ndarray, joint_names=JOINT_NAMES, fontsize: float = 7):
    """Heatmap of a (2J, 2J) joint-major correlation matrix; joint names label the 2×2 blocks.

    Within a block the order is (x, y); thin lines separate the joints. Returns the image for a colorbar.
    """
    n = correlation.shape[-1] // 2
    image = ax.imshow(correlation, cmap="RdBu_r", vmin=-1.0, vmax=1.0, interpolation="nearest")
    centres = np.arange(n) * 2 + 0.5
    names = list(joint_names)[:n]
    ax.set_xticks(centres, names, rotation=90, fontsize=fontsize)
    ax.set_yticks(centres, names, fontsize=fontsize)
    for edge in np.arange(1, n) * 2 - 0.5:
        ax.axhline(edge, color="white", lw=0.8)
        ax.axvline(edge, color="white", lw=0.8)
    ax.tick_params(length=0)
    return image


# --- 3D ----------------------------------------------------------------------------------------

def camera_to_plot(points: np.ndarray) -> np.ndarray:
    """Camera frame (x right, y down, z forward) → plot frame (x right, depth z, up −y): (..., 3)."""
    points = np.asarray(points, dtype=np.float64)
    return np.stack([points[..., 0], points[..., 2], -points[..., 1]], axis=-1)


def draw_pose_3d(ax, pose: np.ndarray, *, ground_truth: bool = False, linewidth: float = 2.0,
                 alpha: float = 1.0) -> list:
    """Draw a (J, 3) camera-frame skeleton (metres) on a 3D axis; returns the Line3D artists."""
    p = camera_to_plot(pose)
    colours = [GROUND_TRUTH_3D] * len(BONES) if ground_truth else bone_colours()
    style, lw = ("--", min(linewidth, 1.2)) if ground_truth else ("-", linewidth)
    return [ax.plot(*p[[child, parent]].T, color=c, ls=style, lw=lw, alpha=alpha)[0]
            for (child, parent), c in zip(BONES, colours)]


def update_pose_3d(artists: list, pose: np.ndarray) -> None:
    p = camera_to_plot(pose)
    for line, (child, parent) in zip(artists, BONES):
        line.set_data_3d(*p[[child, parent]].T)


def setup_axes_3d(ax, poses: list[np.ndarray], view: str = "front", radius: float | None = None,
                  fontsize: float = 7) -> None:
    """Equal-aspect limits (metres) around the poses' root-centred extent, a ground plane under the
    lowest joint, axis labels with units and the named view ('front' or 'side', ``VIEWS``).

    Args:
        poses: (J, 3) camera-frame poses (metres) to frame; all drawn poses, so nothing is cut off.
        radius: half side of the cube (m); default the largest distance from the centre plus 10 %.
    """
    if view not in VIEWS:
        raise KeyError(f"unknown 3D view {view!r}; valid: {', '.join(VIEWS)}")
    points = camera_to_plot(np.concatenate([np.asarray(p).reshape(-1, 3) for p in poses]))
    centre = (points.min(0) + points.max(0)) / 2
    if radius is None:
        radius = 1.1 * float(np.abs(points - centre).max())
    radius = max(radius, 0.05)
    ax.set_xlim(centre[0] - radius, centre[0] + radius)
    ax.set_ylim(centre[1] - radius, centre[1] + radius)
    ax.set_zlim(centre[2] - radius, centre[2] + radius)
    ax.set_box_aspect((1, 1, 1))
    floor = points[:, 2].min()
    grid = np.linspace(-radius, radius, 5)
    gx, gy = np.meshgrid(centre[0] + grid, centre[1] + grid)
    ax.plot_surface(gx, gy, np.full_like(gx, floor), color="0.85", alpha=0.35, linewidth=0, shade=False, zorder=0)
    ax.plot_wireframe(gx, gy, np.full_like(gx, floor), color="0.6", linewidth=0.4)
    ax.view_init(*VIEWS[view])
    labels = {"x": "x (m)", "y": "depth z (m)", "z": "up −y (m)"}
    edge_on = {"front": "y", "side": "x"}.get(view)   # the axis along the line of sight: no labels
    step = max(round(radius / 2, 1), 0.1)
    for name, axis in (("x", ax.xaxis), ("y", ax.yaxis), ("z", ax.zaxis)):
        axis.set_major_locator(MultipleLocator(step))
        axis.set_tick_params(labelsize=fontsize - 1.5, pad=3)
        if name == edge_on:
            axis.set_ticklabels([])
        else:
            axis.set_label_text(labels[name], fontsize=fontsize)
            axis.labelpad = 0


# --- choosing what to draw ---------------------------------------------------------------------

def group_rows(index: np.ndarray, table: dict[str, list[str]]) -> dict[tuple[str, str, int], np.ndarray]:
    """(N, 4) index (subject number, sequence into `table[subject]`, camera, frame) → (subject, sequence,
    camera) → row indices sorted by frame (the layout of 2D artifacts and of 3D evaluations)."""
    subjects = {int(s[1:]): s for s in table}
    out: dict[tuple[str, str, int], list] = {}
    order = np.lexsort((index[:, 3], index[:, 2], index[:, 1], index[:, 0]))
    for row in order:
        s, q, c, _ = (int(v) for v in index[row])
        subject = subjects[s]
        out.setdefault((subject, table[subject][q], c), []).append(row)
    return {k: np.asarray(v) for k, v in out.items()}


def filter_sequences(groups: dict, subjects, actions, cameras, what: str, fix: str) -> list[tuple[str, str, int]]:
    """Keys of `groups` matching the subjects / canonical actions / cameras (empty = any), ordered so that
    consecutive keys cycle through the actions (a grid of samples then shows many of them).

    Raises SystemExit naming what is available when nothing matches.
    """
    unknown = [a for a in actions if a not in ACTIONS]
    if unknown:
        raise SystemExit(f"error: vis.actions has unknown action(s) {unknown}; valid: {', '.join(ACTIONS)}")
    keys = [k for k in groups if (not subjects or k[0] in subjects) and (not cameras or k[2] in cameras)
            and (not actions or canonical_action(k[1]) in actions)]
    if not keys:
        have_subjects = sorted({k[0] for k in groups}, key=lambda s: int(s[1:]))
        have_actions = sorted({canonical_action(k[1]) for k in groups}, key=ACTIONS.index)
        have_cameras = sorted({k[2] for k in groups})
        raise SystemExit(f"error: {what} has nothing for subjects {list(subjects) or 'any'}, actions "
                         f"{list(actions) or 'any'}, cameras {list(cameras) or 'any'} (it has subjects "
                         f"{', '.join(have_subjects)}; actions {', '.join(have_actions)}; cameras "
                         f"{', '.join(map(str, have_cameras))}); change vis.subjects / vis.actions / vis.cameras "
                         f"or {fix}")
    by_action: dict[str, list] = {}
    for key in sorted(keys, key=lambda k: (int(k[0][1:]), k[1], k[2])):
        by_action.setdefault(canonical_action(key[1]), []).append(key)
    columns = list(by_action.values())
    return [col[i] for i in range(max(map(len, columns))) for col in columns if i < len(col)]


def choose_samples(groups: dict, keys: list, frames_of, frames: list, num_samples: int) -> list[tuple[tuple, int]]:
    """Up to `num_samples` (key, row) pairs: the listed `frames` of each key in turn, or, when `frames`
    is empty, `num_samples` panels spread round-robin over the keys at evenly spaced frames.

    Args:
        groups: key → rows (from :func:`group_rows`).
        keys: keys to draw from, in order (from :func:`filter_sequences`).
        frames_of: rows → their 0-based frame numbers.
        frames: 0-based frame numbers requested (vis.frames).
    """
    if frames:
        chosen = []
        for key in keys:
            rows = groups[key]
            available = dict(zip(frames_of(rows).tolist(), rows.tolist()))
            chosen += [(key, available[f]) for f in frames if f in available]
        if not chosen:
            raise SystemExit(f"error: none of vis.frames {list(frames)} exists in the chosen sequences "
                             f"(e.g. {keys[0][1]} has frames 0..{int(frames_of(groups[keys[0]]).max())})")
        return chosen[:num_samples]
    per_key = [len(range(i, num_samples, len(keys))) for i in range(min(len(keys), num_samples))]
    chosen = []
    for i in range(max(per_key, default=0)):
        for key, count in zip(keys, per_key):
            if i < count:
                rows = groups[key]
                chosen.append((key, int(rows[int((i + 0.5) / count * len(rows))])))
    return chosen


def grid_shape(count: int, max_columns: int = 3) -> tuple[int, int]:
    """(rows, columns) of a near-square grid for `count` panels: 4 → 2 × 2, 6 → 2 × 3, 15 → 5 × 3."""
    columns = max(1, min(max_columns, int(np.ceil(np.sqrt(count)))))
    return -(-count // columns), columns


# --- inputs ------------------------------------------------------------------------------------

EVAL_FILES = ("predictions_3d.npy", "targets_3d.npy", "index.npy", "metrics.json")


def require_artifact(cfg, source: str):
    """The 2D prediction artifact of `source`, or SystemExit naming the command that creates it."""
    from utils.artifact import load_artifact

    path = layout.prediction_dir(cfg, source)
    if not (path / "meta.json").is_file():
        raise SystemExit(f"error: no {source} 2D predictions at {path}; create them with "
                         f"`{layout.prediction_command(source)}`")
    return load_artifact(path, fix=f"re-create it with `{layout.prediction_command(source)}`")


def evaluation_command(model: str, source: str, noise_std: float, eval_source: str, input: str = "xy") -> str:
    """The get3Dprediction.py command that writes eval_dir(model, source_tag(source, noise_std, input), eval_source)."""
    train = layout.downstream_command(model, source, noise_std, input)
    return train.replace("main.py", "get3Dprediction.py", 1) + f" model_2D_dataset={eval_source}"


def require_evaluation(cfg, model: str = "GraphMLP") -> tuple[Path, dict]:
    """The lifting evaluation selected by the switches (model_2D_prediction, noise_std → model_2D_dataset).

    Returns (folder, arrays) with predictions (N, J, 3), targets (N, J, 3) (camera frame, root-relative,
    metres), index (N, 4), metrics (metrics.json) and the command that re-creates it; SystemExit naming
    that command when it is missing.
    """
    import json

    train_tag = layout.source_tag(cfg.model_2D_prediction, cfg.noise_std, cfg.lifting.input)
    path = layout.eval_dir(cfg, model, train_tag, cfg.model_2D_dataset)
    command = evaluation_command(model, cfg.model_2D_prediction, cfg.noise_std, cfg.model_2D_dataset, cfg.lifting.input)
    missing = [f for f in EVAL_FILES if not (path / f).is_file()]
    if missing:
        train = layout.downstream_command(model, cfg.model_2D_prediction, cfg.noise_std, cfg.lifting.input)
        raise SystemExit(f"error: no {model} evaluation at {path} (missing {', '.join(missing)}); create it with "
                         f"`{command}` (after `{train}`)")
    metrics = json.loads((path / "metrics.json").read_text())
    arrays = {name: np.load(path / f"{name}.npy", allow_pickle=False)
              for name in ("predictions_3d", "targets_3d", "index")}
    if "sequences" not in metrics:
        raise SystemExit(f"error: {path / 'metrics.json'} has no 'sequences' table; re-create it with `{command}`")
    return path, {"predictions": arrays["predictions_3d"], "targets": arrays["targets_3d"],
                  "index": arrays["index"], "metrics": metrics, "command": command}


def default_subjects(cfg) -> list[str]:
    return list(cfg.vis.subjects) or list(cfg.data.test_subjects)

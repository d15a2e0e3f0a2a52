"""utils.visualisation and the four visualisation*.py scripts, on a tiny synthetic root with fake
2D artifacts and a fake lifting evaluation (the figures only need arrays of the right layout)."""
import json

import cv2
import imageio.v3 as iio
import numpy as np
import pytest

from dataloader.h36m import BONES, JOINT_NAMES, NUM_JOINTS
from dataloader.lifting_dataset import camera_pose_3d
from dataloader.reader import load_human36m
from dataloader.synthetic.generate import generate
from utils.engine import layout
from utils import visualisation as vis
from utils.artifact import save_artifact

SUBJECTS = ("S1", "S9")
CAMERAS = (0, 1)
NUM_FRAMES = 12


def _root(tmp_path_factory):
    """A tiny synthetic data root: S1 and S9, Directions and Walking (two sequences each), 100 × 100 frames."""
    return generate(tmp_path_factory.mktemp("h36m") / "data", profile="tiny", subjects=SUBJECTS,
                    actions=["Directions", "Walking"], num_frames=NUM_FRAMES, image_scale=0.1)


def fake_covariance(rng, num: int) -> np.ndarray:
    """(num, 2J, 2J) px²: low-rank correlated part plus a diagonal, so it is SPD with real correlations."""
    factor = rng.normal(0.0, 3.0, size=(num, 2 * NUM_JOINTS, 4))
    return factor @ factor.transpose(0, 2, 1) + np.eye(2 * NUM_JOINTS) * rng.uniform(1.0, 4.0, size=(num, 1, 1))


def write_fake_artifact(cfg, data, source: str, rng, probabilistic: bool = False):
    """Ground truth + 4 px noise for every frame of every sequence and camera in CAMERAS."""
    keys = data.sequences()
    table = {s: sorted(k.sequence for k in keys if k.subject == s) for s in sorted({k.subject for k in keys})}
    keypoints, index = [], []
    for key in keys:
        for cam in CAMERAS:
            gt = data.positions_2d[key.subject][key.sequence][cam]
            keypoints.append(gt + rng.normal(0.0, 4.0, size=gt.shape))
            frames = np.arange(len(gt))
            index.append(np.stack([np.full_like(frames, int(key.subject[1:])),
                                   np.full_like(frames, table[key.subject].index(key.sequence)),
                                   np.full_like(frames, cam), frames], axis=1))
    keypoints, index = np.concatenate(keypoints), np.concatenate(index)
    meta = {"source": source, "method": "TIC" if probabilistic else None, "sequences": table}
    cov = fake_covariance(rng, len(keypoints)) if probabilistic else None
    return save_artifact(layout.prediction_dir(cfg, source), keypoints=keypoints, index=index, meta=meta,
                         covariance=cov)


def write_fake_evaluation(cfg, data, rng):
    """predictions_3d / targets_3d / index / metrics.json as get3Dprediction.py writes them (test subject)."""
    train_tag = layout.source_tag(cfg.model_2D_prediction, cfg.noise_std)
    out = layout.eval_dir(cfg, "GraphMLP", train_tag, cfg.model_2D_dataset)
    out.mkdir(parents=True, exist_ok=True)
    keys = data.sequences(subjects=cfg.data.test_subjects)
    table = {s: sorted(k.sequence for k in keys if k.subject == s) for s in sorted({k.subject for k in keys})}
    targets, index = [], []
    for key in keys:
        for cam in CAMERAS:
            target = camera_pose_3d(data, key.subject, key.sequence, cam)
            targets.append(target)
            frames = np.arange(len(target))
            index.append(np.stack([np.full_like(frames, int(key.subject[1:])),
                                   np.full_like(frames, table[key.subject].index(key.sequence)),
                                   np.full_like(frames, cam), frames], axis=1))
    targets = np.concatenate(targets).astype(np.float32)
    np.save(out / "targets_3d.npy", targets)
    np.save(out / "predictions_3d.npy", (targets + rng.normal(0, 0.03, targets.shape)).astype(np.float32))
    np.save(out / "index.npy", np.concatenate(index).astype(np.int32))
    (out / "metrics.json").write_text(json.dumps({"mpjpe_mm": 50.0, "sequences": table}))
    return out


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """(overrides, cfg) of a run whose 2D artifacts and lifting evaluations exist (fake)."""
    from config import load_config

    root = _root(tmp_path_factory)
    out = tmp_path_factory.mktemp("out")
    overrides = [f"data.root={root}", f"output_root={out}", "experiment=vis", "profile=test",
                 "data.train_subjects=[S1]", "data.test_subjects=[S9]", "runtime.device=cpu",
                 "vis.num_samples=4", "vis.panel_size=96", "vis.max_frames=5", "vis.pose_samples=3", "vis.dpi=60"]
    rng = np.random.default_rng(0)
    data = load_human36m(root)
    for eval_source in ("GroundTruth", "Probabilistic"):
        cfg = load_config(overrides + ["model_2D_prediction=ViTPose", f"model_2D_dataset={eval_source}"])
        write_fake_evaluation(cfg, data, rng)
    write_fake_artifact(cfg, data, "ViTPose", rng)
    write_fake_artifact(cfg, data, "Probabilistic", rng, probabilistic=True)
    return overrides, cfg


def _decoded(path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, f"{path} does not decode"
    return image


def _assert_size(image: np.ndarray, width_in: float, height_in: float, dpi: int = 60):
    """The figure size the script asks for (inches × vis.dpi), ±1 px of rounding."""
    assert abs(image.shape[1] - width_in * dpi) <= 1 and abs(image.shape[0] - height_in * dpi) <= 1, image.shape


def _assert_not_blank(image: np.ndarray, min_std: float = 20.0):
    assert image.std() > min_std, f"image looks blank (pixel std {image.std():.1f})"


# --- library ---------------------------------------------------------------------------------

def test_ellipse_outline_semi_axes_are_k_sqrt_eigenvalues():
    # Σ = R diag(9, 1) Rᵀ with R a 30° rotation: semi-axes 3k along (cos 30°, sin 30°) and k across.
    theta = np.deg2rad(30.0)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    cov = rot @ np.diag([9.0, 1.0]) @ rot.T
    for k in (1.0, 2.0):
        outline = vis.ellipse_outline(np.array([5.0, -2.0]), cov, k, num_points=400) - [5.0, -2.0]
        radii = np.linalg.norm(outline, axis=1)
        assert radii.max() == pytest.approx(3 * k, rel=1e-3)
        assert radii.min() == pytest.approx(k, rel=1e-3)
        major = outline[np.argmax(radii)] / radii.max()
        assert abs(major @ rot[:, 0]) == pytest.approx(1.0, abs=1e-3)
        # every outline point is on the Mahalanobis level set k²
        assert np.allclose(np.einsum("pi,ij,pj->p", outline, np.linalg.inv(cov), outline), k * k)


def test_marginals_samples_and_correlation():
    rng = np.random.default_rng(1)
    cov = fake_covariance(rng, 1)[0]
    marginals = vis.marginal_covariances(cov)
    assert marginals.shape == (NUM_JOINTS, 2, 2)
    assert np.allclose(marginals[3], cov[6:8, 6:8])
    mean = rng.normal(size=(NUM_JOINTS, 2))
    samples = vis.sample_poses(mean, cov, 20000, rng)
    assert samples.shape == (20000, NUM_JOINTS, 2)
    empirical = np.cov(samples.reshape(len(samples), -1), rowvar=False)
    assert np.abs(empirical - cov).max() < 0.1 * np.abs(cov).max()  # Monte-Carlo error ~ 1/√20000
    corr = vis.correlation_matrix(cov)
    assert np.allclose(np.diag(corr), 1.0) and np.abs(corr).max() <= 1.0
    assert corr[0, 1] == pytest.approx(cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]))


def test_camera_to_plot_puts_up_along_minus_y():
    # camera frame: x right, y down, z forward → plot (x, depth, up): a head above the hip has y < 0.
    assert np.allclose(vis.camera_to_plot(np.array([1.0, -2.0, 3.0])), [1.0, 3.0, 2.0])


def test_choose_samples_cycles_actions_and_spreads_frames():
    index = np.array([[9, q, 0, f] for q in range(3) for f in range(10)])
    groups = vis.group_rows(index, {"S9": ["Directions 1", "Walking 1", "Walking"]})
    keys = vis.filter_sequences(groups, ["S9"], [], [0], "test", "")
    assert [k[1] for k in keys] == ["Directions 1", "Walking", "Walking 1"]
    chosen = vis.choose_samples(groups, keys, lambda rows: index[rows, 3], [], 4)
    assert [(k[1], int(index[r, 3])) for k, r in chosen] == [
        ("Directions 1", 2), ("Walking", 5), ("Walking 1", 5), ("Directions 1", 7)]
    chosen = vis.choose_samples(groups, keys, lambda rows: index[rows, 3], [3, 99], 10)
    assert [int(index[r, 3]) for _, r in chosen] == [3, 3, 3]
    with pytest.raises(SystemExit, match="vis.subjects"):
        vis.filter_sequences(groups, ["S11"], [], [0], "test", "")


def test_grid_shape_is_near_square():
    assert [vis.grid_shape(n) for n in (1, 2, 4, 6, 7, 15)] == [(1, 1), (1, 2), (2, 2), (2, 3), (3, 3), (5, 3)]


def test_correlation_heatmap_and_skeleton_render(tmp_path):
    fig = vis.new_figure(4, 4, dpi=60)
    ax = fig.add_subplot()
    image = vis.draw_correlation(ax, vis.correlation_matrix(fake_covariance(np.random.default_rng(2), 1)[0]))
    assert image.get_array().shape == (2 * NUM_JOINTS, 2 * NUM_JOINTS)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(JOINT_NAMES)
    fig3 = vis.new_figure(3, 3, dpi=60)
    ax3 = fig3.add_subplot(projection="3d")
    pose = np.random.default_rng(3).normal(0, 0.3, size=(NUM_JOINTS, 3))
    assert len(vis.draw_pose_3d(ax3, pose)) == len(BONES)
    vis.setup_axes_3d(ax3, [pose], view="side")
    assert np.ptp(ax3.get_xlim()) == pytest.approx(np.ptp(ax3.get_zlim()))  # equal aspect
    _assert_not_blank(vis.figure_to_rgb(fig3), min_std=5.0)


# --- scripts ----------------------------------------------------------------------------------

def _figures(cfg):
    return layout.figures_dir(cfg)


def test_visualisation2D_writes_a_grid(study):
    from visualisation2D import main

    overrides, cfg = study
    main(overrides + ["vis.actions=[Walking]", "vis.cameras=[1]"])
    image = _decoded(_figures(cfg) / "pose2d_ViTPose.png")
    _assert_size(image, 2 * 3.3, 2 * 3.5 + 0.9)  # 4 panels (2 sequences × 2 frames) in a 2 × 2 grid
    _assert_not_blank(image)


def test_visualisation2Dprobpose_writes_ellipses_and_correlation(study):
    from visualisation2Dprobpose import main

    overrides, cfg = study
    main(overrides)
    panels = _decoded(_figures(cfg) / "pose2d_probabilistic.png")
    _assert_size(panels, 2 * 3.4, 2 * 3.6 + 1.0)
    _assert_not_blank(panels)
    correlation = _decoded(_figures(cfg) / "pose2d_probabilistic_correlation.png")
    _assert_size(correlation, 11.5, 5.6)
    _assert_not_blank(correlation)


def test_visualisation3D_draws_one_sample_per_action(study):
    from visualisation3D import main

    overrides, cfg = study
    main(overrides + ["model_2D_prediction=ViTPose"])
    image = _decoded(_figures(cfg) / "pose3d_GraphMLP_ViTPose_on_GroundTruth.png")
    _assert_size(image, 2 * 6.4, 3.6 + 1.0)  # Directions and Walking side by side, two views each
    _assert_not_blank(image)


@pytest.mark.parametrize("eval_source", ["GroundTruth", "Probabilistic"])
def test_visualisationGIF_has_max_frames(study, eval_source):
    from visualisationGIF import main

    overrides, cfg = study
    main(overrides + ["model_2D_prediction=ViTPose", f"model_2D_dataset={eval_source}"])
    gifs = sorted(_figures(cfg).glob(f"sequence_GraphMLP_ViTPose_on_{eval_source}_*.gif"))
    assert len(gifs) == 1
    frames = iio.imread(gifs[0], index=None)
    assert frames.shape[0] == 5  # vis.max_frames
    _assert_size(frames[0], 9.0, 5.2)
    _assert_not_blank(frames[0])
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 0.5  # the frames change
    meta = iio.immeta(gifs[0])
    assert meta["loop"] == 0 and meta["duration"] == pytest.approx(1000 / cfg.vis.fps, abs=10)  # GIF: 10 ms units


def test_missing_inputs_name_the_command(study):
    from visualisation2D import main as main2d
    from visualisation3D import main as main3d

    overrides, _ = study
    with pytest.raises(SystemExit, match="python get2Dpredictions.py model_2D_prediction=Hourglass"):
        main2d(overrides + ["vis.source=Hourglass"])
    with pytest.raises(SystemExit, match="python get3Dprediction.py model_3D_prediction=GraphMLP "
                                         "model_2D_prediction=Hourglass model_2D_dataset=GroundTruth"):
        main3d(overrides + ["model_2D_prediction=Hourglass"])
    with pytest.raises(SystemExit, match="vis.source"):
        main2d(overrides + ["vis.source=GroundTruth"])

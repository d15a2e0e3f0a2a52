"""The sources that isolate what the covariance adds (ProbabilisticMean, GroundTruthCov = "GroundTruth+Σ"),
the layout of covariance draws along a window (sample_mode frame | window | ar1), the noise level matched to
the Probabilistic σ, and what compare.py plans for them.

The data is the in-memory ramp of tests/ramp_data.py (the 2D of camera c, frame f, joint j is the pixel
(100 + 10 f + j, 300 + 20 c + j)); the Probabilistic artifact is written by hand at its place in the run
layout: means = ground truth + (3 f, −2) px, and a covariance Σ_f = (1 + f) B with B a fixed SPD matrix
(~±10 px), so every expected value below is written out from these definitions and the normalisation
x ↦ 2x/w − 1 (covariances × (2/w)²).
"""
from __future__ import annotations

import numpy as np
import pytest

from dataloader.h36m import NUM_JOINTS, get_camera
from tests.ramp_data import normalised, pixels, ramp_human36m

D = 2 * NUM_JOINTS
FRAMES = {("S1", "Walking 1"): 12, ("S9", "Walking"): 9}
KEY = ("S9", "Walking", 2)


def base_covariance() -> np.ndarray:
    factor = np.random.default_rng(3).normal(0, 3.0, (D, D))
    return factor @ factor.T + 4.0 * np.eye(D)  # px²


def mean_offset(f: int) -> np.ndarray:
    return np.array([3.0 * f, -2.0], np.float32)


@pytest.fixture(scope="module")
def data():
    return ramp_human36m(FRAMES)


def make_cfg(tmp_path, *overrides):
    from config import load_config

    return load_config(["profile=test", f"output_root={tmp_path}", "experiment=src", *overrides])


def write_probabilistic(cfg, keys, covariance=base_covariance, probabilistic=True):
    """The Probabilistic artifact at its layout path: means GT + (3 f, −2) px, Σ_f = (1 + f) `covariance()`."""
    from utils.engine import layout
    from utils.artifact import save_artifact

    table = {s: sorted(q for (s2, q) in FRAMES if s2 == s) for s in sorted({k[0] for k in keys})}
    rows, kp, cov = [], [], []
    for subject, sequence, cam in keys:
        n = FRAMES[subject, sequence]
        for f in range(n):
            rows.append([int(subject[1:]), table[subject].index(sequence), cam, f])
            kp.append(pixels(cam, n)[f] + mean_offset(f))
            cov.append(covariance() * (1 + f))
    return save_artifact(layout.prediction_dir(cfg, "Probabilistic"), keypoints=np.array(kp), index=np.array(rows),
                         meta={"source": "Probabilistic", "sequences": table},
                         covariance=np.array(cov) if probabilistic else None)


def scale(subject: str, cam: int) -> float:
    return 2.0 / get_camera(subject, cam).res_w


# --- ProbabilisticMean and GroundTruthCov -----------------------------------------------------------

def test_probabilistic_mean_is_the_artifact_means_never_sampled(data, tmp_path):
    from dataloader.sources import build_source

    cfg = make_cfg(tmp_path)
    write_probabilistic(cfg, [KEY])
    n = FRAMES[KEY[:2]]
    expected = normalised("S9", 2, pixels(2, n) + np.stack([3.0 * np.arange(n), np.full(n, -2.0)], -1)[:, None])
    for sample in (True, False):
        source = build_source(cfg, data, [KEY], "ProbabilisticMean", sample=sample)
        assert source.name == "ProbabilisticMean" and not source.stochastic and source.cholesky is None
        np.testing.assert_allclose(source.keypoints[KEY], expected, rtol=1e-6, atol=1e-7)
        frames = np.arange(n)
        np.testing.assert_array_equal(source.window(KEY, frames, np.random.default_rng(0)), source.keypoints[KEY])
    # the Probabilistic source of the same artifact samples around exactly these means
    sampled = build_source(cfg, data, [KEY], "Probabilistic")
    assert sampled.cholesky is not None
    np.testing.assert_array_equal(sampled.keypoints[KEY], source.keypoints[KEY])


def test_ground_truth_cov_draws_have_the_artifact_covariance_around_the_ground_truth(data, tmp_path):
    """Draws of frame 3: mean = the normalised ground truth (not the artifact's means, 9 px away), covariance =
    Σ_3 (2/w)² = 4 B (2/w)²."""
    from dataloader.sources import build_source

    cfg = make_cfg(tmp_path)
    write_probabilistic(cfg, [KEY])
    source = build_source(cfg, data, [KEY], "GroundTruthCov")
    assert source.name == "GroundTruth+Σ" and source.stochastic
    truth = normalised("S9", 2, pixels(2, FRAMES[KEY[:2]]))
    np.testing.assert_allclose(source.keypoints[KEY], truth, rtol=1e-6, atol=1e-7)
    frames = np.full(4000, 3)
    draws = source.window(KEY, frames, np.random.default_rng(0)).reshape(len(frames), -1).astype(np.float64)
    expected = base_covariance() * 4 * scale("S9", 2) ** 2
    assert np.linalg.norm(np.cov(draws.T) - expected) < 0.1 * np.linalg.norm(expected)
    standard_error = np.sqrt(np.diag(expected) / len(frames))
    assert np.all(np.abs(draws.mean(0) - truth[3].reshape(-1)) < 4 * standard_error)


def test_ground_truth_cov_evaluates_on_one_fixed_draw_per_frame(data, tmp_path):
    """sample=False (validation, evaluation): a deterministic source, the same for the same seed, whose offsets
    from the ground truth are L_f z_f with z_f standard normal."""
    from dataloader.sources import build_source

    keys = [KEY, ("S1", "Walking 1", 0)]
    cfg = make_cfg(tmp_path)
    write_probabilistic(cfg, keys)
    fixed = build_source(cfg, data, keys, "GroundTruthCov", sample=False)
    again = build_source(cfg, data, keys, "GroundTruthCov", sample=False)
    other_seed = build_source(make_cfg(tmp_path, "seed=1"), data, keys, "GroundTruthCov", sample=False)
    assert not fixed.stochastic
    sampled = build_source(cfg, data, keys, "GroundTruthCov")
    for key in keys:
        np.testing.assert_array_equal(fixed.keypoints[key], again.keypoints[key])
        assert not np.allclose(fixed.keypoints[key], other_seed.keypoints[key])
        L = sampled.cholesky[key].astype(np.float64)
        offset = (fixed.keypoints[key] - sampled.keypoints[key]).reshape(len(L), D, 1).astype(np.float64)
        z = np.linalg.solve(L, offset)[..., 0]                                       # (N, D)
        assert abs(z.mean()) < 0.2 and 0.8 < z.std() < 1.2


@pytest.mark.parametrize("source", ["ProbabilisticMean", "GroundTruthCov"])
def test_a_missing_probabilistic_artifact_names_the_command_that_creates_it(data, tmp_path, source):
    from dataloader.sources import build_source
    from utils.artifact import ArtifactError

    with pytest.raises(ArtifactError, match=r"predictions/Probabilistic not found.*`python get2Dpredictions_prob_pose.py`"):
        build_source(make_cfg(tmp_path), data, [KEY], source)


def test_ground_truth_cov_refuses_an_artifact_without_covariance(data, tmp_path):
    from dataloader.sources import build_source
    from utils.artifact import ArtifactError

    cfg = make_cfg(tmp_path)
    write_probabilistic(cfg, [KEY], probabilistic=False)
    with pytest.raises(ArtifactError, match="has no covariance.*python get2Dpredictions_prob_pose.py"):
        build_source(cfg, data, [KEY], "GroundTruthCov")


def test_main_py_reports_the_missing_artifact_in_one_line(tiny_root, tmp_path):
    from tests.helpers import base_overrides, call_stage, last_line

    code, _, err = call_stage("main.py", base_overrides(tiny_root, tmp_path) + [
        "model_3D_prediction=GraphMLP", "model_2D_prediction=GroundTruthCov", "data.actions=[Walking]"])
    assert code != 0
    assert "predictions/Probabilistic not found" in last_line(err)
    assert "python get2Dpredictions_prob_pose.py" in last_line(err)


# --- draws along a window ----------------------------------------------------------------------------

def window_source(data, tmp_path, mode: str, rho: float = 0.9):
    from dataloader.sources import build_source

    cfg = make_cfg(tmp_path, f"lifting.sample_mode={mode}", f"lifting.sample_rho={rho}")
    write_probabilistic(cfg, [KEY])
    return build_source(cfg, data, [KEY], "Probabilistic")


def standardised(source, frames: np.ndarray, rng) -> np.ndarray:
    """z_t = L_t⁻¹ (x_t − μ_t) of one draw of `frames`: (T, D)."""
    x = source.window(KEY, frames, rng).reshape(len(frames), D, 1).astype(np.float64)
    mu = source.keypoints[KEY][frames].reshape(len(frames), D, 1)
    return np.linalg.solve(source.cholesky[KEY][frames].astype(np.float64), x - mu)[..., 0]


def test_window_mode_draws_one_z_for_the_whole_window(data, tmp_path):
    """x_t − μ_t = L_t z with the same z at every frame of the window (the edge-replicated frames too)."""
    source = window_source(data, tmp_path, "window")
    frames = np.clip(np.arange(-2, 7), 0, 8)                                            # [0 0 0 1 … 6]
    z = standardised(source, frames, np.random.default_rng(1))
    np.testing.assert_allclose(z, np.broadcast_to(z[0], z.shape), atol=1e-3)
    draws = np.stack([standardised(source, frames[:1], np.random.default_rng(k))[0] for k in range(300)])
    assert abs(draws.mean()) < 0.05 and abs(draws.std() - 1) < 0.05                     # z ~ N(0, I)


def test_frame_mode_draws_independently_per_frame(data, tmp_path):
    source = window_source(data, tmp_path, "frame")
    z = np.stack([standardised(source, np.arange(9), np.random.default_rng(k)) for k in range(300)])  # (K, T, D)
    lag1 = np.mean(z[:, 1:] * z[:, :-1])
    assert abs(lag1) < 0.03 and abs(z.std() - 1) < 0.03


def test_ar1_mode_has_lag_one_correlation_rho_and_unit_marginals(data, tmp_path):
    """z_t = ρ z_{t−1} + √(1−ρ²) ε_t: corr(z_t, z_{t+1}) = ρ, corr(z_t, z_{t+2}) = ρ², var z_t = 1 at every t, so
    every frame keeps its own N(μ_t, Σ_t)."""
    rho = 0.6
    source = window_source(data, tmp_path, "ar1", rho)
    z = np.stack([standardised(source, np.arange(9), np.random.default_rng(k)) for k in range(400)])  # (K, T, D)
    lag1 = np.mean(z[:, 1:] * z[:, :-1])
    lag2 = np.mean(z[:, 2:] * z[:, :-2])
    assert abs(lag1 - rho) < 0.03 and abs(lag2 - rho ** 2) < 0.03
    per_frame = z.reshape(-1, 9, D).transpose(1, 0, 2).reshape(9, -1).std(1)
    np.testing.assert_allclose(per_frame, 1.0, atol=0.04)


def test_ar1_repeats_the_draw_of_an_edge_replicated_frame():
    from dataloader.sources import standard_normal_path

    frames = np.array([0, 0, 0, 1, 2])
    z = standard_normal_path(np.random.default_rng(0), frames, 4, "ar1", 0.5)
    np.testing.assert_array_equal(z[0], z[1])
    np.testing.assert_array_equal(z[1], z[2])
    assert not np.allclose(z[2], z[3])


def test_sample_mode_reaches_the_isotropic_noise_and_the_action_section(data, tmp_path):
    """window mode on the noise baseline: one noise vector for the window; SkateFormer reads action.sample_mode."""
    from dataloader.sources import build_source

    cfg = make_cfg(tmp_path, "lifting.sample_mode=window")
    source = build_source(cfg, data, [KEY], "GroundTruth", noise_std=0.01)
    frames = np.arange(5)
    noise = source.window(KEY, frames, np.random.default_rng(0)) - source.keypoints[KEY][frames]
    np.testing.assert_allclose(noise, np.broadcast_to(noise[0], noise.shape), atol=1e-6)
    action = make_cfg(tmp_path, "model_3D_prediction=SkateFormer", "lifting.sample_mode=window",
                      "action.sample_mode=ar1", "action.sample_rho=0.5")
    source = build_source(action, data, [KEY], "GroundTruth", noise_std=0.01)
    assert (source.sample_mode, source.rho) == ("ar1", 0.5)


# --- the matched noise level ------------------------------------------------------------------------

def test_matched_noise_is_the_mean_marginal_sigma_in_normalised_units(data, tmp_path):
    """Σ_f = (1 + f) diag(s²) with s_k = 2 + k px: mean over the rows and coordinates of √(1 + f) s_k × 2/w,
    over the training subject S1 (12 frames) and cameras 0 and 1 only: the S9 rows (9 frames) and camera 3 are
    left out."""
    from dataloader.sources import matched_noise_std
    from utils.artifact import load_artifact
    from utils.study.comparison import matched_noise, noise_levels

    s = 2.0 + np.arange(D)
    keys = [("S1", "Walking 1", 0), ("S1", "Walking 1", 1), ("S1", "Walking 1", 3), ("S9", "Walking", 0)]
    cfg = make_cfg(tmp_path, "data.train_subjects=[S1]", "data.cameras=[0, 1]", "compare.noise_stds=[0.01]")
    path = write_probabilistic(cfg, keys, covariance=lambda: np.diag(s ** 2))
    root = np.sqrt(1 + np.arange(12))
    px = root.mean() * s.mean()                                      # the same on both cameras
    expected = np.mean([root.mean() * s.mean() * scale("S1", c) for c in (0, 1)])
    std, sigma_px = matched_noise_std(load_artifact(path), ["S1"], [0, 1])
    assert std == pytest.approx(expected, rel=1e-6) and sigma_px == pytest.approx(px, rel=1e-6)
    matched = matched_noise(cfg)
    assert matched["noise_std"] == float(f"{expected:.3g}") and matched["sigma_px"] == pytest.approx(px, rel=1e-6)
    assert noise_levels(cfg, matched) == [0.01, matched["noise_std"]]
    assert matched_noise(make_cfg(tmp_path, "compare.matched_noise=false")) is None


# --- what compare.py plans -----------------------------------------------------------------------------

def test_compare_plans_the_new_sources_and_the_matched_noise(tmp_path):
    from utils.study.comparison import matched_noise, planned_runs

    cfg = make_cfg(tmp_path, "compare.sources=[GroundTruth, Probabilistic, ProbabilisticMean, GroundTruthCov]",
                   "compare.action_sources=[GroundTruth, Probabilistic]", "compare.noise_stds=[0.01]")
    commands, missing = planned_runs(cfg, matched=matched_noise(cfg))
    assert {s for s, _ in missing} == {"Probabilistic", "ProbabilisticMean", "GroundTruthCov"}
    assert {c for _, c in missing} == {"python get2Dpredictions_prob_pose.py"}
    write_probabilistic(cfg, [("S1", "Walking 1", 0)])                      # a training subject: σ to match
    matched = matched_noise(cfg)
    commands, missing = planned_runs(cfg, matched=matched)
    assert not missing
    trained = [dict(a.split("=") for a in args) for script, args in commands if script == "main.py"]
    runs = {(t["model_3D_prediction"], t["model_2D_prediction"], float(t["noise_std"])) for t in trained}
    lifting = {("GraphMLP", s, 0.0) for s in ("GroundTruth", "Probabilistic", "ProbabilisticMean", "GroundTruthCov")}
    noise = {("GraphMLP", "GroundTruth", n) for n in (0.01, matched["noise_std"])}
    action = {("SkateFormer", s, 0.0) for s in ("GroundTruth", "Probabilistic")}
    assert runs == lifting | noise | action
    evaluated = [dict(a.split("=") for a in args) for script, args in commands if script == "get3Dprediction.py"]
    columns = {e["model_2D_dataset"] for e in evaluated if e["model_3D_prediction"] == "GraphMLP"}
    # ProbabilisticMean's evaluation would read the same means as Probabilistic's: one column
    assert columns == {"GroundTruth", "Probabilistic", "GroundTruthCov"}
    assert len(evaluated) == (len(lifting) + len(noise)) * 3 + len(action) * 2
    # compare.py --matched-only (a study.py stage beside the other rows): the matched row's training and evaluations
    row = ("GraphMLP", "GroundTruth", matched["noise_std"], "xy")
    only, _ = planned_runs(cfg, matched=matched, only=row)
    assert [s for s, _ in only] == ["main.py"] + ["get3Dprediction.py"] * 3
    assert all(f"noise_std={matched['noise_std']:g}" in args for _, args in only)
    # compare.py --evaluate-only: the same row without its training
    assert planned_runs(cfg, matched=matched, only=row, train=False)[0] == only[1:]


@pytest.mark.parametrize("override, message", [
    ("compare.sources=[GroundTruth, GroundTruth+Σ]", "compare.sources' has unknown source(s) ['GroundTruth+Σ']; "
                                                     "valid: GroundTruth, Hourglass, ViTPose, Probabilistic, "
                                                     "ProbabilisticMean, GroundTruthCov"),
    ("compare.action_sources=[Probabilistc]", "compare.action_sources' has unknown source(s) ['Probabilistc']"),
    ("lifting.sample_mode=sequence", "choose one of: frame, window, ar1"),
    ("action.sample_rho=1.0", "'action.sample_rho' = 1.0 must lie in (−1, 1)"),
])
def test_bad_source_and_sampling_keys_are_refused_naming_the_choices(tmp_path, override, message):
    from config import ConfigError

    with pytest.raises(ConfigError) as err:
        make_cfg(tmp_path, override)
    assert message in str(err.value)


# --- the per-joint uncertainty every source gives (lifting.input / action.input) ---------------------

def _expected_moments(subject: str, cam: int, frames) -> np.ndarray:
    """(T, J, 3) of Σ_f = (1 + f) base_covariance() in normalised units²: the artifact of write_probabilistic."""
    from utils.codecs.uncertainty import marginal_moments

    cov = np.stack([base_covariance() * (1 + f) for f in frames]) * scale(subject, cam) ** 2
    return marginal_moments(cov)


@pytest.mark.parametrize("source, sample", [("Probabilistic", True), ("Probabilistic", False),
                                            ("ProbabilisticMean", True), ("GroundTruthCov", True),
                                            ("GroundTruthCov", False)])
def test_covariance_sources_give_the_artifact_marginals(data, tmp_path, source, sample):
    from dataloader.sources import build_source

    cfg = make_cfg(tmp_path)
    write_probabilistic(cfg, [KEY])
    src = build_source(cfg, data, [KEY], source, sample=sample)
    frames = np.array([0, 3, 8])
    np.testing.assert_allclose(src.window_moments(KEY, frames), _expected_moments("S9", 2, frames), rtol=1e-5)


def test_deterministic_sources_have_no_moments_and_noise_has_its_variance(data, tmp_path):
    from dataloader.sources import build_source

    cfg = make_cfg(tmp_path)
    assert build_source(cfg, data, [KEY], "GroundTruth").window_moments(KEY, np.arange(3)) is None
    noisy = build_source(cfg, data, [KEY], "GroundTruth", noise_std=0.01).window_moments(KEY, np.arange(3))
    np.testing.assert_allclose(noisy, np.broadcast_to([1e-4, 1e-4, 0.0], (3, NUM_JOINTS, 3)), rtol=1e-5)


def test_lifting_items_carry_the_channels_of_their_source(data, tmp_path):
    from dataloader.lifting_dataset import LiftingDataset, flip_2d
    from dataloader.sources import build_source
    from utils.codecs.uncertainty import input_channels

    cfg = make_cfg(tmp_path)
    write_probabilistic(cfg, [KEY])
    means = build_source(cfg, data, [KEY], "ProbabilisticMean")
    item = LiftingDataset(data, [KEY], means, frames=3, input_mode="xy+cov")[4]  # frame 4: the window 3, 4, 5
    assert item["inputs"].shape == (3, NUM_JOINTS, 5)
    expected = input_channels(means.keypoints[KEY][3:6], _expected_moments("S9", 2, [3, 4, 5]), "xy+cov")
    np.testing.assert_allclose(item["inputs"].numpy(), expected, rtol=1e-5, atol=1e-6)
    truth = LiftingDataset(data, [KEY], build_source(cfg, data, [KEY], "GroundTruth"), frames=3, input_mode="xy+conf")
    assert truth[4]["inputs"].shape == (3, NUM_JOINTS, 3) and bool((truth[4]["inputs"][..., 2] == 1).all())
    # a flipped item is the flip of the unflipped one: x and ρ negated, sides swapped
    plain = LiftingDataset(data, [KEY], means, frames=3, input_mode="xy+cov")
    flipping = LiftingDataset(data, [KEY], means, frames=3, flip=True, input_mode="xy+cov")
    pairs = [(flipping[i]["inputs"].numpy(), plain[i]["inputs"].numpy()) for i in range(len(plain))]
    flipped = [(f, p) for f, p in pairs if not np.array_equal(f, p)]
    assert flipped, "no item flipped"
    for f, p in flipped:
        np.testing.assert_allclose(f, flip_2d(p), atol=1e-6)


def test_uncertainty_dropout_gives_some_windows_the_no_uncertainty_channels_and_keeps_the_rest(data, tmp_path):
    from dataloader.action_dataset import ActionClipDataset
    from dataloader.lifting_dataset import LiftingDataset
    from dataloader.sources import build_source

    cfg = make_cfg(tmp_path)
    write_probabilistic(cfg, [KEY])
    means = build_source(cfg, data, [KEY], "ProbabilisticMean")
    plain = LiftingDataset(data, [KEY], means, frames=3, flip=True, input_mode="xy+cov")
    dropping = LiftingDataset(data, [KEY], means, frames=3, flip=True, input_mode="xy+cov", uncertainty_dropout=0.5)
    constant = [0] * len(plain)
    for i in range(len(plain)):
        p, d = plain[i]["inputs"].numpy(), dropping[i]["inputs"].numpy()
        np.testing.assert_array_equal(d[..., :2], p[..., :2])  # the same coordinates and flips
        if not np.array_equal(d, p):
            np.testing.assert_array_equal(d[..., 2:], 0.0)  # xy+cov's "no uncertainty": log σ = 0, ρ = 0
            constant[i] = 1
    assert 0 < sum(constant) < len(plain)
    always = LiftingDataset(data, [KEY], means, frames=3, input_mode="xy+conf", uncertainty_dropout=1.0)
    assert bool((always[4]["inputs"][..., 2] == 1).all())
    clips = ActionClipDataset(data, [KEY], means, 4, 4, input_mode="xy+conf", uncertainty_dropout=1.0)
    assert bool((clips[0]["inputs"][..., 2] == 1).all())
    with pytest.raises(ValueError, match="uncertainty_dropout"):
        LiftingDataset(data, [KEY], means, frames=3, input_mode="xy+cov", uncertainty_dropout=1.5)


def test_action_scale_jitter_scales_sigma_with_the_coordinates(data, tmp_path):
    from dataloader.action_dataset import ActionClipDataset
    from dataloader.sources import build_source

    cfg = make_cfg(tmp_path)
    write_probabilistic(cfg, [KEY])
    means = build_source(cfg, data, [KEY], "ProbabilisticMean")
    plain = ActionClipDataset(data, [KEY], means, 4, 4, input_mode="xy+cov")[0]["inputs"].numpy()
    jittered = ActionClipDataset(data, [KEY], means, 4, 4, augment=True, seed=1, input_mode="xy+cov")[0]["inputs"].numpy()
    s = jittered[1, 0, 0] / plain[1, 0, 0]  # the jitter factor, read off a coordinate
    assert s != pytest.approx(1.0) and 0.9 <= s <= 1.1
    np.testing.assert_allclose(jittered[..., :2], s * plain[..., :2], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(jittered[..., 2:4], plain[..., 2:4] + np.log(s), atol=1e-5)  # log(sσ) = log σ + log s
    np.testing.assert_allclose(jittered[..., 4], plain[..., 4], atol=1e-6)                  # ρ is scale-free


def test_compare_plans_the_ways_of_using_the_probabilistic_source(tmp_path):
    from utils.study.comparison import planned_runs

    cfg = make_cfg(tmp_path, "compare.sources=[GroundTruth, Probabilistic]", "compare.action_sources=[GroundTruth]",
                   "compare.noise_stds=[]", "compare.matched_noise=false",
                   "compare.uncertainty_comparison=[GraphMLP, SkateFormer]", "compare.uncertainty_input=xy+conf")
    write_probabilistic(cfg, [KEY])
    commands, missing = planned_runs(cfg)
    assert not missing
    trained = [dict(a.split("=") for a in args) for script, args in commands if script == "main.py"]
    runs = sorted((t["model_3D_prediction"], t["model_2D_prediction"],
                   t.get("lifting.input", t.get("action.input", "xy"))) for t in trained)
    # the lifting rows (GroundTruth, Probabilistic) and the action row, plus the ways not already among them
    ways = [(m, s, i) for m in ("GraphMLP", "SkateFormer") for s in ("ProbabilisticMean", "Probabilistic")
            for i in ("xy", "xy+conf")]
    assert runs == sorted(set(ways) | {("GraphMLP", "GroundTruth", "xy"), ("SkateFormer", "GroundTruth", "xy")})
    evaluated = [dict(a.split("=") for a in args) for script, args in commands if script == "get3Dprediction.py"]
    graph = [e for e in evaluated if e["model_3D_prediction"] == "GraphMLP" and e.get("lifting.input") == "xy+conf"]
    assert sorted(e["model_2D_dataset"] for e in graph) == sorted(["GroundTruth", "Probabilistic"] * 2)
    action = [e for e in evaluated if e["model_3D_prediction"] == "SkateFormer"]
    assert {e["model_2D_dataset"] for e in action} == {"GroundTruth"}  # the action table's columns
    assert all("lifting.input" not in e for e in action)


def test_an_unknown_model_in_the_uncertainty_comparison_is_refused(tmp_path):
    from config import ConfigError

    with pytest.raises(ConfigError, match=r"compare.uncertainty_comparison' has unknown model\(s\) \['PoseFormer'\]"):
        make_cfg(tmp_path, "compare.uncertainty_comparison=[PoseFormer]")

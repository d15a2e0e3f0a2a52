"""The downstream datasets, the 2D sources and the evaluation's averages on hand-made sequences with
known answers.

The data is the in-memory ramp of tests/ramp_data.py: the 2D of (camera c, frame f, joint j) is the pixel
(100 + 10 f + j, 300 + 20 c + j), so every window and clip below can be written out frame by frame, and
the 3D is random world metres. Expected values come from the sequences themselves and from the
normalisation x ↦ 2x/w − 1, y ↦ 2y/w − h/w (VideoPose3D's ``normalize_screen_coordinates``), written
out in tests/ramp_data.py.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dataloader.h36m import ACTIONS, NUM_CAMERAS, NUM_JOINTS, ROOT, get_camera, select_17
from tests.ramp_data import normalised, pixels, ramp_human36m

FRAMES = {("S1", "Walking 1"): 7, ("S1", "Eating"): 3, ("S1", "Directions"): 9,
          ("S9", "Walking"): 7, ("S9", "Eating 1"): 10, ("S9", "Directions 1"): 9}


@pytest.fixture(scope="module")
def data():
    return ramp_human36m(FRAMES)


# --- 2D sources -----------------------------------------------------------------------------------

def test_ground_truth_source_is_the_normalised_ground_truth(data):
    from dataloader.sources import ground_truth_source

    keys = [("S1", "Walking 1", 0), ("S9", "Eating 1", 3)]
    source = ground_truth_source(data, keys)
    assert source.name == "GroundTruth" and not source.stochastic
    for subject, sequence, cam in keys:
        np.testing.assert_allclose(source.keypoints[subject, sequence, cam],
                                   normalised(subject, cam, pixels(cam, FRAMES[subject, sequence])), rtol=1e-6)
    cam = get_camera("S1", 0)  # the frame's corners and centre: (0, 0) → (−1, −h/w), (w/2, h/2) → (0, 0)
    corners = normalised("S1", 0, np.array([[0.0, 0.0], [cam.res_w / 2, cam.res_h / 2], [cam.res_w, cam.res_h]]))
    np.testing.assert_allclose(corners, [[-1, -cam.res_h / cam.res_w], [0, 0], [1, cam.res_h / cam.res_w]], atol=1e-12)


def test_noise_source_draws_isotropic_noise_of_the_given_std(data):
    from dataloader.sources import ground_truth_source

    key = ("S1", "Walking 1", 1)
    source = ground_truth_source(data, [key], noise_std=0.02)
    assert source.stochastic and source.name == "GroundTruth+noise0.02"
    frames = np.zeros(400, dtype=np.int64)                       # frame 0, 400 times: 400 × 34 draws
    noise = source.window(key, frames, np.random.default_rng(0)) - source.keypoints[key][frames]
    assert abs(noise.mean()) < 0.002 and abs(noise.std() - 0.02) < 0.001
    np.testing.assert_array_equal(source.window(key, frames[:3], None), source.keypoints[key][:1].repeat(3, 0))


def write_artifact(tmp_path, data, keys, covariance=None, drop=None, rng=None):
    """An artifact of ground truth + (0.5 f, −0.25 c) px for `keys`, rows shuffled; `drop` = a (key, frame) to leave out."""
    from utils.artifact import save_artifact

    table = {s: sorted(q for (s2, q) in FRAMES if s2 == s) for s in sorted({k[0] for k in keys})}
    rows, kp, cov = [], [], []
    for subject, sequence, cam in keys:
        n = FRAMES[subject, sequence]
        for f in range(n):
            if drop == ((subject, sequence, cam), f):
                continue
            rows.append([int(subject[1:]), table[subject].index(sequence), cam, f])
            kp.append(pixels(cam, n)[f] + np.array([0.5 * f, -0.25 * cam], np.float32))
            if covariance is not None:
                cov.append(covariance(f))
    order = (rng or np.random.default_rng(0)).permutation(len(rows))
    return save_artifact(tmp_path / "art", keypoints=np.array(kp)[order], index=np.array(rows)[order],
                         meta={"source": "Hand", "sequences": table},
                         covariance=None if covariance is None else np.array(cov)[order])


def test_artifact_source_puts_each_row_at_its_frame(data, tmp_path):
    from dataloader.sources import artifact_source

    keys = [("S1", "Walking 1", 0), ("S1", "Eating", 2), ("S9", "Walking", 1)]
    source = artifact_source(data, keys, write_artifact(tmp_path, data, keys), fix="re-create it")
    assert source.name == "Hand" and source.cholesky is None
    for subject, sequence, cam in keys:
        n = FRAMES[subject, sequence]
        expected = pixels(cam, n) + np.stack([0.5 * np.arange(n), np.full(n, -0.25 * cam)], -1)[:, None]
        np.testing.assert_allclose(source.keypoints[subject, sequence, cam], normalised(subject, cam, expected),
                                   rtol=1e-6, atol=1e-7)


def test_artifact_source_refuses_a_missing_frame_or_sequence(data, tmp_path):
    from dataloader.sources import artifact_source
    from utils.artifact import ArtifactError

    keys = [("S1", "Walking 1", 0)]
    path = write_artifact(tmp_path, data, keys, drop=(keys[0], 4))
    with pytest.raises(ArtifactError, match="first missing frame 4.*re-create it"):
        artifact_source(data, keys, path, fix="re-create it")
    with pytest.raises(ArtifactError, match="no predictions for S1 'Walking 1' camera 1"):
        artifact_source(data, [("S1", "Walking 1", 1)], path, fix="re-create it")


def test_probabilistic_source_samples_the_artifact_covariance_in_normalised_units(data, tmp_path):
    """Σ in px² becomes Σ (2/w)² (normalisation scales both axes by 2/w); draws have that covariance."""
    from dataloader.sources import artifact_source

    rng = np.random.default_rng(3)
    factor = rng.normal(0, 3.0, (2 * NUM_JOINTS, 2 * NUM_JOINTS))
    base = factor @ factor.T + 4.0 * np.eye(2 * NUM_JOINTS)                        # px², ~±10 px
    key = ("S9", "Walking", 2)
    path = write_artifact(tmp_path, data, [key], covariance=lambda f: base * (1 + f))
    source = artifact_source(data, [key], path, fix="re-create it")
    scale = 2.0 / get_camera("S9", 2).res_w
    L = source.cholesky[key].astype(np.float64)                                    # (N, D, D)
    for f in range(FRAMES["S9", "Walking"]):
        np.testing.assert_allclose(L[f] @ L[f].T, base * (1 + f) * scale ** 2, rtol=1e-4, atol=1e-10)
    frames = np.full(4000, 3)
    draws = source.window(key, frames, np.random.default_rng(0)).reshape(len(frames), -1)
    empirical = np.cov(draws.T.astype(np.float64))
    expected = base * 4 * scale ** 2
    assert np.linalg.norm(empirical - expected) < 0.1 * np.linalg.norm(expected)
    np.testing.assert_allclose(draws.mean(0), source.keypoints[key][3].reshape(-1), atol=3 * np.sqrt(expected.max() / 4000) * 2)
    assert artifact_source(data, [key], path, fix="", sample=False).cholesky is None


# --- LiftingDataset --------------------------------------------------------------------------------

def test_lifting_window_is_centred_on_the_target_frame_with_edge_padding(data):
    """Windows of 5 frames over a 7-frame sequence: frames [0, 0, 0, 1, 2] for frame 0 … [4, 5, 6, 6, 6]
    for frame 6, as the official code pads (edge replication)."""
    from dataloader.lifting_dataset import LiftingDataset
    from dataloader.sources import ground_truth_source

    key = ("S1", "Walking 1", 2)
    dataset = LiftingDataset(data, [key], ground_truth_source(data, [key]), frames=5)
    windows = {0: [0, 0, 0, 1, 2], 1: [0, 0, 1, 2, 3], 3: [1, 2, 3, 4, 5], 5: [3, 4, 5, 6, 6], 6: [4, 5, 6, 6, 6]}
    gt = normalised("S1", 2, pixels(2, 7))
    assert len(dataset) == 7
    for f, frames in windows.items():
        item = dataset[f]
        np.testing.assert_allclose(item["inputs"].numpy(), gt[frames], rtol=1e-6)
        assert item["index"].tolist() == [1, 0, 2, f] and int(item["action"]) == ACTIONS.index("Walking")


def test_lifting_target_is_the_root_relative_camera_frame_pose(data):
    """Target of frame f: the 17 joints of frame f in camera coordinates minus the camera-frame root —
    root 0, distances to the root as in the world (a rigid change of frame), and not the world frame."""
    from dataloader.camera import world_to_camera
    from dataloader.lifting_dataset import LiftingDataset
    from dataloader.sources import ground_truth_source

    keys = [("S9", "Eating 1", 1), ("S1", "Directions", 3)]
    dataset = LiftingDataset(data, keys, ground_truth_source(data, keys), frames=3, stride=4)
    seen = []
    for i in range(len(dataset)):
        item = dataset[i]
        _, k, cam, f = item["index"].tolist()
        subject, sequence, _ = keys[k]
        seen.append((k, f))
        world = select_17(data.positions_3d[subject][sequence][f].astype(np.float64))
        camera = world_to_camera(world, get_camera(subject, cam))
        target = item["target"].numpy()
        assert np.all(target[ROOT] == 0)
        np.testing.assert_allclose(target, camera - camera[ROOT], atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(target, axis=-1), np.linalg.norm(world - world[ROOT], axis=-1), atol=1e-5)
        assert np.abs(target - (world - world[ROOT])).max() > 0.05                # camera frame, not world
    assert seen == [(0, 0), (0, 4), (0, 8), (1, 0), (1, 4), (1, 8)]                # stride 4 over 10 and 9 frames


def test_lifting_draws_are_fresh_per_epoch_and_reproducible(data):
    from dataloader.lifting_dataset import LiftingDataset
    from dataloader.sources import ground_truth_source

    key = ("S1", "Walking 1", 0)
    dataset = LiftingDataset(data, [key], ground_truth_source(data, [key], noise_std=0.01), frames=3, seed=4)
    first = dataset[2]["inputs"]
    assert torch.equal(first, dataset[2]["inputs"])                              # same (seed, epoch, item)
    dataset.set_epoch(1)
    assert not torch.equal(first, dataset[2]["inputs"])                          # a fresh draw next epoch
    assert (first - torch.from_numpy(normalised("S1", 0, pixels(0, 7))[[1, 2, 3]])).abs().max() < 0.06


# --- ActionClipDataset and the splits ----------------------------------------------------------------

def test_action_clips_start_every_stride_and_are_centred_on_the_first_pelvis(data):
    from dataloader.action_dataset import ActionClipDataset
    from dataloader.sources import ground_truth_source

    keys = [("S9", "Eating 1", 1), ("S1", "Eating", 0)]                          # 10 frames; 3 frames
    dataset = ActionClipDataset(data, keys, ground_truth_source(data, keys), clip_length=4, clip_stride=3)
    # 10 frames: starts 0, 3, 6 (a clip must fit); 3 frames (< T): one clip, the last frame repeated
    expected = [(0, [0, 1, 2, 3]), (0, [3, 4, 5, 6]), (0, [6, 7, 8, 9]), (1, [0, 1, 2, 2])]
    assert len(dataset) == len(expected)
    for i, (k, frames) in enumerate(expected):
        subject, sequence, cam = keys[k]
        gt = normalised(subject, cam, pixels(cam, FRAMES[subject, sequence]))[frames]
        item = dataset[i]
        np.testing.assert_allclose(item["inputs"].numpy(), gt - gt[0, ROOT], rtol=1e-5, atol=1e-6)
        assert int(item["label"]) == ACTIONS.index("Eating")
        assert item["index"].tolist() == [int(subject[1:]), k, cam, frames[0]]
        np.testing.assert_allclose(item["index_t"].numpy(), 2 * (np.array(frames) - frames[0]) / 4 - 1)


def test_action_labels_follow_the_canonical_action(data):
    from dataloader.action_dataset import ActionClipDataset
    from dataloader.sources import ground_truth_source

    keys = [("S1", "Walking 1", 0), ("S9", "Directions 1", 0), ("S9", "Eating 1", 0)]
    dataset = ActionClipDataset(data, keys, ground_truth_source(data, keys), clip_length=7, clip_stride=7)
    labels = [int(dataset[i]["label"]) for i in range(len(dataset))]
    assert labels == [ACTIONS.index("Walking"), ACTIONS.index("Directions"), ACTIONS.index("Eating")]


ALL_KEYS = [(s, q, c) for (s, q) in FRAMES for c in range(NUM_CAMERAS)]


def test_xsub_trains_on_training_subjects_and_tests_on_the_others():
    from dataloader.action_dataset import split_keys

    train, test = split_keys(ALL_KEYS, "xsub", ["S1"], ["S9"])
    assert {k[0] for k in train} == {"S1"} and {k[0] for k in test} == {"S9"}
    assert sorted(train + test) == sorted(ALL_KEYS)


def test_xview_tests_on_cameras_it_never_trains_on():
    from dataloader.action_dataset import split_keys

    train, test = split_keys(ALL_KEYS, "xview", ["S1"], ["S9"])
    train_cams, test_cams = {k[2] for k in train}, {k[2] for k in test}
    assert train_cams == {0, 2} and test_cams == {1, 3}                           # the documented split
    assert {k[0] for k in train} == {k[0] for k in test} == {"S1", "S9"}            # every subject on both sides
    assert sorted(train + test) == sorted(ALL_KEYS)
    with pytest.raises(ValueError, match="unknown split 'xset'; valid: xsub, xview"):
        split_keys(ALL_KEYS, "xset", ["S1"], ["S9"])


@pytest.mark.parametrize("split", ["xsub", "xview"])
def test_action_evaluation_uses_the_held_out_side_of_the_split(data, split, monkeypatch):
    """evaluate_actions on a constant classifier (always class 0, Directions): it scores exactly the
    Directions share of the held-out clips, which are those of split_keys' test side only."""
    from config import load_config
    from dataloader.action_dataset import split_keys
    from utils.stages import evaluation

    cfg = load_config(["data.train_subjects=[S1]", "data.test_subjects=[S9]", "data.cameras=[0, 1, 2, 3]",
                       "data.num_workers=0", "action.clip_stride=3", "action.batch_size=4",
                       "model_2D_dataset=GroundTruth", "data.actions=[]"])
    seen = []

    class Recording(evaluation.ActionClipDataset):
        def __init__(self, data, keys, *args, **kwargs):
            seen.extend(keys)
            super().__init__(data, keys, *args, **kwargs)

    class Constant(torch.nn.Module):
        def forward(self, x, index_t):
            return torch.nn.functional.one_hot(torch.zeros(len(x), dtype=torch.long), len(ACTIONS)).float()

    monkeypatch.setattr(evaluation, "ActionClipDataset", Recording)
    monkeypatch.setattr(evaluation, "load_downstream", lambda *a, **k: (Constant(), {"model_kwargs": {"num_frames": 4}}))
    result = evaluation.evaluate_actions(cfg, data, torch.device("cpu"), Path("unused.pt"), split, fix="")
    train, test = split_keys(ALL_KEYS, split, ["S1"], ["S9"])
    assert sorted(seen) == sorted(test) and not set(seen) & set(train)
    clips = {k: len(range(0, max(FRAMES[k[:2]] - 4, 0) + 1, 3)) for k in test}   # starts every 3 frames
    directions = sum(n for k, n in clips.items() if k[1].startswith("Directions"))
    assert result["clips"] == sum(clips.values())
    assert result["top1"] == pytest.approx(directions / sum(clips.values()))


# --- evaluation: the action-wise average ---------------------------------------------------------------

def test_lifting_metrics_average_frames_within_and_actions_equally():
    """What get3Dprediction.py reports. Three Walking frames off by 10, 20, 30 mm along x on every joint and
    one Eating frame off by 100 mm: P1 per action 20 and 100, action-wise 60 mm (frame-weighted 40); a
    prediction that is the target rotated, scaled and shifted has P2 = 0."""
    from utils.stages.evaluation import lifting_metrics

    rng = np.random.default_rng(0)
    target = rng.normal(0, 0.3, (4, NUM_JOINTS, 3))
    pred = target.copy()
    pred[:, :, 0] += np.array([0.010, 0.020, 0.030, 0.100])[:, None]
    actions = np.array([ACTIONS.index("Walking")] * 3 + [ACTIONS.index("Eating")])
    m = lifting_metrics(pred, target, actions)
    assert m["mpjpe_mm"] == pytest.approx(60.0) and m["mpjpe_mm_frame_weighted"] == pytest.approx(40.0)
    assert m["per_action"]["Walking"]["mpjpe_mm"] == pytest.approx(20.0)
    assert m["per_action"]["Eating"] == pytest.approx({"frames": 1, "mpjpe_mm": 100.0, "p_mpjpe_mm": 0.0}, abs=1e-6)
    assert m["p_mpjpe_mm"] == pytest.approx(0.0, abs=1e-6) and m["frames"] == 4  # a shift is a similarity
    c, s = np.cos(0.4), np.sin(0.4)
    similar = 1.3 * target @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T + 0.5
    m = lifting_metrics(similar, target, actions)
    assert m["p_mpjpe_mm"] == pytest.approx(0.0, abs=1e-6) and m["mpjpe_mm"] > 100

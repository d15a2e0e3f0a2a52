"""The synthetic Human3.6M generator (dataloader/synthetic): layout, geometry, frames, determinism."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from dataloader.camera import project_to_pixels, world_to_camera
from dataloader.h36m import (ACTIONS, CAMERA_IDS, JOINTS_LEFT, JOINTS_RIGHT, NUM_JOINTS, NUM_JOINTS_RAW,
                             PARENTS_RAW, SUBJECTS, cameras_of, get_camera, select_17)
from dataloader.synthetic import motion, render, skeleton
from dataloader.reader import read_npz_object
from dataloader.synthetic.generate import BOX_TEMPLATE, FRAME_TEMPLATE, PROFILES, generate, sequence_names

TINY_SUBJECTS = ("S1", "S9")
TINY_ACTIONS = ("Directions", "Phoning", "Sitting", "Walking")


def _load(root: Path):
    # the VideoPose3D npz format holds pickled dicts: read as the framework reads them (no np.load pickle)
    gt = root / "data_2d_h36m_gt.npz"
    return (read_npz_object(root / "data_3d_h36m.npz", "positions_3d"), read_npz_object(gt, "positions_2d"),
            read_npz_object(gt, "metadata"))


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("synthetic") / "h36m", profile="tiny", seed=0)


@pytest.fixture(scope="module")
def tiny(tiny_root):
    return _load(tiny_root)


# --- sequence table ---------------------------------------------------------------------------

def test_sequence_names_follow_videopose3d():
    assert sequence_names("S1", "Directions") == ["Directions 1", "Directions"]
    assert sequence_names("S11", "Directions") == ["Directions 1"]     # broken video dropped
    assert sequence_names("S5", "SittingDown") == ["SittingDown", "SittingDown 1"]
    assert sequence_names("S1", "Photo") == ["Photo 1", "Photo"]      # canonical, not TakingPhoto
    assert sequence_names("S11", "Phoning") == ["Phoning 3", "Phoning 2"]
    # 7 subjects × 15 actions × 2 − S11's second Directions = 209 (human36m.md §4)
    assert sum(len(sequence_names(s, a)) for s in SUBJECTS for a in ACTIONS) == 209
    assert PROFILES["quick"].subjects == SUBJECTS and PROFILES["quick"].actions == ACTIONS


# --- layout -----------------------------------------------------------------------------------

def test_layout_keys_shapes_and_dtypes(tiny_root, tiny):
    positions_3d, positions_2d, metadata = tiny
    assert metadata == {"num_joints": NUM_JOINTS, "keypoints_symmetry": [list(JOINTS_LEFT), list(JOINTS_RIGHT)]}
    assert sorted(positions_3d) == sorted(TINY_SUBJECTS) and sorted(positions_2d) == sorted(TINY_SUBJECTS)
    for subject in TINY_SUBJECTS:
        expected = sorted(n for a in TINY_ACTIONS for n in sequence_names(subject, a))
        assert sorted(positions_3d[subject]) == expected == sorted(positions_2d[subject])
        for sequence, p3 in positions_3d[subject].items():
            assert p3.dtype == np.float32 and p3.shape == (24, NUM_JOINTS_RAW, 3)
            assert isinstance(positions_2d[subject][sequence], list) and len(positions_2d[subject][sequence]) == 4
            for p2 in positions_2d[subject][sequence]:
                assert p2.dtype == np.float32 and p2.shape == (24, NUM_JOINTS, 2)
    summary = json.loads((tiny_root / "synthetic.json").read_text())
    assert summary["settings"]["seed"] == 0 and summary["settings"]["profile"] == "tiny"
    assert summary["frame_template"] == FRAME_TEMPLATE and summary["version"] >= 1
    assert (tiny_root / "README.md").read_text().startswith("# Synthetic Human3.6M")


def test_2d_is_the_distorted_projection_of_the_3d(tiny):
    positions_3d, positions_2d, _ = tiny
    for subject, sequences in positions_3d.items():
        for sequence, p3 in sequences.items():
            for camera, p2 in zip(cameras_of(subject), positions_2d[subject][sequence]):
                expected = project_to_pixels(world_to_camera(select_17(p3.astype(np.float64)), camera), camera)
                np.testing.assert_allclose(p2, expected, atol=1e-3)
                # the whole body stays inside every image
                assert (p2 > 0).all() and (p2[..., 0] < camera.res_w).all() and (p2[..., 1] < camera.res_h).all()


def test_skeleton_bones_are_constant_and_match_the_body(tiny):
    positions_3d, _, _ = tiny
    for subject, sequences in positions_3d.items():
        body = skeleton.body_of(subject)
        for p3 in sequences.values():
            lengths = skeleton.bone_lengths(p3.astype(np.float64))          # (T, 32)
            assert lengths.std(axis=0).max() < 1e-4
            np.testing.assert_allclose(lengths[:, 2], body.thigh, atol=1e-4)     # RightUpLeg → RightLeg
            np.testing.assert_allclose(lengths[:, 18], body.upper_arm, atol=1e-4)  # LeftArm → LeftForeArm
            # duplicate joints as in the metadata.xml template (human36m.md §2)
            np.testing.assert_allclose(p3[:, 11], p3[:, 0], atol=1e-5)
            for a, b in ((16, 13), (24, 13), (20, 19), (23, 22), (28, 27), (31, 30)):
                np.testing.assert_allclose(p3[:, a], p3[:, b], atol=1e-5)
            # feet on the floor: the lowest sole point is at z = 0 in every frame
            heel = p3[:, [3, 8], 2] - body.ankle_height
            toes = p3[:, [4, 5, 9, 10], 2] - body.toe_height
            np.testing.assert_allclose(np.minimum(heel.min(1), toes.min(1)), 0.0, atol=1e-5)


def test_two_bone_ik_reaches_reachable_targets():
    rng = np.random.default_rng(0)
    shoulder = rng.normal(size=(50, 3))
    upper, lower = 0.3, 0.25
    direction = rng.normal(size=(50, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    target = shoulder + rng.uniform(0.2, 0.5, (50, 1)) * direction        # between |u−l| cos-limit and u+l
    rotation, flexion = skeleton.two_bone_ik(shoulder, target, rng.normal(size=(50, 3)), upper, lower)
    elbow = shoulder + rotation @ np.array([0.0, 0.0, -upper])
    wrist = elbow + (rotation @ skeleton.rot_y(-flexion)) @ np.array([0.0, 0.0, -lower])
    np.testing.assert_allclose(wrist, target, atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(rotation), 1.0, atol=1e-9)
    assert (flexion >= 0).all() and (flexion <= np.deg2rad(150) + 1e-9).all()


def test_rest_offsets_give_parents_before_children():
    assert all(parent < joint for joint, parent in enumerate(PARENTS_RAW) if parent >= 0)
    offsets = skeleton.rest_offsets(skeleton.body_of("S1"))
    # standing pelvis height = thigh + shin + ankle height (≈ 0.53 × height)
    body = skeleton.body_of("S1")
    positions, _ = skeleton.forward_kinematics(offsets, np.broadcast_to(np.eye(3), (1, 32, 3, 3)), np.zeros((1, 3)))
    assert np.isclose(-positions[0, 3, 2], body.thigh + body.shin)


# --- frames ----------------------------------------------------------------------------------

def _frame_path(root, subject, sequence, camera, frame):
    return root / FRAME_TEMPLATE.format(subject=subject, sequence=sequence, camera=camera, frame=frame)


def test_frames_exist_decode_and_have_the_scaled_size(tiny_root, tiny):
    positions_3d, _, _ = tiny
    summary = json.loads((tiny_root / "synthetic.json").read_text())
    longer = 0
    for subject, sequences in positions_3d.items():
        for sequence, p3 in sequences.items():
            counts = summary["sequences"][subject][sequence]
            assert counts["pose_frames"] == len(p3)
            for camera, video_frames in zip(cameras_of(subject), counts["video_frames"]):
                folder = _frame_path(tiny_root, subject, sequence, camera.id, 1).parent
                assert len(list(folder.iterdir())) == video_frames >= len(p3)   # readers use the shorter
                longer += video_frames > len(p3)
                for frame in (1, len(p3), video_frames):
                    image = cv2.imread(str(_frame_path(tiny_root, subject, sequence, camera.id, frame)))
                    assert image is not None
                    assert image.shape == (round(camera.res_h * 0.064), round(camera.res_w * 0.064), 3)
                    assert image.std() > 5.0                                    # not blank
    assert longer > 0  # the real quirk: some videos have extra trailing frames


def test_written_frames_change_only_where_the_2d_says(tiny_root, tiny):
    """Between two frames of a video only the person (and an occluder placed on the person) moves,
    so the changed pixels lie inside the 2D boxes of the two frames (with a margin)."""
    positions_3d, positions_2d, _ = tiny
    inside, total = 0, 0
    for subject in TINY_SUBJECTS:
        for sequence in positions_3d[subject]:
            if not sequence.startswith("Walking"):
                continue
            for camera, p2 in zip(cameras_of(subject), positions_2d[subject][sequence]):
                last = len(p2)
                first_image = cv2.imread(str(_frame_path(tiny_root, subject, sequence, camera.id, 1))).astype(int)
                last_image = cv2.imread(str(_frame_path(tiny_root, subject, sequence, camera.id, last))).astype(int)
                changed = np.abs(first_image - last_image).max(-1) > 40
                assert changed.sum() > 5                                        # the walker moved
                scale = np.array([first_image.shape[1] / camera.res_w, first_image.shape[0] / camera.res_h])
                mask = np.zeros_like(changed)
                for frame in (0, last - 1):
                    points = p2[frame] * scale
                    low, high = points.min(0), points.max(0)
                    margin = 0.3 * (high - low).max() + 2
                    x0, y0 = np.floor(low - margin).astype(int).clip(0)
                    x1, y1 = np.ceil(high + margin).astype(int)
                    mask[y0:y1, x0:x1] = True
                inside += (changed & mask).sum()
                total += changed.sum()
    assert inside >= 0.9 * total


def test_renderer_draws_the_body_at_the_projected_joints(tiny):
    """On a flat background, the pelvis and thorax pixels are painted and the painted region's
    box contains the projected joints."""
    positions_3d, positions_2d, _ = tiny
    subject, sequence = "S9", "Phoning 1"
    p3 = positions_3d[subject][sequence].astype(np.float64)
    body = skeleton.body_of(subject)
    style = render.make_style(np.random.default_rng(0))
    for camera, p2 in zip(cameras_of(subject), positions_2d[subject][sequence]):
        width, height = round(camera.res_w * 0.25), round(camera.res_h * 0.25)
        grey = np.full((height, width, 3), 128, np.uint8)
        renderer = render.VideoRenderer(p3, camera, body, style, grey)
        scale = np.array([width / camera.res_w, height / camera.res_h])
        for frame in (0, len(p3) // 2, len(p3) - 1):
            painted = np.abs(renderer.render(frame).astype(int) - 128).max(-1) > 10
            points = p2[frame] * scale                                            # (17, 2) at image scale
            for joint in (0, 8):                                                   # pelvis, thorax
                x, y = np.round(points[joint]).astype(int)
                assert painted[y - 1:y + 2, x - 1:x + 2].any()
            ys, xs = np.nonzero(painted)
            contained = ((points[:, 0] >= xs.min() - 1) & (points[:, 0] <= xs.max() + 1)
                         & (points[:, 1] >= ys.min() - 1) & (points[:, 1] <= ys.max() + 1))
            assert contained.mean() >= 0.9


# --- motion ----------------------------------------------------------------------------------

def test_actions_differ(tiny):
    positions_3d, _, _ = tiny

    def stat(action, fn):
        return np.mean([fn(select_17(p.astype(np.float64))) for s in TINY_SUBJECTS
                        for name, p in positions_3d[s].items() if name.split(" ")[0] == action])

    def hand_to_head(p):  # nearer wrist (13 left, 16 right) to the head (10), metres
        distance = np.linalg.norm(p[:, [13, 16]] - p[:, [10]], axis=-1)      # (T, 2)
        return distance.min(axis=1).mean()

    def root_speed(p):  # m/s at 50 Hz
        return np.linalg.norm(np.diff(p[:, 0, :2], axis=0), axis=-1).mean() * 50

    assert stat("Phoning", hand_to_head) < 0.3 < stat("Walking", hand_to_head)
    assert stat("Walking", root_speed) > 0.8 > 0.2 > stat("Sitting", root_speed)
    assert stat("Sitting", lambda p: p[:, 0, 2].mean()) < 0.6 < stat("Walking", lambda p: p[:, 0, 2].mean())


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_animates_with_sane_joints(action):
    body = skeleton.body_of("S5")
    animation = motion.animate(motion.make_motion(action, np.random.default_rng(3), 60, body), body)
    positions = animation.positions
    assert positions.shape == (60, NUM_JOINTS_RAW, 3) and np.isfinite(positions).all()
    assert (positions[..., 2] > -1e-6).all() and positions[:, 15, 2].max() < body.height  # above floor, below height
    # elbows and knees never bend backwards: wrist–shoulder and ankle–hip distances stay within the limb
    for a, b, c in ((17, 18, 19), (25, 26, 27), (1, 2, 3), (6, 7, 8)):
        reach = np.linalg.norm(positions[:, c] - positions[:, a], axis=-1)
        bones = (np.linalg.norm(positions[:, b] - positions[:, a], axis=-1)
                 + np.linalg.norm(positions[:, c] - positions[:, b], axis=-1))
        assert (reach <= bones + 1e-9).all() and (reach > 0.2 * bones).all()


# --- determinism and safety ----------------------------------------------------------------------

def test_same_seed_gives_identical_npz_for_any_worker_count(tiny_root, tmp_path):
    again = generate(tmp_path / "again", profile="tiny", seed=0, actions=["Walking", "Phoning"], workers=2)
    subset = generate(tmp_path / "subset", profile="tiny", seed=0, actions=["Walking", "Phoning"], workers=1)
    for name in ("data_3d_h36m.npz", "data_2d_h36m_gt.npz"):
        assert (again / name).read_bytes() == (subset / name).read_bytes()
    # the same sequences as in the full tiny root (a sequence does not depend on the others)
    full, _, _ = _load(tiny_root)
    part, _, _ = _load(again)
    np.testing.assert_array_equal(part["S9"]["Walking 1"], full["S9"]["Walking 1"])
    other, _, _ = _load(generate(tmp_path / "seed1", profile="tiny", seed=1, actions=["Walking"]))
    assert not np.array_equal(other["S9"]["Walking 1"][:5], full["S9"]["Walking 1"][:5])


def test_rerun_is_a_no_op_and_foreign_folders_are_refused(tiny_root, tmp_path):
    stamp = (tiny_root / "data_3d_h36m.npz").stat().st_mtime_ns
    generate(tiny_root, profile="tiny", seed=0)
    assert (tiny_root / "data_3d_h36m.npz").stat().st_mtime_ns == stamp
    foreign = tmp_path / "real"
    foreign.mkdir()
    (foreign / "data_3d_h36m.npz").write_bytes(b"not ours")
    with pytest.raises(FileExistsError, match="synthetic.json"):
        generate(foreign, profile="tiny")
    assert (foreign / "data_3d_h36m.npz").read_bytes() == b"not ours"
    with pytest.raises(KeyError, match="quick"):
        generate(tmp_path / "x", profile="huge")
    with pytest.raises(KeyError, match="S11"):
        generate(tmp_path / "x", subjects=["S2"])


def test_image_scale_and_num_frames_overrides(tmp_path):
    root = generate(tmp_path / "r", profile="tiny", subjects=["S1"], actions=["Walking"], num_frames=(10, 12),
                    image_scale=0.1)
    positions_3d, _, _ = _load(root)
    camera = get_camera("S1", CAMERA_IDS[0])
    assert all(10 <= len(p) <= 12 for p in positions_3d["S1"].values())
    image = cv2.imread(str(_frame_path(root, "S1", "Walking 1", camera.id, 1)))
    assert image.shape[:2] == (round(camera.res_h * 0.1), round(camera.res_w * 0.1))


def test_the_body_looks_the_same_from_both_sides():
    """Flip augmentation is only valid when a mirrored frame shows a plausible body: every left
    capsule has a right twin of the same radius and colour (no colour cue tells the sides apart)."""
    mirror = {skeleton.L_HIP: skeleton.R_HIP, skeleton.L_KNEE: skeleton.R_KNEE, skeleton.L_ANKLE: skeleton.R_ANKLE,
              skeleton.L_TOE_END: skeleton.R_TOE_END, skeleton.L_SHOULDER: skeleton.R_SHOULDER,
              skeleton.L_ELBOW: skeleton.R_ELBOW, skeleton.L_WRIST: skeleton.R_WRIST,
              skeleton.L_HAND_END: skeleton.R_HAND_END}
    limbs = {(a, b): (r, c) for a, b, r, c in render._LIMBS}
    left = [(a, b) for a, b in limbs if a in mirror]
    assert len(left) == len(limbs) // 2
    for a, b in left:
        assert limbs[mirror[a], mirror[b]] == limbs[a, b]


def test_silhouette_box_holds_the_drawn_body_and_not_the_chair(tiny):
    positions_3d, positions_2d, _ = tiny
    subject, sequence = "S9", "Sitting 1"
    p3 = positions_3d[subject][sequence].astype(np.float64)
    camera = cameras_of(subject)[0]
    width, height = round(camera.res_w * 0.25), round(camera.res_h * 0.25)
    grey = np.full((height, width, 3), 128, np.uint8)
    renderer = render.VideoRenderer(p3, camera, skeleton.body_of(subject), render.make_style(np.random.default_rng(0)),
                                    grey)
    for frame in (0, len(p3) - 1):
        x0, y0, x1, y1 = renderer.silhouette_box(frame)
        painted = np.abs(renderer.render(frame).astype(int) - 128).max(-1) > 10
        ys, xs = np.nonzero(painted)
        scale = width / camera.res_w
        assert abs(x0 * scale - (xs.min() - 0.5)) <= 1.5 and abs(x1 * scale - (xs.max() + 0.5)) <= 1.5
        assert abs(y0 * scale - (ys.min() - 0.5)) <= 1.5 and abs(y1 * scale - (ys.max() + 0.5)) <= 1.5
        joints = positions_2d[subject][sequence][0][frame]                        # (17, 2) full-frame px
        assert (joints[:, 0] >= x0).all() and (joints[:, 0] <= x1).all()
        assert (joints[:, 1] >= y0).all() and (joints[:, 1] <= y1).all()


# --- person boxes and the pixel convention ------------------------------------------------------------

@pytest.mark.parametrize("subject, action", [("S9", "Sitting"), ("S1", "Walking")])
def test_person_boxes_are_the_boxes_of_the_rendered_body(tiny_root, subject, action):
    """Every video frame's box is written where real Human3.6M keeps ground_truth_bb, equals the renderer's
    silhouette box of that frame, and the reader serves it cut to the poses."""
    from dataloader.reader import SequenceKey, load_human36m
    from dataloader.synthetic.generate import _make_sequence

    summary = json.loads((tiny_root / "synthetic.json").read_text())
    assert summary["person_boxes"]["template"] == BOX_TEMPLATE
    data = load_human36m(tiny_root, subjects=[subject])
    for sub_action, sequence in enumerate(sequence_names(subject, action), start=1):
        num_frames, animation, _ = _make_sequence(PROFILES["tiny"], subject, action, sub_action)
        for c, (camera, video_frames) in enumerate(zip(cameras_of(subject),
                                                       summary["sequences"][subject][sequence]["video_frames"])):
            boxes = np.load(tiny_root / BOX_TEMPLATE.format(subject=subject, sequence=sequence, camera=camera.id),
                            allow_pickle=False)
            assert boxes.shape == (video_frames, 4) and boxes.dtype == np.float32
            background = np.zeros((round(camera.res_h * 0.064), round(camera.res_w * 0.064), 3), np.uint8)
            renderer = render.VideoRenderer(animation.positions[:video_frames], camera, skeleton.body_of(subject),
                                            render.make_style(np.random.default_rng(0)), background, animation.chair)
            drawn = np.stack([renderer.silhouette_box(f) for f in range(video_frames)]).astype(np.float32)
            np.testing.assert_array_equal(boxes, drawn)
            np.testing.assert_array_equal(data.person_boxes(SequenceKey(subject, sequence), c), boxes[:num_frames])


def test_the_renderer_places_pixels_as_an_area_downscale_does(tiny):
    """A frame rendered at 1/s of the camera resolution shows a joint where INTER_AREA shows it in a full frame
    resized by s (x_full + ½ = s (x_stored + ½)), the mapping the crops invert (utils.codecs.crop.stored_to_full):
    the drawn joint pixels map back onto the 2D ground truth exactly, and the silhouette box holds the joints."""
    from utils.codecs.crop import apply_affine, stored_to_full

    positions_3d, positions_2d, _ = tiny
    subject, sequence = "S1", "Walking 1"
    p3 = positions_3d[subject][sequence].astype(np.float64)
    for camera, p2 in zip(cameras_of(subject), positions_2d[subject][sequence]):
        width, height = round(camera.res_w * 0.064), round(camera.res_h * 0.064)
        renderer = render.VideoRenderer(p3, camera, skeleton.body_of(subject),
                                        render.make_style(np.random.default_rng(0)),
                                        np.zeros((height, width, 3), np.uint8))
        back = apply_affine(select_17(renderer.pixels), stored_to_full([camera.res_w / width, camera.res_h / height]))
        np.testing.assert_allclose(back, p2, atol=1e-3)                                   # full-frame px
        x0, y0, x1, y1 = renderer.silhouette_box(len(p3) // 2)
        joints = p2[len(p3) // 2]
        assert (joints >= [x0, y0]).all() and (joints <= [x1, y1]).all()


def test_a_root_written_before_the_person_boxes_is_rewritten(tmp_path):
    root = generate(tmp_path / "r", profile="tiny", subjects=["S1"], actions=["Walking"], num_frames=4)
    marker = json.loads((root / "synthetic.json").read_text())
    del marker["person_boxes"]
    (root / "synthetic.json").write_text(json.dumps(marker))
    box = root / BOX_TEMPLATE.format(subject="S1", sequence="Walking 1", camera=CAMERA_IDS[0])
    box.unlink()
    generate(root, profile="tiny", subjects=["S1"], actions=["Walking"], num_frames=4)
    assert box.is_file() and "person_boxes" in json.loads((root / "synthetic.json").read_text())


def test_study_regenerates_a_root_from_an_older_generator(tmp_path):
    """`make demo` on a checkout whose data/synthetic was written by an older generator (other version or
    settings, or no box files) regenerates it instead of training on stale frames."""
    import json
    from dataclasses import asdict

    from dataloader.synthetic.generate import PROFILES, is_current
    from utils.study.plan import Stage, is_stale
    root = tmp_path / "synthetic"
    root.mkdir()
    settings = json.loads(json.dumps(asdict(PROFILES["quick"])))
    stage = Stage("data", [], outputs=[root / "synthetic.json"], up_to_date=lambda: is_current(root))
    for marker, current in ((dict(settings=settings, person_boxes=True), True),
                            (dict(settings=settings), False),
                            (dict(settings=dict(settings, version=settings["version"] - 1), person_boxes=True), False)):
        (root / "synthetic.json").write_text(json.dumps(marker))
        assert is_current(root) is current
        assert is_stale(stage, []) is not current
    assert not is_current(tmp_path / "absent")


def test_probabilistic_settings_do_not_retrain_the_deterministic_2d_models(tmp_path):
    """Editing prob.* between stages re-runs the TIC-TAC stage, not train2D.py / get2Dpredictions.py."""
    import yaml

    from config import load_config, to_dict
    from utils.study.plan import DETERMINISTIC_2D_IGNORED, Stage, is_stale
    saved = tmp_path / "config.yml"
    saved.write_text(yaml.safe_dump(to_dict(load_config(["model_2D_prediction=ViTPose"]))))
    out = tmp_path / "last.pt"
    out.write_bytes(b"x")
    args = ["model_2D_prediction=ViTPose"]
    deterministic = Stage("train 2D ViTPose", [], outputs=[out], saved_config=saved, stage_overrides=args,
                          ignored=DETERMINISTIC_2D_IGNORED)
    probabilistic = Stage("train TIC-TAC", [], outputs=[out], saved_config=saved, stage_overrides=args)
    assert not is_stale(deterministic, []) and not is_stale(probabilistic, [])
    assert not is_stale(deterministic, ["prob.lr=0.123"]) and is_stale(probabilistic, ["prob.lr=0.123"])
    assert is_stale(deterministic, ["pose2d.lr=0.123"])

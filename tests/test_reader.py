"""dataloader.reader, the inspect/extract CLI and dataloader.frames on roots in the real layout."""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from dataloader.__main__ import main as cli
from dataloader.camera import project_to_pixels, world_to_camera
from dataloader.frames import extract_all, extract_frames
from dataloader.h36m import CAMERA_IDS, NUM_CAMERAS, NUM_JOINTS, select_17
from dataloader.reader import (FILE_3D, DataError, SequenceKey, file_2d, load_box_detections, load_human36m,
                               pose_counts, read_box_file)
from tests.fixtures import (DETECTIONS, EXTRA_2D_FRAMES, fixture_box, read_npz_dict, write_box_masks,
                            write_positions_2d, write_positions_3d, write_real_layout_fixture)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    """A read-only fixture root (S1 train, S9 test); tests that modify files write their own."""
    return write_real_layout_fixture(tmp_path_factory.mktemp("h36m"))


@pytest.fixture
def fresh(tmp_path):
    return write_real_layout_fixture(tmp_path / "root", subjects=("S1", "S11"))


def _rewrite_3d(root, edit):
    tree = read_npz_dict(root / FILE_3D, "positions_3d")
    edit(tree)
    write_positions_3d(root, tree)


def _rewrite_2d(root, edit, name="gt"):
    path = root / file_2d(name)
    tree, metadata = read_npz_dict(path, "positions_2d"), read_npz_dict(path, "metadata")
    edit(tree, metadata)
    write_positions_2d(root, tree, name, metadata)


def _one_line_error(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message
    return message


# --- loading and names ----------------------------------------------------------------------

def test_fixture_loads_with_canonical_sorted_keys(fixture):
    data = load_human36m(fixture.root)
    expected = [SequenceKey(s, q) for s in ("S1", "S9") for q in sorted(fixture.sequences[s])]
    assert data.sequences() == expected
    assert data.subjects == ["S1", "S9"]
    assert SequenceKey("S1", "Photo 1").action == "Photo"
    for key in data.sequences():
        n = data.num_frames(key)
        assert n == fixture.num_frames
        assert data.positions_3d[key.subject][key.sequence].shape == (n, 32, 3)
        assert [x.shape for x in data.positions_2d[key.subject][key.sequence]] == [(n, NUM_JOINTS, 2)] * NUM_CAMERAS
        assert data.cameras_of(key) == list(range(NUM_CAMERAS))


def test_subjects_sort_by_number_not_text(fresh):
    data = load_human36m(fresh.root)
    assert [k.subject for k in data.sequences()][-1] == "S11" and data.subjects == ["S1", "S11"]


def test_raw_and_underscore_names_are_canonicalised(fresh):
    # a file written with S1's raw spellings and underscores still yields canonical keys
    def rename(tree):
        tree["S1"]["TakingPhoto_1"] = tree["S1"].pop("Photo 1")
        tree["S1"]["Directions_1"] = tree["S1"].pop("Directions 1")

    _rewrite_3d(fresh.root, rename)
    _rewrite_2d(fresh.root, lambda tree, _: rename(tree))
    data = load_human36m(fresh.root)
    assert {k.sequence for k in data.sequences(subjects=["S1"])} == {"Directions", "Directions 1", "Photo 1"}
    assert data.disk_names["S1", "Photo 1"] == "TakingPhoto_1"
    assert any("'TakingPhoto_1' → 'Photo 1'" in note for note in data.notes)
    # frames: the folder is 'TakingPhoto 1' (raw spelling with a space), still found
    assert data.frame_path(("S1", "Photo 1"), 0, 0).parent.name == "TakingPhoto 1.54138969"
    assert data.check_frames() is None


def test_frame_path_is_one_based_and_resolves_the_raw_s1_folder(fixture):
    data = load_human36m(fixture.root)
    path = data.frame_path(SequenceKey("S1", "Photo 1"), 1, 0)
    assert path == fixture.root / "S1" / "frames" / "TakingPhoto 1.55011271" / "000001.jpg"
    assert path.is_file()
    assert data.frame_path(SequenceKey("S9", "Directions 1"), 3, 7).name == "000008.jpg"
    assert data.check_frames() is None


def test_frame_folder_with_underscores_is_found(fresh):
    frames = fresh.root / "S11" / "frames"
    for camera_id in CAMERA_IDS:
        (frames / f"Photo 1.{camera_id}").rename(frames / f"Photo_1.{camera_id}")
    data = load_human36m(fresh.root)
    assert data.frame_path(("S11", "Photo 1"), 2, 0) == frames / "Photo_1.58860488" / "000001.jpg"
    assert data.check_frames() is None


def test_custom_frame_template(fresh):
    # mmpose-like names: one folder per video, spaces → underscores, camera in the file name
    for path in sorted(fresh.root.glob("*/frames/*/*.jpg")):
        subject, folder = path.parts[-4], path.parent.name
        target = fresh.root / "images" / subject / folder.replace(" ", "_") / f"{folder.replace(' ', '_')}_{path.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)
    template = "images/{subject}/{sequence}.{camera}/{sequence}.{camera}_{frame:06d}.jpg"
    data = load_human36m(fresh.root, template)
    assert data.check_frames() is None
    assert data.frame_path(("S1", "Photo 1"), 0, 2).name == "TakingPhoto_1.54138969_000003.jpg"


def test_two_d_longer_than_three_d_is_trimmed_and_recorded(fixture):
    data = load_human36m(fixture.root)
    subject, sequence = fixture.longer_2d
    raw_2d = read_npz_dict(fixture.root / file_2d("gt"), "positions_2d")[subject][sequence]
    assert len(raw_2d[0]) == fixture.num_frames + EXTRA_2D_FRAMES
    assert [len(x) for x in data.positions_2d[subject][sequence]] == [fixture.num_frames] * NUM_CAMERAS
    np.testing.assert_array_equal(data.positions_2d[subject][sequence][0], raw_2d[0][:fixture.num_frames])
    assert [line for line in data.inconsistencies if f"{subject} {sequence!r}" in line] == [
        f"{subject} {sequence!r}: 3D has 8 frames, 2D per camera [11, 11, 11, 11]: using the first 8"]


def test_two_d_much_shorter_than_three_d_trims_the_3d(fresh):
    _rewrite_2d(fresh.root, lambda tree, _: tree["S1"].update(
        {"Photo 1": [x[:4] for x in tree["S1"]["Photo 1"]]}))
    data = load_human36m(fresh.root)
    assert data.num_frames(("S1", "Photo 1")) == 4 and len(data.positions_3d["S1"]["Photo 1"]) == 4
    assert any("'Photo 1'" in line and "much shorter" in line for line in data.inconsistencies)


def test_s11_directions_is_skipped_whether_absent_or_present(fresh):
    data = load_human36m(fresh.root)
    assert SequenceKey("S11", "Directions") not in data.sequences()
    assert SequenceKey("S11", "Directions 1") in data.sequences()
    assert any(note.startswith("S11 has no 'Directions'") for note in data.notes)

    # a conversion that kept S11 Directions: skipped, with the reason
    def add(tree):
        tree["S11"]["Directions"] = tree["S11"]["Directions 1"]

    _rewrite_3d(fresh.root, add)
    _rewrite_2d(fresh.root, lambda tree, _: add(tree))
    data = load_human36m(fresh.root)
    assert SequenceKey("S11", "Directions") not in data.sequences()
    assert any(note.startswith("skipped S11 'Directions': its video") for note in data.notes)


def test_sequence_with_3d_but_no_2d_is_skipped_and_recorded(fresh):
    _rewrite_2d(fresh.root, lambda tree, _: tree["S1"].pop("Photo 1"))
    data = load_human36m(fresh.root)
    assert SequenceKey("S1", "Photo 1") not in data.sequences()
    assert any("S1 'Photo 1' has 3D but no 2D" in line for line in data.inconsistencies)


def test_filters_match_actions_exactly(tmp_path):
    fx = write_real_layout_fixture(tmp_path, sequences=("Sitting 1", "SittingDown", "WalkDog 1"), frames=False,
                                   detections=None)
    data = load_human36m(fx.root, actions=["Sitting"])
    assert [k.sequence for k in data.sequences()] == ["Sitting 1", "Sitting 1"]
    # the S1 raw spelling is accepted as a filter too
    assert {k.sequence for k in load_human36m(fx.root, actions=["WalkingDog"]).sequences()} == {"WalkDog 1"}
    data = load_human36m(fx.root, subjects=["S9"])
    assert data.subjects == ["S9"] and all(k.subject == "S9" for k in data.sequences())
    assert data.sequences(subjects=["S9"], actions=["SittingDown"]) == [SequenceKey("S9", "SittingDown")]


# --- errors -----------------------------------------------------------------------------------

def test_missing_root_names_make_data(tmp_path):
    with pytest.raises(DataError) as info:
        load_human36m(tmp_path / "nowhere")
    assert _one_line_error(info) == (f"data root {tmp_path / 'nowhere'} does not exist: run `make data` for the "
                                     f"synthetic default, or set data.root=/path/to/human36m (see README)")


@pytest.mark.parametrize("file", [FILE_3D, file_2d("gt")])
def test_missing_npz_file(fresh, file):
    (fresh.root / file).unlink()
    with pytest.raises(DataError, match=rf"missing file .*{file}: write it with VideoPose3D's") as info:
        load_human36m(fresh.root)
    _one_line_error(info)


def test_missing_npz_key_lists_the_keys(fresh):
    np.savez_compressed(fresh.root / FILE_3D, poses=np.zeros(3))
    with pytest.raises(DataError) as info:
        load_human36m(fresh.root)
    assert _one_line_error(info).startswith(f"{fresh.root / FILE_3D} has no key 'positions_3d' (keys: poses)")


def test_file_that_is_not_an_npz_is_refused_without_unpickling(fresh):
    (fresh.root / FILE_3D).write_bytes(b"not a zip")
    with pytest.raises(DataError, match="is not an npz archive"):
        load_human36m(fresh.root)


class _RunsCode:
    """A pickled object whose unpickling would call a function (here a harmless one, to see it is never run)."""
    def __reduce__(self):
        return (os.getcwd, ())


def test_a_pickle_holding_more_than_arrays_is_refused_without_running_it(fresh):
    tree = read_npz_dict(fresh.root / FILE_3D, "positions_3d")
    tree["S1"]["Photo 1"] = _RunsCode()
    np.savez_compressed(fresh.root / FILE_3D, positions_3d=tree)
    with pytest.raises(DataError) as info:
        load_human36m(fresh.root)
    assert _one_line_error(info).startswith(f"cannot read {fresh.root / FILE_3D} (UnpicklingError: refused global "
                                            f"posix.getcwd")


def test_a_protocol_2_pickle_as_old_videopose3d_files_is_read(fresh):
    """VideoPose3D's files of the Python 2 era: pickle protocol 2 (bytes through _codecs.encode)."""
    import io
    import pickle
    import zipfile
    tree = read_npz_dict(fresh.root / FILE_3D, "positions_3d")
    value = np.empty((), dtype=object)
    value[()] = tree
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, np.lib.format.header_data_from_array_1_0(value))
    pickle.dump(value, buffer, protocol=2)
    with zipfile.ZipFile(fresh.root / FILE_3D, "w") as archive:
        archive.writestr("positions_3d.npy", buffer.getvalue())
    data = load_human36m(fresh.root)
    key = data.sequences(subjects=["S1"])[0]
    np.testing.assert_array_equal(data.positions_3d["S1"][key.sequence], tree["S1"][key.sequence])


@pytest.mark.parametrize("which, bad, expected", [
    ("3d", np.zeros((8, 17, 3), np.float32), "S1 'Photo 1' has shape (8, 17, 3) float32, expected float (N, 32, 3)"),
    ("3d", np.zeros((8, 32, 3), np.int64), "S1 'Photo 1' has shape (8, 32, 3) int64, expected float (N, 32, 3)"),
    ("2d", np.zeros((8, 16, 2), np.float32),
     "S1 'Photo 1' camera 1 (55011271) has shape (8, 16, 2) float32, expected float (N, 17, 2)"),
])
def test_wrong_array_shape_names_subject_sequence_and_shape(fresh, which, bad, expected):
    if which == "3d":
        _rewrite_3d(fresh.root, lambda tree: tree["S1"].update({"Photo 1": bad}))
    else:
        _rewrite_2d(fresh.root, lambda tree, _: tree["S1"]["Photo 1"].__setitem__(1, bad))
    with pytest.raises(DataError) as info:
        load_human36m(fresh.root)
    assert expected in _one_line_error(info)


def test_two_d_entry_that_is_not_four_cameras(fresh):
    _rewrite_2d(fresh.root, lambda tree, _: tree["S1"].update({"Photo 1": tree["S1"]["Photo 1"][:3]}))
    with pytest.raises(DataError, match=r"S1 'Photo 1' holds list of length 3, expected a list of 4 camera arrays"):
        load_human36m(fresh.root)


@pytest.mark.parametrize("which, value", [("3d", np.nan), ("2d", np.inf)])
def test_non_finite_coordinates_name_the_frame(fresh, which, value):
    def poison(x):
        x = x.copy()
        x[5, 3, 0] = value
        return x

    if which == "3d":
        _rewrite_3d(fresh.root, lambda tree: tree["S11"].update({"Photo 1": poison(tree["S11"]["Photo 1"])}))
        expected = "S11 'Photo 1' frame 5 has non-finite coordinates (nan)"
    else:
        _rewrite_2d(fresh.root, lambda tree, _: tree["S11"]["Photo 1"].__setitem__(
            2, poison(tree["S11"]["Photo 1"][2])))
        expected = "S11 'Photo 1' camera 2 (58860488) frame 5 has non-finite coordinates (inf)"
    with pytest.raises(DataError) as info:
        load_human36m(fresh.root)
    assert expected in _one_line_error(info)


@pytest.mark.parametrize("kwargs, expected", [
    (dict(subjects=["S12"]), "unknown subject S12 for Human3.6M; valid: S1, S5, S6, S7, S8, S9, S11"),
    (dict(subjects=["S5"]), "has no subject S5 (has: S1, S11); restrict the subjects"),
    (dict(actions=["Sit"]), "unknown action 'Sit'; valid actions: Directions, Discussion,"),
    (dict(actions=["Walking"]), "no sequence of action 'Walking'"),
    (dict(frame_template="{subject}/{sequence}/{frame:06d}.jpg"), "does not use {camera}"),
    (dict(frame_template="{subject}/{seq}.{camera}/{frame}.jpg"), "does not format (KeyError: 'seq'); fields:"),
])
def test_bad_requests_list_the_valid_choices(fresh, kwargs, expected):
    with pytest.raises(DataError) as info:
        load_human36m(fresh.root, **kwargs)
    assert expected in _one_line_error(info)


def test_unknown_subject_in_sequences_filter(fixture):
    with pytest.raises(DataError, match="unknown subject S5 for the subjects loaded from .*; valid: S1, S9"):
        load_human36m(fixture.root).sequences(subjects=["S5"])


def test_two_d_file_missing_a_subject(fresh):
    _rewrite_2d(fresh.root, lambda tree, _: tree.pop("S11"))
    with pytest.raises(DataError, match=r"data_2d_h36m_gt.npz has no subject S11 \(has: S1\)"):
        load_human36m(fresh.root)


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


# --- detections -------------------------------------------------------------------------------

def test_detections_replace_the_2d_and_skip_none_cameras(fixture):
    data = load_human36m(fixture.root, detections=DETECTIONS)
    gt = load_human36m(fixture.root)
    assert data.source_2d == DETECTIONS and data.sequences() == gt.sequences()
    subject, sequence, camera = fixture.none_camera
    assert data.positions_2d[subject][sequence][camera] is None
    assert data.cameras_of((subject, sequence)) == [c for c in range(NUM_CAMERAS) if c != camera]
    assert any(f"camera {CAMERA_IDS[camera]} is None" in line for line in data.inconsistencies)
    assert any("ignored subjects S3" in note for note in data.notes)
    # detections are GT plus ~2 px noise
    error = np.abs(data.positions_2d["S1"]["Photo 1"][0] - gt.positions_2d["S1"]["Photo 1"][0])
    assert 0.1 < error.mean() < 5.0
    assert data.check_frames() is None


def test_missing_detections_file_lists_the_available_ones(fixture):
    with pytest.raises(DataError, match=rf"no detections file .*data_2d_h36m_sh_ft_h36m.npz "
                                        rf"\(detections in .*: cpn_ft_h36m_dbb, gt\)"):
        load_human36m(fixture.root, detections="sh_ft_h36m")


@pytest.mark.parametrize("metadata, layout", [
    ({"layout_name": "coco", "num_joints": 17,
      "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]]}, "'coco' layout (17 joints"),
    ({"layout_name": "h36m", "num_joints": 16,
      "keypoints_symmetry": [[3, 4, 5, 13, 14, 15], [0, 1, 2, 10, 11, 12]]}, "'h36m' layout (16 joints"),
])
def test_detections_in_another_layout_are_refused(fresh, metadata, layout):
    positions = read_npz_dict(fresh.root / file_2d("gt"), "positions_2d")
    write_positions_2d(fresh.root, positions, "detectron_pt_coco", metadata)
    with pytest.raises(DataError) as info:
        load_human36m(fresh.root, detections="detectron_pt_coco")
    message = _one_line_error(info)
    assert layout in message and "only the h36m 17-joint layout is supported" in message


# --- projection: the fixture (and a real root, if given) follows the camera model ----------

def _assert_gt_2d_is_the_projection(data, keys, atol):
    for key in keys:
        joints = select_17(data.positions_3d[key.subject][key.sequence].astype(np.float64))
        for c in data.cameras_of(key):
            camera = data.camera(key.subject, c)
            expected = project_to_pixels(world_to_camera(joints, camera), camera)
            np.testing.assert_allclose(data.positions_2d[key.subject][key.sequence][c], expected, atol=atol,
                                       err_msg=f"{key} camera {c}")


def test_gt_2d_is_the_projection_of_the_3d(fixture):
    data = load_human36m(fixture.root)
    _assert_gt_2d_is_the_projection(data, data.sequences(), atol=1e-3)  # float32 storage of pixels


@pytest.mark.skipif(not os.environ.get("H36M_ROOT"), reason="set H36M_ROOT to check a real Human3.6M root")
def test_real_root_gt_2d_is_the_projection_of_the_3d():
    data = load_human36m(os.environ["H36M_ROOT"], actions=["Walking"])
    _assert_gt_2d_is_the_projection(data, data.sequences(), atol=0.05)


# --- inspect CLI ------------------------------------------------------------------------------

def test_inspect_usable_fixture(fixture, capsys):
    assert cli(["inspect", "--root", str(fixture.root)]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert summary["usable"] is True and err == ""
    assert summary["subjects"] == ["S1", "S9"]
    assert summary["actions"]["S1"] == ["Directions", "Photo"]
    assert summary["sequences"]["S9"] == {"Directions": 8, "Directions 1": 8, "Photo 1": 8}
    assert summary["splits"]["train"] == {"subjects": ["S1"], "frames": 24, "images": 96}
    assert summary["splits"]["test"] == {"subjects": ["S9"], "frames": 24, "images": 96}
    assert summary["missing_images"] == {"checked": 192, "stride": 1, "count": 0, "first": []}
    assert summary["images"]["54138969"] == {"width": 64, "height": 64, "scale": 0.064}
    assert summary["inconsistencies"]["count"] == 1


def test_inspect_detections_counts_available_cameras(fixture, capsys):
    assert cli(["inspect", "--root", str(fixture.root), "--detections", DETECTIONS, "--stride", "3"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["splits"]["test"]["images"] == 96 - fixture.num_frames  # one camera of one S9 sequence is None
    assert summary["missing_images"]["stride"] == 3
    assert summary["missing_images"]["checked"] == 4 * 6 * 4 - 4  # frames 0, 3, 6 and the last, 6 seqs × 4 cams


def test_inspect_missing_root_exits_1_with_the_make_data_hint(tmp_path):
    result = subprocess.run([sys.executable, "-m", "dataloader", "inspect", "--root", str(tmp_path / "none")],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: data root {tmp_path / 'none'} does not exist: run `make data` for the synthetic default, "
        f"or set data.root=/path/to/human36m (see README)"]
    assert json.loads(result.stdout)["usable"] is False


def test_inspect_missing_frames_exits_1_naming_the_first(fresh, capsys):
    missing = fresh.root / "S11" / "frames" / "Photo 1.55011271" / "000004.jpg"
    missing.unlink()
    assert cli(["inspect", "--root", str(fresh.root)]) == 1
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and f"first {missing};" in err and "python -m dataloader extract" in err
    summary = json.loads(out)
    assert summary["usable"] is False and summary["missing_images"]["first"] == [str(missing)]


def test_inspect_root_without_test_subject_is_unusable(tmp_path, capsys):
    fx = write_real_layout_fixture(tmp_path, subjects=("S1", "S5"), num_frames=3, detections=None)
    assert cli(["inspect", "--root", str(fx.root)]) == 1
    assert "has no test subject (S9, S11)" in capsys.readouterr().err


# --- frame extraction -------------------------------------------------------------------------

def _write_video(path: Path, num_frames: int, size=(40, 32)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 50, size)
    assert writer.isOpened(), "mp4v VideoWriter unavailable in this OpenCV build"
    for i in range(num_frames):
        writer.write(np.full((size[1], size[0], 3), 20 * i, np.uint8))  # frame i has grey level 20 i
    writer.release()


def test_extract_frames_writes_one_based_jpegs(tmp_path):
    video = tmp_path / "clip.mp4"
    _write_video(video, 6)
    n = extract_frames(video, str(tmp_path / "out" / "{frame:06d}.jpg"), max_frames=4, image_scale=0.5)
    assert n == 4
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{i:06d}.jpg" for i in range(1, 5)]
    first, third = (cv2.imread(str(tmp_path / "out" / f"{i:06d}.jpg")) for i in (1, 3))
    assert first.shape == (16, 20, 3)
    assert abs(third.mean() - 40) < 6 and first.mean() < 6  # order kept: image 3 is video frame 2
    assert extract_frames(video, lambda i: tmp_path / "all" / f"{i}.jpg") == 6


def test_extract_frames_unreadable_video(tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="OpenCV cannot open .*broken.mp4"):
        extract_frames(tmp_path / "broken.mp4", str(tmp_path / "{frame}.jpg"))


def test_extract_all_canonicalises_names_stops_at_the_poses_and_skips_s11_directions(tmp_path):
    raw, root = tmp_path / "raw", tmp_path / "root"
    for name, frames in [("S1/Videos/TakingPhoto 1.54138969.mp4", 7), ("S1/Videos/Directions.55011271.mp4", 5),
                         ("S1/Videos/_ALL 1.54138969.mp4", 3), ("S11/Videos/Directions.54138969.mp4", 3),
                         ("S11/Videos/Directions.60457274.mp4", 3), ("S11/Videos/Walking.58860488.mp4", 4)]:
        _write_video(raw / name, frames)
    root.mkdir()
    write_positions_3d(root, {"S1": {"Photo 1": np.zeros((5, 32, 3), np.float32)}})
    summary = extract_all(raw, root, subjects=("S1", "S11"))
    assert summary["videos"] == 3 and summary["frames"] == 5 + 5 + 4
    assert len(summary["skipped"]) == 3 and sum("S11 'Directions' is skipped" in s for s in summary["skipped"]) == 2
    photo = sorted(p.name for p in (root / "S1" / "frames" / "Photo 1.54138969").iterdir())
    assert photo == [f"{i:06d}.jpg" for i in range(1, 6)]  # cut at the 5 poses, canonical folder name
    assert len(list((root / "S11" / "frames" / "Walking.58860488").iterdir())) == 4  # no poses known: all frames
    assert not (root / "S11" / "frames" / "Directions.54138969").exists()
    assert pose_counts(root) == {"S1": {"Photo 1": 5}}


def test_extract_cli_missing_videos_exits_1(tmp_path, capsys):
    (tmp_path / "raw").mkdir()
    assert cli(["extract", "--raw", str(tmp_path / "raw"), "--root", str(tmp_path / "root"), "--subjects", "S9"]) == 1
    assert "no videos for S9" in capsys.readouterr().err


def test_extracted_frames_make_a_usable_root(tmp_path, capsys):
    # the whole path: npz files + videos → extract → inspect says usable
    fx = write_real_layout_fixture(tmp_path / "root", num_frames=3, frames=False, detections=None,
                                   sequences=("Photo 1",))
    raw = tmp_path / "raw"
    for subject in fx.subjects:
        for camera_id in CAMERA_IDS:
            name = "TakingPhoto 1" if subject == "S1" else "Photo 1"
            _write_video(raw / subject / "Videos" / f"{name}.{camera_id}.mp4", 3 + EXTRA_2D_FRAMES)
    assert cli(["extract", "--raw", str(raw), "--root", str(fx.root), "--subjects", *fx.subjects,
                "--workers", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["frames"] == 2 * 4 * 3
    assert cli(["inspect", "--root", str(fx.root)]) == 0


# --- person boxes (data.box_source) -----------------------------------------------------------

@pytest.fixture(scope="module")
def boxed(tmp_path_factory):
    """A fixture root with real-layout .mat person boxes (no frames, no detections)."""
    return write_real_layout_fixture(tmp_path_factory.mktemp("boxed"), frames=False, detections=None, boxes=True)


def test_real_mat_boxes_are_the_masks_bounding_boxes_cut_to_the_poses(boxed):
    """The Human3.6M ground_truth_bb layout (MATLAB v7.3, cell `Masks` of (W, H) box masks, one per video
    frame): each box is its mask's first/last pixel ∓ ½, in full-frame px; the longer video is cut to the poses,
    and S1's raw 'TakingPhoto 1' file serves the canonical 'Photo 1'."""
    from dataloader.h36m import get_camera

    data = load_human36m(boxed.root)
    for key in data.sequences():
        for camera in range(NUM_CAMERAS):
            boxes = data.person_boxes(key, camera)
            joints = data.positions_2d[key.subject][key.sequence][camera]
            expected = np.stack([fixture_box(j, get_camera(key.subject, camera)) for j in joints])
            assert boxes.shape == (boxed.num_frames, 4) and boxes.dtype == np.float64
            np.testing.assert_array_equal(boxes, expected + np.array([-0.5, -0.5, 0.5, 0.5]))
    photo = data.box_path(SequenceKey("S1", "Photo 1"), 1)
    assert photo.name == "TakingPhoto 1.55011271.mat"
    assert data.person_boxes(SequenceKey("S1", "Photo 1"), 1) is data.person_boxes(SequenceKey("S1", "Photo 1"), 1)


def test_an_empty_mask_takes_the_nearest_frames_box(tmp_path):
    boxes = np.array([[-1] * 4, [10, 20, 30, 60], [-1] * 4, [-1] * 4, [12, 22, 34, 66], [-1] * 4])
    path = write_box_masks(tmp_path / "Walking.54138969.mat", boxes, (64, 80))
    raw = read_box_file(path)
    assert np.isnan(raw[[0, 2, 3, 5]]).all() and raw[1].tolist() == [9.5, 19.5, 30.5, 60.5]
    fx = write_real_layout_fixture(tmp_path / "root", subjects=("S9",), sequences=("Walking",), num_frames=6,
                                   frames=False, detections=None)
    folder = fx.root / "S9" / "MySegmentsMat" / "ground_truth_bb"
    folder.mkdir(parents=True)
    np.save(folder / "Walking.54138969.npy", raw.astype(np.float32))
    data = load_human36m(fx.root)
    filled = data.person_boxes(SequenceKey("S9", "Walking"), 0)
    np.testing.assert_array_equal(filled[[0, 1, 2]], np.repeat(raw[[1]], 3, axis=0))   # frame 2: nearest is 1
    np.testing.assert_array_equal(filled[[3, 4, 5]], np.repeat(raw[[4]], 3, axis=0))   # frame 3: nearest is 4
    assert any("4 frames with an empty person mask" in n for n in data.notes)


def test_missing_box_file_names_it_and_how_to_get_it(fixture):
    data = load_human36m(fixture.root)
    with pytest.raises(DataError) as error:
        data.person_boxes(SequenceKey("S9", "Directions 1"), 2)
    message = _one_line_error(error)
    assert f"{fixture.root}/S9/MySegmentsMat/ground_truth_bb/Directions 1.58860488.mat" in message
    assert "'Segments'" in message and "make data" in message and "data.box_source=keypoints" in message


@pytest.mark.parametrize("content, expected", [
    ("not hdf5", "MATLAB v7.3 (HDF5)"),
    ("no Masks", "has no 'Masks' (keys: Feat)"),
    ("short", "has 3 boxes but S9 'Walking' has 6 poses"),
    ("object npy", "cannot read person boxes"),
    ("wrong npy shape", "expected float (V, 4)"),
])
def test_unusable_box_files_are_refused_in_one_line(tmp_path, content, expected):
    import h5py

    fx = write_real_layout_fixture(tmp_path / "root", subjects=("S9",), sequences=("Walking",), num_frames=6,
                                   frames=False, detections=None)
    folder = fx.root / "S9" / "MySegmentsMat" / "ground_truth_bb"
    folder.mkdir(parents=True)
    if content == "not hdf5":
        (folder / "Walking.54138969.mat").write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200))
    elif content == "no Masks":
        with h5py.File(folder / "Walking.54138969.mat", "w") as mat:
            mat["Feat"] = np.zeros(3)
    elif content == "short":
        write_box_masks(folder / "Walking.54138969.mat", np.array([[1, 2, 3, 4]] * 3), (64, 64))
    elif content == "object npy":
        np.save(folder / "Walking.54138969.npy", np.array([{"box": 1}], dtype=object), allow_pickle=True)
    else:
        np.save(folder / "Walking.54138969.npy", np.zeros((6, 2), np.float32))
    data = load_human36m(fx.root)
    with pytest.raises(DataError) as error:
        data.person_boxes(SequenceKey("S9", "Walking"), 0)
    message = _one_line_error(error)
    assert expected in message and "Walking.54138969" in message and "data.box_source=keypoints" in message


def _views(data):
    return [(key, camera) for key in data.sequences() for camera in (0, 1)]


def _write_detections(path, data, edit=None):
    """Detection boxes of every sequence and cameras 0, 1: the joints' box plus 2 frames (like a video)."""
    arrays = {}
    for key, camera in _views(data):
        joints = data.positions_2d[key.subject][key.sequence][camera]
        box = np.concatenate([joints.min(1) - 5, joints.max(1) + 5], axis=1).astype(np.float32)
        arrays[f"{key.subject}/{key.sequence}/{CAMERA_IDS[camera]}"] = np.concatenate([box, box[-2:]])
    if edit is not None:
        edit(arrays)
    np.savez(path, **arrays)
    return path


def test_detection_boxes_load_per_view_cut_to_the_poses(boxed, tmp_path):
    data = load_human36m(boxed.root)
    path = _write_detections(tmp_path / "boxes.npz", data)
    boxes = load_box_detections(path, data, _views(data))
    assert len(boxes) == len(_views(data))
    walk = boxes["S9", "Directions 1", 1]
    assert walk.shape == (boxed.num_frames, 4) and walk.dtype == np.float64
    np.testing.assert_array_equal(walk, np.load(path)["S9/Directions 1/55011271"][:boxed.num_frames])


def _drop(name):
    return lambda arrays: arrays.pop(name)


def _set(name, value):
    def edit(arrays):
        arrays[name] = value(arrays[name])
    return edit


def _nan_at_3(x):
    x = x.copy()
    x[3, 2] = np.nan
    return x


def _swap_at_1(x):
    x = x.copy()
    x[1, [0, 2]] = x[1, [2, 0]]
    return x


@pytest.mark.parametrize("edit, expected", [
    (_drop("S9/Directions 1/55011271"), "has no boxes for 'S9/Directions 1/55011271' (keys like: S1/"),
    (_set("S1/Photo 1/54138969", lambda x: x[:, :2]), "'S1/Photo 1/54138969' has float32 shape (10, 2), expected"),
    (_set("S1/Photo 1/54138969", lambda x: x[:4]), "'S1/Photo 1/54138969' has 4 boxes, the sequence has 8 frames"),
    (_set("S1/Photo 1/54138969", _nan_at_3), "'S1/Photo 1/54138969' frame 3 has a non-finite box"),
    (_set("S1/Photo 1/54138969", _swap_at_1), "'S1/Photo 1/54138969' frame 1 has x1 < x0 or y1 < y0"),
    (_set("S1/Photo 1/54138969", lambda x: np.array([{"x": 1}] * 10, dtype=object)), "cannot read person box"),
], ids=["missing_key", "wrong_shape", "too_short", "nan", "flipped", "pickled"])
def test_bad_detection_boxes_name_the_file_key_and_fix(boxed, tmp_path, edit, expected):
    data = load_human36m(boxed.root)
    path = _write_detections(tmp_path / "boxes.npz", data, edit)   # (np.savez pickles object arrays)
    with pytest.raises(DataError) as error:
        load_box_detections(path, data, _views(data))
    message = _one_line_error(error)
    assert str(path) in message and expected in message and "data.box_source=silhouette" in message


def test_detections_that_are_not_an_npz(boxed, tmp_path):
    data = load_human36m(boxed.root)
    with pytest.raises(DataError, match="do not exist"):
        load_box_detections(tmp_path / "none.npz", data, _views(data))
    (tmp_path / "boxes.npz").write_text("x0,y0,x1,y1")
    with pytest.raises(DataError, match="is not an npz archive"):
        load_box_detections(tmp_path / "boxes.npz", data, _views(data))


def test_inspect_counts_the_person_box_files(boxed, fixture, capsys):
    cli(["inspect", "--root", str(boxed.root)])                               # (it has no frames: unusable)
    assert json.loads(capsys.readouterr().out)["person_boxes"] == {"found": 24, "videos": 24, "first_missing": None}
    assert cli(["inspect", "--root", str(fixture.root)]) == 0                 # usable with box_source=keypoints
    boxes = json.loads(capsys.readouterr().out)["person_boxes"]
    assert boxes["found"] == 0 and boxes["first_missing"].endswith("ground_truth_bb/Directions.54138969.mat")

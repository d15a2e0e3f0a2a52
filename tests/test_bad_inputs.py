"""A catalogue of bad inputs across the stages: each must end the run with a non-zero status and ONE
line "error: …" on stderr that names the file or key (and the fix where there is one), without a
traceback, and without touching what earlier runs wrote.

Each case runs the stage's `main` in this process through utils.engine.cli.call, the same path as
`python <stage>.py` minus the process exit (tests/helpers.call_stage): every case fails before
training (non_finite_loss at its first step), so a torch import per case would only add minutes.
test_real_process_* checks that a real subprocess reports exactly the same way.

The output folder of every case starts as a copy of finished runs (a trained ViTPose with its
prediction artifact, a trained GraphMLP on ground truth), so "nothing modified" is checked
against real outputs a user would lose.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from tests.helpers import (EXPERIMENT, GRAPHMLP, VITPOSE, base_overrides, call_stage, graphmlp_dir, last_line,
                           run_stage, snapshot, vitpose_dir)
from utils.engine.cli import call

PRED_DIR = f"{EXPERIMENT}/predictions"
SEQ_WALKING = "S1/frames/Walking.54138969"  # S1 'Walking', camera 0 (54138969): the first frames read


@dataclass(frozen=True)
class Bad:
    """One bad input: the stage, its extra overrides, how to break the inputs, what the line must say."""
    script: str
    args: tuple[str, ...]
    expect: tuple[str, ...]                          # substrings of the error line; {root}/{out} are filled in
    prepare: Callable[[Path, Path], None] | None = None  # (data root, output root) → break something
    own_root: str = ""                               # prepare edits the data root: a private copy of its
                                                     # "npz" files (frames linked), or of the "frames" too
    new_outputs_ok: bool = False                     # a training that really started may write its own files


# --- ways to break the inputs ------------------------------------------------------------------------

def _edit_npz(root: Path, name: str, key: str, edit: Callable[[dict], object]) -> None:
    """Rewrite one VideoPose3D npz of the private root after `edit(tree)` (which may return a new tree)."""
    path = root / name
    # External Human3.6M format (pickled dicts): allow_pickle is needed to read it, as in dataloader.reader.
    with np.load(path, allow_pickle=True) as npz:
        contents = {k: npz[k].item() if npz[k].dtype == object else npz[k] for k in npz.files}
    tree = edit(contents[key])
    contents[key] = contents[key] if tree is None else tree
    np.savez_compressed(path, **contents)


def _rename_key(root, out):
    with np.load(root / "data_3d_h36m.npz", allow_pickle=True) as npz:  # external format, as above
        tree = npz["positions_3d"].item()
    np.savez_compressed(root / "data_3d_h36m.npz", positions=tree)


def _wrong_shape(root, out):
    def edit(t):
        t["S1"]["Walking"] = t["S1"]["Walking"][:, :17]  # 17 of the 32 raw joints
    _edit_npz(root, "data_3d_h36m.npz", "positions_3d", edit)


def _nan_3d(root, out):
    def edit(t):
        t["S1"]["Walking"] = t["S1"]["Walking"].copy()
        t["S1"]["Walking"][3, 5, 0] = np.nan
    _edit_npz(root, "data_3d_h36m.npz", "positions_3d", edit)


def _coco_metadata(root, out):
    _edit_npz(root, "data_2d_h36m_gt.npz", "metadata", lambda m: {**m, "layout_name": "coco", "num_joints": 17})


def _artifact(out: Path, source: str = "ViTPose") -> Path:
    return out / PRED_DIR / source


def _edit_artifact_array(name: str, edit: Callable[[np.ndarray], np.ndarray]):
    def prepare(root, out):
        path = _artifact(out) / name
        np.save(path, edit(np.load(path, allow_pickle=False)))
    return prepare


def _nan_keypoint(x):
    x = x.copy()
    x[7, 3, 1] = np.nan
    return x


def _drop_test_frame(root, out):
    """Remove the predictions of S9 'Walking' camera 0 frame 5 (a test sequence main/get3D read)."""
    art = _artifact(out)
    meta = json.loads((art / "meta.json").read_text())
    index = np.load(art / "index.npy")
    walking = meta["sequences"]["S9"].index("Walking")
    keep = ~((index[:, 0] == 9) & (index[:, 1] == walking) & (index[:, 2] == 0) & (index[:, 3] == 5))
    assert (~keep).sum() == 1
    np.save(art / "index.npy", index[keep])
    np.save(art / "keypoints_2d.npy", np.load(art / "keypoints_2d.npy")[keep])


def _truncate(path_of: Callable[[Path], Path], keep: float = 0.5):
    def prepare(root, out):
        path = path_of(out)
        data = path.read_bytes()
        path.write_bytes(data[:int(len(data) * keep)])
    return prepare


def _write(path_of: Callable[[Path], Path], content: bytes):
    def prepare(root, out):
        path_of(out).write_bytes(content)
    return prepare


def _graphmlp_as_vitpose(root, out):
    shutil.copyfile(graphmlp_dir(out) / "last.pt", vitpose_dir(out) / "model.pt")


def _state_dict_only(root, out):
    """A bare state dict (what official weights look like), where our checkpoint is expected."""
    torch.save({"backbone.patch_embed.proj.weight": torch.zeros(2, 3, 4, 4)}, vitpose_dir(out) / "model.pt")


def _vitpose_as_graphmlp(root, out):
    shutil.copyfile(vitpose_dir(out) / "last.pt", graphmlp_dir(out) / "last.pt")


def _non_spd_probabilistic(root, out):
    """A Probabilistic artifact (the ViTPose one plus covariances) whose frame 11 has a negative eigenvalue."""
    src, dst = _artifact(out), _artifact(out, "Probabilistic")
    shutil.copytree(src, dst)
    n, d = len(np.load(src / "index.npy")), 2 * np.load(src / "keypoints_2d.npy").shape[1]
    cov = np.tile(np.eye(d, dtype=np.float32) * 4.0, (n, 1, 1))
    cov[11, 0, 0] = -1.0
    np.save(dst / "covariance_2d.npy", cov)
    meta = json.loads((dst / "meta.json").read_text())
    (dst / "meta.json").write_text(json.dumps({**meta, "source": "Probabilistic", "probabilistic": True}))


def _remove(path_of: Callable[[Path], Path]):
    def prepare(root, out):
        path = path_of(out)
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return prepare


def _remove_frame(root, out):
    (root / SEQ_WALKING / "000005.jpg").unlink()


def _remove_camera0_frames(root, out):
    for name in ("Walking", "Walking 1"):
        shutil.rmtree(root / "S1" / "frames" / f"{name}.54138969")


def _remove_walking_boxes(root, out):
    for name in ("Walking", "Walking 1"):
        (root / "S1" / "MySegmentsMat" / "ground_truth_bb" / f"{name}.54138969.npy").unlink()


def _box_detections(edit: Callable[[dict], None] | None = None):
    """Write {out}/boxes.npz: detector-like boxes (the 2D box grown by 10 px) of every sequence, camera 0."""
    def prepare(root, out):
        with np.load(root / "data_2d_h36m_gt.npz", allow_pickle=True) as npz:  # external format, as above
            tree = npz["positions_2d"].item()
        arrays = {f"{s}/{q}/54138969": np.concatenate([cams[0].min(1) - 10, cams[0].max(1) + 10], axis=1)
                  for s, seqs in tree.items() for q, cams in seqs.items()}
        if edit is not None:
            edit(arrays)
        np.savez(out / "boxes.npz", **arrays)
    return prepare


def _nan_box(arrays):
    arrays["S1/Walking/54138969"][3, 1] = np.nan


def _bad_yaml(root, out):
    (out / "bad.yml").write_text("lifting:\n  epochs: [3\n")


def _list_yaml(root, out):
    (out / "list.yml").write_text("- model_3D_prediction\n- GraphMLP\n")


ART = ("model_2D_prediction=ViTPose", "data.cameras=[0]", "lifting.epochs=0")  # main.py: validate, train nothing
WALK0 = ("data.actions=[Walking]", "data.cameras=[0]")
DETECT = ("data.box_source=detections", "data.detections={out}/boxes.npz") + WALK0
EVAL = ("model_2D_dataset=ViTPose", "data.cameras=[0]")                         # get3Dprediction on the artifact
G = tuple(GRAPHMLP)
V = tuple(VITPOSE)

CASES = {
    # --- configuration -------------------------------------------------------------------------
    "unknown_key": Bad("main.py", ("lifting.epoch=3",), ("lifting.epoch'", "did you mean 'lifting.epochs'")),
    "unknown_top_key": Bad("train2D.py", ("modle_2D_prediction=ViTPose",), ("did you mean 'model_2D_prediction'",)),
    "bad_choice": Bad("main.py", ("model_3D_prediction=VideoPose",), ("model_3D_prediction", "GraphMLP, SkateFormer")),
    "wrong_type": Bad("main.py", ("lifting.epochs=three",), ("'lifting.epochs' expects int",)),
    "wrong_type_list": Bad("train2D.py", ("data.cameras=0",), ("'data.cameras' expects list",)),
    "section_as_value": Bad("main.py", ("data=3",), ("'data' is a section",)),
    "bad_profile": Bad("main.py", ("profile=fast",), ("'profile'", "quick, standard, paper, test")),
    "override_without_value": Bad("main.py", ("lifting.epochs",), ("bad override 'lifting.epochs'", "key=value")),
    "unknown_flag": Bad("main.py", ("--resume",), ("--resume", "resume=true")),
    "bad_yaml_file": Bad("main.py", ("--config", "{out}/bad.yml"), ("{out}/bad.yml line 3", "invalid YAML"), _bad_yaml),
    "yaml_not_a_mapping": Bad("main.py", ("--config", "{out}/list.yml"), ("{out}/list.yml", "mapping"), _list_yaml),
    "missing_config_file": Bad("get3Dprediction.py", ("--config", "{out}/nowhere.yml"),
                               ("{out}/nowhere.yml not found", "--config")),
    "unknown_method": Bad("train2D_prob_pose.py", ("prob.methods=[NLL, Laplace]",),
                          ("'prob.methods'", "Laplace", "TIC")),
    "wrong_stage_model": Bad("train2D.py", ("model_2D_prediction=Probabilistic",),
                             ("model_2D_prediction", "train2D_prob_pose.py")),
    # --- data ----------------------------------------------------------------------------------
    "missing_data_root": Bad("main.py", ("data.root={out}/no_data",) + G, ("{out}/no_data", "make data", "data.root")),
    "missing_npz": Bad("train2D.py", V, ("missing file {root}/data_2d_h36m_gt.npz",),
                       lambda root, out: (root / "data_2d_h36m_gt.npz").unlink(), own_root="npz"),
    "npz_not_an_archive": Bad("main.py", G, ("{root}/data_3d_h36m.npz is not an npz archive",),
                              lambda root, out: (root / "data_3d_h36m.npz").write_text("positions"), own_root="npz"),
    "missing_npz_key": Bad("main.py", G, ("{root}/data_3d_h36m.npz has no key 'positions_3d'", "keys: positions"),
                           _rename_key, own_root="npz"),
    "wrong_array_shape": Bad("main.py", G, ("data_3d_h36m.npz: S1 'Walking' has shape (24, 17, 3)", "(N, 32, 3)"),
                             _wrong_shape, own_root="npz"),
    "nan_in_3d": Bad("get2Dpredictions.py", V, ("data_3d_h36m.npz: S1 'Walking' frame 3 has non-finite",),
                     _nan_3d, own_root="npz"),
    "2d_in_another_layout": Bad("main.py", G, ("data_2d_h36m_gt.npz is in the 'coco' layout",),
                                _coco_metadata, own_root="npz"),
    "missing_frame_image": Bad("get2Dpredictions.py", V + ("data.actions=[Walking]", "data.cameras=[0]",
                                                           "data.num_workers=1"),
                               ("frame image {root}/" + SEQ_WALKING + "/000005.jpg is missing", "make data"),
                               _remove_frame, own_root="frames"),
    "missing_frames_train": pytest.param(
        Bad("train2D.py", V + ("data.actions=[Walking]", "data.cameras=[0]"),
            ("frame image {root}/" + SEQ_WALKING + "/000001.jpg is missing",), _remove_camera0_frames,
            own_root="frames")),
    "unknown_subject": Bad("main.py", ("data.train_subjects=[S2]",) + G, ("unknown subject S2", "S1, S5")),
    "subject_not_in_files": Bad("train2D.py", ("data.test_subjects=[S11]",) + V,
                                ("data_3d_h36m.npz has no subject S11", "data.test_subjects")),
    "unknown_prediction_subject": Bad("get2Dpredictions.py", ("predict.subjects=[S3]",) + V, ("unknown subject S3",)),
    "unknown_action": Bad("main.py", G + ("data.actions=[Dancing]",), ("unknown action 'Dancing'", "Walking")),
    "action_not_in_files": Bad("get3Dprediction.py", G + ("data.actions=[Eating]",),
                               ("no sequence of action 'Eating'", "data.actions")),
    "empty_test_split": Bad("get3Dprediction.py", G + ("data.test_subjects=[]",),
                            ("empty dataset", "data.test_subjects")),
    "empty_train_split": pytest.param(Bad("train2D.py", V + ("data.train_subjects=[]",),
                                          ("empty dataset", "data.train_subjects"))),
    "camera_out_of_range": Bad("get3Dprediction.py", G + ("data.cameras=[7]",), ("data.cameras",)),
    "template_without_camera": Bad("main.py", G + ("data.frame_template={subject}/{sequence}/{frame:06d}.jpg",),
                                   ("frame template", "{camera}")),
    # --- person boxes (data.box_source) ---------------------------------------------------------
    "missing_person_boxes": Bad("get2Dpredictions.py", V + WALK0,
                                ("no person box file {root}/S1/MySegmentsMat/ground_truth_bb/Walking.54138969.mat",
                                 "'Segments'", "data.box_source=keypoints"), _remove_walking_boxes, own_root="frames"),
    "missing_person_boxes_train": Bad("train2D.py", V + WALK0, ("no person box file", "data.box_source=keypoints"),
                                      _remove_walking_boxes, own_root="frames"),
    "detections_without_file": Bad("train2D.py", V + ("data.box_source=detections",),
                                   ("'data.box_source' = 'detections' needs the boxes file", "data.detections=")),
    "detections_missing_file": Bad("get2Dpredictions.py", V + DETECT,
                                   ("{out}/boxes.npz (data.detections) do not exist",)),
    "detections_missing_key": Bad("get2Dpredictions.py", V + DETECT,
                                  ("{out}/boxes.npz has no boxes for 'S9/Walking 1/54138969'",
                                   "data.box_source=silhouette"),
                                  _box_detections(lambda arrays: arrays.pop("S9/Walking 1/54138969"))),
    "detections_nan": Bad("get2Dpredictions.py", V + DETECT,
                          ("{out}/boxes.npz: 'S1/Walking/54138969' frame 3 has a non-finite box",),
                          _box_detections(_nan_box)),
    # --- checkpoints ---------------------------------------------------------------------------
    "missing_2d_checkpoint": Bad("get2Dpredictions.py", ("model_2D_prediction=Hourglass",),
                                 ("2d/Hourglass/model.pt", "python train2D.py model_2D_prediction=Hourglass")),
    "missing_prob_checkpoint": Bad("get2Dpredictions_prob_pose.py", (),
                                   ("Probabilistic_ViTPose/last.pt", "python train2D_prob_pose.py")),
    "truncated_checkpoint": Bad("get2Dpredictions.py", V, ("2d/ViTPose/model.pt is corrupt or truncated",),
                                _truncate(lambda out: vitpose_dir(out) / "model.pt")),
    "garbage_checkpoint": Bad("get3Dprediction.py", G, ("GraphMLP_GroundTruth/last.pt is corrupt or truncated",),
                              _write(lambda out: graphmlp_dir(out) / "last.pt", b"\x00not a checkpoint")),
    "checkpoint_of_another_model": Bad("get2Dpredictions.py", V,
                                       ("2d/ViTPose/model.pt holds a GraphMLP model, expected ViTPose",),
                                       _graphmlp_as_vitpose),
    "bare_state_dict": Bad("get2Dpredictions.py", V, ("2d/ViTPose/model.pt is not a checkpoint of this framework",),
                           _state_dict_only),
    "missing_downstream_checkpoint": Bad("get3Dprediction.py", G + ("model_2D_prediction=ViTPose",),
                                         ("GraphMLP_ViTPose/last.pt not found",
                                          "python main.py model_3D_prediction=GraphMLP model_2D_prediction=ViTPose")),
    "resume_from_another_model": pytest.param(
        Bad("main.py", G + ("resume=true",), ("GraphMLP_GroundTruth/last.pt holds a ViTPose model, expected GraphMLP",),
            _vitpose_as_graphmlp)),
    # --- 2D prediction artifacts ---------------------------------------------------------------
    "missing_artifact": Bad("get3Dprediction.py", G + ("model_2D_dataset=Hourglass",),
                            ("predictions/Hourglass not found",
                             "python get2Dpredictions.py model_2D_prediction=Hourglass")),
    "artifact_wrong_joint_count": Bad("get3Dprediction.py", G + EVAL,
                                      ("keypoints_2d.npy has shape (96, 16, 2)", "(N, 17, 2)"),
                                      _edit_artifact_array("keypoints_2d.npy", lambda x: x[:, :16])),
    "artifact_nan": Bad("get3Dprediction.py", G + EVAL,
                        ("keypoints_2d.npy: non-finite coordinates at frame 7 (S1 'Walking' camera 0 frame 7)",),
                        _edit_artifact_array("keypoints_2d.npy", _nan_keypoint)),
    "artifact_non_spd_covariance": Bad(
        "get3Dprediction.py", G + ("model_2D_dataset=Probabilistic", "data.cameras=[0]"),
        ("covariance_2d.npy: covariance not positive-definite at frame 11 (S1 'Walking' camera 0 frame 11)",),
        _non_spd_probabilistic),
    "artifact_without_covariance": Bad(
        "get3Dprediction.py", G + ("model_2D_dataset=Probabilistic", "data.cameras=[0]"),
        ("predictions/Probabilistic has no covariance", "python get2Dpredictions_prob_pose.py"),
        lambda root, out: shutil.copytree(_artifact(out), _artifact(out, "Probabilistic"))),
    "artifact_frame_missing": Bad("get3Dprediction.py", G + EVAL,
                                  ("S9 'Walking' camera 0 does not match the dataset (first missing frame 5)",
                                   "python get2Dpredictions.py model_2D_prediction=ViTPose"), _drop_test_frame),
    "artifact_other_cameras": Bad("get3Dprediction.py", G + ("model_2D_dataset=ViTPose",),
                                  ("no predictions for S9 'Walking' camera 1", "python get2Dpredictions.py")),
    "artifact_truncated_npy": Bad("get3Dprediction.py", G + EVAL, ("keypoints_2d.npy is corrupt or truncated",),
                                  _truncate(lambda out: _artifact(out) / "keypoints_2d.npy")),
    "artifact_bad_meta": Bad("get3Dprediction.py", G + EVAL, ("meta.json is not valid JSON",),
                             _write(lambda out: _artifact(out) / "meta.json", b"{\"schema_version\": 1,")),
    "missing_artifact_main": pytest.param(
        Bad("main.py", G + ("model_2D_prediction=Hourglass",),
            ("predictions/Hourglass not found", "python get2Dpredictions.py model_2D_prediction=Hourglass"))),
    "artifact_checked_before_training": pytest.param(
        Bad("main.py", G + ART, ("keypoints_2d.npy: non-finite coordinates",),
            _edit_artifact_array("keypoints_2d.npy", _nan_keypoint))),
    # --- the run itself ------------------------------------------------------------------------
    "output_root_is_a_file": Bad("main.py", G + ("output_root={out}/bad.yml",), ("Not a directory: {out}/bad.yml",),
                                 _bad_yaml),
    "non_finite_loss": Bad("main.py", G + ("lifting.lr=1.0e+30", "lifting.epochs=1"), ("non-finite loss",),
                           new_outputs_ok=True),
    "infinite_noise": Bad("main.py", G + ("noise_std=.inf",), ("'noise_std' = inf must be finite",)),
}


@pytest.fixture
def outputs(tmp_path, vitpose_run, graphmlp_run) -> Path:
    """A fresh output root holding copies of finished runs: 2d/ViTPose, predictions/ViTPose, 3d/GraphMLP_GroundTruth."""
    out = tmp_path / "out"
    for src, rel in ((vitpose_run, f"{EXPERIMENT}/2d"), (vitpose_run, f"{EXPERIMENT}/predictions"),
                     (graphmlp_run, f"{EXPERIMENT}/3d")):
        shutil.copytree(src / rel, out / rel)
    return out


def _private_root(shared: Path, dest: Path, with_frames: bool) -> Path:
    """A data root to break: npz files copied, frames copied (when edited) or linked."""
    dest.mkdir()
    for f in shared.glob("*.npz"):
        shutil.copyfile(f, dest / f.name)
    for subject in (p for p in shared.iterdir() if p.is_dir()):
        if with_frames:
            shutil.copytree(subject, dest / subject.name)
        else:
            (dest / subject.name).symlink_to(subject, target_is_directory=True)
    return dest


def _check_one_line_error(code: int, err: str, expect: list[str]) -> str:
    line = last_line(err)
    assert code != 0, f"exit status 0; stderr ends with: {line}"
    assert "Traceback" not in err, err[-2000:]
    assert line.startswith("error: "), f"last stderr line is not a one-line error: {err[-2000:]}"
    missing = [e for e in expect if e not in line]
    assert not missing, f"{missing} not in: {line}"
    return line


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_fails_with_one_line_and_leaves_outputs(case: Bad, tiny_root, outputs, tmp_path):
    root = _private_root(tiny_root, tmp_path / "data", case.own_root == "frames") if case.own_root else tiny_root
    if case.prepare is not None:
        case.prepare(root, outputs)
    before = snapshot(outputs)
    fill = lambda s: s.replace("{root}", str(root)).replace("{out}", str(outputs))  # noqa: E731
    args = [fill(a) for a in case.args]
    code, _, err = call_stage(case.script, base_overrides(root, outputs) + args)
    _check_one_line_error(code, err, [fill(e) for e in case.expect])
    after = snapshot(outputs)
    changed = sorted(k for k in before if after.get(k) != before[k])
    assert not changed, f"existing outputs modified or removed: {changed}"
    if not case.new_outputs_ok:
        assert sorted(set(after) - set(before)) == [], "a failed run wrote outputs"


def test_the_runs_the_cases_start_from_record_their_box_source(vitpose_run):
    """The finished runs every case is checked against crop around the default person box, and say so:
    the 2D run's config.yml and the artifact's meta.json (issue 13: every artifact names its box source)."""
    import yaml

    meta = json.loads((_artifact(vitpose_run) / "meta.json").read_text())
    assert meta["box_source"] == "silhouette" and meta["box_detections"] is None
    assert meta["config"]["data"]["box_source"] == "silhouette"
    config = yaml.safe_load((vitpose_dir(vitpose_run) / "config.yml").read_text())
    assert config["data"]["box_source"] == "silhouette"


def test_catalogue_is_large_enough():
    assert len(CASES) >= 25


def test_output_root_under_a_regular_file(tiny_root, tmp_path):
    """An output_root that cannot be created, for root too (root ignores permissions, not file types): one
    line naming the path, and the file in the way is left as it was."""
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    out = blocker / "runs"
    code, _, err = call_stage("main.py", base_overrides(tiny_root, out) + GRAPHMLP)
    _check_one_line_error(code, err, ["Not a directory", str(blocker)])
    assert blocker.read_text() == "not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions (test_output_root_under_a_regular_file "
                                              "covers root)")
def test_unwritable_output_root(tiny_root, tmp_path):
    out = tmp_path / "readonly"
    out.mkdir()
    out.chmod(0o555)
    try:
        code, _, err = call_stage("main.py", base_overrides(tiny_root, out) + GRAPHMLP)
        line = _check_one_line_error(code, err, ["Permission denied", str(out)])
        assert "output_root" in line
        assert snapshot(out) == {}
    finally:
        out.chmod(0o755)


@pytest.mark.parametrize("script, args, expect", [
    ("main.py", ["lifting.epoch=3"], ["did you mean 'lifting.epochs'"]),                 # fails in setup()
    ("get2Dpredictions.py", ["model_2D_prediction=Hourglass"], ["python train2D.py"]),  # fails after loading
], ids=["config", "checkpoint"])
def test_real_process_reports_the_same_one_line(script, args, expect, tiny_root, tmp_path):
    """The in-process path above is the real one: a subprocess ends the same way, with status 1."""
    overrides = base_overrides(tiny_root, tmp_path) + args
    code, _, err = run_stage(script, overrides)
    line = _check_one_line_error(code, err, expect)
    assert code == 1
    assert line == last_line(call_stage(script, overrides)[2])


def _raises(exc: BaseException):
    def main(argv):
        raise exc
    return main


@pytest.mark.parametrize("exc, line", [
    (PermissionError(13, "Permission denied", "/runs/x"),
     "error: Permission denied: /runs/x; make it writable or set output_root to a writable folder"),
    (NotADirectoryError(20, "Not a directory", "/runs/file/x"), "error: Not a directory: /runs/file/x"),
    (SystemExit("error: no trained ViTPose at m.pt\nsecond line"), "error: no trained ViTPose at m.pt"),
    (FloatingPointError("GraphMLP: non-finite loss nan at epoch 1"), "error: GraphMLP: non-finite loss nan at epoch 1"),
], ids=["permission", "not_a_directory", "system_exit_text", "non_finite_loss"])
def test_cli_turns_user_errors_into_one_line(exc, line, capsys):
    """utils.engine.cli.call's formatting, including the permission error the root-run suite cannot provoke."""
    assert call(_raises(exc), []) == 1
    assert capsys.readouterr().err == line + "\n"


def test_cli_lets_programming_errors_through():
    with pytest.raises(KeyError):
        call(_raises(KeyError("bug")), [])
    with pytest.raises(OSError):
        call(_raises(OSError("no path involved")), [])

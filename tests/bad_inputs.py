"""The harness of the bad-input catalogue (tests/test_*_errors.py, one module per module that raises).

Each case must end the run with a non-zero status and ONE line "error: …" on stderr that names the file or
key (and the fix where there is one), without a traceback, and without touching what earlier runs wrote.
Each case runs the stage's `main` in this process through utils.engine.cli.call, the same path as
`python <stage>.py` minus the process exit (tests/helpers.call_stage): every case fails before training
(non_finite_loss at its first step), so a torch import per case would only add minutes.
tests/test_cli_errors.py checks that a real subprocess reports exactly the same way.

The output folder of every case (the `outputs` fixture of tests/conftest.py) starts as a copy of finished
runs (a trained ViTPose with its prediction artifact, a trained GraphMLP on ground truth), so "nothing
modified" is checked against real outputs a user would lose.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from dataloader.reader import read_npz_object
from tests.helpers import (EXPERIMENT, GRAPHMLP, VITPOSE, base_overrides, call_stage, graphmlp_dir, last_line,
                           snapshot, vitpose_dir)

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
    # the VideoPose3D format (pickled dicts), read as dataloader.reader reads it
    with np.load(path, allow_pickle=False) as npz:
        contents = {k: read_npz_object(path, k) for k in npz.files}
    tree = edit(contents[key])
    contents[key] = contents[key] if tree is None else tree
    np.savez_compressed(path, **contents)


def _rename_key(root, out):
    tree = read_npz_object(root / "data_3d_h36m.npz", "positions_3d")
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
        tree = read_npz_object(root / "data_2d_h36m_gt.npz", "positions_2d")
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


def check_one_line_error(code: int, err: str, expect: list[str]) -> str:
    line = last_line(err)
    assert code != 0, f"exit status 0; stderr ends with: {line}"
    assert "Traceback" not in err, err[-2000:]
    assert line.startswith("error: "), f"last stderr line is not a one-line error: {err[-2000:]}"
    missing = [e for e in expect if e not in line]
    assert not missing, f"{missing} not in: {line}"
    return line


def check_case(case: Bad, tiny_root: Path, outputs: Path, tmp_path: Path) -> None:
    """Break the inputs as `case` says, run its stage, check the one-line error and that nothing was touched."""
    root = _private_root(tiny_root, tmp_path / "data", case.own_root == "frames") if case.own_root else tiny_root
    if case.prepare is not None:
        case.prepare(root, outputs)
    before = snapshot(outputs)
    fill = lambda s: s.replace("{root}", str(root)).replace("{out}", str(outputs))  # noqa: E731
    args = [fill(a) for a in case.args]
    code, _, err = call_stage(case.script, base_overrides(root, outputs) + args)
    check_one_line_error(code, err, [fill(e) for e in case.expect])
    after = snapshot(outputs)
    changed = sorted(k for k in before if after.get(k) != before[k])
    assert not changed, f"existing outputs modified or removed: {changed}"
    if not case.new_outputs_ok:
        assert sorted(set(after) - set(before)) == [], "a failed run wrote outputs"

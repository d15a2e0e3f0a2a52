"""COCO and MPII readers on fixtures written here in the real formats, with their quirks: COCO crowd regions and
people with no visible keypoint, MPII images with several people, missing joints, people without joints, test
images without annotations, empty or string `is_visible`. Each mapped to the 17 Human3.6M joints."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import scipy.io

from dataloader.coco_mpii import COCO_TO_H36M, MPII_TO_H36M, read_coco, read_mpii
from dataloader.h36m import JOINT_NAMES, NUM_JOINTS
from dataloader.reader import DataError


def _image(path, size=(64, 48)):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.full((*size, 3), 90, np.uint8)
    cv2.circle(image, (size[1] // 2, size[0] // 2), 8, (200, 160, 40), -1)
    cv2.imwrite(str(path), image)


def _coco_person(image_id, visible: dict[int, int], bbox=(10, 5, 20, 40), crowd=0):
    keypoints = []
    for k in range(17):
        v = visible.get(k, 0)
        keypoints += [100 + k, 200 + k, v] if v else [0, 0, 0]
    return {"id": len(visible) + image_id * 100, "image_id": image_id, "bbox": list(bbox), "keypoints": keypoints,
            "num_keypoints": sum(v > 0 for v in visible.values()), "iscrowd": crowd, "category_id": 1}


def write_coco(tmp_path):
    """Two images; four annotations: a person, a crowd region, a person with only occluded keypoints, a second
    person in the first image."""
    for name in ("000000000001.jpg", "000000000002.jpg"):
        _image(tmp_path / "images" / name)
    data = {"images": [{"id": 1, "file_name": "000000000001.jpg", "width": 48, "height": 64},
                       {"id": 2, "file_name": "000000000002.jpg", "width": 48, "height": 64}],
            "annotations": [_coco_person(1, {0: 2, 5: 2, 6: 1, 11: 2, 16: 2}),
                            _coco_person(1, {}, bbox=(0, 0, 48, 64), crowd=1),
                            _coco_person(2, {5: 1, 6: 1}),
                            _coco_person(1, {k: 2 for k in range(17)}, bbox=(1, 2, 3, 4))],
            "categories": [{"id": 1, "name": "person"}]}
    path = tmp_path / "person_keypoints_train2017.json"
    path.write_text(json.dumps(data))
    return path


def test_coco_reader_maps_the_visible_joints_and_skips_crowds_and_invisible_people(tmp_path):
    samples = read_coco(write_coco(tmp_path), tmp_path / "images")
    assert len(samples) == 2  # the crowd and the all-occluded person are gone
    assert all(p.is_file() for p in samples.images)
    first = samples.keypoints[0]
    named = dict(zip(JOINT_NAMES, range(NUM_JOINTS)))
    assert np.array_equal(first[named["Neck/Nose"]], [100, 200])        # COCO 0 nose
    assert np.array_equal(first[named["LShoulder"]], [105, 205])        # COCO 5
    assert np.array_equal(first[named["LHip"]], [111, 211])             # COCO 11
    assert np.array_equal(first[named["RFoot"]], [116, 216])            # COCO 16
    assert not samples.present[0, named["RShoulder"]]                    # COCO 6 is v = 1 (occluded): absent
    assert np.isnan(first[named["RShoulder"]]).all()
    assert samples.present[0].sum() == 4
    full = samples.present[1]  # every COCO joint visible: still no pelvis, spine, thorax or head top
    assert [JOINT_NAMES[j] for j in np.flatnonzero(~full)] == ["Hip", "Spine", "Thorax", "Head"]
    assert np.array_equal(samples.boxes[1], [1, 2, 4, 6])                # bbox x, y, w, h → x0, y0, x1, y1


def test_the_joint_tables_are_one_to_one():
    for table, count in ((COCO_TO_H36M, 17), (MPII_TO_H36M, 16)):
        used = [k for k in table if k >= 0]
        assert len(used) == len(set(used)) and all(0 <= k < count for k in used) and len(table) == NUM_JOINTS


def _struct_array(records: list[dict], fields: list[str]) -> np.ndarray:
    """A MATLAB 1×N struct array (scipy.io.savemat writes a structured ndarray as one); [] for empty fields."""
    array = np.zeros((1, len(records)), dtype=[(f, object) for f in fields])
    for i, record in enumerate(records):
        for f in fields:
            array[0, i][f] = record.get(f, np.zeros((0, 0)))
    return array


def _point(joint, x, y, visible):
    return {"x": float(x), "y": float(y), "id": joint, "is_visible": visible}


def write_mpii(tmp_path):
    """Three images: two people (one with a joint annotated invisible, one with a missing joint, one with an
    empty and one with a string is_visible) plus a person without joints; a test image (no joints); an image
    whose only person has no annopoints."""
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        _image(tmp_path / "images" / name)
    person_1 = {k: _point(k, 10 + k, 20 + k, 1) for k in range(16) if k != 4}  # l knee missing
    person_1[6]["is_visible"] = 0                                             # pelvis annotated invisible
    person_1[9]["is_visible"] = np.zeros((0, 0))                              # head top: empty (visible)
    person_1[0]["is_visible"] = "1"                                           # r ankle: a string
    person_1 = list(person_1.values())
    person_2 = [_point(k, 30 + k, 40 + k, 1) for k in (0, 1, 2, 3, 8, 9)]
    point_fields = ["x", "y", "id", "is_visible"]
    rect_fields = ["x1", "y1", "x2", "y2", "annopoints", "scale", "objpos"]

    def rect(points, scale=1.5, centre=(25.0, 30.0)):
        return {"x1": 1.0, "y1": 1.0, "x2": 5.0, "y2": 5.0, "scale": scale,
                "objpos": {"x": centre[0], "y": centre[1]},
                "annopoints": {"point": _struct_array(points, point_fields)} if points else np.zeros((0, 0))}

    annolist = _struct_array([
        {"image": {"name": "a.jpg"}, "annorect": _struct_array([rect(person_1), rect(person_2, 0.5, (40.0, 50.0)),
                                                                rect([])], rect_fields)},
        {"image": {"name": "b.jpg"}, "annorect": _struct_array([{"scale": 1.0, "objpos": {"x": 3.0, "y": 4.0}}],
                                                               rect_fields)},
        {"image": {"name": "c.jpg"}, "annorect": _struct_array([rect([])], rect_fields)},
    ], ["image", "annorect"])
    path = tmp_path / "mpii_human_pose_v1_u12_1.mat"
    scipy.io.savemat(str(path), {"RELEASE": {"annolist": annolist, "img_train": np.array([[1, 0, 1]]),
                                             "single_person": np.array([[1], [0], [0]], dtype=object)}})
    return path


def test_mpii_reader_keeps_every_person_with_joints_and_masks_the_absent_ones(tmp_path):
    samples = read_mpii(write_mpii(tmp_path), tmp_path / "images")
    assert len(samples) == 2 and samples.images[0].name == "a.jpg" and samples.images[1].name == "a.jpg"
    named = dict(zip(JOINT_NAMES, range(NUM_JOINTS)))
    first, present = samples.keypoints[0], samples.present[0]
    assert not present[named["Hip"]]                                   # MPII 6 pelvis: is_visible 0
    assert not present[named["LKnee"]]                                 # MPII 4 missing
    assert not present[named["Spine"]]                                 # MPII has no spine
    assert present[named["Head"]] and np.array_equal(first[named["Head"]], [19, 29])      # empty is_visible
    assert present[named["RFoot"]] and np.array_equal(first[named["RFoot"]], [10, 20])    # "1" as a string
    assert np.array_equal(first[named["Thorax"]], [17, 27]) and np.array_equal(first[named["RWrist"]], [20, 30])
    assert present.sum() == 17 - 3
    second = samples.present[1]
    assert [JOINT_NAMES[j] for j in np.flatnonzero(second)] == ["RHip", "RKnee", "RFoot", "LHip", "Neck/Nose", "Head"]
    assert np.allclose(samples.boxes[0], [25 - 150, 30 - 150, 25 + 150, 30 + 150])   # 200 · scale around objpos
    assert np.allclose(samples.boxes[1], [40 - 50, 50 - 50, 40 + 50, 50 + 50])


def _lsp_points(n: int) -> np.ndarray:
    """(n, 14, 2) distinct coordinates: person i, LSP joint k at (10 + k + i, 50 + 2k + i)."""
    k, i = np.meshgrid(np.arange(14), np.arange(n))
    return np.stack([10.0 + k + i, 50.0 + 2 * k + i], -1)


def test_lsp_and_lspet_readers_tell_the_two_layouts_and_their_flags_apart(tmp_path):
    from dataloader.coco_mpii import read_lsp

    named = dict(zip(JOINT_NAMES, range(NUM_JOINTS)))
    # LSP: (3, 14, N), the flag means *occluded*; 4 images: 2 training, 2 test
    points = _lsp_points(4)
    occluded = np.zeros((4, 14))
    occluded[0, 6] = 1                                             # person 1: right wrist occluded
    occluded[3] = 1                                                # person 4: every joint occluded → no row
    (tmp_path / "lsp").mkdir()
    scipy.io.savemat(str(tmp_path / "lsp" / "joints.mat"),
                     {"joints": np.concatenate([points, occluded[..., None]], -1).transpose(2, 1, 0)})
    lsp = read_lsp(tmp_path / "lsp")
    assert [p.name for p in lsp.images] == ["im0001.jpg", "im0002.jpg", "im0003.jpg"]
    assert lsp.train.tolist() == [True, True, False]               # first half train, second half test
    assert not lsp.present[0, named["RWrist"]] and lsp.present[1, named["RWrist"]]
    assert not lsp.present[:, [named["Hip"], named["Spine"], named["Thorax"]]].any()
    assert np.array_equal(lsp.keypoints[1, named["Head"]], points[1, 13])        # LSP 13 head top
    assert np.array_equal(lsp.keypoints[1, named["LShoulder"]], points[1, 9])
    assert np.array_equal(lsp.keypoints[1, named["RFoot"]], points[1, 0])
    # the box covers the occluded joints too (their coordinates are annotated)
    assert np.allclose(lsp.boxes[0], [*points[0].min(0), *points[0].max(0)])
    # LSPET: (14, 3, N), the flag means *visible*; all training; unannotated joints at (0, 0)
    points = _lsp_points(2)
    visible = np.ones((2, 14))
    visible[1, 13] = 0
    points[1, 13] = 0.0
    (tmp_path / "lspet").mkdir()
    scipy.io.savemat(str(tmp_path / "lspet" / "joints.mat"),
                     {"joints": np.concatenate([points, visible[..., None]], -1).transpose(1, 2, 0)})
    lspet = read_lsp(tmp_path / "lspet")
    assert [p.name for p in lspet.images] == ["im00001.jpg", "im00002.jpg"] and lspet.train.all()
    assert lspet.present[0].sum() == 14 and not lspet.present[1, named["Head"]]
    assert np.allclose(lspet.boxes[1], [*points[1, :13].min(0), *points[1, :13].max(0)])   # (0, 0) left out


def test_lsp_training_set_reads_every_listed_folder(tmp_path):
    from config import load_config
    from utils.stages.estimator import person_samples

    for name, layout in (("lsp", (2, 1, 0)), ("lspet", (1, 2, 0))):
        (tmp_path / name).mkdir()
        flags = np.zeros((2, 14, 1)) if name == "lsp" else np.ones((2, 14, 1))
        scipy.io.savemat(str(tmp_path / name / "joints.mat"),
                         {"joints": np.concatenate([_lsp_points(2), flags], -1).transpose(*layout)})
    cfg = load_config(["data.dataset=lsp", f"data.lsp_roots=[{tmp_path / 'lsp'}, {tmp_path / 'lspet'}]"])
    samples = person_samples(cfg)
    assert [p.parent.parent.name for p in samples.images] == ["lsp", "lsp", "lspet", "lspet"]
    assert samples.train.tolist() == [True, False, True, True] and samples.keypoints.shape == (4, NUM_JOINTS, 2)
    with pytest.raises(DataError, match="data.lsp_roots is empty"):
        person_samples(load_config(["data.dataset=lsp", "data.lsp_roots=[]"]))


@pytest.mark.parametrize("writer,reader,expect", [
    (lambda p: p.write_text("{not json"), read_coco, "is not valid JSON"),
    (lambda p: p.write_text(json.dumps({"images": []})), read_coco, "has no 'images' and 'annotations' lists"),
    (lambda p: p.write_text(json.dumps({"images": [{"id": 1, "file_name": "x.jpg"}], "annotations": [
        {"image_id": 1, "bbox": [0, 0, 1, 1], "keypoints": [0] * 50}]})), read_coco, "has 50 keypoint values"),
    (lambda p: p.write_bytes(b"\x00garbage"), read_mpii, "cannot be read as a MATLAB file"),
    (lambda p: scipy.io.savemat(str(p), {"other": np.zeros(3)}), read_mpii, "has no RELEASE.annolist struct"),
    (lambda p: p.write_bytes(b"\x00garbage"), "lsp", "cannot be read as a MATLAB file"),
    (lambda p: scipy.io.savemat(str(p), {"other": np.zeros(3)}), "lsp", "has no 'joints' array"),
    (lambda p: scipy.io.savemat(str(p), {"joints": np.zeros((3, 16, 5))}), "lsp", "has shape (3, 16, 5)"),
])
def test_bad_annotation_files_fail_with_one_line(tmp_path, writer, reader, expect):
    if reader == "lsp":  # read_lsp takes the folder that holds joints.mat
        from dataloader.coco_mpii import read_lsp
        path, reader = tmp_path / "joints.mat", lambda file, _: read_lsp(file.parent)
    else:
        path = tmp_path / "annotations.file"
    writer(path)
    with pytest.raises(DataError) as info:
        reader(path, tmp_path)
    assert expect in str(info.value) and str(path) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(DataError, match="not found"):
        reader(tmp_path / "absent" / "absent.json", tmp_path)


# --- crops, masked losses and the training stage ------------------------------------------------------------------

def _coco_with_people(tmp_path):
    """One 96×72 image with a person whose visible COCO joints lie inside its box (the crop)."""
    _image(tmp_path / "images" / "000000000001.jpg", size=(96, 72))
    visible = {0: 2, 5: 2, 6: 2, 7: 1, 11: 2, 12: 2, 15: 2}
    keypoints = []
    for k in range(17):
        keypoints += [20 + 2 * k, 20 + 3 * k, visible.get(k, 0)]
    data = {"images": [{"id": 1, "file_name": "000000000001.jpg", "width": 72, "height": 96}],
            "annotations": [{"image_id": 1, "bbox": [10, 10, 50, 70], "keypoints": keypoints, "num_keypoints": 7,
                             "iscrowd": 0}]}
    path = tmp_path / "person_keypoints_train2017.json"
    path.write_text(json.dumps(data))
    return path


def test_person_crops_carry_targets_of_the_present_joints_only(tmp_path):
    from dataloader.crop_dataset import PersonCropDataset
    from utils.codecs.crop import apply_affine

    samples = read_coco(_coco_with_people(tmp_path), tmp_path / "images")
    batch = PersonCropDataset(samples, (64, 48), (16, 12), sigma=1.0)[0]
    present = batch["present"].numpy()
    assert present.sum() == 6 and np.array_equal(batch["weights"].numpy() > 0, present)
    assert batch["heatmaps"][~present].abs().max() == 0 and batch["target_hm"][~present].abs().max() == 0
    expected = apply_affine(samples.keypoints[0][present], batch["to_heatmap"].double().numpy())
    assert np.allclose(batch["target_hm"].numpy()[present], expected, atol=1e-4)
    flipped = PersonCropDataset(samples, (64, 48), (16, 12), augment=True, flip_prob=1.0, rotation=0.0, scale=0.0)[0]
    from dataloader.h36m import FLIP_PERMUTATION
    assert np.array_equal(flipped["present"].numpy(), present[list(FLIP_PERMUTATION)])


def test_absent_joints_change_neither_the_heatmap_nor_the_covariance_terms():
    import torch

    from models.pose2d import build_pose_model
    from models.tictac import ProbabilisticPoseModel
    from utils.stages.estimator import heatmap_loss

    torch.manual_seed(0)
    present = torch.ones(2, NUM_JOINTS, dtype=torch.bool)
    present[:, [0, 7, 8, 10]] = False  # COCO's absent joints
    model = ProbabilisticPoseModel(build_pose_model("ViTPose", "tiny64", NUM_JOINTS), "NLL").eval()
    images = torch.randn(2, 3, 64, 48)
    target = torch.rand(2, 2 * NUM_JOINTS) * 10
    heatmaps = torch.rand(2, NUM_JOINTS, 16, 12)
    other_target, other_heatmaps = target.clone(), heatmaps.clone()
    hidden = (~present).repeat_interleave(2, dim=1)
    other_target[hidden] += 50.0
    other_heatmaps[~present] = 7.0
    with torch.no_grad():
        out = model(images)
        a = model.loss(out, target, present, heatmaps, heatmap_weight=present)
        b = model.loss(out, other_target, present, other_heatmaps, heatmap_weight=present)
        c = model.loss(out, target, present, other_heatmaps)  # unmasked: the absent maps count
    assert torch.equal(a["covariance"], b["covariance"]) and torch.equal(a["heatmap"], b["heatmap"])
    assert not torch.equal(a["heatmap"], c["heatmap"])
    weights = present.float()
    pred = torch.rand(2, 1, NUM_JOINTS, 16, 12)
    assert torch.equal(heatmap_loss(pred, heatmaps, weights), heatmap_loss(pred, other_heatmaps, weights))


def test_train2d_pretrains_on_coco_and_validates_on_human36m(tiny_root, tmp_path):
    from tests.helpers import base_overrides, call_stage, read_metrics

    annotations = _coco_with_people(tmp_path)
    out = tmp_path / "out"
    status, _, err = call_stage("train2D.py", base_overrides(tiny_root, out) + [
        "model_2D_prediction=ViTPose", "pose2d.vitpose_preset=tiny64", "pose2d.epochs=1", "pose2d.batch_size=1",
        "data.dataset=coco", f"data.coco_annotations={annotations}", f"data.coco_images={tmp_path / 'images'}"])
    assert status == 0, err[-2000:]
    rows = read_metrics(out / "robustness" / "2d" / "ViTPose_coco" / "metrics.csv")  # next to, not over, the Human3.6M run
    assert len(rows) == 1 and float(rows[0]["val_error_px"]) > 0  # validated on the Human3.6M test subject
    status, _, err = call_stage("train2D.py", base_overrides(tiny_root, out) + [
        "data.dataset=mpii", f"data.mpii_annotations={tmp_path / 'absent.mat'}"])
    assert status != 0 and err.strip().splitlines()[-1].startswith("error: MPII annotation file")


def test_pretrain_on_coco_then_finetune_on_human36m_in_two_commands(tiny_root, tmp_path, monkeypatch, caplog):
    """`train2D_prob_pose.py data.dataset=coco`, then `prob.init=<its last.pt>`: the fine-tuning starts from
    the pre-trained TIC pose network, unscaled."""
    import importlib
    import logging

    import torch

    from tests.helpers import base_overrides, call_stage
    from utils.engine.checkpoint import load_checkpoint

    annotations = _coco_with_people(tmp_path)
    common = base_overrides(tiny_root, tmp_path / "out") + ["model_prob_pose=ViTPose", "pose2d.vitpose_preset=tiny64",
                                                           "prob.methods=[NLL, TIC]", "prob.batch_size=1"]
    status, _, err = call_stage("train2D_prob_pose.py", common + [
        "prob.init=", "data.dataset=coco", f"data.coco_annotations={annotations}",
        f"data.coco_images={tmp_path / 'images'}"])
    assert status == 0, err[-2000:]
    last = tmp_path / "out" / "robustness" / "2d" / "Probabilistic_ViTPose_coco" / "last.pt"
    pretrained = load_checkpoint(last)["model"]
    module, seen = importlib.import_module("train2D_prob_pose"), {}
    monkeypatch.setattr(module, "fit", lambda trainer: seen.setdefault("model", trainer.model) and {})
    with caplog.at_level(logging.INFO):
        status, _, err = call_stage("train2D_prob_pose.py", common + [f"prob.init={last}"])
    assert status == 0, err[-2000:]
    log = "\n".join(r.getMessage() for r in caplog.records)
    assert "the TIC method's pose network of a TIC-TAC run" in log and "heatmaps scaled" not in log
    for method in ("NLL", "TIC"):
        state = seen["model"].models[method].pose_model.state_dict()
        for key, value in state.items():
            assert torch.equal(value, pretrained[f"models.TIC.pose_model.{key}"]), key
    # the same file into train2D.py: the heatmaps come back to its peak-1 targets (÷ the run's prob.heatmap_peak)
    tic = seen["model"].models["TIC"].pose_model.eval()
    module, seen = importlib.import_module("train2D"), {}
    monkeypatch.setattr(module, "fit", lambda trainer: seen.setdefault("model", trainer.model) and {})
    caplog.clear()
    with caplog.at_level(logging.INFO):
        status, _, err = call_stage("train2D.py", common + ["model_2D_prediction=ViTPose", f"pose2d.init={last}"])
    assert status == 0, err[-2000:]
    assert "heatmaps scaled ×1/30 from the TIC-TAC run's prob.heatmap_peak" in caplog.text
    images = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        assert torch.allclose(seen["model"].eval()(images) * 30, tic(images), atol=1e-5)

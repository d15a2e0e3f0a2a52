"""pose2d.init / prob.init: a 2D pose network starts from an official checkpoint (mmpose ViTPose, an MAE ViT
encoder, princeton-vl's Stacked Hourglass) or one of ours. The official files are written here with the key
names, wrappers and prefixes their repositories document (models.md of the reference notes, § Official checkpoint
format / § Checkpoint file; ViTAE-Transformer/ViTPose: mmcv_custom/checkpoint.py for the MAE loading)."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from config import load_config
from models.pose2d import build_pose_model
from models.registry import pose2d_init_file
from models.vit_pose import ViT
from utils.engine.checkpoint import CheckpointError, atomic_save, make_checkpoint
from utils.stages.init_weights import initialise, resize_pos_embed
from tests.helpers import base_overrides, call_stage

VIT = {"name": "ViTPose", "preset": "tiny64", "num_joints": 17}
HG = {"name": "Hourglass", "preset": "tiny", "num_joints": 17}


def _randomise(model, seed: int):
    """Every parameter and BatchNorm statistic drawn at random, so that "loaded" cannot pass by coincidence."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand(tensor.shape, generator=gen) + (0.5 if "running_var" in name else -0.5))
    return model.eval()


def _mmpose_file(path, joints: int, preset: str = "tiny64", seed: int = 1):
    """A released mmpose ViTPose file: mmcv's {'meta', 'state_dict', 'optimizer'}, `backbone.*` and
    `keypoint_head.*` keys, plus the unused `backbone.cls_token` some releases carry; a NumPy score in meta."""
    model = _randomise(build_pose_model("ViTPose", preset, joints), seed)
    state = dict(model.state_dict())
    state["backbone.cls_token"] = torch.zeros(1, 1, model.feature_channels)
    torch.save({"meta": {"mmcv_version": "1.3.9", "time": "Tue May 24 2022", "epoch": 210,
                         "best_score": np.float64(0.758)},
                "state_dict": state, "optimizer": {"state": {}, "param_groups": []}}, path)
    return model


def _mae_file(path, grid: int = 3, patch: int = 16, seed: int = 3):
    """facebookresearch/mae `mae_pretrain_vit_*.pth`: {'model': encoder} with `cls_token`, a square `pos_embed`
    (1, 1 + g², C), `patch_embed`, `blocks` and a final `norm` (not ViTPose's `last_norm`)."""
    vit = _randomise(ViT(img_size=(16 * grid, 16 * grid), embed_dim=32, depth=2, num_heads=2), seed)
    state = {("norm." + k[len("last_norm."):] if k.startswith("last_norm.") else k): v
             for k, v in vit.state_dict().items()}
    state["cls_token"] = torch.randn(1, 1, 32)
    if patch != 16:
        state["patch_embed.proj.weight"] = torch.randn(32, 3, patch, patch)
    torch.save({"model": state}, path)
    return state


def _hourglass_file(path, joints: int = 16, seed: int = 4):
    """princeton-vl `checkpoint.pth.tar`: {'state_dict', 'optimizer', 'epoch'} with the `model.module.` prefix of
    its Trainer(DataParallel(PoseNet))."""
    model = _randomise(build_pose_model("Hourglass", "tiny", joints), seed)
    torch.save({"state_dict": {f"model.module.{k}": v for k, v in model.state_dict().items()},
                "optimizer": {"state": {}, "param_groups": []}, "epoch": 200}, path)
    return model


def _ours(path, name: str, preset: str, seed: int = 5):
    model = _randomise(build_pose_model(name, preset, 17), seed)
    atomic_save(make_checkpoint(model=model, model_name=name, config={}, epoch=1, step=1,
                                model_kwargs={"name": name, "preset": preset, "num_joints": 17}), path)
    return model


def _fresh(kwargs, seed: int = 0):
    torch.manual_seed(seed)
    return build_pose_model(kwargs["name"], kwargs["preset"], kwargs["num_joints"]).eval()


# --- strict backbone + head re-initialisation across joint sets ---------------------------------------------------

@pytest.mark.parametrize("joints,joint_set", [(17, "COCO's 17 joints"), (16, "MPII's 16 joints")])
def test_mmpose_file_loads_everything_but_the_joint_layer(tmp_path, caplog, joints, joint_set):
    theirs = _mmpose_file(tmp_path / "vitpose.pth", joints)
    model = _fresh(VIT)
    with caplog.at_level(logging.INFO, logger="utils.stages.init_weights"):
        report = initialise(model, VIT, tmp_path / "vitpose.pth", key="pose2d.init")
    lines = [r.getMessage() for r in caplog.records if r.name == "utils.stages.init_weights"]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert joint_set in lines[0] and "keypoint_head.final_layer, re-initialised for the 17 Human3.6M joints" in lines[0]
    assert report.kind == "mmpose" and not report.head_loaded
    own, file = model.state_dict(), theirs.state_dict()
    for key, value in own.items():
        if key.startswith("keypoint_head.final_layer."):
            continue
        assert torch.equal(value, file[key]), key  # backbone and deconvolutions, BatchNorm statistics included
    final = model.keypoint_head.final_layer
    assert final.weight.shape == (17, 16, 1, 1) and torch.equal(final.bias, torch.zeros(17))
    assert 0.0005 < final.weight.std().item() < 0.002  # the head's own N(0, 0.001²), not the file's rows
    images = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        assert torch.equal(model.encode(images)[0], theirs.encode(images)[0])


def test_hourglass_file_loads_everything_but_the_joint_layers(tmp_path, caplog):
    theirs = _hourglass_file(tmp_path / "checkpoint.pth.tar", joints=16)
    model = _fresh(HG)
    with caplog.at_level(logging.INFO, logger="utils.stages.init_weights"):
        report = initialise(model, HG, tmp_path / "checkpoint.pth.tar", key="pose2d.hourglass_init")
    lines = [r.getMessage() for r in caplog.records if r.name == "utils.stages.init_weights"]
    assert len(lines) == 1 and "MPII's 16 joints" in lines[0] and "except outs.* and merge_preds.*" in lines[0]
    assert not report.head_loaded
    own, file = model.state_dict(), theirs.state_dict()
    joint_layers = [k for k in own if k.startswith(("outs.", "merge_preds."))]
    assert joint_layers and all(not torch.equal(own[k], file[k]) if own[k].shape == file[k].shape else True
                                for k in joint_layers)
    assert model.outs[0].conv.weight.shape[0] == 17 and model.merge_preds[0].conv.conv.weight.shape[1] == 17
    for key in own:
        if key not in joint_layers:
            assert torch.equal(own[key], file[key]), key
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():  # the first stack's hourglass output does not depend on the joint layers
        assert torch.equal(model.hgs[0](model.pre(images)), theirs.hgs[0](theirs.pre(images)))


def test_mae_encoder_loads_into_the_backbone_as_vitpose_does(tmp_path, caplog):
    state = _mae_file(tmp_path / "mae_pretrain_vit_tiny.pth", grid=3)
    model = _fresh(VIT)
    head_before = {k: v.clone() for k, v in model.keypoint_head.state_dict().items()}
    with caplog.at_level(logging.INFO, logger="utils.stages.init_weights"):
        report = initialise(model, VIT, tmp_path / "mae_pretrain_vit_tiny.pth", key="pose2d.init")
    assert report.kind == "mae" and not report.head_loaded
    line = [r.getMessage() for r in caplog.records if r.name == "utils.stages.init_weights"][0]
    assert "pos_embed 3×3 → 4×3 bicubic" in line and "keypoint_head initialised at random" in line
    backbone = model.backbone.state_dict()
    for key, value in state.items():
        if key.startswith(("blocks.", "patch_embed.")):
            assert torch.equal(backbone[key], value), key
    pos = model.backbone.pos_embed.detach()
    assert pos.shape == (1, 13, 32) and torch.equal(pos[:, :1], state["pos_embed"][:, :1])  # slot 0 kept
    assert torch.equal(backbone["last_norm.weight"], torch.ones(32))  # MAE's `norm` is not loaded (as ViTPose)
    for key, value in model.keypoint_head.state_dict().items():
        assert value.shape == head_before[key].shape


def test_resized_position_embedding_keeps_a_smooth_grid_and_slot_zero():
    side = torch.arange(3.0)
    grid = (side[:, None] * 2 + side[None, :]).reshape(1, 9, 1).repeat(1, 1, 4)  # a plane over the 3×3 grid
    pos = torch.cat([torch.full((1, 1, 4), 7.0), grid], dim=1)
    out = resize_pos_embed(pos, (3, 3))
    assert out is pos  # the same grid: untouched
    out = resize_pos_embed(pos, (6, 3))
    assert out.shape == (1, 19, 4) and torch.equal(out[:, 0], pos[:, 0])
    rows = out[0, 1:, 0].reshape(6, 3)
    assert torch.all(rows[1:].mean(1) >= rows[:-1].mean(1))  # row-major order kept: values grow down the rows
    assert torch.allclose(rows[:, 2] - rows[:, 0], (rows[:, 2] - rows[:, 0]).mean().expand(6), atol=1e-5)


def test_a_vit_h14_patch_kernel_is_zero_padded_to_16(tmp_path):
    state = _mae_file(tmp_path / "mae_h14.pth", grid=3, patch=14)
    model = _fresh(VIT)
    initialise(model, VIT, tmp_path / "mae_h14.pth", key="pose2d.init")
    weight = model.backbone.patch_embed.proj.weight.detach()
    assert torch.equal(weight[:, :, 1:15, 1:15], state["patch_embed.proj.weight"])
    assert torch.equal(weight, F.pad(state["patch_embed.proj.weight"], (1, 1, 1, 1)))


def test_our_checkpoint_loads_whole(tmp_path):
    theirs = _ours(tmp_path / "model.pt", "Hourglass", "tiny")
    model = _fresh(HG)
    report = initialise(model, HG, tmp_path / "model.pt", key="prob.init")
    assert report.kind == "ours" and report.head_loaded
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(images), theirs(images))


# --- refusals: one line naming both ------------------------------------------------------------------------------

def _refusal(model_kwargs, path) -> str:
    with pytest.raises(CheckpointError) as info:
        initialise(_fresh(model_kwargs), model_kwargs, path, key="pose2d.init")
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_another_size_is_refused_naming_both(tmp_path):
    _mmpose_file(tmp_path / "vitpose_tiny.pth", 17, preset="tiny")
    message = _refusal(VIT, tmp_path / "vitpose_tiny.pth")
    assert "ViTPose preset 'tiny' (embed_dim 64, depth 2" in message
    assert "the model is ViTPose preset 'tiny64' (embed_dim 32, depth 2" in message


def test_another_family_is_refused_naming_both(tmp_path):
    _hourglass_file(tmp_path / "checkpoint.pth.tar")
    message = _refusal(VIT, tmp_path / "checkpoint.pth.tar")
    assert "Stacked Hourglass (princeton-vl; 2 stacks, inp_dim 32, MPII's 16 joints)" in message
    assert "the model is ViTPose preset 'tiny64'" in message
    _ours(tmp_path / "model.pt", "ViTPose", "tiny64")
    message = _refusal(HG, tmp_path / "model.pt")
    assert "our ViTPose preset 'tiny64', the model is Hourglass preset 'tiny'" in message


def test_unknown_missing_and_corrupt_files_are_refused(tmp_path):
    torch.save({"state_dict": {"encoder.layer.0.weight": torch.zeros(2)}}, tmp_path / "other.pth")
    assert "neither a checkpoint of this framework nor an official" in _refusal(VIT, tmp_path / "other.pth")
    (tmp_path / "garbage.pth").write_bytes(b"\x00not a checkpoint")
    assert "cannot read the file" in _refusal(VIT, tmp_path / "garbage.pth")
    assert "file not found" in _refusal(VIT, tmp_path / "absent.pth")


# --- the keys and the stages --------------------------------------------------------------------------------------

def test_the_init_keys_name_the_files(tmp_path):
    cfg = load_config(["pose2d.init=weights/vit.pth", "pose2d.hourglass_init=/abs/hg.pth.tar"])
    assert pose2d_init_file(cfg, "ViTPose") == Path(__file__).resolve().parent.parent / "weights/vit.pth"
    assert pose2d_init_file(cfg, "Hourglass") == Path("/abs/hg.pth.tar")
    cfg = load_config(["pose2d.init=/abs/x.pth", "pose2d.hourglass_init=random"])
    assert pose2d_init_file(cfg, "Hourglass") is None
    assert pose2d_init_file(load_config(["pose2d.init=/abs/x.pth"]), "Hourglass") == Path("/abs/x.pth")
    assert pose2d_init_file(load_config([]), "ViTPose") is None
    paper = load_config(["profile=paper"])
    assert pose2d_init_file(paper, "ViTPose").name == "mae_pretrain_vit_base.pth"
    assert pose2d_init_file(paper, "Hourglass").name == "stacked_hourglass_8hg.pth.tar"


def _captured_model(monkeypatch, caplog, script: str, overrides: list[str]):
    """Run `script`'s main up to the training loop; the model it hands to `fit` and its log lines."""
    import importlib

    module = importlib.import_module(script)
    seen = {}
    monkeypatch.setattr(module, "fit", lambda trainer: seen.setdefault("model", trainer.model) and {})
    with caplog.at_level(logging.INFO):
        status, _, err = call_stage(f"{script}.py", overrides)
    assert status == 0, err[-2000:]
    return seen["model"], "\n".join(r.getMessage() for r in caplog.records)


def test_train2d_starts_from_an_official_file(tiny_root, tmp_path, monkeypatch, caplog):
    theirs = _mmpose_file(tmp_path / "vitpose_coco.pth", 17)
    model, err = _captured_model(monkeypatch, caplog, "train2D", base_overrides(tiny_root, tmp_path / "out") + [
        "model_2D_prediction=ViTPose", "pose2d.vitpose_preset=tiny64", f"pose2d.init={tmp_path / 'vitpose_coco.pth'}"])
    assert "pose2d.init: ViTPose loaded strictly from" in err
    images = torch.randn(2, 3, 64, 48)
    with torch.no_grad():  # the training starts from the file's backbone
        assert torch.equal(model.eval().encode(images)[0], theirs.encode(images)[0])


def test_train2d_starts_from_our_model(tiny_root, tmp_path, monkeypatch, caplog):
    theirs = _ours(tmp_path / "model.pt", "ViTPose", "tiny64")
    model, _ = _captured_model(monkeypatch, caplog, "train2D", base_overrides(tiny_root, tmp_path / "out") + [
        "model_2D_prediction=ViTPose", "pose2d.vitpose_preset=tiny64", f"pose2d.init={tmp_path / 'model.pt'}"])
    images = torch.randn(2, 3, 64, 48)
    with torch.no_grad():  # the first forward of the training is the loaded model's
        assert torch.equal(model.eval()(images), theirs(images))


def test_prob_init_takes_an_official_file_without_rescaling_its_fresh_head(tiny_root, tmp_path, monkeypatch, caplog):
    theirs = _hourglass_file(tmp_path / "checkpoint.pth.tar", joints=16)
    model, err = _captured_model(monkeypatch, caplog, "train2D_prob_pose", base_overrides(tiny_root, tmp_path / "out") + [
        "model_prob_pose=Hourglass", "pose2d.hourglass_preset=tiny", f"prob.init={tmp_path / 'checkpoint.pth.tar'}"])
    assert "prob.init: Hourglass loaded strictly from" in err and "heatmaps scaled" not in err
    images = torch.rand(2, 3, 64, 64)
    for method in model.models.values():
        pose = method.pose_model.eval()
        with torch.no_grad():  # the training's Hourglass is channels-last (runtime.channels_last): equal up to rounding
            torch.testing.assert_close(pose.hgs[0](pose.pre(images)), theirs.hgs[0](theirs.pre(images)),
                                       rtol=1e-4, atol=1e-5)


def test_train2d_refuses_a_bad_file_with_one_line(tiny_root, tmp_path):
    (tmp_path / "bad.pth").write_bytes(b"\x00not a checkpoint")
    status, _, err = call_stage("train2D.py", base_overrides(tiny_root, tmp_path / "out") + [
        "model_2D_prediction=ViTPose", f"pose2d.init={tmp_path / 'bad.pth'}"])
    lines = [line for line in err.splitlines() if line.strip()]
    assert status != 0 and lines[-1].startswith("error: pose2d.init=") and "bad.pth" in lines[-1]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.pt"))

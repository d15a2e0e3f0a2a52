"""ViTPose and Stacked Hourglass: official key layout, checkpoint loading, presets, the 2D interface.

The official key sets are rebuilt here from the official architectures (``ViTAE-Transformer/ViTPose: mmpose/models/backbones/vit.py``,
``princeton-vl/pytorch_stacked_hourglass: models/posenet.py``)
(not from our modules), so a renamed or reshaped parameter fails the strict-load tests.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dataloader.h36m import NUM_JOINTS
from models.pose2d import POSE_MODELS, build_pose_model
from models.stacked_hourglass import HOURGLASS_PRESETS, PoseNet, load_official_hourglass
from models.vit_pose import VITPOSE_PRESETS, ViTPose, load_official_vitpose

MPII_JOINTS = 16  # joint count of the released hourglass models, and "another joint count" below
TINY_PRESETS = [("ViTPose", "tiny", {}), ("ViTPose", "tiny64", {}), ("ViTPose", "tiny64", {"head": "simple"}),
                ("Hourglass", "tiny", {})]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny networks run fastest on one thread, and a shared CPU cannot stall their many small ops."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- official key sets, written from the models.md tables --------------------------------------

def _bn(prefix: str, c: int) -> dict[str, tuple]:
    return {f"{prefix}.weight": (c,), f"{prefix}.bias": (c,), f"{prefix}.running_mean": (c,),
            f"{prefix}.running_var": (c,), f"{prefix}.num_batches_tracked": ()}


def official_vitpose_shapes(*, embed_dim: int, depth: int, num_joints: int, img_size: tuple[int, int],
                            deconv: tuple[int, ...] = (256, 256), patch: int = 16) -> dict[str, tuple]:
    """mmpose ViTPose (classic head) state-dict names → shapes, as tabled in models.md; `patch` and the number of
    deconvolutions as our CPU presets change them (each deconvolution is followed by its BatchNorm and ReLU)."""
    c, n = embed_dim, (img_size[0] // patch) * (img_size[1] // patch)
    shapes = {"backbone.pos_embed": (1, n + 1, c), "backbone.patch_embed.proj.weight": (c, 3, patch, patch),
              "backbone.patch_embed.proj.bias": (c,)}
    for i in range(depth):
        p = f"backbone.blocks.{i}."
        shapes |= {p + "norm1.weight": (c,), p + "norm1.bias": (c,),
                   p + "attn.qkv.weight": (3 * c, c), p + "attn.qkv.bias": (3 * c,),
                   p + "attn.proj.weight": (c, c), p + "attn.proj.bias": (c,),
                   p + "norm2.weight": (c,), p + "norm2.bias": (c,),
                   p + "mlp.fc1.weight": (4 * c, c), p + "mlp.fc1.bias": (4 * c,),
                   p + "mlp.fc2.weight": (c, 4 * c), p + "mlp.fc2.bias": (c,)}
    shapes |= {"backbone.last_norm.weight": (c,), "backbone.last_norm.bias": (c,)}
    for i, (cin, cout) in enumerate(zip((c, *deconv[:-1]), deconv)):
        shapes |= {f"keypoint_head.deconv_layers.{3 * i}.weight": (cin, cout, 4, 4),
                   **_bn(f"keypoint_head.deconv_layers.{3 * i + 1}", cout)}
    shapes |= {"keypoint_head.final_layer.weight": (num_joints, deconv[-1], 1, 1),
               "keypoint_head.final_layer.bias": (num_joints,)}
    return shapes


def _residual(prefix: str, i: int, o: int) -> dict[str, tuple]:
    """R(i→o) of models.md: the 23 keys of a princeton-vl Residual."""
    h = o // 2
    return {**_bn(f"{prefix}bn1", i), f"{prefix}conv1.conv.weight": (h, i, 1, 1), f"{prefix}conv1.conv.bias": (h,),
            **_bn(f"{prefix}bn2", h), f"{prefix}conv2.conv.weight": (h, h, 3, 3), f"{prefix}conv2.conv.bias": (h,),
            **_bn(f"{prefix}bn3", h), f"{prefix}conv3.conv.weight": (o, h, 1, 1), f"{prefix}conv3.conv.bias": (o,),
            f"{prefix}skip_layer.conv.weight": (o, i, 1, 1), f"{prefix}skip_layer.conv.bias": (o,)}


def official_hourglass_shapes(*, nstack: int, d: int, joints: int, stem: tuple[int, int] = (64, 128)) -> dict[str, tuple]:
    """princeton-vl PoseNet state-dict names (without the file's ``model.module.`` prefix) → shapes; `stem` is
    (64, 128) in the official models."""
    c1, c2 = stem
    shapes = {"pre.0.conv.weight": (c1, 3, 7, 7), "pre.0.conv.bias": (c1,), **_bn("pre.0.bn", c1),
              **_residual("pre.1.", c1, c2), **_residual("pre.3.", c2, c2), **_residual("pre.4.", c2, d)}
    for s in range(nstack):
        for level in ("", "low2.", "low2.low2.", "low2.low2.low2."):
            for name in ("up1", "low1", "low3"):
                shapes |= _residual(f"hgs.{s}.0.{level}{name}.", d, d)
        shapes |= _residual(f"hgs.{s}.0.low2.low2.low2.low2.", d, d)
        shapes |= {**_residual(f"features.{s}.0.", d, d), f"features.{s}.1.conv.weight": (d, d, 1, 1),
                   f"features.{s}.1.conv.bias": (d,), **_bn(f"features.{s}.1.bn", d),
                   f"outs.{s}.conv.weight": (joints, d, 1, 1), f"outs.{s}.conv.bias": (joints,)}
    for s in range(nstack - 1):
        shapes |= {f"merge_features.{s}.conv.conv.weight": (d, d, 1, 1), f"merge_features.{s}.conv.conv.bias": (d,),
                   f"merge_preds.{s}.conv.conv.weight": (d, joints, 1, 1), f"merge_preds.{s}.conv.conv.bias": (d,)}
    return shapes


def random_state_dict(shapes: dict[str, tuple], seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in shapes.items():
        if name.endswith("num_batches_tracked"):
            out[name] = torch.tensor(1000 + seed, dtype=torch.long)
        elif name.endswith("running_var"):
            out[name] = torch.rand(shape, generator=generator) + 0.5
        else:
            out[name] = torch.randn(shape, generator=generator)
    return out


def _shapes(model: torch.nn.Module) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


# --- key layout and parameter counts of the full presets (meta device: no memory) --------------

def test_vitpose_b_matches_the_documented_key_set_and_parameter_count():
    with torch.device("meta"):
        model = ViTPose(**VITPOSE_PRESETS["B"], num_joints=NUM_JOINTS)
    assert _shapes(model) == official_vitpose_shapes(embed_dim=768, depth=12, num_joints=NUM_JOINTS,
                                                     img_size=(256, 192))
    assert len(model.state_dict()) == 163
    assert sum(p.numel() for p in model.parameters()) == 89_994_513  # models.md, ViTPose-B classic, J = 17
    assert model.heatmap_size == (64, 48) and model.feature_size == (16, 12)
    assert model.backbone.blocks[-1].drop_path1.drop_prob == pytest.approx(0.3)  # last block: the full rate


def test_vitpose_b_simple_head_parameter_count():
    with torch.device("meta"):
        model = build_pose_model("ViTPose", "B", NUM_JOINTS, head="simple")
    assert len(model.state_dict()) == 151 and sum(p.numel() for p in model.parameters()) == 85_912_337
    assert model.keypoint_head.final_layer.weight.shape == (NUM_JOINTS, 768, 3, 3)


def test_hourglass_8stack_matches_the_documented_key_set_and_parameter_count():
    with torch.device("meta"):
        model = build_pose_model("Hourglass", "8stack", MPII_JOINTS)
    assert _shapes(model) == official_hourglass_shapes(nstack=8, d=256, joints=MPII_JOINTS)
    assert len(model.state_dict()) == 76 + 331 * 8 + 4 * 7 == 2752
    assert sum(p.numel() for p in model.parameters()) == 32_819_328  # models.md, 8 stacks, d = 256, J = 16


@pytest.mark.parametrize("preset, params, keys", [("tiny", 202_289, 43), ("tiny64", 63_137, 43), ("tiny_p8", 158_193, 37),
                                                  ("tiny_w128", 584_113, 43)])
def test_vitpose_tiny_presets_match_models_md(preset, params, keys):
    """tiny and tiny64 of models.md; tiny_p8 is tiny on 8-px patches (16×12 tokens from 128×96) with one deconvolution,
    so its heatmaps are tiny's 32×24: the mmpose names kept, 6 keys fewer (a deconvolution and its BatchNorm); tiny_w128
    is tiny with 128-dim tokens."""
    model = build_pose_model("ViTPose", preset, NUM_JOINTS).eval()
    cfg = VITPOSE_PRESETS[preset]
    assert _shapes(model) == official_vitpose_shapes(embed_dim=cfg["embed_dim"], depth=2, num_joints=NUM_JOINTS,
                                                     img_size=cfg["img_size"], deconv=cfg["deconv_filters"],
                                                     patch=cfg.get("patch_size", 16))
    assert len(model.state_dict()) == keys  # tiny: 163 − 10 blocks × 12 keys
    assert sum(p.numel() for p in model.parameters()) == params
    with torch.no_grad():
        heatmaps = model(torch.zeros(2, 3, *cfg["img_size"]))
    assert heatmaps.shape[-2:] == tuple(side // 4 for side in cfg["img_size"])


def test_hourglass_tiny_preset_has_the_official_names_with_a_narrow_stem():
    model = build_pose_model("Hourglass", "tiny", NUM_JOINTS)
    assert _shapes(model) == official_hourglass_shapes(nstack=2, d=32, joints=NUM_JOINTS, stem=(16, 32))
    assert len(model.state_dict()) == 742 and sum(p.numel() for p in model.parameters()) == 148_450
    official_stem = build_pose_model("Hourglass", "tiny", NUM_JOINTS, stem=(64, 128))  # models.md's tiny
    assert _shapes(official_stem) == official_hourglass_shapes(nstack=2, d=32, joints=NUM_JOINTS)
    assert sum(p.numel() for p in official_stem.parameters()) == 280_738


# --- converters: synthetic official-layout files ------------------------------------------------

def test_load_official_vitpose_from_an_mmpose_file(tmp_path):
    model = build_pose_model("ViTPose", "tiny", NUM_JOINTS)
    shapes = official_vitpose_shapes(embed_dim=64, depth=2, num_joints=NUM_JOINTS, img_size=(128, 96),
                                     deconv=(32, 32))
    weights = random_state_dict(shapes)
    extras = {"backbone.cls_token": torch.zeros(1, 1, 64),  # MAE leftover in some released files
              "associate_keypoint_heads.0.final_layer.weight": torch.zeros(14, 32, 1, 1)}
    path = tmp_path / "vitpose-tiny.pth"
    torch.save({"meta": {"mmcv_version": "1.3.9", "time": "Thu Apr 21 2022"},
                "state_dict": {**weights, **extras}}, path)
    load_official_vitpose(model, path)
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in weights.items())


def test_load_official_vitpose_accepts_module_prefix_and_model_wrapper():
    model = build_pose_model("ViTPose", "tiny64", NUM_JOINTS)
    weights = random_state_dict(_shapes(model), seed=1)
    load_official_vitpose(model, {"model": {f"module.{k}": v for k, v in weights.items()}})
    assert all(torch.equal(model.state_dict()[k], v) for k, v in weights.items())


def test_load_official_hourglass_strips_model_module_prefix(tmp_path):
    model = build_pose_model("Hourglass", "tiny", NUM_JOINTS, stem=(64, 128))  # the official stem widths
    weights = random_state_dict(official_hourglass_shapes(nstack=2, d=32, joints=NUM_JOINTS))
    path = tmp_path / "checkpoint.pt"
    torch.save({"state_dict": {f"model.module.{k}": v for k, v in weights.items()}, "epoch": 3}, path)
    load_official_hourglass(model, path)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in weights.items())
    load_official_hourglass(model, {f"model.{k}": v for k, v in weights.items()})  # bare `model.` prefix


def test_vitpose_checkpoint_of_another_joint_count_names_both_counts(tmp_path):
    model = build_pose_model("ViTPose", "tiny", MPII_JOINTS)
    path = tmp_path / "coco.pth"
    torch.save({"state_dict": random_state_dict(official_vitpose_shapes(
        embed_dim=64, depth=2, num_joints=NUM_JOINTS, img_size=(128, 96), deconv=(32, 32)))}, path)
    with pytest.raises(ValueError, match=rf"coco\.pth.*{NUM_JOINTS} joints.*model has {MPII_JOINTS}"):
        load_official_vitpose(model, path)
    load_official_vitpose(model, path, backbone_only=True)  # the documented way out: keep our head


def test_hourglass_checkpoint_of_another_architecture_is_refused():
    model = build_pose_model("Hourglass", "tiny", NUM_JOINTS)
    weights = random_state_dict(official_hourglass_shapes(nstack=3, d=32, joints=MPII_JOINTS))
    with pytest.raises(ValueError, match=rf"3 stacks but the model has 2.*{MPII_JOINTS} joints.*has {NUM_JOINTS}"):
        load_official_hourglass(model, weights)


def test_vitpose_simple_head_checkpoint_names_the_head():
    model = build_pose_model("ViTPose", "tiny64", NUM_JOINTS)
    simple = build_pose_model("ViTPose", "tiny64", NUM_JOINTS, head="simple")
    with pytest.raises(ValueError, match=r"head='simple'.*missing keys.*keypoint_head\.deconv_layers\.0\.weight"):
        load_official_vitpose(model, simple.state_dict())


@pytest.mark.parametrize("content", ["truncated", "garbage"])
def test_unreadable_checkpoint_gives_a_clear_error(tmp_path, content):
    model = build_pose_model("ViTPose", "tiny64", NUM_JOINTS)
    path = tmp_path / "broken.pth"
    torch.save({"state_dict": model.state_dict()}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if content == "truncated" else b"not a checkpoint at all")
    with pytest.raises(ValueError, match=r"cannot read ViTPose checkpoint .*broken\.pth.*truncated or corrupt"):
        load_official_vitpose(model, path)
    with pytest.raises(FileNotFoundError, match="Stacked Hourglass checkpoint .*missing.pt not found"):
        load_official_hourglass(build_pose_model("Hourglass", "tiny", NUM_JOINTS), tmp_path / "missing.pt")


# --- every CPU preset: forward, backward, the encode/decode split ----------------------------

@pytest.mark.parametrize("name, preset, overrides", TINY_PRESETS)
def test_tiny_presets_forward_backward_and_encode_decode(name, preset, overrides):
    torch.manual_seed(0)
    model = build_pose_model(name, preset, NUM_JOINTS, **overrides)
    images = torch.randn(2, 3, *model.input_size)
    out = model(images)
    assert out.shape == (2, model.num_stacks, NUM_JOINTS, *model.heatmap_size)
    out.square().mean().backward()
    assert torch.isfinite(out).all()
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    assert all(".skip_layer." in n for n in unused)  # the official identity-skip layers are built but unused
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)

    model.eval()  # BatchNorm on running statistics, so two passes are comparable
    with torch.no_grad():
        features, intermediate = model.encode(images)
        assert features.shape == (2, model.feature_channels, *model.feature_size)
        assert intermediate.shape == (2, model.num_stacks - 1, NUM_JOINTS, *model.heatmap_size)
        assert torch.equal(model(images), torch.cat([intermediate, model.decode(features)[:, None]], dim=1))


def test_hourglass_forward_matches_the_official_stack_loop():
    torch.manual_seed(0)
    model = PoseNet(nstack=3, inp_dim=16, oup_dim=NUM_JOINTS, input_size=(64, 64)).eval()
    images = torch.rand(2, 3, 64, 128)
    with torch.no_grad():  # princeton-vl PoseNet.forward after its NHWC → NCHW permute
        x, predictions = model.pre(images), []
        for s in range(model.nstack):
            feature = model.features[s](model.hgs[s](x))
            predictions.append(model.outs[s](feature))
            if s < model.nstack - 1:
                x = x + model.merge_preds[s](predictions[-1]) + model.merge_features[s](feature)
        assert torch.equal(model(images), torch.stack(predictions, 1))


def test_hourglass_decode_depends_on_the_last_stack_only():
    torch.manual_seed(0)
    model = build_pose_model("Hourglass", "tiny", NUM_JOINTS).eval()
    features = torch.randn(2, model.feature_channels, *model.feature_size)
    before = model.decode(features)
    with torch.no_grad():
        for module in (model.features[0], model.outs[0], model.merge_features[0], model.merge_preds[0], model.pre):
            for p in module.parameters():
                p.add_(1.0)
    assert torch.equal(model.decode(features), before)


@pytest.mark.parametrize("name, preset", [("ViTPose", "tiny64"), ("Hourglass", "tiny")])
def test_decode_is_differentiable_with_torch_func(name, preset):
    torch.manual_seed(0)
    model = build_pose_model(name, preset, NUM_JOINTS).double().eval()
    features = torch.randn(1, model.feature_channels, *model.feature_size, dtype=torch.double)
    direction = torch.randn_like(features)
    _, tangent = torch.func.jvp(model.decode, (features,), (direction,))
    step = 1e-6  # central difference along the same direction
    finite = (model.decode(features + step * direction) - model.decode(features - step * direction)) / (2 * step)
    torch.testing.assert_close(tangent, finite, rtol=1e-5, atol=1e-7)


# --- ViTPose math against a plain re-implementation ------------------------------------------

def _reference_block(block: torch.nn.Module, x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """One official ViTPose block written out: pre-norm attention and MLP, LayerNorm eps 1e-6, exact GELU."""
    b, n, c = x.shape
    hd = c // num_heads

    def layer_norm(t, norm):
        mean, var = t.mean(-1, keepdim=True), t.var(-1, unbiased=False, keepdim=True)
        return (t - mean) / torch.sqrt(var + 1e-6) * norm.weight + norm.bias

    h = layer_norm(x, block.norm1)
    qkv = h @ block.attn.qkv.weight.T + block.attn.qkv.bias  # (B, N, 3C), rows [q | k | v]
    q, k, v = qkv.reshape(b, n, 3, num_heads, hd).permute(2, 0, 3, 1, 4)  # (B, heads, N, hd) each
    attention = torch.softmax(q * hd ** -0.5 @ k.transpose(-2, -1), dim=-1)
    h = (attention @ v).transpose(1, 2).reshape(b, n, c) @ block.attn.proj.weight.T + block.attn.proj.bias
    x = x + h
    h = layer_norm(x, block.norm2) @ block.mlp.fc1.weight.T + block.mlp.fc1.bias
    h = 0.5 * h * (1 + torch.erf(h / math.sqrt(2)))  # exact GELU
    return x + h @ block.mlp.fc2.weight.T + block.mlp.fc2.bias


def test_vit_backbone_matches_a_plain_reimplementation():
    torch.manual_seed(0)
    cfg = VITPOSE_PRESETS["tiny"]
    model = build_pose_model("ViTPose", "tiny", NUM_JOINTS).eval()
    with torch.no_grad():
        for p in model.backbone.parameters():  # non-trivial LayerNorm and biases too
            p.add_(0.1 * torch.randn_like(p))
        images = torch.randn(2, 3, *model.input_size)
        backbone = model.backbone
        x = F.conv2d(images, backbone.patch_embed.proj.weight, backbone.patch_embed.proj.bias, stride=16, padding=2)
        hp, wp = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)  # (B, Hp·Wp, C) row-major
        x = x + backbone.pos_embed[:, 1:] + backbone.pos_embed[:, :1]
        for block in backbone.blocks:
            x = _reference_block(block, x, cfg["num_heads"])
        x = F.layer_norm(x, (cfg["embed_dim"],), backbone.last_norm.weight, backbone.last_norm.bias, eps=1e-6)
        expected = x.transpose(1, 2).reshape(2, cfg["embed_dim"], hp, wp)
        torch.testing.assert_close(backbone(images), expected, rtol=1e-5, atol=1e-5)


def test_vit_refuses_another_input_size():
    model = build_pose_model("ViTPose", "tiny64", NUM_JOINTS)
    with pytest.raises(ValueError, match=r"\(B, 3, 64, 48\).*no position-embedding interpolation"):
        model(torch.zeros(1, 3, 64, 64))


# --- registry -----------------------------------------------------------------------------------

def test_build_pose_model_lists_valid_choices():
    with pytest.raises(KeyError, match="valid models: ViTPose, Hourglass"):
        build_pose_model("HRNet", "tiny", NUM_JOINTS)
    with pytest.raises(KeyError, match="valid presets: " + ", ".join(HOURGLASS_PRESETS)):
        build_pose_model("Hourglass", "B", NUM_JOINTS)
    with pytest.raises(TypeError, match="unknown ViTPose argument.*depht.*valid:.*depth"):
        build_pose_model("ViTPose", "tiny64", NUM_JOINTS, depht=3)
    assert set(POSE_MODELS) == {"ViTPose", "Hourglass"}
    assert build_pose_model("Hourglass", "tiny", NUM_JOINTS, nstack=1).num_stacks == 1

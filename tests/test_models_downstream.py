"""GraphMLP and SkateFormer: graph, presets, shapes, parameter counts, strict loading of official key sets.

Expected numbers are counted from the official code (``Vegetebird/GraphMLP: model/graphmlp.py``,
``KAIST-VICLab/SkateFormer: model/SkateFormer.py``) and its released checkpoints.
"""
import copy

import numpy as np
import pytest
import torch
from einops import rearrange
from timm.layers import DropPath

from dataloader.h36m import JOINT_NAMES, NUM_JOINTS
from models.GraphMLP import GRAPHMLP_PRESETS, GraphMLP, load_official_graphmlp
from models.GraphMLP.graph import spatial_adjacency
from models.GraphMLP.graphmlp import Gcn
from models.SkateFormer import (NUM_POINTS, SKATEFORMER_PRESETS, SkateFormer, load_official_skateformer,
                                skate_type_sizes, to_skateformer_layout)
from models.SkateFormer.partition import LAYOUT
from models.SkateFormer.skateformer import MultiHeadSelfAttention, partition, reverse


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # parameters() counts a shared tensor once


def build_on_meta(cls, **kwargs):
    with torch.device("meta"):
        return cls(**kwargs)


# --- GraphMLP --------------------------------------------------------------------------------


def test_adjacency_matches_the_documented_values():
    A = spatial_adjacency()
    assert A.shape == (4, NUM_JOINTS, NUM_JOINTS) and A.dtype == np.float32
    # models.md: A0[8,8] = 1/5, A0[10,10] = 1/2, A1[0,7] = 1/3, A3[1,4] = 1/4; every column sums to 1
    assert A[0, 8, 8] == pytest.approx(0.2) and A[0, 10, 10] == pytest.approx(0.5)
    assert A[1, 0, 7] == pytest.approx(1 / 3) and A[3, 1, 4] == pytest.approx(0.25) and A[3, 4, 1] == A[3, 1, 4]
    np.testing.assert_allclose(A.sum(axis=(0, 1)), 1.0, rtol=1e-6)
    degree = (A > 0).sum(axis=(0, 1))  # neighbourhood sizes deg(w) of models.md
    assert degree.tolist() == [4, 4, 4, 3, 4, 4, 3, 3, 5, 3, 2, 4, 4, 3, 4, 4, 3]
    # close (A1) links point from the joint farther from the Spine: Spine (7) → Pelvis (0) is "further" (A2)
    assert A[2, 7, 0] > 0 and A[1, 7, 0] == 0


@pytest.mark.parametrize("name, keys, params", [
    ("T1", 64, 9_489_440), ("T27", 76, 9_517_702), ("T81", 76, 9_572_998), ("T243", 76, 9_738_886),
    ("tiny", 45, 28_045)])
def test_graphmlp_preset_sizes(name, keys, params):
    model = build_on_meta(GraphMLP, **GRAPHMLP_PRESETS[name])
    assert len(model.state_dict()) == keys
    assert count_parameters(model) == params
    frozen = count_parameters(model) - sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert frozen == 4 * NUM_JOINTS ** 2  # the adjacency A, counted once
    frames = GRAPHMLP_PRESETS[name]["frames"]
    assert model(torch.empty(2, frames, NUM_JOINTS, 2, device="meta")).shape == (2, 1, NUM_JOINTS, 3)


def test_graphmlp_frames_3_variant_has_the_mlp_ln_keys():
    model = GraphMLP(**{**GRAPHMLP_PRESETS["tiny"], "frames": 3})
    keys = model.state_dict().keys()
    assert len(keys) == 53 and count_parameters(model) == 28_305  # models.md tiny T=3
    assert "mlp_gcn.blocks.0.mlp_1.fc1.1.weight" in keys and "mlp_gcn.blocks.0.mlp_1.fc1.weight" not in keys


def test_graphmlp_adjacency_is_one_shared_frozen_tensor():
    model = GraphMLP(**GRAPHMLP_PRESETS["tiny"])
    sd = model.state_dict()
    names = ["A"] + [f"mlp_gcn.blocks.{i}.{n}" for i in range(2) for n in ("adj", "gcn_1.adj", "gcn_2.adj")]
    assert all(name in sd for name in names)
    assert all(sd[name].data_ptr() == model.A.data_ptr() for name in names)
    assert not model.A.requires_grad
    np.testing.assert_array_equal(model.A.numpy(), spatial_adjacency())


def test_gcn_equals_the_official_1x1_convolution_then_adjacency():
    """Official mlp_gcn.py GCN: conv (1×1 Conv2d) → view (B, K, C, T, J) → einsum('nkctv,kvw->nctw', x, A)."""
    torch.manual_seed(0)
    A = torch.nn.Parameter(torch.as_tensor(spatial_adjacency(), dtype=torch.float32), requires_grad=False)
    gcn = Gcn(6, 5, A)
    x = torch.randn(3, 6, 1, NUM_JOINTS, requires_grad=True)
    conv = torch.nn.functional.conv2d(x, gcn.conv.weight, gcn.conv.bias)  # (B, K·C, 1, J)
    official = torch.einsum("nkctv,kvw->nctw", conv.view(3, A.shape[0], 5, 1, NUM_JOINTS), A)
    ours = gcn(x)
    assert ours.shape == (3, 5, 1, NUM_JOINTS)
    torch.testing.assert_close(ours, official)
    g_ours, = torch.autograd.grad(ours.square().sum(), x)
    g_official, = torch.autograd.grad(official.square().sum(), x)
    torch.testing.assert_close(g_ours, g_official)


@pytest.mark.parametrize("name", ["tiny", "tiny27"])
def test_graphmlp_tiny_forward_backward_finite(name):
    torch.manual_seed(0)
    kwargs = GRAPHMLP_PRESETS[name]
    model = GraphMLP(**kwargs)
    x = torch.rand(8, kwargs["frames"], NUM_JOINTS, 2) * 2 - 1
    for _ in range(2):
        out = model(x)
        assert out.shape == (8, 1, NUM_JOINTS, 3) and torch.isfinite(out).all()
        out.square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.A.grad is None
    # eval = the network without dropout and drop-path; training mode does drop (the default rates are > 0)
    deterministic = copy.deepcopy(model)
    for m in deterministic.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
        elif isinstance(m, DropPath):
            m.drop_prob = 0.0
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), deterministic.train()(x))
        model.train()
        assert (model(x) - model(x)).abs().max() > 1e-3


def test_graphmlp_rejects_bad_sizes():
    model = GraphMLP(**GRAPHMLP_PRESETS["tiny27"])
    with pytest.raises(ValueError, match=rf"expects \(B, 27, {NUM_JOINTS}, 2\)"):
        model(torch.zeros(2, 1, NUM_JOINTS, 2))
    with pytest.raises(ValueError, match=f"n_joints and out_joints must be {NUM_JOINTS}"):
        GraphMLP(**GRAPHMLP_PRESETS["tiny"], n_joints=16, out_joints=16)


def official_graphmlp_state_dict(frames, layers, channel, d_hid, token_dim):
    """The official key set, written from models.md's state_dict table (random values, the real A)."""
    g = torch.Generator().manual_seed(0)
    rand = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    J = NUM_JOINTS
    A = torch.from_numpy(spatial_adjacency())
    sd = {"A": A, "embedding.weight": rand(channel, 2 * frames), "embedding.bias": rand(channel)}
    for i in range(layers):
        b = f"mlp_gcn.blocks.{i}."
        sd[b + "adj"] = A
        sd[b + "norm1.weight"], sd[b + "norm1.bias"] = rand(J), rand(J)
        for gcn in ("gcn_1", "gcn_2"):
            sd[b + f"{gcn}.adj"] = A
            sd[b + f"{gcn}.conv.weight"] = rand(4 * channel, channel, 1, 1)
            sd[b + f"{gcn}.conv.bias"] = rand(4 * channel)
        if frames == 1:
            sd[b + "mlp_1.fc1.weight"], sd[b + "mlp_1.fc1.bias"] = rand(token_dim, J), rand(token_dim)
            sd[b + "mlp_1.fc2.weight"], sd[b + "mlp_1.fc2.bias"] = rand(J, token_dim), rand(J)
        else:
            sd[b + "mlp_1.fc1.0.weight"], sd[b + "mlp_1.fc1.0.bias"] = rand(token_dim, J), rand(token_dim)
            sd[b + "mlp_1.fc1.1.weight"], sd[b + "mlp_1.fc1.1.bias"] = rand(token_dim), rand(token_dim)
            sd[b + "mlp_1.fc2.0.weight"], sd[b + "mlp_1.fc2.0.bias"] = rand(J, token_dim), rand(J)
            sd[b + "mlp_1.fc2.1.weight"], sd[b + "mlp_1.fc2.1.bias"] = rand(J), rand(J)
        sd[b + "norm2.weight"], sd[b + "norm2.bias"] = rand(channel), rand(channel)
        sd[b + "mlp_2.fc1.weight"], sd[b + "mlp_2.fc1.bias"] = rand(d_hid, channel), rand(d_hid)
        sd[b + "mlp_2.fc2.weight"], sd[b + "mlp_2.fc2.bias"] = rand(channel, d_hid), rand(channel)
    sd["mlp_gcn.norm.weight"], sd["mlp_gcn.norm.bias"] = rand(channel), rand(channel)
    sd["head.weight"], sd["head.bias"] = rand(3, channel), rand(3)
    return sd


@pytest.mark.parametrize("name", ["tiny", "tiny27"])
@pytest.mark.parametrize("prefix", ["", "module."])
def test_graphmlp_loads_the_official_key_set_strictly(tmp_path, name, prefix):
    sd = official_graphmlp_state_dict(**GRAPHMLP_PRESETS[name])
    path = tmp_path / "model.pth"
    torch.save({prefix + k: v for k, v in sd.items()}, path)
    model = load_official_graphmlp(GraphMLP(**GRAPHMLP_PRESETS[name]), path)
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in sd.items())


def test_graphmlp_loader_errors_name_the_problem(tmp_path):
    sd = official_graphmlp_state_dict(**GRAPHMLP_PRESETS["tiny27"])
    with pytest.raises(ValueError, match="checkpoint was trained with frames=27, model has frames=1"):
        load_official_graphmlp(GraphMLP(**GRAPHMLP_PRESETS["tiny"]), sd)
    with pytest.raises(ValueError, match=r"1 missing keys \(first: head.bias\); 1 unexpected keys \(first: extra\)"):
        load_official_graphmlp(GraphMLP(**GRAPHMLP_PRESETS["tiny27"]),
                               {**{k: v for k, v in sd.items() if k != "head.bias"}, "extra": torch.zeros(1)})
    with pytest.raises(ValueError, match="checkpoint has layers=2, model has layers=3"):
        load_official_graphmlp(GraphMLP(**{**GRAPHMLP_PRESETS["tiny27"], "layers": 3}), sd)
    with pytest.raises(ValueError, match="check channel, d_hid, token_dim; .* keys of another shape"):
        load_official_graphmlp(GraphMLP(**{**GRAPHMLP_PRESETS["tiny27"], "d_hid": 32}), sd)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_official_graphmlp(GraphMLP(**GRAPHMLP_PRESETS["tiny"]), tmp_path / "absent.pth")
    other_graph = {**sd, "A": sd["A"].flip(0)}  # another skeleton's adjacency, same shape
    with pytest.raises(ValueError, match="adjacency 'A' differs from the Human3.6M graph"):
        load_official_graphmlp(GraphMLP(**GRAPHMLP_PRESETS["tiny27"]), other_graph)


# --- SkateFormer -----------------------------------------------------------------------------

MODELS_MD_TINY = dict(in_channels=3, depths=(1, 1, 1, 1), channels=(16, 32, 32, 32), num_classes=5, embed_dim=16,
                      num_people=1, num_frames=16, num_points=6, kernel_size=3, num_heads=8, type_1_size=(2, 3),
                      type_2_size=(2, 2), type_3_size=(2, 3), type_4_size=(2, 2), attn_drop=0.0, head_drop=0.0,
                      rel=True, drop_path=0.1, mlp_ratio=2.0, index_t=True)


@pytest.mark.parametrize("kwargs, keys, params", [
    (SKATEFORMER_PRESETS["ntu"], 214, 3_616_083),
    ({**SKATEFORMER_PRESETS["ntu"], "num_classes": 120}, 214, 3_627_663),
    (MODELS_MD_TINY, 122, 33_640)])
def test_skateformer_documented_sizes(kwargs, keys, params):
    model = build_on_meta(SkateFormer, **kwargs)
    assert len(model.state_dict()) == keys
    assert count_parameters(model) == params


@pytest.mark.parametrize("name", ["ntu", "h36m", "tiny"])
def test_skateformer_preset_forward_shapes(name):
    kwargs = SKATEFORMER_PRESETS[name]
    model = build_on_meta(SkateFormer, **kwargs)
    T = kwargs["num_frames"]
    x = torch.empty(2, kwargs["in_channels"], T, kwargs["num_points"], kwargs["num_people"], device="meta")
    assert model(x, torch.empty(2, T, device="meta")).shape == (2, kwargs["num_classes"])


def test_skateformer_tiny_forward_backward_finite():
    torch.manual_seed(0)
    kwargs = SKATEFORMER_PRESETS["tiny"]
    model = SkateFormer(**kwargs)
    x = torch.randn(4, 2, 16, NUM_POINTS, 1)
    index_t = torch.linspace(-1, 1, 16).expand(4, 16)
    for _ in range(2):
        logits = model(x, index_t)
        assert logits.shape == (4, kwargs["num_classes"]) and torch.isfinite(logits).all()
        torch.nn.functional.cross_entropy(logits, torch.arange(4)).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_skateformer_rejects_bad_inputs_and_sizes():
    model = SkateFormer(**SKATEFORMER_PRESETS["tiny"])
    with pytest.raises(ValueError, match="V=18"):
        model(torch.zeros(1, 2, 16, NUM_JOINTS, 1), torch.zeros(1, 16))
    with pytest.raises(ValueError, match="index_t must be"):
        model(torch.zeros(1, 2, 16, NUM_POINTS, 1), torch.zeros(1, 8))
    with pytest.raises(ValueError, match="not divisible by the partition frames"):
        model(torch.zeros(1, 2, 12, NUM_POINTS, 1), torch.zeros(1, 12))
    with pytest.raises(ValueError, match="num_heads must be a multiple of 8"):
        SkateFormer(**{**SKATEFORMER_PRESETS["tiny"], "num_heads": 4})
    with pytest.raises(ValueError, match="not divisible by the partition joint sizes"):
        SkateFormer(**{**SKATEFORMER_PRESETS["tiny"], "num_points": NUM_JOINTS})


def test_skate_embedding_is_interleaved_sin_cos():
    model = SkateFormer(**SKATEFORMER_PRESETS["tiny"])
    index_t = torch.tensor([[0.5]])
    te = model.skate_embedding(index_t)[0, 0]
    # ω_i = 10000^(−2i/16): te[0] = sin(0.5), te[1] = cos(0.5), te[2] = sin(0.5·10000^(−1/8))
    assert te[0].item() == pytest.approx(np.sin(0.5)) and te[1].item() == pytest.approx(np.cos(0.5))
    assert te[2].item() == pytest.approx(np.sin(0.5 * 10000 ** (-2 / 16)), rel=1e-6)


def test_type_1_bias_reproduces_the_official_tiling():
    # Official _get_relative_positional_bias, run on table [10, 20, 30] with (P0, P1) = (2, 3), gives for the first
    # query token [20, 10, 20, 10, 20, 10]: token t is treated as frame t mod P0 (a tiled, not repeated, table).
    attention = MultiHeadSelfAttention(6, "type_1", num_heads=1, partition_size=(2, 3))
    with torch.no_grad():
        attention.relative_position_bias_table.copy_(torch.tensor([[10.0], [20.0], [30.0]]))
    bias = attention._relative_positional_bias()[0, 0]
    assert bias[0].tolist() == [20.0, 10.0, 20.0, 10.0, 20.0, 10.0]
    assert bias[1].tolist() == [30.0, 20.0, 30.0, 20.0, 30.0, 20.0]


def official_skateformer_state_dict(kwargs):
    """The official key set, written from models.md's NTU state_dict table (random values)."""
    g = torch.Generator().manual_seed(0)
    rand = lambda *shape: torch.randn(*shape, generator=g) * 0.02  # noqa: E731
    C0, J, h = kwargs["embed_dim"], kwargs["num_points"] * kwargs["num_people"], kwargs["num_heads"]
    k, c_in = kwargs["kernel_size"], kwargs["in_channels"]
    sd = {"joint_person_embedding": rand(C0, J),
          "stem.0.weight": rand(2 * c_in, c_in, 1, 1), "stem.0.bias": rand(2 * c_in),
          "stem.2.weight": rand(3 * c_in, 2 * c_in, 1, 1), "stem.2.bias": rand(3 * c_in),
          "stem.4.weight": rand(C0, 3 * c_in, 1, 1), "stem.4.bias": rand(C0)}
    widths = [C0, *kwargs["channels"]]
    for s, depth in enumerate(kwargs["depths"]):
        C = widths[s + 1]
        for b in range(depth):
            p = f"stages.{s}.blocks.{b}."
            if s > 0 and b == 0:
                sd[p + "downsample.reduction.weight"] = rand(C, widths[s], k, 1)
                sd[p + "downsample.reduction.bias"] = rand(C)
                for n in ("weight", "bias", "running_mean"):
                    sd[p + f"downsample.bn.{n}"] = rand(C)
                sd[p + "downsample.bn.running_var"] = torch.rand(C, generator=g) + 0.5
                sd[p + "downsample.bn.num_batches_tracked"] = torch.tensor(7)
            t = p + "transformer."
            sd[t + "gconv"] = rand(h // 4, J, J)
            sd[t + "norm_1.weight"], sd[t + "norm_1.bias"] = rand(C), rand(C)
            sd[t + "mapping.weight"], sd[t + "mapping.bias"] = rand(2 * C, C), rand(2 * C)
            sd[t + "tconv.weight"], sd[t + "tconv.bias"] = rand(C // 4, (C // 4) // (h // 4), k, 1), rand(C // 4)
            for i in range(4):
                frames, joints = kwargs[f"type_{i + 1}_size"]
                table = (2 * frames - 1, h // 8) if i in (0, 2) else (2 * frames - 1, joints, joints, h // 8)
                sd[t + f"attention.{i}.relative_position_bias_table"] = rand(*table)
                pos = torch.arange(frames)
                sd[t + f"attention.{i}.relative_position_index"] = pos[:, None] - pos[None, :] + frames - 1
            sd[t + "norm_2.weight"], sd[t + "norm_2.bias"] = rand(C), rand(C)
            sd[t + "proj.weight"], sd[t + "proj.bias"] = rand(C, C), rand(C)
            hidden = int(kwargs["mlp_ratio"] * C)
            sd[t + "mlp.fc1.weight"], sd[t + "mlp.fc1.bias"] = rand(hidden, C), rand(hidden)
            sd[t + "mlp.fc2.weight"], sd[t + "mlp.fc2.bias"] = rand(C, hidden), rand(C)
    sd["head.weight"], sd["head.bias"] = rand(kwargs["num_classes"], widths[-1]), rand(kwargs["num_classes"])
    return sd


@pytest.mark.parametrize("name, prefix", [("ntu", ""), ("ntu", "module."), ("tiny", "module.")])
def test_skateformer_loads_the_official_key_set_strictly(tmp_path, name, prefix):
    kwargs = SKATEFORMER_PRESETS[name]
    sd = official_skateformer_state_dict(kwargs)
    if name == "ntu":
        assert len(sd) == 214
    path = tmp_path / "SkateFormer_j.pt"
    torch.save({prefix + k: v for k, v in sd.items()}, path)
    model = load_official_skateformer(SkateFormer(**kwargs), path)
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in sd.items())


def test_skateformer_loader_errors_name_the_problem():
    sd = official_skateformer_state_dict(SKATEFORMER_PRESETS["tiny"])
    with pytest.raises(ValueError, match="keys of another shape, checkpoint vs model \\(first: head.weight"):
        load_official_skateformer(SkateFormer(**{**SKATEFORMER_PRESETS["tiny"], "num_classes": 5}), sd)
    with pytest.raises(ValueError, match="missing keys \\(first: joint_person_temporal_embedding"):
        load_official_skateformer(SkateFormer(**{**SKATEFORMER_PRESETS["tiny"], "index_t": False}), sd)



# --- extra input channels (lifting.input / action.input: the 2D uncertainty) -----------------------

def _state_shapes(model: torch.nn.Module) -> dict:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("extra", [1, 3])
def test_extra_channels_change_only_the_input_layers_in_features(extra):
    # GraphMLP: embedding (C, 2T) → (C, (2+E)T); SkateFormer: stem.0 (2C, C, 1, 1) → (2C, C+E, 1, 1); nothing else
    for cls, kwargs, key, axis, width in ((GraphMLP, GRAPHMLP_PRESETS["tiny27"], "embedding.weight", 1, 27),
                                          (SkateFormer, SKATEFORMER_PRESETS["tiny"], "stem.0.weight", 1, 1)):
        official = _state_shapes(build_on_meta(cls, **kwargs))
        wider = _state_shapes(build_on_meta(cls, **kwargs, extra_channels=extra))
        assert official.keys() == wider.keys()
        assert {k for k in official if official[k] != wider[k]} == {key}
        assert wider[key][axis] - official[key][axis] == extra * width


@pytest.mark.parametrize("extra", [1, 3])
def test_graphmlp_with_extra_channels_trains_a_step(extra):
    torch.manual_seed(0)
    model = GraphMLP(**GRAPHMLP_PRESETS["tiny27"], extra_channels=extra).eval()  # eval: no dropout, one loss
    x = torch.rand(8, 27, NUM_JOINTS, 2 + extra) * 2 - 1
    target = torch.randn(8, 1, NUM_JOINTS, 3) * 0.1
    with pytest.raises(ValueError, match=rf"expects \(B, 27, {NUM_JOINTS}, {2 + extra}\) input"):
        model(x[..., :2])
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    before = (model(x) - target).square().mean()
    before.backward()
    extra_grad = model.embedding.weight.grad.reshape(-1, 2 + extra, 27)[:, 2:]  # (C, E, T): the new columns
    assert torch.isfinite(extra_grad).all() and extra_grad.abs().sum() > 0
    opt.step()
    with torch.no_grad():
        assert (model(x) - target).square().mean() < before


@pytest.mark.parametrize("extra", [1, 3])
def test_skateformer_with_extra_channels_trains_a_step(extra):
    torch.manual_seed(0)
    model = SkateFormer(**SKATEFORMER_PRESETS["tiny"], extra_channels=extra).eval()
    x = torch.randn(4, 2 + extra, 16, NUM_POINTS, 1)
    index_t = torch.linspace(-1, 1, 16).expand(4, 16)
    labels = torch.arange(4)
    with pytest.raises(ValueError, match=f"C={2 + extra}"):
        model(x[:, :2], index_t)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    before = torch.nn.functional.cross_entropy(model(x, index_t), labels)
    before.backward()
    assert model.stem[0].weight.grad[:, 2:].abs().sum() > 0  # the extra channels reach the loss
    opt.step()
    with torch.no_grad():
        assert torch.nn.functional.cross_entropy(model(x, index_t), labels) < before


def test_official_weights_load_only_into_the_xy_models():
    graph_sd = official_graphmlp_state_dict(**GRAPHMLP_PRESETS["tiny27"])
    load_official_graphmlp(GraphMLP(**GRAPHMLP_PRESETS["tiny27"], extra_channels=0), graph_sd)  # strict, xy
    with pytest.raises(ValueError, match="extra_channels=3 .*lifting.input"):
        load_official_graphmlp(GraphMLP(**GRAPHMLP_PRESETS["tiny27"], extra_channels=3), graph_sd)
    skate_sd = official_skateformer_state_dict(SKATEFORMER_PRESETS["tiny"])
    load_official_skateformer(SkateFormer(**SKATEFORMER_PRESETS["tiny"], extra_channels=0), skate_sd)
    with pytest.raises(ValueError, match="extra_channels=1 .*action.input"):
        load_official_skateformer(SkateFormer(**SKATEFORMER_PRESETS["tiny"], extra_channels=1), skate_sd)


# --- the Human3.6M layout for SkateFormer -----------------------------------------------------


def test_layout_holds_every_joint_once_plus_the_head_pad():
    assert len(LAYOUT) == NUM_POINTS == 18
    assert sorted(LAYOUT[:-1]) == list(range(NUM_JOINTS))
    assert LAYOUT[-1] == JOINT_NAMES.index("Head")


def test_to_skateformer_layout_numpy_and_torch_agree():
    x = np.random.default_rng(0).normal(size=(5, NUM_JOINTS, 2)).astype(np.float32)
    y = to_skateformer_layout(x)
    assert y.shape == (5, NUM_POINTS, 2)
    np.testing.assert_array_equal(y[:, -1], x[:, JOINT_NAMES.index("Head")])  # pad = copy of the Head
    np.testing.assert_array_equal(to_skateformer_layout(torch.from_numpy(x)).numpy(), y)
    # (C, T, V) layout: joint axis given explicitly
    np.testing.assert_array_equal(to_skateformer_layout(x.transpose(2, 0, 1), axis=-1), y.transpose(2, 0, 1))
    with pytest.raises(ValueError, match=f"expected {NUM_JOINTS}"):
        to_skateformer_layout(np.zeros((3, 16, 2)))


def joint_groups(skate_type, size):
    """The sets of Human3.6M joints that share a partition of the given Skate-Type (first frame window)."""
    ids = torch.tensor(LAYOUT, dtype=torch.float32).expand(1, 1, size[0], NUM_POINTS)  # (B, C, T, J)
    tokens = partition(ids, skate_type, size)  # (groups, P0·P1, 1)
    torch.testing.assert_close(reverse(tokens, skate_type, size, batch=1, frames=size[0]), ids)
    return [sorted({int(v) for v in group.flatten()}) for group in tokens]


def test_skate_types_group_body_parts_as_intended():
    sizes = skate_type_sizes(frames_per_partition=1)
    name = JOINT_NAMES.index
    # type 1 (L = 6): {arms}, {legs}, {trunk, head}
    arms = sorted(name(j) for j in ("RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist"))
    legs = sorted(name(j) for j in ("RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot"))
    trunk_head = sorted(name(j) for j in ("Hip", "Spine", "Thorax", "Neck/Nose", "Head"))
    assert joint_groups(1, sizes["type_1_size"]) == [arms, legs, trunk_head]
    # type 2 (K = 6): same-rank joints of the six parts (models.md: proximal, middle, distal)
    assert joint_groups(2, sizes["type_2_size"]) == [sorted([14, 11, 1, 4, 0, 9]), sorted([15, 12, 2, 5, 7, 10]),
                                                    sorted([16, 13, 3, 6, 8, 10])]


def test_type_3_and_4_take_frames_at_a_global_stride():
    x = torch.arange(8.0).reshape(1, 1, 8, 1).expand(1, 1, 8, NUM_POINTS)  # value = frame index
    tokens = partition(x, 3, (2, 6))  # M_f = 2 frames at stride T / M_f = 4
    frames = rearrange(tokens, "g (n l) c -> g n (l c)", n=2)[:, :, 0]
    assert sorted({tuple(f.tolist()) for f in frames}) == [(0.0, 4.0), (1.0, 5.0), (2.0, 6.0), (3.0, 7.0)]

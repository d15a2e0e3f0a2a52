"""utils/prob/tic.py and models/tictac: Taylor Induced Covariance against analytic derivatives, and the
probabilistic pose model (every method) on a tiny stand-in conv model with the models/pose2d.py interface.
"""
import pytest
import torch
import torch.nn as nn

from models.tictac import AuxCovarianceNet, ProbabilisticPoseModel, TICBottleneck, VisibilityHead
from utils.prob.covariance import METHODS, num_raw_outputs, validate_covariance
from utils.codecs.heatmap import soft_argmax
from utils.prob.tic import tic_covariance, tic_covariance_loop, tic_terms

B, Z, D = 4, 5, 6


@pytest.fixture
def setup():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(B, Z, generator=g, dtype=torch.float64)
    k1 = torch.rand(B, generator=g, dtype=torch.float64) + 0.5
    k2 = torch.rand(B, generator=g, dtype=torch.float64) + 0.5
    a = torch.randn(B, D, D, generator=g, dtype=torch.float64)
    psd = a @ a.mT + torch.eye(D, dtype=torch.float64)
    return z, k1, k2, psd, g


def test_linear_decoder_gives_k1_wwt_plus_psd(setup):
    z, k1, _, psd, g = setup
    w = torch.randn(D, Z, generator=g, dtype=torch.float64)
    bias = torch.randn(D, generator=g, dtype=torch.float64)

    def decode(latent):  # μ = W z + b: G = W for every sample, H = 0
        return w @ latent + bias

    expected = k1[:, None, None] * (w @ w.T) + psd
    torch.testing.assert_close(tic_covariance(decode, z, k1, None, psd), expected)
    torch.testing.assert_close(tic_covariance_loop(decode, z, k1, None, psd), expected)
    with_hessian = tic_covariance(decode, z, k1, k1, psd, use_hessian=True)
    torch.testing.assert_close(with_hessian, expected)  # T = 0


def test_quadratic_decoder_hessian_term(setup):
    z, k1, k2, psd, g = setup
    a = torch.randn(D, Z, Z, generator=g, dtype=torch.float64)
    a = a + a.mT  # symmetric H_i = A_i
    w = torch.randn(D, Z, generator=g, dtype=torch.float64)

    def decode(latent):  # μ_i = ½ zᵀ A_i z + w_iᵀ z: G_i = A_i z + w_i, H_i = A_i
        return 0.5 * torch.einsum("a,iab,b->i", latent, a, latent) + w @ latent

    jac = torch.einsum("iab,nb->nia", a, z) + w  # (B, D, Z)
    trace = torch.einsum("iab,jba->ij", a, a)  # tr(A_i A_j)
    expected = k1[:, None, None] * jac @ jac.mT + k2[:, None, None] * trace + psd
    torch.testing.assert_close(tic_covariance(decode, z, k1, k2, psd, use_hessian=True), expected)
    torch.testing.assert_close(tic_covariance_loop(decode, z, k1, k2, psd, use_hessian=True), expected)
    gram, hess = tic_terms(decode, z, use_hessian=True, chunk_size=3)
    torch.testing.assert_close(gram, jac @ jac.mT)
    torch.testing.assert_close(hess, trace.expand(B, D, D))


def test_per_sample_extra_arguments(setup):
    z, k1, _, psd, g = setup
    w = torch.randn(D, Z, generator=g, dtype=torch.float64)
    scale = torch.rand(B, Z, generator=g, dtype=torch.float64)

    def decode(latent, s):  # μ = W (s ⊙ z): G = W diag(s), s differs per sample
        return w @ (s * latent)

    jac = w[None] * scale[:, None, :]
    expected = k1[:, None, None] * jac @ jac.mT + psd
    torch.testing.assert_close(tic_covariance(decode, z, k1, None, psd, extra_args=(scale,)), expected)
    torch.testing.assert_close(tic_covariance_loop(decode, z, k1, None, psd, extra_args=(scale,)), expected)


def test_derivatives_carry_no_gradient_unless_asked(setup):
    z, _, _, _, g = setup
    w = torch.randn(D, Z, generator=g, dtype=torch.float64, requires_grad=True)

    def decode(latent):
        return torch.tanh(w @ latent)

    gram, _ = tic_terms(decode, z)
    assert not gram.requires_grad  # official TIC-TAC semantics: no gradient into the pose net through G
    gram, _ = tic_terms(decode, z, differentiable=True)
    gram.sum().backward()
    assert w.grad is not None and bool(torch.isfinite(w.grad).all())


# --- the probabilistic model on a stand-in pose model ----------------------------------------------------

class TinyPoseModel(nn.Module):
    """Stand-in with the models/pose2d.py interface: 16×16 images → 8×8 features (C = 8) → J heatmaps 8×8."""

    def __init__(self, num_joints=3, channels=8):
        super().__init__()
        self.num_joints, self.feature_channels, self.heatmap_size, self.num_stacks = num_joints, channels, (8, 8), 2
        self.backbone = nn.Sequential(nn.Conv2d(3, channels, 3, stride=2, padding=1), nn.BatchNorm2d(channels),
                                      nn.ReLU())
        self.early_head = nn.Conv2d(channels, num_joints, 1)
        self.head = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels),
                                  nn.ReLU(inplace=True), nn.Conv2d(channels, num_joints, 1))

    def encode(self, images):
        features = self.backbone(images)  # (B, C, 8, 8)
        return features, self.early_head(features)[:, None]  # intermediate heatmaps (B, S−1 = 1, J, 8, 8)

    def decode(self, features):
        return self.head(features)  # (B, J, 8, 8)


def _model(method, **kwargs):
    torch.manual_seed(0)
    model = ProbabilisticPoseModel(TinyPoseModel(), method, z_dim=Z, pooled=2, **kwargs)
    nn.init.normal_(model.bottleneck.upscale_out.weight, std=0.5)  # non-zero G (zero-initialised by design)
    return model


def _batch():
    g = torch.Generator().manual_seed(1)
    images = torch.randn(B, 3, 16, 16, generator=g)
    target = torch.rand(B, D, generator=g) * 7
    visible = torch.tensor([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0]], dtype=torch.bool)
    heatmaps = torch.rand(B, 3, 8, 8, generator=g)
    return images, target, visible, heatmaps


@pytest.mark.parametrize("method,use_hessian", [(m, False) for m in METHODS] + [("TIC", True)])
def test_probabilistic_model_forward_backward_is_finite(method, use_hessian):
    model = _model(method, use_hessian=use_hessian, visibility=True)
    images, target, visible, heatmaps = _batch()
    out = model(images)
    assert out["mean"].shape == (B, D) and out["covariance"].shape == (B, D, D)
    assert out["raw"].shape == (B, num_raw_outputs(method, D)) and out["visibility"].shape == (B, 3)
    validate_covariance(out["covariance"], method)
    losses = model.loss(out, target, visible, heatmap_target=heatmaps)
    assert set(losses) == {"covariance", "heatmap", "visibility", "total"}
    losses["total"].backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(bool(torch.isfinite(grad).all()) for grad in grads)
    assert model.pose_model.head[0].weight.grad.abs().sum() > 0
    if model.aux_net is not None:
        assert model.aux_net.pytorch_layers[-1].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("method", ["NLL", "TIC"])
def test_covariance_algebra_stays_float32_under_autocast(method):
    model = _model(method)
    images, target, visible, heatmaps = _batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(images)
        losses = model.loss(out, target, visible, heatmap_target=heatmaps)
    assert out["mean"].dtype == out["covariance"].dtype == torch.float32
    validate_covariance(out["covariance"], method)
    losses["total"].backward()
    assert bool(torch.isfinite(losses["total"]))


def test_tic_covariance_of_the_model_matches_the_per_sample_loop():
    model = _model("TIC", use_hessian=True)
    images = _batch()[0]
    out = model.train()(images)
    assert model.training and model.pose_model.head[1].training  # eval mode for the derivatives, then restored
    assert not out["jacobian_gram"].requires_grad
    out = model.eval()(images)
    assert float(out["jacobian_gram"].diagonal(dim1=-2, dim2=-1).min()) > 0
    features, _ = model.pose_model.encode(images)
    z = model.bottleneck.encode(features)
    ones, zeros = torch.ones(B), torch.zeros(B)
    gram = tic_covariance_loop(model._decode_single, z, ones, zeros, torch.zeros(B, D, D), extra_args=(features,))
    torch.testing.assert_close(out["jacobian_gram"], gram, rtol=1e-4, atol=1e-6)
    hess = tic_covariance_loop(model._decode_single, z, zeros, ones, torch.zeros(B, D, D),
                               extra_args=(features,), use_hessian=True)
    torch.testing.assert_close(out["hessian_gram"], hess, rtol=1e-4, atol=1e-6)


def test_tic_linearises_the_forward_mean():
    # μ(z + δ) ≈ μ(z) + G δ with the model's own decode path (no branch left out), eval mode
    model = _model("TIC").double().eval()
    images = _batch()[0].double()
    features, _ = model.pose_model.encode(images)
    z = model.bottleneck.encode(features)
    jac = torch.func.vmap(torch.func.jacrev(model._decode_single))(z, features)  # (B, D, Z)
    delta = 1e-5 * torch.randn(B, Z, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    moved = model.pose_model.decode(model.bottleneck.inject(features, z + delta))
    step = soft_argmax(moved).flatten(1) - model(images)["mean"]
    torch.testing.assert_close(step, (jac @ delta[..., None])[..., 0], rtol=1e-4, atol=1e-9)
    gram, _ = model.jacobian_terms(features, z)
    torch.testing.assert_close(gram, jac @ jac.mT)


def test_zero_initialised_bottleneck_keeps_the_pose_model_outputs():
    torch.manual_seed(0)
    pose = TinyPoseModel().eval()
    model = ProbabilisticPoseModel(pose, "NLL", z_dim=Z, pooled=2).eval()
    images = _batch()[0]
    features, _ = pose.encode(images)
    torch.testing.assert_close(model(images)["heatmaps"], pose.decode(features), rtol=0, atol=0)


def test_loss_aggregation_warmup_and_errors():
    model = _model("NLL", mse_warmup_epochs=2)
    images, target, visible, _ = _batch()
    out = model(images)
    warm = model.loss(out, target, visible, epoch=1)
    mse = ((target - out["mean"]) ** 2 * visible.repeat_interleave(2, -1)).sum(-1)
    torch.testing.assert_close(warm["covariance"], mse[:3].mean())  # sample 3 has no visible joint
    assert float(warm["heatmap"]) == 0.0 and float(warm["visibility"]) == 0.0
    assert model.loss(out, target, visible, epoch=2)["covariance"] != warm["covariance"]
    with pytest.raises(ValueError, match=r"target must be \(B, D\)"):
        model.loss(out, target[:, :4])
    with pytest.raises(ValueError, match="valid choices: MSE, Diagonal, BetaNLL, NLL, Faithful, TIC"):
        ProbabilisticPoseModel(TinyPoseModel(), "Gaussian")
    with pytest.raises(TypeError, match="lacks 'encode'"):
        ProbabilisticPoseModel(nn.Linear(2, 2), "NLL")


def test_heads_shapes():
    z = torch.randn(B, Z)
    assert AuxCovarianceNet(Z, (7, 7), out_dim=11)(z).shape == (B, 11)
    probability = VisibilityHead(Z, 3)(z)
    assert probability.shape == (B, 3) and bool(((probability > 0) & (probability < 1)).all())
    bottleneck = TICBottleneck(8, z_dim=Z, pooled=2)
    features = torch.randn(B, 8, 6, 10)
    assert bottleneck.encode(features).shape == (B, Z)
    torch.testing.assert_close(bottleneck.inject(features, bottleneck.encode(features)), features)


def test_tic_chunk_size_changes_no_number():
    """`prob.tic_chunk_size` is a speed knob: the TIC covariance of a real pose network is the same with
    one sample per vmapped Jacobian call as with the whole batch, and it is not saved with the model."""
    from models.pose2d import build_pose_model
    from utils.stages.prob_estimator import build_method_set

    torch.manual_seed(0)
    pose = build_pose_model("ViTPose", "tiny64", 17)
    images = torch.randn(3, 3, *pose.input_size)
    weights, outputs = build_method_set(pose, ["TIC"], {}).state_dict(), {}
    for chunk in (0, 1):
        method_set = build_method_set(pose, ["TIC"], {}, tic_chunk_size=chunk).eval()
        method_set.load_state_dict(weights)
        assert method_set.models["TIC"].tic_chunk_size == (chunk or None)
        with torch.no_grad():
            outputs[chunk] = method_set.models["TIC"](images)["covariance"]
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-5, atol=1e-7)


def _vitpose_tic_with_nontrivial_batchnorm():
    """ViTPose tiny64 under a TIC head, with random BatchNorm statistics and weights large enough that G is not ≈ 0."""
    from models.pose2d import build_pose_model
    from utils.stages.prob_estimator import build_method_set

    torch.manual_seed(0)
    pose = build_pose_model("ViTPose", "tiny64", 17)
    model = build_method_set(pose, ["TIC"], {}).models["TIC"]
    with torch.no_grad():  # running statistics and a bottleneck that is not zero: a non-trivial fold and Jacobian
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
        for module in (model.bottleneck, model.pose_model.keypoint_head):  # mmpose's std 0.001 and a zero bottleneck
            for weight in module.parameters():                           # would leave G ≈ 0
                if weight.dim() > 1:
                    nn.init.normal_(weight, std=0.3)
    return model, torch.randn(3, 3, *pose.input_size)


def test_folding_batchnorm_keeps_the_gaussians_and_leaves_it_out_of_the_jacobian():
    """models.pose2d.fold_batchnorm (get2Dpredictions_prob_pose.py): ViTPose's deconvolution + BatchNorm pairs become
    one convolution each, and the TIC mean and covariance stay what the unfolded network gives (float rounding);
    the Stacked Hourglass (BatchNorm before its convolutions) is left as it is."""
    import copy

    from models.pose2d import build_pose_model, fold_batchnorm

    model, images = _vitpose_tic_with_nontrivial_batchnorm()
    model.eval()
    folded = copy.deepcopy(model)
    fold_batchnorm(folded.pose_model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.pose_model.modules())
    with torch.no_grad():
        expected, got = model(images), folded(images)
    assert expected["jacobian_gram"].abs().max() > 1e-3  # the Jacobian is not trivially zero
    torch.testing.assert_close(got["mean"], expected["mean"], rtol=1e-5, atol=1e-4)
    scale = expected["covariance"].abs().max().item()  # float32 rounding of two orders of the same sums
    torch.testing.assert_close(got["covariance"], expected["covariance"], rtol=1e-4, atol=1e-5 * scale)

    hourglass = build_pose_model("Hourglass", "tiny", 17)
    norms = sum(isinstance(m, nn.BatchNorm2d) for m in hourglass.modules())
    fold_batchnorm(hourglass)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in hourglass.modules()) == norms > 0


def test_training_folds_batchnorm_only_inside_the_tic_jacobian(monkeypatch):
    """ProbabilisticPoseModel.jacobian_terms (TIC training, G without gradient) folds ViTPose's BatchNorm for the
    derivatives only: same G Gᵀ as the unfolded network, the BatchNorm layers back afterwards (state dict keys,
    gradients of the mean path, running statistics updated in training), and a fold in training mode is refused."""
    import contextlib

    import models.tictac.probabilistic as probabilistic
    from models.pose2d import batchnorm_folded

    model, images = _vitpose_tic_with_nontrivial_batchnorm()
    model.train()
    keys = set(model.state_dict())
    norm = next(m for m in model.pose_model.keypoint_head.modules() if isinstance(m, nn.BatchNorm2d))
    before = norm.running_mean.clone()
    folded = model(images)
    assert set(model.state_dict()) == keys and norm in set(model.modules())
    assert not torch.equal(norm.running_mean, before)  # the mean's forward still normalised with batch statistics
    folded["mean"].sum().backward()
    assert norm.weight.grad is not None and norm.weight.grad.abs().max() > 0

    monkeypatch.setattr(probabilistic, "batchnorm_folded", lambda module: contextlib.nullcontext())
    model.eval()
    with torch.no_grad():
        expected = model(images)["jacobian_gram"]
    monkeypatch.undo()
    with torch.no_grad():
        got = model(images)["jacobian_gram"]
    assert expected.abs().max() > 1e-3
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5 * expected.abs().max().item())

    model.train()
    with pytest.raises(RuntimeError, match="eval mode"):
        with batchnorm_folded(model.pose_model):
            pass

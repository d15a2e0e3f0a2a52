"""TIC on the Stacked Hourglass differentiates the mean with respect to the bottom of the last hourglass,
as the official TIC-TAC (``vita-epfl/TIC-TAC: HumanPose/code/utils/tic.py``, ``_get_derivatives_hg``), through
the real up path (skip branches held at their values)."""
from __future__ import annotations

import torch

from dataloader.h36m import NUM_JOINTS
from models.pose2d import build_pose_model
from models.tictac import ProbabilisticPoseModel

D = 2 * NUM_JOINTS


def _hourglass_tic():
    torch.manual_seed(0)
    pose = build_pose_model("Hourglass", "tiny", NUM_JOINTS)
    return ProbabilisticPoseModel(pose, "TIC").double().eval(), torch.randn(2, 3, 64, 64, dtype=torch.float64)


def test_hourglass_decode_latent_of_encode_latent_is_the_forward():
    torch.manual_seed(0)
    model = build_pose_model("Hourglass", "tiny", NUM_JOINTS).eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        features, intermediate = model.encode(images)
        bottom, skips, intermediate_latent = model.encode_latent(images)
        assert bottom.shape == (2, model.feature_channels, 1, 1)  # 16×16 heatmaps, 2⁴ down-sampling
        assert [s.shape[-1] for s in skips] == [16, 8, 4, 2]      # outermost first
        assert torch.equal(model.decode_latent(bottom, skips), features)
        assert torch.equal(intermediate_latent, intermediate)


def test_hourglass_tic_jacobian_is_the_real_forwards_derivative_at_the_bottom_latent():
    model, images = _hourglass_tic()
    pose = model.pose_model
    with torch.no_grad():
        out = model(images)
        torch.testing.assert_close(out["heatmaps"], pose(images)[:, -1], rtol=0, atol=0)  # the model is unchanged
        bottom, skips, _ = pose.encode_latent(images)
    jacobian = torch.func.jacrev(model._decode_latent_single)(bottom[0].flatten(), *[s[0] for s in skips])  # (D, Z)
    assert jacobian.shape == (D, bottom[0].numel())
    torch.testing.assert_close(out["jacobian_gram"][0], jacobian @ jacobian.T)
    assert out["jacobian_gram"].diagonal(dim1=-2, dim2=-1).sum() > 1e-3  # informative from the start (not 0)

    # the real nn forward with the bottom Residual's output moved along v (a hook), central differences
    direction = torch.randn_like(bottom[:1])
    bottom_module = pose.hgs[-1][0].low2.low2.low2.low2

    def mean_moved(step):
        handle = bottom_module.register_forward_hook(lambda module, args, output: output + step * direction)
        try:
            with torch.no_grad():
                return model._mean_from_heatmaps(pose(images[:1])[:, -1])[0]
        finally:
            handle.remove()

    h = 1e-5
    finite = (mean_moved(h) - mean_moved(-h)) / (2 * h)
    torch.testing.assert_close(jacobian @ direction.flatten(), finite, rtol=1e-6, atol=1e-8)


def test_hourglass_bottleneck_only_feeds_the_covariance_head():
    model, _ = _hourglass_tic()
    assert model.latent_tic and not hasattr(model.bottleneck, "upscale")
    assert sorted(name for name, _ in model.bottleneck.named_parameters()) == ["downscale.bias", "downscale.weight"]

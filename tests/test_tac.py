"""utils/prob/tac.py: closed-form TAC vs the per-joint loop, log-likelihood, calibration, aggregation.

The loop reference follows official TIC-TAC ``calculate_tac_per_sample`` (explicit (D−2)×(D−2) inverse per joint); it was
also compared side by side with the official function during development (difference 2e-14).
"""
import math

import pytest
import torch

from dataloader.h36m import NUM_JOINTS
from utils.prob.covariance import sample_gaussian
from utils.prob.tac import (PerJointAverage, aggregate_per_joint, calibration, expected_coverage, joint_mahalanobis,
                       log_likelihood, tac, tac_loop_reference)

D = 2 * NUM_JOINTS


def _random_spd(batch, dim, generator, scale=1.0):
    a = torch.randn(batch, dim, dim, generator=generator, dtype=torch.float64)
    return scale * (a @ a.mT / dim + 0.1 * torch.eye(dim, dtype=torch.float64))


@pytest.fixture
def gaussian():
    g = torch.Generator().manual_seed(0)
    batch = 8
    mean = torch.rand(batch, D, generator=g, dtype=torch.float64) * 63
    target = mean + torch.randn(batch, D, generator=g, dtype=torch.float64) * 2
    return mean, _random_spd(batch, D, g, scale=4.0), target, g


def test_tac_closed_form_matches_loop(gaussian):
    mean, cov, target, _ = gaussian
    fast = tac(mean, cov, target)
    assert fast.shape == (mean.shape[0], NUM_JOINTS) and fast.dtype == torch.float64
    torch.testing.assert_close(fast, tac_loop_reference(mean, cov, target), rtol=0, atol=1e-5)
    # float32 inputs are promoted to float64 and still match
    torch.testing.assert_close(tac(mean.float(), cov.float(), target.float()), fast, rtol=1e-4, atol=1e-4)


def test_tac_from_precision_equals_tac_from_covariance(gaussian):
    mean, cov, target, _ = gaussian
    torch.testing.assert_close(tac(mean, None, target, precision=torch.linalg.inv(cov)), tac(mean, cov, target))
    with pytest.raises(ValueError, match="exactly one"):
        tac(mean, cov, target, precision=cov)


def test_tac_with_diagonal_covariance_is_the_joint_error(gaussian):
    # conditioning on independent joints leaves the mean unchanged: TAC_i = ‖y_i − μ_i‖
    mean, _, target, g = gaussian
    cov = torch.diag_embed(torch.rand(mean.shape[0], D, generator=g, dtype=torch.float64) + 0.1)
    expected = (target - mean).reshape(mean.shape[0], NUM_JOINTS, 2).norm(dim=-1)
    torch.testing.assert_close(tac(mean, cov, target), expected)


def test_tac_two_joints_by_hand():
    # J = 2, x and y independent, corr(x0, x1) = ρ with unit variances: E[x0 | x1] = μ0 + ρ (x1 − μ1)
    rho = 0.6
    cov = torch.eye(4, dtype=torch.float64)
    cov[0, 2] = cov[2, 0] = rho
    cov = cov[None]
    mean = torch.zeros(1, 4, dtype=torch.float64)
    target = torch.tensor([[1.0, 2.0, 3.0, -1.0]], dtype=torch.float64)
    expected = torch.tensor([[math.hypot(1.0 - rho * 3.0, 2.0), math.hypot(3.0 - rho * 1.0, -1.0)]],
                            dtype=torch.float64)
    torch.testing.assert_close(tac(mean, cov, target), expected)


def test_tac_with_hidden_joints_uses_the_marginal(gaussian):
    mean, cov, target, _ = gaussian
    visible = torch.ones(mean.shape[0], NUM_JOINTS, dtype=torch.bool)
    visible[0, [3, 7]] = False
    visible[2, 0] = False
    got = tac(mean, cov, target, visible=visible)
    assert bool(torch.isnan(got[~visible]).all()) and bool(torch.isfinite(got[visible]).all())
    for b in (0, 2):
        keep = visible[b].repeat_interleave(2).nonzero()[:, 0]
        sub = tac_loop_reference(mean[b:b + 1, keep], cov[b][keep][:, keep][None], target[b:b + 1, keep])
        torch.testing.assert_close(got[b][visible[b]], sub[0])
    torch.testing.assert_close(tac(mean, None, target, precision=torch.linalg.inv(cov), visible=visible), got,
                               equal_nan=True)


def test_tac_refuses_bad_frames_and_shapes(gaussian):
    mean, cov, target, _ = gaussian
    broken = cov.clone()
    broken[5] = -broken[5]
    with pytest.raises(ValueError, match="frame 5 is not positive definite"):
        tac(mean, broken, target)
    nan_mean = mean.clone()
    nan_mean[6, 3] = float("nan")
    with pytest.raises(ValueError, match="frame 6 gives a non-finite TAC"):
        tac(nan_mean, cov, target)
    with pytest.raises(ValueError, match=r"expected mean and target \(B, D\)"):
        tac(mean, cov[:, :4, :4], target)


def test_log_likelihood_matches_multivariate_normal(gaussian):
    mean, cov, target, _ = gaussian
    expected = torch.distributions.MultivariateNormal(mean, covariance_matrix=cov).log_prob(target)
    torch.testing.assert_close(log_likelihood(mean, cov, target), expected)
    visible = torch.ones(mean.shape[0], NUM_JOINTS, dtype=torch.bool)
    visible[1, 5:] = False
    keep = visible[1].repeat_interleave(2).nonzero()[:, 0]
    marginal = torch.distributions.MultivariateNormal(mean[1, keep], covariance_matrix=cov[1][keep][:, keep])
    got = log_likelihood(mean, cov, target, visible)
    torch.testing.assert_close(got[1], marginal.log_prob(target[1, keep]))
    torch.testing.assert_close(got[0], expected[0])


def test_log_likelihood_refuses_a_non_spd_frame(gaussian):
    mean, cov, target, _ = gaussian
    cov = cov.clone()
    cov[3] = -cov[3]
    with pytest.raises(ValueError, match="frame 3 is not positive definite"):
        log_likelihood(mean, cov, target)


def test_expected_coverage_constants():
    # χ²(2): P(d ≤ k) = 1 − exp(−k²/2)
    assert expected_coverage(1) == pytest.approx(0.3935, abs=1e-4)
    assert expected_coverage(2) == pytest.approx(0.8647, abs=1e-4)
    assert expected_coverage(3) == pytest.approx(0.9889, abs=1e-4)


def test_calibration_of_samples_from_the_predicted_gaussian(gaussian):
    mean, cov, _, _ = gaussian
    frames = 400  # 8 Gaussians × 400 draws × 17 joints = 54 400 (sample, joint) pairs: s.e. ≈ 0.2 %
    target = sample_gaussian(mean, cov, frames, generator=torch.Generator().manual_seed(3))  # (S, B, D)
    result = calibration(mean.repeat(frames, 1), cov.repeat(frames, 1, 1), target.reshape(-1, D))
    torch.testing.assert_close(result["expected"], torch.tensor([0.3935, 0.8647], dtype=torch.float64),
                               atol=1e-4, rtol=0)
    torch.testing.assert_close(result["coverage"], result["expected"], atol=0.02, rtol=0)
    assert result["coverage_per_joint"].shape == (2, NUM_JOINTS)
    torch.testing.assert_close(result["coverage_per_joint"], result["expected"][:, None].expand(2, NUM_JOINTS),
                               atol=0.05, rtol=0)
    # an over-confident model (Σ / 4) covers far less than it claims
    shrunk = calibration(mean.repeat(frames, 1), cov.repeat(frames, 1, 1) / 4, target.reshape(-1, D))
    assert float(shrunk["coverage"][0]) < 0.2


def test_joint_mahalanobis_uses_the_covariance_block():
    cov = torch.diag(torch.tensor([4.0, 9.0, 1.0, 1.0], dtype=torch.float64))[None]
    d = joint_mahalanobis(torch.zeros(1, 4), cov, torch.tensor([[2.0, 3.0, 0.0, 0.5]]))
    torch.testing.assert_close(d, torch.tensor([[math.sqrt(2.0), 0.5]], dtype=torch.float64))


def test_calibration_never_counts_hidden_joints():
    cov = torch.eye(4, dtype=torch.float64).repeat(2, 1, 1)
    target = torch.tensor([[0.1, 0.1, 5.0, 5.0], [0.1, 0.1, 0.1, 0.1]], dtype=torch.float64)
    visible = torch.tensor([[True, False], [True, False]])
    result = calibration(torch.zeros(2, 4), cov, target, visible=visible)
    torch.testing.assert_close(result["coverage"], torch.ones(2, dtype=torch.float64))
    assert bool(torch.isnan(result["coverage_per_joint"][:, 1]).all())
    torch.testing.assert_close(result["count_per_joint"], torch.tensor([2.0, 0.0], dtype=torch.float64))


def test_per_joint_average_skips_never_visible_joints():
    values = torch.tensor([[1.0, 2.0, float("nan")], [3.0, float("nan"), float("nan")]])
    per_joint, mean = aggregate_per_joint(values)
    torch.testing.assert_close(per_joint[:2], torch.tensor([2.0, 2.0], dtype=torch.float64))
    assert math.isnan(float(per_joint[2]))
    # (2 + 2) / 2, not (2 + 2 + 0) / 3 as the original study's mean, which counts never-kept joints as 0
    assert mean == pytest.approx(2.0)
    meter = PerJointAverage(3)
    meter.update(values[:1])
    meter.update(values[1:], visible=torch.tensor([[False, True, True]]))
    torch.testing.assert_close(meter.per_joint()[:2], torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert meter.mean() == pytest.approx(1.5)

"""What `prob.mse_warmup_epochs` and `prob.jitter` do, and that configuration.yml says so."""
from __future__ import annotations

import re

import pytest
import torch

from config import DEFAULT_CONFIG_FILE
from models.tictac import ProbabilisticPoseModel
from tests.test_tic import TinyPoseModel
from utils.prob.covariance import covariance_from_matrix, mse_loss, num_raw_outputs, predicted_matrix

D = 6  # 3 joints × (x, y)


def _warmup_model() -> ProbabilisticPoseModel:
    torch.manual_seed(0)
    return ProbabilisticPoseModel(TinyPoseModel(), "NLL", z_dim=4, pooled=2, mse_warmup_epochs=1)


def test_mse_warmup_trains_the_mean_with_its_mse_not_only_the_heatmaps():
    """During warm-up the covariance term is ‖r‖² of the soft-argmax mean: it trains the pose network
    through the mean (no heatmap target is given here) and leaves the covariance head untouched."""
    model = _warmup_model()
    images, target = torch.randn(2, 3, 16, 16), torch.rand(2, D) * 7
    out = model(images)
    terms = model.loss(out, target, epoch=0)
    torch.testing.assert_close(terms["covariance"], mse_loss(out["mean"], target).mean())
    assert terms["heatmap"] == 0
    terms["total"].backward()
    assert model.pose_model.head[-1].weight.grad.abs().sum() > 0  # the mean's MSE reaches the decoder
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.aux_net.parameters())

    model.zero_grad()
    after = model.loss(model(images), target, epoch=1)  # warm-up over: the NLL trains the covariance head
    after["total"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.aux_net.parameters())


@pytest.mark.parametrize("method", ["Diagonal", "BetaNLL", "NLL", "Faithful", "TIC"])
def test_jitter_is_added_to_the_precision_for_nll_and_faithful_and_to_sigma_otherwise(method):
    raw = torch.randn(3, num_raw_outputs(method, D, "cholesky"), generator=torch.Generator().manual_seed(0))
    gram = torch.zeros(3, D, D) if method == "TIC" else None
    eps = 0.5

    def matrix(e):
        return predicted_matrix(method, raw, D, eps=e, jacobian_gram=gram).double()

    if method in ("Diagonal", "BetaNLL"):
        torch.testing.assert_close(matrix(eps) - matrix(0.0), torch.full((3, D), eps, dtype=torch.float64),
                                   atol=1e-5, rtol=0)  # float32 matrices
        return
    torch.testing.assert_close(matrix(eps) - matrix(0.0), eps * torch.eye(D, dtype=torch.float64).expand(3, D, D),
                               atol=1e-5, rtol=0)
    sigma = covariance_from_matrix(method, matrix(eps), torch.zeros(3, D)).double()
    if method in ("NLL", "Faithful"):  # Λ ⪰ εI: every variance of Σ = Λ⁻¹ is at most 1/ε (px², ε in px⁻²)
        assert torch.linalg.eigvalsh(sigma).max() <= 1 / eps + 1e-6
    else:  # TIC: Σ ⪰ εI, a floor under every variance (ε in px²)
        assert torch.linalg.eigvalsh(sigma).min() >= eps - 1e-6


def _comment(key: str) -> str:
    """The comment of `prob.<key>` in configuration.yml."""
    text = DEFAULT_CONFIG_FILE.read_text()
    section = text[text.index("\nprob:"):]
    return re.search(rf"^  {key}:[^#\n]*#(.*)$", section, re.MULTILINE).group(1)


def test_configuration_comments_say_where_jitter_and_warmup_act():
    jitter = _comment("jitter")
    assert "precision" in jitter and "px⁻²" in jitter and "NLL" in jitter, jitter
    warmup = _comment("mse_warmup_epochs")
    assert "heatmap-only" not in warmup and "mean" in warmup, warmup

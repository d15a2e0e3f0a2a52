"""utils/prob/covariance.py: parameterisations, the six method losses, visibility marginals, checks, sampling.

Expected values are written out directly (explicit inverse and determinant in float64), independently of
the Cholesky code under test. The dense parameterisation with ε = 0 also equals official TIC-TAC ``loss.py`` (checked side
by side against the official functions during development: differences ≤ 6e-11 relative).
"""
import math

import pytest
import torch

from utils.prob.covariance import (COVARIANCE_LOSSES, METHODS, cholesky_factor, cholesky_with_jitter,
                              covariance_from_output, covariance_loss, dense_factor, make_spd,
                              num_raw_outputs, positive_definite_matrix, predicted_matrix, sample_gaussian,
                              validate_covariance)

J, D, B = 3, 6, 5


def _random_spd(batch, dim, generator, scale=1.0):
    a = torch.randn(batch, dim, dim, generator=generator, dtype=torch.float64)
    return scale * (a @ a.mT / dim + 0.5 * torch.eye(dim, dtype=torch.float64))


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(B, D, generator=g, dtype=torch.float64) * 2
    target = torch.randn(B, D, generator=g, dtype=torch.float64) * 2
    visible = torch.tensor([[1, 1, 1], [1, 0, 1], [0, 1, 1], [0, 0, 1], [1, 1, 0]], dtype=torch.bool)
    return mean, target, visible, g


def test_num_raw_outputs():
    # cholesky: D(D+1)/2 = 21 for D = 6; dense: D² = 36; TIC adds k1, k2; official TIC-TAC's width for J = 17 is 34² + 2
    assert [num_raw_outputs(m, D) for m in METHODS] == [0, 6, 6, 21, 21, 23]
    assert [num_raw_outputs(m, D, "dense") for m in METHODS] == [0, 6, 6, 36, 36, 38]
    assert num_raw_outputs("TIC", 34, "dense") == 1158


def test_cholesky_factor_is_lower_triangular_with_softplus_diagonal(data):
    _, _, _, g = data
    raw = torch.randn(B, D * (D + 1) // 2, generator=g, dtype=torch.float64)
    factor = cholesky_factor(raw, D)
    assert torch.equal(factor, factor.tril())
    rows, cols = torch.tril_indices(D, D)
    diagonal_positions = (rows == cols).nonzero()[:, 0]
    torch.testing.assert_close(factor.diagonal(dim1=-2, dim2=-1),
                               torch.nn.functional.softplus(raw[:, diagonal_positions]))
    # off-diagonal entry (row 1, col 0) is raw value number 1 (row-major lower triangle: (0,0), (1,0), (1,1), …)
    torch.testing.assert_close(factor[:, 1, 0], raw[:, 1])
    spd = positive_definite_matrix(raw, D, "cholesky", eps=1e-3)
    torch.testing.assert_close(spd, factor @ factor.mT + 1e-3 * torch.eye(D, dtype=torch.float64))
    assert bool((torch.linalg.eigvalsh(spd) >= 1e-3 - 1e-12).all())


def test_dense_factor_is_row_major_m_mt(data):
    _, _, _, g = data
    raw = torch.randn(B, D * D + 2, generator=g, dtype=torch.float64)
    m = raw[:, :D * D].reshape(B, D, D)
    torch.testing.assert_close(dense_factor(raw, D), m)
    torch.testing.assert_close(positive_definite_matrix(raw, D, "dense", eps=0.0), m @ m.mT)


def _marginal(matrix, keep):
    idx = keep.nonzero()[:, 0]
    return matrix[idx][:, idx]


def _explicit_loss(method, mean, target, matrix, visible):
    """The §2 table of tictac.md, one sample at a time, explicit inverse and determinant."""
    out = []
    for b in range(mean.shape[0]):
        keep = visible[b].repeat_interleave(2) if visible is not None else torch.ones(D, dtype=torch.bool)
        r = (target[b] - mean[b])[keep]
        if method == "MSE":
            out.append(r @ r)
        elif method in ("Diagonal", "BetaNLL"):
            var = matrix[b][keep]
            nll = torch.log(var) + r ** 2 / var
            if method == "BetaNLL":
                nll = nll * var.sqrt()
            out.append(nll.mean() if len(r) else torch.zeros((), dtype=torch.float64))
        elif method in ("NLL", "Faithful"):
            # marginal precision = inverse of the marginal covariance (not the precision's sub-block)
            sigma = _marginal(torch.linalg.inv(matrix[b]), keep)
            lam = torch.linalg.inv(sigma) if len(r) else sigma
            value = -torch.log(torch.linalg.det(lam)) + r @ lam @ r if len(r) else torch.zeros(())
            out.append(value + (r @ r if method == "Faithful" else 0.0))
        else:  # TIC: Σ
            sigma = _marginal(matrix[b], keep)
            value = torch.log(torch.linalg.det(sigma)) + r @ torch.linalg.inv(sigma) @ r if len(r) else torch.zeros(())
            out.append(value)
    return torch.stack([torch.as_tensor(v, dtype=torch.float64) for v in out])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("parameterisation", ["cholesky", "dense"])
def test_losses_match_explicit_formulas(method, masked, parameterisation, data):
    mean, target, visible, g = data
    raw = torch.randn(B, num_raw_outputs(method, D, parameterisation), generator=g, dtype=torch.float64)
    gram = torch.randn(B, D, 4, generator=g, dtype=torch.float64)
    gram = gram @ gram.mT
    matrix = predicted_matrix(method, raw, D, parameterisation=parameterisation, eps=1e-3,
                              jacobian_gram=gram if method == "TIC" else None)
    vis = visible if masked else None
    got = covariance_loss(method, raw, mean, target, vis, parameterisation=parameterisation, eps=1e-3,
                          jacobian_gram=gram if method == "TIC" else None)
    assert got.shape == (B,)
    torch.testing.assert_close(got, _explicit_loss(method, mean, target, matrix, vis), rtol=1e-8, atol=1e-8)


def test_tic_matrix_is_k1_ggt_plus_k2_t_plus_psd(data):
    _, _, _, g = data
    raw = torch.randn(B, num_raw_outputs("TIC", D, "dense"), generator=g, dtype=torch.float64)
    gram, hess = _random_spd(B, D, g), _random_spd(B, D, g)
    m = raw[:, :D * D].reshape(B, D, D)
    k1, k2 = raw[:, -2] ** 2, raw[:, -1] ** 2  # official TIC-TAC: epsilon = matrix[:, -2:] ** 2
    expected = k1[:, None, None] * gram + k2[:, None, None] * hess + m @ m.mT
    got = predicted_matrix("TIC", raw, D, parameterisation="dense", eps=0.0, jacobian_gram=gram, hessian_gram=hess)
    torch.testing.assert_close(got, expected)


def test_precision_marginal_is_not_the_precision_sub_block(data):
    # the original study's utils/loss.py subsets the precision: Λ_vv is the conditional precision; the right marginal precision is inv((Λ⁻¹)_vv)
    mean, target, visible, g = data
    precision = _random_spd(B, D, g)
    keep = visible[1].repeat_interleave(2)
    r = (target[1] - mean[1])[keep]
    correct_lam = torch.linalg.inv(_marginal(torch.linalg.inv(precision[1]), keep))
    wrong_lam = _marginal(precision[1], keep)
    correct = -torch.logdet(correct_lam) + r @ correct_lam @ r
    got = COVARIANCE_LOSSES["NLL"](mean, target, precision, visible)[1]
    torch.testing.assert_close(got, correct)
    assert abs(float(got - (-torch.logdet(wrong_lam) + r @ wrong_lam @ r))) > 1e-3


def test_faithful_nll_term_does_not_train_the_mean(data):
    mean, target, _, g = data
    precision = _random_spd(B, D, g)
    mean = mean.clone().requires_grad_(True)
    COVARIANCE_LOSSES["Faithful"](mean, target, precision, None).sum().backward()
    torch.testing.assert_close(mean.grad, 2 * (mean - target).detach())  # ∂‖y − μ‖²/∂μ only


def test_beta_nll_scales_the_gradient_by_detached_sigma(data):
    mean, target, _, g = data
    variance = (torch.rand(B, D, generator=g, dtype=torch.float64) + 0.5).requires_grad_(True)
    COVARIANCE_LOSSES["BetaNLL"](mean, target, variance, None).sum().backward()
    r2 = (target - mean) ** 2
    # d/dσ² [σ (ln σ² + r²/σ²)] with σ held constant = σ (1/σ² − r²/σ⁴), averaged over D
    expected = variance.detach().sqrt() * (1 / variance.detach() - r2 / variance.detach() ** 2) / D
    torch.testing.assert_close(variance.grad, expected)


@pytest.mark.parametrize("method", METHODS)
def test_covariance_from_output_for_every_method(method, data):
    _, _, _, g = data
    raw = torch.randn(B, num_raw_outputs(method, D), generator=g, dtype=torch.float64)
    gram = _random_spd(B, D, g)
    tic = dict(jacobian_gram=gram) if method == "TIC" else {}
    cov = covariance_from_output(method, raw, D, eps=1e-3, **tic)
    matrix = predicted_matrix(method, raw, D, eps=1e-3, **tic)
    expected = {"MSE": lambda: torch.eye(D, dtype=torch.float64).expand(B, D, D),
                "Diagonal": lambda: torch.diag_embed(matrix), "BetaNLL": lambda: torch.diag_embed(matrix),
                "NLL": lambda: torch.linalg.inv(matrix), "Faithful": lambda: torch.linalg.inv(matrix),
                "TIC": lambda: matrix}[method]()
    torch.testing.assert_close(cov, expected.to(cov.dtype))
    validate_covariance(cov)


def test_raw_width_mismatch_and_unknown_names_are_refused():
    with pytest.raises(ValueError, match="expects 21 raw values"):
        predicted_matrix("NLL", torch.zeros(2, 20), D)
    with pytest.raises(ValueError, match="valid choices: MSE, Diagonal, BetaNLL, NLL, Faithful, TIC"):
        num_raw_outputs("nll", D)
    with pytest.raises(ValueError, match="valid choices: cholesky, dense"):
        num_raw_outputs("NLL", D, "lower")


def test_cholesky_with_jitter_repairs_and_records(data):
    _, _, _, g = data
    good = _random_spd(3, D, g).float()
    singular = good.clone()
    singular[1] = torch.zeros(D, D)
    singular[1, 0, 0] = 1.0  # PSD, rank 1
    factor, jitter = cholesky_with_jitter(singular)
    assert jitter[0] == 0 and jitter[2] == 0 and jitter[1] > 0
    assert bool(torch.isfinite(factor).all())
    torch.testing.assert_close(factor[1] @ factor[1].T, singular[1] + jitter[1] * torch.eye(D))


def test_validate_covariance_names_the_first_bad_frame(data):
    _, _, _, g = data
    cov = _random_spd(4, D, g)
    validate_covariance(cov, "ok")
    nan = cov.clone()
    nan[2, 0, 1] = float("nan")
    with pytest.raises(ValueError, match=r"^pred: frame 2 has non-finite"):
        validate_covariance(nan, "pred")
    indefinite = cov.clone()
    indefinite[1] = torch.diag(torch.tensor([1.0, -1.0, 1, 1, 1, 1], dtype=torch.float64))
    indefinite[3] = -torch.eye(D)
    with pytest.raises(ValueError, match=r"frame 1 is not positive definite \(smallest eigenvalue -1"):
        validate_covariance(indefinite, "pred")
    asymmetric = cov.clone()
    asymmetric[0, 0, 1] += 1.0
    with pytest.raises(ValueError, match="frame 0 is not symmetric"):
        validate_covariance(asymmetric, "pred")


def test_make_spd_adds_only_the_missing_eigenvalue(data):
    _, _, _, g = data
    cov = _random_spd(3, D, g)
    bad = cov.clone()
    bad[1] = bad[1] - (torch.linalg.eigvalsh(bad[1])[0] + 0.2) * torch.eye(D)  # λ_min = −0.2
    fixed, jitter = make_spd(bad, min_eig=1e-3)
    torch.testing.assert_close(jitter, torch.tensor([0.0, 0.201, 0.0], dtype=torch.float64))
    torch.testing.assert_close(fixed[[0, 2]], cov[[0, 2]])
    torch.testing.assert_close(torch.linalg.eigvalsh(fixed[1])[0], torch.tensor(1e-3, dtype=torch.float64))
    validate_covariance(fixed)


def test_sample_gaussian_converges_to_mean_and_covariance(data):
    _, _, _, g = data
    mean = torch.tensor([[10.0, -3.0, 0.0, 1.0], [0.0, 0.0, 5.0, 5.0]])
    cov = _random_spd(2, 4, g, scale=4.0).float()
    samples = sample_gaussian(mean, cov, 100_000, generator=torch.Generator().manual_seed(1))
    assert samples.shape == (100_000, 2, 4) and samples.dtype == torch.float32
    # standard error of the mean: √(Σ_dd / S) ≤ √(4·2/1e5) ≈ 0.009; of a covariance entry ≈ Σ·√(2/S)
    torch.testing.assert_close(samples.mean(0), mean, atol=0.05, rtol=0)
    centred = (samples - samples.mean(0)).double()
    empirical = torch.einsum("snd,sne->nde", centred, centred) / (samples.shape[0] - 1)
    torch.testing.assert_close(empirical, cov.double(), atol=0.1, rtol=0.03)
    again = sample_gaussian(mean, cov, 10, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(again, samples[:10])


def test_sample_gaussian_refuses_an_invalid_covariance():
    cov = torch.eye(4).repeat(3, 1, 1)
    cov[2] *= -1
    with pytest.raises(ValueError, match="frame 2 is not positive definite"):
        sample_gaussian(torch.zeros(3, 4), cov, 5)


def test_sample_gaussian_accepts_a_barely_spd_covariance():
    # validated in float64, sampled with the same float64 Cholesky: never fails after validation
    v = torch.tensor([1.0, 1.0, 1.0, 1.0]) / 2
    cov = (torch.eye(4) - (1 - 1e-6) * torch.outer(v, v))[None].double()  # eigenvalues 1, 1, 1, 1e-6
    validate_covariance(cov)
    samples = sample_gaussian(torch.zeros(1, 4, dtype=torch.float64), cov, 1000)
    assert bool(torch.isfinite(samples).all())
    assert float((samples[:, 0] @ v.double()).std()) < math.sqrt(1e-6) * 2

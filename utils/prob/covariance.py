"""Gaussian covariance machinery for probabilistic 2D pose: parameterisations, losses, checks, sampling.

TIC-TAC (Shukla, Salzmann, Alahi, ICML 2024; https://github.com/vita-epfl/TIC-TAC) trains a pose network
that predicts a mean pose μ and an auxiliary network that predicts a raw vector m per sample, from which
each covariance *method* builds a Gaussian and a loss. Official code: ``vita-epfl/TIC-TAC: HumanPose/code/loss.py``.

Shape legend: B batch, J joints, D = 2J coordinates. A pose vector is joint-major interleaved
(x0, y0, x1, y1, …) with the same (x, y) order for mean and target; units are heatmap pixels.
The residual is r = y − μ (every loss is even in r, so the sign is immaterial).

Methods (``METHODS``) and the matrix each one predicts:

| method   | raw width (cholesky / dense) | predicted              | per-sample loss (no ½, no ln 2π, as official TIC-TAC)  |
|----------|------------------------------|------------------------|------------------------------------------|
| MSE      | 0                            | nothing (Σ = I)        | ‖r‖²                                     |
| Diagonal | D                            | variances σ²_d         | mean_d [ln σ²_d + r_d²/σ²_d]             |
| BetaNLL  | D                            | variances σ²_d         | mean_d sg(σ²_d)^β [ln σ²_d + r_d²/σ²_d]  |
| NLL      | D(D+1)/2 / D²                | precision Λ            | −ln det Λ + rᵀΛr                         |
| Faithful | D(D+1)/2 / D²                | precision Λ            | ‖r‖² − ln det Λ + sg(r)ᵀ Λ sg(r)         |
| TIC      | D(D+1)/2 + 2 / D² + 2        | covariance Σ           | ln det Σ + rᵀΣ⁻¹r, Σ = k1·GGᵀ + k2·T + P |

Parameterisations of the dense part (``PARAMETERISATIONS``):

- ``"cholesky"`` (default): the raw vector fills a lower-triangular L row by row (``torch.tril_indices``
  order) whose diagonal goes through softplus; scalars (σ_d, √k1, √k2) also go through softplus and are
  squared. The matrix is L Lᵀ + εI.
- ``"dense"``: the official TIC-TAC form, a row-major D×D matrix M with no mask or activation, matrix
  M Mᵀ + εI; scalars are squared (σ²_d = m_d², k = m²). With ε = 0 this is exactly official TIC-TAC ``loss.py``.

The jitter ε (``eps``, default ``DEFAULT_EPS`` in the matrix's units: px² for Σ, px⁻² for Λ) makes every
matrix SPD by construction with λ_min ≥ ε; it is added to the variances of Diagonal/BetaNLL as well.
Should float32 Cholesky still fail (λ_max/ε beyond ~1e7), ``cholesky_with_jitter`` adds a growing jitter
to the failing frames only and logs a warning with the amount.

Visibility: ``visible`` (B, J) bool drops invisible joints' rows and columns. For a covariance the
marginal of Σ over the visible joints is exact by replacing hidden rows/columns with the identity and
zeroing the hidden residual. For a precision the marginal precision is the Schur complement
Λ_vv − Λ_vh Λ_hh⁻¹ Λ_hv (not Λ_vv, which is the conditional precision: the mistake of the original study's
``utils/loss.py``),
computed with ln det S = ln det Λ − ln det Λ_hh and a Cholesky solve on the hidden block.

Entry points: ``predicted_matrix`` (raw → σ², Λ or Σ), ``covariance_loss`` / ``COVARIANCE_LOSSES`` (per-sample
losses), ``covariance_from_output`` / ``covariance_from_matrix`` (Σ for evaluation). All covariance algebra
runs in float32 or float64 with autocast switched off (``full_precision``); no explicit inverse is formed in
a loss (Cholesky, triangular solves, ln det = 2 Σ ln diag L).
"""
from __future__ import annotations

import logging
from typing import Callable

import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)

METHODS = ("MSE", "Diagonal", "BetaNLL", "NLL", "Faithful", "TIC")
PARAMETERISATIONS = ("cholesky", "dense")
DEFAULT_EPS = 1e-4
BETA_NLL_BETA = 0.5  # official TIC-TAC loss.py beta_nll_loss: factor sg(σ²)^0.5

# Which matrix each method predicts.
MATRIX_KIND = {
    "MSE": "identity", "Diagonal": "diagonal", "BetaNLL": "diagonal",
    "NLL": "precision", "Faithful": "precision", "TIC": "covariance",
}
_JITTER_STEPS = 8  # fallback jitter: 1e-6 … 1e1 times the mean diagonal


# --- checks ---------------------------------------------------------------------------------------

def check_method(method: str) -> str:
    """Return ``method`` or raise listing the valid names."""
    if method not in METHODS:
        raise ValueError(f"unknown covariance method {method!r}; valid choices: {', '.join(METHODS)}")
    return method


def check_parameterisation(parameterisation: str) -> str:
    if parameterisation not in PARAMETERISATIONS:
        raise ValueError(f"unknown covariance parameterisation {parameterisation!r}; "
                         f"valid choices: {', '.join(PARAMETERISATIONS)}")
    return parameterisation


def num_raw_outputs(method: str, dim: int, parameterisation: str = "cholesky") -> int:
    """Width of the aux network's raw output for ``method`` with D = ``dim`` coordinates."""
    kind = MATRIX_KIND[check_method(method)]
    check_parameterisation(parameterisation)
    if kind == "identity":
        return 0
    if kind == "diagonal":
        return dim
    dense_width = dim * (dim + 1) // 2 if parameterisation == "cholesky" else dim * dim
    return dense_width + (2 if method == "TIC" else 0)


# --- parameterisations ----------------------------------------------------------------------------

def _scale(raw: torch.Tensor, parameterisation: str) -> torch.Tensor:
    """Raw value → the scale whose square is a variance-like quantity (softplus, or identity as in official TIC-TAC)."""
    return F.softplus(raw) if parameterisation == "cholesky" else raw


def cholesky_factor(raw: torch.Tensor, dim: int) -> torch.Tensor:
    """Lower-triangular factor with a softplus-positive diagonal.

    Args:
        raw: (B, ≥ D(D+1)/2); the first D(D+1)/2 entries fill the lower triangle row by row.
        dim: D.
    Returns:
        L (B, D, D), lower triangular, diag(L) > 0. The matrix used downstream is L Lᵀ + εI.
    """
    width = dim * (dim + 1) // 2
    if raw.shape[-1] < width:
        raise ValueError(f"cholesky_factor needs {width} raw values for D={dim}, got shape {tuple(raw.shape)}")
    rows, cols = torch.tril_indices(dim, dim, device=raw.device)
    values = raw[:, :width]
    values = torch.where(rows == cols, F.softplus(values), values)
    factor = raw.new_zeros(raw.shape[0], dim, dim)
    factor[:, rows, cols] = values
    return factor


def dense_factor(raw: torch.Tensor, dim: int) -> torch.Tensor:
    """Official TIC-TAC ``get_positive_definite_matrix`` factor: raw[:, :D²] viewed row-major as M (B, D, D)."""
    if raw.shape[-1] < dim * dim:
        raise ValueError(f"dense_factor needs {dim * dim} raw values for D={dim}, got shape {tuple(raw.shape)}")
    return raw[:, :dim * dim].reshape(raw.shape[0], dim, dim)


def positive_definite_matrix(raw: torch.Tensor, dim: int, parameterisation: str = "cholesky",
                             eps: float = DEFAULT_EPS) -> torch.Tensor:
    """F Fᵀ + εI (B, D, D), F = ``cholesky_factor`` or ``dense_factor`` of ``raw`` (B, R)."""
    check_parameterisation(parameterisation)
    factor = cholesky_factor(raw, dim) if parameterisation == "cholesky" else dense_factor(raw, dim)
    eye = torch.eye(dim, dtype=raw.dtype, device=raw.device)
    return factor @ factor.mT + eps * eye


def diagonal_variance(raw: torch.Tensor, dim: int, parameterisation: str = "cholesky",
                      eps: float = DEFAULT_EPS) -> torch.Tensor:
    """Per-coordinate variances σ²_d = scale(m_d)² + ε, (B, D) px²."""
    return _scale(raw[:, :dim], check_parameterisation(parameterisation)) ** 2 + eps


def tic_scalars(raw: torch.Tensor, parameterisation: str = "cholesky") -> tuple[torch.Tensor, torch.Tensor]:
    """k1, k2 (B,) ≥ 0 from the last two raw values (official TIC-TAC: m[D²]², m[D²+1]²)."""
    k = _scale(raw[:, -2:], check_parameterisation(parameterisation)) ** 2
    return k[:, 0], k[:, 1]


# --- linear algebra helpers -------------------------------------------------------------------------

def cholesky_with_jitter(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched Cholesky that adds jitter only to frames whose factorisation fails.

    Args:
        matrix: (B, D, D) symmetric, expected SPD.
    Returns:
        L (B, D, D) lower triangular with L Lᵀ = matrix + jitter·I, and jitter (B,) (0 where none was needed).
        Frames still failing after the largest jitter keep a NaN factor (the loss then turns non-finite).
    """
    factor, info = torch.linalg.cholesky_ex(matrix)
    jitter = matrix.new_zeros(matrix.shape[:-2])
    failed = info > 0
    if not bool(failed.any()):
        return factor, jitter
    eye = torch.eye(matrix.shape[-1], dtype=matrix.dtype, device=matrix.device)
    scale = matrix.diagonal(dim1=-2, dim2=-1).abs().mean(-1).detach().clamp_min(torch.finfo(matrix.dtype).tiny)
    for step in range(_JITTER_STEPS):
        trial = torch.where(failed, scale * 10.0 ** (step - 6), jitter)
        retry, retry_info = torch.linalg.cholesky_ex(matrix + trial[..., None, None] * eye)
        factor = torch.where(failed[..., None, None], retry, factor)
        jitter = trial
        failed = failed & (retry_info > 0)
        if not bool(failed.any()):
            break
    jitter = torch.where(info > 0, jitter, torch.zeros_like(jitter))
    factor = torch.where(failed[..., None, None], torch.full_like(factor, float("nan")), factor)
    logger.warning("Cholesky failed for %d of %d frames; added jitter up to %.3g (%d still failing)",
                   int((info > 0).sum()), info.numel(), float(jitter.max()), int(failed.sum()))
    return factor, jitter


def logdet_from_cholesky(factor: torch.Tensor) -> torch.Tensor:
    """ln det(L Lᵀ) = 2 Σ ln diag L, (B,)."""
    return 2.0 * factor.diagonal(dim1=-2, dim2=-1).log().sum(-1)


def coordinate_mask(visible: torch.Tensor) -> torch.Tensor:
    """(B, J) joint visibility → (B, D) coordinate mask, joint-major interleaved."""
    return visible.repeat_interleave(2, dim=-1)


def keep_block(matrix: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Rows/columns where ``keep`` (B, D) is 0 become those of the identity: det and inverse act on the kept block."""
    keep = keep.to(matrix.dtype)
    eye = torch.eye(matrix.shape[-1], dtype=matrix.dtype, device=matrix.device)
    return matrix * keep[..., :, None] * keep[..., None, :] + eye * (1.0 - keep)[..., None, :]


def _as_float(*tensors: torch.Tensor | None) -> tuple:
    """Covariance algebra stays out of bf16/fp16: promote to at least float32."""
    return tuple(t if t is None or t.dtype == torch.float64 else t.float() for t in tensors)


def full_precision(tensor: torch.Tensor) -> torch.autocast:
    """Context that switches autocast off on ``tensor``'s device (covariance algebra must not run in bf16)."""
    return torch.autocast(device_type=tensor.device.type, enabled=False)


# --- Gaussian negative log-likelihood pieces ----------------------------------------------------------

def covariance_nll(residual: torch.Tensor, covariance: torch.Tensor,
                   visible: torch.Tensor | None = None) -> torch.Tensor:
    """ln det Σ_vv + r_vᵀ Σ_vv⁻¹ r_v per sample (B,), Σ (B, D, D) px², on the visible joints' marginal."""
    residual, covariance = _as_float(residual, covariance)
    with full_precision(residual):
        if visible is not None:
            keep = coordinate_mask(visible).to(residual.dtype)
            residual = residual * keep
            covariance = keep_block(covariance, keep)
        factor, _ = cholesky_with_jitter(covariance)
        whitened = torch.linalg.solve_triangular(factor, residual[..., None], upper=False)[..., 0]
        return logdet_from_cholesky(factor) + whitened.pow(2).sum(-1)


def precision_nll_terms(residual: torch.Tensor, precision: torch.Tensor,
                        visible: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """ln det S and r_vᵀ S r_v (each (B,)), S the marginal precision of the visible joints.

    Without ``visible``, S = Λ. With it, S = Λ_vv − Λ_vh Λ_hh⁻¹ Λ_hv (the inverse of Σ_vv, Σ = Λ⁻¹):
    ln det S = ln det Λ − ln det Λ_hh and r_vᵀ S r_v = r_vᵀ Λ_vv r_v − wᵀ Λ_hh⁻¹ w with w = Λ_hv r_v.
    """
    residual, precision = _as_float(residual, precision)
    with full_precision(residual):
        factor, _ = cholesky_with_jitter(precision)
        logdet = logdet_from_cholesky(factor)
        if visible is None:
            quad = (factor.mT @ residual[..., None])[..., 0].pow(2).sum(-1)  # rᵀ L Lᵀ r
            return logdet, quad
        keep = coordinate_mask(visible).to(residual.dtype)
        residual = residual * keep
        projected = (precision @ residual[..., None])[..., 0]  # Λ r_v: (B, D)
        quad = (residual * projected).sum(-1)
        hidden_factor, _ = cholesky_with_jitter(keep_block(precision, 1.0 - keep))
        hidden_rhs = projected * (1.0 - keep)  # w = Λ_hv r_v on the hidden coordinates
        solved = torch.linalg.solve_triangular(hidden_factor, hidden_rhs[..., None], upper=False)[..., 0]
        return logdet - logdet_from_cholesky(hidden_factor), quad - solved.pow(2).sum(-1)


def _masked_residual(mean: torch.Tensor, target: torch.Tensor, visible: torch.Tensor | None) -> torch.Tensor:
    residual = target - mean
    if visible is not None:
        residual = residual * coordinate_mask(visible).to(residual.dtype)
    return residual


# --- the six method losses (per sample, (B,)) ----------------------------------------------------------

def mse_loss(mean: torch.Tensor, target: torch.Tensor, visible: torch.Tensor | None = None) -> torch.Tensor:
    """‖r_v‖² per sample (B,) px² (official TIC-TAC ``mse_loss`` before its batch mean)."""
    return _masked_residual(mean, target, visible).pow(2).sum(-1)


def diagonal_nll_loss(mean: torch.Tensor, target: torch.Tensor, variance: torch.Tensor,
                      visible: torch.Tensor | None = None, beta: float = 0.0) -> torch.Tensor:
    """mean over visible coordinates of sg(σ²)^β [ln σ²_d + r_d²/σ²_d], (B,); β = 0: Diagonal, 0.5: β-NLL.

    A sample with no visible joint gets 0.
    """
    mean, target, variance = _as_float(mean, target, variance)
    nll = variance.log() + (target - mean).pow(2) / variance  # elementwise: autocast leaves float32 alone
    if beta:
        nll = nll * variance.detach() ** beta
    if visible is None:
        return nll.mean(-1)
    keep = coordinate_mask(visible).to(nll.dtype)
    return (nll * keep).sum(-1) / keep.sum(-1).clamp_min(1.0)


def beta_nll_loss(mean: torch.Tensor, target: torch.Tensor, variance: torch.Tensor,
                  visible: torch.Tensor | None = None, beta: float = BETA_NLL_BETA) -> torch.Tensor:
    """β-NLL (Seitzer et al., ICLR 2022) with official TIC-TAC's β = 0.5, (B,)."""
    return diagonal_nll_loss(mean, target, variance, visible, beta=beta)


def nll_loss(mean: torch.Tensor, target: torch.Tensor, precision: torch.Tensor,
             visible: torch.Tensor | None = None) -> torch.Tensor:
    """−ln det Λ + rᵀ Λ r per sample (B,), Λ (B, D, D) px⁻², on the visible joints' marginal."""
    logdet, quad = precision_nll_terms(target - mean, precision, visible)
    return quad - logdet


def faithful_loss(mean: torch.Tensor, target: torch.Tensor, precision: torch.Tensor,
                  visible: torch.Tensor | None = None) -> torch.Tensor:
    """‖r‖² − ln det Λ + sg(r)ᵀ Λ sg(r) (Stirn et al., AISTATS 2023), (B,): only ‖r‖² trains the mean."""
    logdet, quad = precision_nll_terms((target - mean).detach(), precision, visible)
    return mse_loss(mean, target, visible) + quad - logdet


def tic_nll_loss(mean: torch.Tensor, target: torch.Tensor, covariance: torch.Tensor,
                 visible: torch.Tensor | None = None) -> torch.Tensor:
    """ln det Σ + rᵀ Σ⁻¹ r per sample (B,), Σ the TIC covariance (official TIC-TAC ``tic_loss``: −ln det Λ + rᵀΛr)."""
    return covariance_nll(target - mean, covariance, visible)


# --- method dispatch ------------------------------------------------------------------------------------

def predicted_matrix(method: str, raw: torch.Tensor, dim: int, *, parameterisation: str = "cholesky",
                     eps: float = DEFAULT_EPS, jacobian_gram: torch.Tensor | None = None,
                     hessian_gram: torch.Tensor | None = None) -> torch.Tensor | None:
    """The quantity ``method`` predicts from ``raw`` (B, R).

    Returns:
        None for MSE, variances (B, D) for Diagonal/BetaNLL, Λ (B, D, D) for NLL/Faithful, Σ (B, D, D) for
        TIC (Σ = k1·GGᵀ + k2·T + P with ``jacobian_gram`` = GGᵀ and ``hessian_gram`` = T, both (B, D, D);
        T is left out when None).
    """
    kind = MATRIX_KIND[check_method(method)]
    if raw.shape[-1] != num_raw_outputs(method, dim, parameterisation):
        raise ValueError(f"{method} with parameterisation={parameterisation!r} and D={dim} expects "
                         f"{num_raw_outputs(method, dim, parameterisation)} raw values, got {raw.shape[-1]}")
    (raw,) = _as_float(raw)
    with full_precision(raw):
        if kind == "identity":
            return None
        if kind == "diagonal":
            return diagonal_variance(raw, dim, parameterisation, eps)
        if kind == "precision":
            return positive_definite_matrix(raw, dim, parameterisation, eps)
        if jacobian_gram is None:
            raise ValueError("TIC needs jacobian_gram = G Gᵀ (B, D, D) from utils.prob.tic.tic_terms")
        k1, k2 = tic_scalars(raw, parameterisation)
        covariance = positive_definite_matrix(raw[:, :-2], dim, parameterisation, eps)
        covariance = covariance + k1[:, None, None] * jacobian_gram.to(covariance.dtype)
        if hessian_gram is not None:
            covariance = covariance + k2[:, None, None] * hessian_gram.to(covariance.dtype)
        return covariance


def _identity_loss(mean, target, matrix, visible):
    return mse_loss(mean, target, visible)


# Registry: method name → per-sample loss (mean, target, predicted_matrix output, visible) → (B,).
COVARIANCE_LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "MSE": _identity_loss,
    "Diagonal": diagonal_nll_loss,
    "BetaNLL": beta_nll_loss,
    "NLL": nll_loss,
    "Faithful": faithful_loss,
    "TIC": tic_nll_loss,
}


def covariance_loss(method: str, raw: torch.Tensor, mean: torch.Tensor, target: torch.Tensor,
                    visible: torch.Tensor | None = None, *, parameterisation: str = "cholesky",
                    eps: float = DEFAULT_EPS, jacobian_gram: torch.Tensor | None = None,
                    hessian_gram: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample loss (B,) of ``method`` for raw aux output (B, R), mean and target (B, D) heatmap px."""
    matrix = predicted_matrix(method, raw, mean.shape[-1], parameterisation=parameterisation, eps=eps,
                              jacobian_gram=jacobian_gram, hessian_gram=hessian_gram)
    return COVARIANCE_LOSSES[method](mean, target, matrix, visible)


def covariance_from_matrix(method: str, matrix: torch.Tensor | None, mean: torch.Tensor) -> torch.Tensor:
    """Σ (B, D, D) from ``predicted_matrix``'s output: I (MSE), diag(σ²), Λ⁻¹ (Cholesky inverse), or TIC's Σ.

    ``mean`` (B, D) gives batch size, D, dtype (≥ float32) and device for the identity of MSE.
    """
    kind = MATRIX_KIND[check_method(method)]
    if kind == "identity":
        batch, dim = mean.shape
        dtype = torch.float64 if mean.dtype == torch.float64 else torch.float32
        return torch.eye(dim, dtype=dtype, device=mean.device).expand(batch, dim, dim).clone()
    if kind == "diagonal":
        return torch.diag_embed(matrix)
    if kind == "precision":
        with full_precision(matrix):
            factor, _ = cholesky_with_jitter(matrix)
            return torch.cholesky_inverse(factor)
    return matrix


def covariance_from_output(method: str, raw: torch.Tensor, dim: int, *, parameterisation: str = "cholesky",
                           eps: float = DEFAULT_EPS, jacobian_gram: torch.Tensor | None = None,
                           hessian_gram: torch.Tensor | None = None) -> torch.Tensor:
    """Σ (B, D, D) for evaluation from the raw aux output (B, R), every method (see ``predicted_matrix``)."""
    matrix = predicted_matrix(method, raw, dim, parameterisation=parameterisation, eps=eps,
                              jacobian_gram=jacobian_gram, hessian_gram=hessian_gram)
    return covariance_from_matrix(method, matrix, raw.new_zeros(raw.shape[0], dim))


# --- validation, repair, sampling ---------------------------------------------------------------------

def validate_covariance(cov: torch.Tensor, name: str = "covariance", *, symmetry_tol: float = 1e-5) -> None:
    """Raise ValueError naming the first bad frame if ``cov`` (N, D, D) is non-finite, asymmetric or not SPD.

    SPD is tested by a float64 Cholesky (the same test ``sample_gaussian`` relies on).
    """
    if cov.ndim != 3 or cov.shape[-1] != cov.shape[-2]:
        raise ValueError(f"{name}: expected (N, D, D) covariances, got shape {tuple(cov.shape)}")
    cov64 = cov.detach().to(torch.float64)
    finite = torch.isfinite(cov64).flatten(1).all(-1)
    if not bool(finite.all()):
        frame = int((~finite).nonzero()[0, 0])
        raise ValueError(f"{name}: frame {frame} has non-finite entries (NaN/inf); check the model output "
                         f"or drop the frame")
    scale = cov64.abs().flatten(1).amax(-1).clamp_min(torch.finfo(torch.float64).tiny)
    asym = (cov64 - cov64.mT).abs().flatten(1).amax(-1) / scale
    if bool((asym > symmetry_tol).any()):
        frame = int((asym > symmetry_tol).nonzero()[0, 0])
        raise ValueError(f"{name}: frame {frame} is not symmetric (relative asymmetry "
                         f"{float(asym[frame]):.2e}); symmetrise with make_spd")
    _, info = torch.linalg.cholesky_ex(cov64)
    if bool((info > 0).any()):
        frame = int((info > 0).nonzero()[0, 0])
        min_eig = float(torch.linalg.eigvalsh(0.5 * (cov64[frame] + cov64[frame].mT))[0])
        raise ValueError(f"{name}: frame {frame} is not positive definite (smallest eigenvalue "
                         f"{min_eig:.3g}); repair with make_spd(cov, min_eig)")


def make_spd(cov: torch.Tensor, min_eig: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Jitter policy: symmetrise, then add (min_eig − λ_min)₊ I per frame.

    Args:
        cov: (N, D, D) finite.
        min_eig: smallest eigenvalue wanted, in the covariance's units (e.g. 1e-6 px²).
    Returns:
        (N, D, D) with λ_min ≥ min_eig (computed in float64, returned in ``cov``'s dtype), and the jitter
        added per frame (N,), to be recorded next to the covariances.
    """
    if not bool(torch.isfinite(cov).all()):
        frame = int((~torch.isfinite(cov)).flatten(1).any(-1).nonzero()[0, 0])
        raise ValueError(f"make_spd: frame {frame} has non-finite entries; non-finite frames cannot be repaired")
    cov64 = cov.to(torch.float64)
    cov64 = 0.5 * (cov64 + cov64.mT)
    jitter = (min_eig - torch.linalg.eigvalsh(cov64)[..., 0]).clamp_min(0.0)
    eye = torch.eye(cov.shape[-1], dtype=torch.float64, device=cov.device)
    return (cov64 + jitter[..., None, None] * eye).to(cov.dtype), jitter.to(cov.dtype)


def sample_gaussian(mean: torch.Tensor, cov: torch.Tensor, num_samples: int,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw x = μ + L ε, L L ᵀ = Σ (float64 Cholesky), ε ~ N(0, I).

    Args:
        mean: (N, D). cov: (N, D, D), validated with ``validate_covariance`` (raises naming the frame otherwise).
        num_samples: S. generator: optional ``torch.Generator`` on ``mean``'s device for reproducibility.
    Returns:
        (S, N, D) in ``mean``'s dtype (the ``torch.distributions`` sample layout).
    """
    validate_covariance(cov, "sample_gaussian covariance")
    factor = torch.linalg.cholesky(cov.to(torch.float64))
    noise = torch.randn((num_samples, *mean.shape), generator=generator, dtype=torch.float64, device=mean.device)
    samples = mean.to(torch.float64) + (factor @ noise[..., None])[..., 0]
    return samples.to(mean.dtype)


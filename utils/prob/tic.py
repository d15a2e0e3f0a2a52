"""Taylor Induced Covariance (TIC), batched with ``torch.func``.

TIC-TAC (Shukla, Salzmann, Alahi, ICML 2024, Algorithm 1; https://github.com/vita-epfl/TIC-TAC
``HumanPose/code/utils/tic.py``). Perturb the decoder's latent z by ε ~ N(0, σ²I); the second-order Taylor
polynomial of μ(z + ε) gives Cov ≈ σ² GGᵀ + (σ⁴/2) T, G = ∂μ/∂z (D, Z), T_ij = tr(H_i H_j), H_i = ∂²μ_i/∂z².
TIC learns per-sample k1, k2 and a PSD term P in place of the unknown spread:

    Σ = k1 · G Gᵀ + k2 · T + P.

Official code: ``vita-epfl/TIC-TAC: HumanPose/code/utils/tic.py`` (``get_tic_covariance``). As in official TIC-TAC, G and H are computed without gradient (the
pose network is trained by the covariance loss only through the residual); ``differentiable=True`` keeps
them in the graph, which is a different method. The caller must put BatchNorm/dropout layers used by
``decode_fn`` in eval mode: vmap cannot update running statistics (official TIC-TAC switches the pose net to eval).

Shape legend: B batch, Z latent size, D = 2J pose coordinates.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Callable, Sequence

import torch
from torch.func import jacfwd, jacrev, vmap


def _per_sample_derivatives(decode_fn: Callable[..., torch.Tensor], use_hessian: bool):
    """z, *extra → G (D, Z), or (G, H_flat (D, Z²)) with the Hessian, for one sample."""
    jacobian_fn = jacrev(decode_fn, argnums=0)
    if not use_hessian:
        return jacobian_fn

    def jacobian_twice(z, *extra):
        jacobian = jacobian_fn(z, *extra)
        return jacobian, jacobian  # the second copy leaves jacfwd as its primal value (has_aux)

    hessian_fn = jacfwd(jacobian_twice, argnums=0, has_aux=True)

    def derivatives(z, *extra):
        hessian, jacobian = hessian_fn(z, *extra)  # (D, Z, Z), (D, Z)
        return jacobian, hessian.reshape(hessian.shape[0], -1)  # (D, Z), (D, Z²)
    return derivatives


def tic_terms(decode_fn: Callable[..., torch.Tensor], z: torch.Tensor, extra_args: Sequence[torch.Tensor] = (),
              *, use_hessian: bool = False, chunk_size: int | None = None,
              differentiable: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """G Gᵀ and T for every sample, one vmapped ``jacrev`` (and ``jacfwd(jacrev)``) call.

    Args:
        decode_fn: pure function of ONE sample: (z (Z,), *extra (per-sample tensors)) → μ (D,). Write it
            from the real forward (no skip branch left out) with per-sample shapes (add and remove a batch
            axis of 1 inside if the modules need one).
        z: (B, Z) latent at which to linearise.
        extra_args: per-sample tensors with leading axis B (e.g. detached skip features), passed positionally.
        use_hessian: also compute T_ij = tr(H_i H_j) = (H_f H_fᵀ)_ij with H_f = H reshaped to (D, Z²)
            (the Gram matrix of the flattened, symmetric Hessians: PSD by construction).
        chunk_size: samples per vmap chunk (bounds memory: each sample costs D backward passes, and
            D·Z forward-over-backward passes with the Hessian); None = all at once.
        differentiable: keep G and H in the autograd graph (False = official TIC-TAC semantics: no gradient).
    Returns:
        jacobian_gram G Gᵀ (B, D, D) and hessian_gram T (B, D, D) or None.
    """
    if not differentiable:
        z = z.detach()
        extra_args = tuple(arg.detach() for arg in extra_args)
    in_dims = (0,) * (1 + len(extra_args))
    batched = vmap(_per_sample_derivatives(decode_fn, use_hessian), in_dims=in_dims, chunk_size=chunk_size)
    # torch.func transforms ignore an outer no_grad, so the derivatives are computed but carry no graph.
    with torch.no_grad() if not differentiable else nullcontext():
        result = batched(z, *extra_args)
    jacobian, hessian_flat = result if use_hessian else (result, None)  # (B, D, Z), (B, D, Z²)
    jacobian_gram = jacobian @ jacobian.mT
    hessian_gram = hessian_flat @ hessian_flat.mT if use_hessian else None
    return jacobian_gram, hessian_gram


def combine_tic(jacobian_gram: torch.Tensor, hessian_gram: torch.Tensor | None, k1: torch.Tensor,
                k2: torch.Tensor | None, psd: torch.Tensor) -> torch.Tensor:
    """Σ = k1·GGᵀ (+ k2·T) + P, k1/k2 (B,), matrices (B, D, D)."""
    covariance = k1[:, None, None] * jacobian_gram + psd
    if hessian_gram is not None:
        if k2 is None:
            raise ValueError("combine_tic: hessian_gram given but k2 is None")
        covariance = covariance + k2[:, None, None] * hessian_gram
    return covariance


def tic_covariance(decode_fn: Callable[..., torch.Tensor], z: torch.Tensor, k1: torch.Tensor,
                   k2: torch.Tensor | None, psd: torch.Tensor, *, extra_args: Sequence[torch.Tensor] = (),
                   use_hessian: bool = False, chunk_size: int | None = None,
                   differentiable: bool = False) -> torch.Tensor:
    """Taylor Induced Covariance Σ (B, D, D) = k1·GGᵀ (+ k2·T) + psd; see ``tic_terms`` for the arguments.

    k1, k2: (B,) non-negative (k2 unused without the Hessian); psd: (B, D, D) positive definite, in μ's units².
    """
    jacobian_gram, hessian_gram = tic_terms(decode_fn, z, extra_args, use_hessian=use_hessian,
                                            chunk_size=chunk_size, differentiable=differentiable)
    return combine_tic(jacobian_gram, hessian_gram, k1, k2, psd)


def tic_covariance_loop(decode_fn: Callable[..., torch.Tensor], z: torch.Tensor, k1: torch.Tensor,
                        k2: torch.Tensor | None, psd: torch.Tensor, *, extra_args: Sequence[torch.Tensor] = (),
                        use_hessian: bool = False) -> torch.Tensor:
    """Reference: one ``torch.autograd.functional`` Jacobian (and Hessian) per sample, T by the pairwise trace.

    Same arguments and result as ``tic_covariance`` (no gradient); for tests and the benchmark only.
    """
    from torch.autograd.functional import jacobian as autograd_jacobian

    grams, hessian_grams = [], []
    for index in range(z.shape[0]):
        extra = tuple(arg[index].detach() for arg in extra_args)
        point = z[index].detach()

        def single(latent, extra=extra):
            return decode_fn(latent, *extra)

        jac = autograd_jacobian(single, point)  # (D, Z): D plain backward passes
        grams.append(jac @ jac.T)
        if use_hessian:
            def gradient(latent):
                return autograd_jacobian(single, latent, create_graph=True)
            hess = autograd_jacobian(gradient, point)  # (D, Z, Z)
            # tr(H_i H_j) for every pair (official TIC-TAC pairwise_matmul_with_trace)
            hessian_grams.append(torch.einsum("iab,jba->ij", hess, hess))
    jacobian_gram = torch.stack(grams)
    hessian_gram = torch.stack(hessian_grams) if use_hessian else None
    return combine_tic(jacobian_gram, hessian_gram, k1, k2, psd).detach()

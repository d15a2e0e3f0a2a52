"""Probabilistic 2D pose: a deterministic heatmap model plus a TIC-TAC covariance method.

TIC-TAC (Shukla, Salzmann, Alahi, ICML 2024; https://github.com/vita-epfl/TIC-TAC ``HumanPose/code``).
The mean is the soft-argmax of the pose model's heatmaps; an auxiliary MLP on the (detached) latent z
predicts the raw covariance parameters of one method (``utils.prob.covariance.METHODS``). TIC adds
k1·GGᵀ (+ k2·T) with G = ∂μ/∂(TIC latent) from ``utils.prob.tic``. The TIC latent is official TIC-TAC's for each backbone
(``HumanPose/code/utils/tic.py``): a pose model with ``encode_latent``/``decode_latent`` (the Stacked
Hourglass) is differentiated from the bottom of its last hourglass through the whole up path, the skip
branches held at their values (official TIC-TAC's ``_get_derivatives_hg`` drops them, so it differentiates a function
the network does not compute); any other (ViTPose) from a bottleneck z injected before its decoder, as
official TIC-TAC's ViTPose (``vita-epfl/TIC-TAC: HumanPose/code/utils/tic.py``, ``_get_derivatives_hg``,
``_get_derivatives_vitpose``; ``models/vit_pose/ViTPose.py``).

One model per method: official TIC-TAC trains every method on its own deep copy of the pose network, so the training
script builds one ``ProbabilisticPoseModel`` per name in its ``methods`` list.

Shape legend: B batch, C feature channels, J joints, D = 2J, h×w heatmap, S stacks, Z latent size.
Poses are joint-major interleaved (x0, y0, x1, y1, …) in heatmap pixels, x = column, y = row.
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager, nullcontext

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.pose2d import batchnorm_folded
from models.tictac.heads import AuxCovarianceNet, TICBottleneck, VisibilityHead
from utils.prob.covariance import (COVARIANCE_LOSSES, DEFAULT_EPS, check_method, check_parameterisation,
                              covariance_from_matrix, full_precision, mse_loss, num_raw_outputs, predicted_matrix)
from utils.codecs.heatmap import soft_argmax
from utils.prob.tic import tic_terms

VISIBILITY_LOSSES = ("mse", "bce")


@contextmanager
def _eval_mode(*modules: nn.Module):
    """Temporarily put every submodule in eval mode (BatchNorm running stats, no dropout), then restore."""
    saved = [(m, m.training) for module in modules for m in module.modules()]
    try:
        for module in modules:
            module.eval()
        yield
    finally:
        for m, training in saved:
            m.training = training


class ProbabilisticPoseModel(nn.Module):
    """A 2D heatmap model with a TIC-TAC covariance head of one method.

    Args:
        pose_model: deterministic model with ``encode(images) -> (features (B, C, ·, ·), intermediate
            heatmaps (B, S−1, J, h, w))``, ``decode(features) -> heatmaps (B, J, h, w)``,
            ``feature_channels`` C and ``num_joints`` J (``models/pose2d.py``).
        method: one of ``utils.prob.covariance.METHODS``: MSE, Diagonal, BetaNLL, NLL, Faithful, TIC.
        z_dim: Z, size of the latent (official TIC-TAC: 64). pooled: pooled side p of the bottleneck.
        aux_hidden: hidden widths of the covariance MLP (official TIC-TAC ``fc``: 64, 64, 64).
        visibility: add the per-joint visibility head (the study's ``JointPrediction``).
        visibility_hidden: its hidden widths. visibility_loss: 'mse' (the study's) or 'bce'.
        use_hessian: TIC with the k2·T Hessian term (official TIC-TAC default False).
        soft_argmax_beta: softmax temperature of the mean (official TIC-TAC: 1).
        parameterisation: 'cholesky' (L Lᵀ + εI, softplus diagonal; default) or 'dense' (official TIC-TAC's M Mᵀ).
        eps: jitter ε of the parameterisation (``utils.prob.covariance.DEFAULT_EPS``).
        tic_chunk_size: samples per vmap chunk for the TIC derivatives (None: whole batch).
        tic_differentiable: keep G (and H) in the graph (False = official TIC-TAC: G carries no gradient).
        mse_warmup_epochs: epochs during which ``loss(..., epoch=e)`` uses the MSE of the mean instead of
            the covariance loss. Official TIC-TAC, the original study and its TIC-TAC fork have no warm-up: default 0.
    """

    def __init__(self, pose_model: nn.Module, method: str, *, z_dim: int = 64, pooled: int = 4,
                 aux_hidden: Sequence[int] = (64, 64, 64), visibility: bool = False,
                 visibility_hidden: Sequence[int] = (64, 64), visibility_loss: str = "mse",
                 use_hessian: bool = False, soft_argmax_beta: float = 1.0, parameterisation: str = "cholesky",
                 eps: float = DEFAULT_EPS, tic_chunk_size: int | None = None, tic_differentiable: bool = False,
                 mse_warmup_epochs: int = 0):
        super().__init__()
        self.method = check_method(method)
        self.parameterisation = check_parameterisation(parameterisation)
        if visibility_loss not in VISIBILITY_LOSSES:
            raise ValueError(f"unknown visibility_loss {visibility_loss!r}; valid choices: "
                             f"{', '.join(VISIBILITY_LOSSES)}")
        for attribute in ("encode", "decode", "feature_channels", "num_joints"):
            if not hasattr(pose_model, attribute):
                raise TypeError(f"pose_model {type(pose_model).__name__} lacks {attribute!r}; it must follow the "
                                f"interface of models/pose2d.py (encode, decode, feature_channels, num_joints)")
        self.pose_model = pose_model
        self.num_joints = int(pose_model.num_joints)
        self.dim = 2 * self.num_joints
        self.eps = eps
        self.use_hessian = use_hessian
        self.soft_argmax_beta = soft_argmax_beta
        self.tic_chunk_size = tic_chunk_size
        self.tic_differentiable = tic_differentiable
        self.mse_warmup_epochs = mse_warmup_epochs
        self.visibility_loss = visibility_loss

        # Hourglass: TIC differentiates the hourglass itself (official TIC-TAC); z only feeds the covariance and visibility MLPs
        self.latent_tic = hasattr(pose_model, "encode_latent") and hasattr(pose_model, "decode_latent")
        self.bottleneck = TICBottleneck(pose_model.feature_channels, z_dim=z_dim, pooled=pooled,
                                        inject=not self.latent_tic)
        raw_width = num_raw_outputs(method, self.dim, parameterisation)
        self.aux_net = AuxCovarianceNet(z_dim, aux_hidden, out_dim=raw_width) if raw_width else None
        self.visibility_head = VisibilityHead(z_dim, self.num_joints, visibility_hidden) if visibility else None

    # --- the function TIC differentiates -----------------------------------------------------------------

    def _mean_from_heatmaps(self, heatmaps: torch.Tensor) -> torch.Tensor:
        """(B, J, h, w) → (B, D) in float32 at least: bf16 would quantise 64-px coordinates to 0.25 px."""
        if heatmaps.dtype in (torch.float16, torch.bfloat16):
            heatmaps = heatmaps.float()
        with full_precision(heatmaps):
            return soft_argmax(heatmaps, self.soft_argmax_beta).flatten(1)

    def _decode_single(self, z: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """One sample: z (Z,), features (C, H, W) → μ (D,), the exact forward path from z."""
        heatmaps = self.pose_model.decode(self.bottleneck.inject(features[None], z[None]))  # (1, J, h, w)
        return self._mean_from_heatmaps(heatmaps)[0]

    def _decode_latent_single(self, latent: torch.Tensor, *skips: torch.Tensor) -> torch.Tensor:
        """One sample: flat bottom latent (C·h'·w',), skips (C, ·, ·) each → μ (D,), the exact forward path."""
        size = (skips[-1].shape[-2] // 2, skips[-1].shape[-1] // 2)  # the bottom: half the innermost skip's side
        features = self.pose_model.decode_latent(latent.view(1, -1, *size), [skip[None] for skip in skips])
        return self._mean_from_heatmaps(self.pose_model.decode(features))[0]

    def jacobian_terms(self, features: torch.Tensor | Sequence[torch.Tensor],
                       z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """G Gᵀ and T (B, D, D) at the TIC latent, pose net and bottleneck in eval mode (as official TIC-TAC).

        Args:
            features: what the latent is decoded with (detached): the feature map (B, C, H, W) for a
                bottleneck latent; the skip branches of the last hourglass for a Hourglass latent.
            z: (B, Z) the bottleneck latent, or the flattened bottom latent of the last hourglass.

        Autocast is off here: the derivatives are computed in the parameters' dtype (float32), not bf16. Without
        ``tic_differentiable`` (G carries no gradient) ViTPose's deconvolution + BatchNorm pairs are folded for the
        derivatives (``models.pose2d.batchnorm_folded``): same G up to float rounding, half the backward time on a CPU.
        """
        dtype = self.bottleneck.downscale.weight.dtype  # features may come out of autocast in bf16
        extra = tuple(features) if self.latent_tic else (features,)
        decode = self._decode_latent_single if self.latent_tic else self._decode_single
        with _eval_mode(self.pose_model, self.bottleneck), full_precision(z), \
                (nullcontext() if self.tic_differentiable else batchnorm_folded(self.pose_model)):
            return tic_terms(decode, z.to(dtype), tuple(f.detach().to(dtype) for f in extra),
                             use_hessian=self.use_hessian,
                             chunk_size=self.tic_chunk_size, differentiable=self.tic_differentiable)

    # --- forward and loss -----------------------------------------------------------------------------

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor | None]:
        """images (B, 3, H, W) → dict:

        ``mean`` (B, D) heatmap px; ``heatmaps`` (B, J, h, w); ``intermediate_heatmaps`` (B, S−1, J, h, w);
        ``z`` (B, Z); ``raw`` (B, R) aux output (R = 0 for MSE); ``matrix`` what the loss uses (None, σ² (B, D),
        Λ or Σ (B, D, D)); ``covariance`` Σ (B, D, D) px²; ``jacobian_gram``/``hessian_gram`` (TIC, else None);
        ``visibility`` (B, J) probabilities or None.
        """
        if self.latent_tic:  # the TIC latent is the bottom of the last hourglass
            bottom, skips, intermediate = self.pose_model.encode_latent(images)  # (B, C, h/16, w/16), …
            features = self.pose_model.decode_latent(bottom, skips)  # (B, C, h, w): encode's output
            z = self.bottleneck.encode(features)  # (B, Z): the covariance and visibility MLPs' input
            heatmaps = self.pose_model.decode(features)  # (B, J, h, w)
        else:
            features, intermediate = self.pose_model.encode(images)
            z = self.bottleneck.encode(features)  # (B, Z)
            heatmaps = self.pose_model.decode(self.bottleneck.inject(features, z))  # (B, J, h, w)
        if heatmaps.shape[1] != self.num_joints:
            raise ValueError(f"pose_model.decode returned {heatmaps.shape[1]} heatmaps, expected num_joints="
                             f"{self.num_joints}")
        mean = self._mean_from_heatmaps(heatmaps)
        latent = z.detach()  # official TIC-TAC: the aux and visibility nets train no backbone feature
        raw = self.aux_net(latent) if self.aux_net is not None else latent.new_zeros(latent.shape[0], 0)
        jacobian_gram = hessian_gram = None
        if self.method == "TIC" and self.latent_tic:
            jacobian_gram, hessian_gram = self.jacobian_terms(skips, bottom.flatten(1))
        elif self.method == "TIC":
            jacobian_gram, hessian_gram = self.jacobian_terms(features, z)
        matrix = predicted_matrix(self.method, raw, self.dim, parameterisation=self.parameterisation, eps=self.eps,
                                  jacobian_gram=jacobian_gram, hessian_gram=hessian_gram)
        return {
            "mean": mean, "heatmaps": heatmaps, "intermediate_heatmaps": intermediate, "z": z, "raw": raw,
            "matrix": matrix, "covariance": covariance_from_matrix(self.method, matrix, mean),
            "jacobian_gram": jacobian_gram, "hessian_gram": hessian_gram,
            "visibility": self.visibility_head(latent) if self.visibility_head is not None else None,
        }

    def loss(self, outputs: dict, target: torch.Tensor, visible: torch.Tensor | None = None,
             heatmap_target: torch.Tensor | None = None, epoch: int | None = None,
             heatmap_weight: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Loss terms (scalars), each added with weight 1 as in official TIC-TAC and the original study.

        Args:
            outputs: from ``forward``.
            target: (B, D) ground-truth pose in heatmap px, same (x, y) order as ``mean``.
            visible: (B, J) bool; hidden joints leave the covariance loss (marginal Gaussian) and are the
                visibility head's negatives. A sample with no visible joint does not count in the mean.
            heatmap_target: (B, J, h, w) target heatmaps: MSE over J·h·w averaged over batch and stacks.
            epoch: current epoch, for ``mse_warmup_epochs``.
            heatmap_weight: optional (B, J) mask: joints with 0 (absent from the dataset) leave the heatmap MSE.
        Returns:
            dict with ``covariance``, ``heatmap``, ``visibility`` (0 when not applicable) and ``total``.
        """
        mean = outputs["mean"]
        if target.shape != mean.shape:
            raise ValueError(f"target must be (B, D) = {tuple(mean.shape)} heatmap px, got {tuple(target.shape)}")
        if visible is not None:
            visible = visible.to(torch.bool)
        if epoch is not None and epoch < self.mse_warmup_epochs:
            per_sample = mse_loss(mean, target, visible)
        else:
            per_sample = COVARIANCE_LOSSES[self.method](mean, target, outputs["matrix"], visible)
        if visible is None:
            covariance_term = per_sample.mean()
        else:
            counted = visible.any(-1).to(per_sample.dtype)
            covariance_term = (per_sample * counted).sum() / counted.sum().clamp_min(1.0)

        zero = mean.new_zeros(())
        heatmap_term = zero
        if heatmap_target is not None:
            stacks = [outputs["heatmaps"][:, None]]
            if outputs.get("intermediate_heatmaps") is not None:
                stacks.insert(0, outputs["intermediate_heatmaps"])
            predicted = torch.cat(stacks, dim=1)  # (B, S, J, h, w)
            difference = predicted - heatmap_target[:, None]
            if heatmap_weight is not None:
                difference = difference * heatmap_weight.to(difference.dtype)[:, None, :, None, None]
            heatmap_term = difference.pow(2).mean()

        visibility_term = zero
        if self.visibility_head is not None and visible is not None:
            probability, label = outputs["visibility"], visible.to(outputs["visibility"].dtype)
            visibility_term = F.mse_loss(probability, label) if self.visibility_loss == "mse" else \
                F.binary_cross_entropy(probability, label)
        return {"covariance": covariance_term, "heatmap": heatmap_term, "visibility": visibility_term,
                "total": covariance_term + heatmap_term + visibility_term}

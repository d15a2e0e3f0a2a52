"""Top-down heatmap head of ViTPose (mmpose ``TopdownHeatmapSimpleHead``).

Xiao et al., "Simple Baselines for Human Pose Estimation and Tracking", ECCV 2018; used by
Xu et al., "ViTPose: Simple Vision Transformer Baselines for Human Pose Estimation", NeurIPS 2022.
Official code: ``ViTAE-Transformer/ViTPose: mmpose/models/heads/topdown_heatmap_simple_head.py``.
Module and parameter names are the official ones, so that ``keypoint_head.*`` keys of the released
checkpoints load with ``strict=True``:

- classic head: ``deconv_layers`` = [ConvTranspose2d(k4, s2, p1, no bias), BatchNorm2d, ReLU] per filter
  (keys at indices 0, 1, 3, 4 for two deconvolutions), then ``final_layer`` = Conv2d 1×1 → J maps;
- simple head: no deconvolution (``deconv_layers`` is an Identity without keys), ReLU, bilinear ×4
  upsampling (align_corners=False), then ``final_layer`` = Conv2d 3×3 (padding 1) → J maps.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

# deconvolution kernel → (padding, output_padding) that double the spatial size (mmpose _get_deconv_cfg)
_DECONV_PADDING = {4: (1, 0), 3: (1, 1), 2: (0, 0)}


class TopdownHeatmapSimpleHead(nn.Module):
    """Deconvolution (or upsampling) head: features (B, C, Hp, Wp) → heatmaps (B, J, h, w).

    Args:
        in_channels: C, channels of the backbone feature map.
        out_channels: J, number of joints (heatmaps).
        num_deconv_layers: number of stride-2 deconvolutions (each doubles h and w); 0 for the simple head.
        num_deconv_filters: output channels of each deconvolution.
        num_deconv_kernels: kernel size of each deconvolution (4, 3 or 2).
        final_conv_kernel: 1 (classic) or 3 (simple) kernel of ``final_layer``.
        upsample: bilinear up-sampling factor applied (after a ReLU) before ``final_layer``; 0 for none.
        align_corners: of the bilinear up-sampling.
    """

    def __init__(self, *, in_channels: int, out_channels: int, num_deconv_layers: int = 2,
                 num_deconv_filters: Sequence[int] = (256, 256), num_deconv_kernels: Sequence[int] = (4, 4),
                 final_conv_kernel: int = 1, upsample: int = 0, align_corners: bool = False):
        super().__init__()
        if num_deconv_layers < 0 or len(num_deconv_filters) != num_deconv_layers \
                or len(num_deconv_kernels) != num_deconv_layers:
            raise ValueError(f"num_deconv_layers ({num_deconv_layers}) must be >= 0 and equal the lengths of "
                             f"num_deconv_filters {tuple(num_deconv_filters)} and num_deconv_kernels "
                             f"{tuple(num_deconv_kernels)}")
        if final_conv_kernel not in (1, 3):
            raise ValueError(f"final_conv_kernel must be 1 or 3, got {final_conv_kernel}")
        self.in_channels = in_channels
        self.upsample = upsample
        self.align_corners = align_corners

        if num_deconv_layers > 0:
            layers: list[nn.Module] = []
            channels = in_channels
            for planes, kernel in zip(num_deconv_filters, num_deconv_kernels):
                if kernel not in _DECONV_PADDING:
                    raise ValueError(f"deconvolution kernel must be one of {sorted(_DECONV_PADDING)}, got {kernel}")
                padding, output_padding = _DECONV_PADDING[kernel]
                layers += [
                    nn.ConvTranspose2d(channels, planes, kernel, stride=2, padding=padding,
                                       output_padding=output_padding, bias=False),
                    nn.BatchNorm2d(planes),
                    nn.ReLU(inplace=True),
                ]
                channels = planes
            self.deconv_layers = nn.Sequential(*layers)
        else:
            channels = in_channels
            self.deconv_layers = nn.Identity()
        self.final_layer = nn.Conv2d(channels, out_channels, final_conv_kernel, stride=1,
                                     padding=(final_conv_kernel - 1) // 2)
        self.scale_factor = 2 ** num_deconv_layers * max(upsample, 1)  # heatmap size / feature size
        self.init_weights()

    def init_weights(self) -> None:
        """Official init: deconvolutions and final conv N(0, 0.001²), biases 0, BatchNorm weight 1 bias 0."""
        for m in self.modules():
            if isinstance(m, (nn.ConvTranspose2d, nn.Conv2d)):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, Hp, Wp) features → (B, J, Hp·s, Wp·s) heatmaps with s = ``scale_factor``."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected features (B, {self.in_channels}, Hp, Wp), got {tuple(x.shape)}")
        if self.upsample > 0:
            x = F.interpolate(F.relu(x), scale_factor=self.upsample, mode="bilinear",
                              align_corners=self.align_corners)
        x = self.deconv_layers(x)
        return self.final_layer(x)

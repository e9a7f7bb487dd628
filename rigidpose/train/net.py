"""``KeypointNet``: a small fully convolutional network that finds an object's keypoints.

Input: (B, 3, H, W) float32 BGR in [0, 255], H and W multiples of 16 (any size: the network is
fully convolutional, so it runs on a crop around the object or on a whole downscaled frame).
Output: (B, K, H/4, W/4) logits of one heatmap per keypoint; ``sigmoid`` of a cell is how sure
the network is that the keypoint projects within that cell (a Gaussian of ``HEATMAP_SIGMA``
cells around the exact point during training, so a peak's neighbours locate it to a fraction of
a cell). Heatmap cell j covers input pixels 4j .. 4j + 3, its centre at 4j + 1.5.

An encoder to 1/16 of the input (dilated convolutions at the end see about 200 pixels, enough
to place a hidden keypoint from the visible part of the object) and a decoder back to 1/4 with
skip connections. ``width=16`` is about 90 million multiply-adds for a 128 x 128 input.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["HEATMAP_SIGMA", "STRIDE", "KeypointNet"]

STRIDE = 4
"""Input pixels per heatmap cell."""
HEATMAP_SIGMA = 1.0
"""Standard deviation of the training heatmaps' Gaussians, cells."""


def _conv(c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class KeypointNet(nn.Module):
    """Heatmap logits of ``keypoints`` keypoints; ``width`` scales every layer's channels."""

    def __init__(self, keypoints: int, width: int = 16) -> None:
        super().__init__()
        w = width
        self.keypoints, self.width = keypoints, width
        self.enc2 = nn.Sequential(_conv(3, w, 2), _conv(w, w))
        self.enc4 = nn.Sequential(_conv(w, 2 * w, 2), _conv(2 * w, 2 * w))
        self.enc8 = nn.Sequential(_conv(2 * w, 4 * w, 2), _conv(4 * w, 4 * w))
        self.enc16 = nn.Sequential(
            _conv(4 * w, 6 * w, 2), _conv(6 * w, 6 * w, dilation=2), _conv(6 * w, 6 * w, dilation=4)
        )
        self.lat8 = nn.Conv2d(6 * w, 4 * w, 1)
        self.dec8 = _conv(4 * w, 4 * w)
        self.lat4 = nn.Conv2d(4 * w, 2 * w, 1)
        self.dec4 = nn.Sequential(_conv(2 * w, 2 * w), _conv(2 * w, 2 * w))
        self.head = nn.Conv2d(2 * w, keypoints, 1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        nn.init.constant_(self.head.bias, -4.0)  # start near "nowhere": sigmoid(-4) = 0.018

    def forward(self, image_bgr: torch.Tensor) -> torch.Tensor:
        x = (image_bgr - 127.5) / 64.0
        s4 = self.enc4(self.enc2(x))
        s8 = self.enc8(s4)
        s16 = self.enc16(s8)
        d8 = self.dec8(self.up(self.lat8(s16)) + s8)
        d4 = self.dec4(self.up(self.lat4(d8)) + s4)
        return self.head(d4)


class Probabilities(nn.Module):
    """``net`` followed by a sigmoid: what the exported ONNX model computes."""

    def __init__(self, net: KeypointNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image_bgr: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(image_bgr))

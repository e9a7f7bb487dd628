"""``GrayFrame``: one frame as the tracker looks at it (gray regions converted on demand, the
whole frame's local features extracted once for every target, BGR for the keypoint networks)."""

from __future__ import annotations

import cv2
import numpy as np

from ..detect.features import FeatureOptions, extract_features
from ..io import as_bgr8

__all__ = ["GrayFrame"]


class GrayFrame:
    """One frame's gray pixels, converted from its BGR image only where they are asked for: a
    sheet followed through its own warp needs only the region around it, and converting a
    whole VGA frame costs a tenth of such a sheet's time per frame."""

    MARGIN_PX = 8  # converted around a region asked for, so that a rewarp's region is inside

    def __init__(self, image: np.ndarray) -> None:
        """``image``: (H, W) uint8 gray or (H, W, 3) uint8 BGR."""
        self.height, self.width = image.shape[:2]
        self._bgr = image if image.ndim == 3 else None
        self._full = image if image.ndim == 2 else None
        self._regions: list[tuple[int, int, int, int, np.ndarray]] = []  # x0, y0, x1, y1, gray
        self._features: tuple[np.ndarray, np.ndarray] | None = None

    def full(self) -> np.ndarray:
        """(H, W) uint8, the whole frame."""
        if self._full is None:
            self._full = cv2.cvtColor(self._bgr, cv2.COLOR_BGR2GRAY)
        return self._full

    def bgr(self) -> np.ndarray:
        """(H, W, 3) uint8 BGR, the whole frame (for the keypoint networks): a gray frame is
        converted once."""
        if self._bgr is None:
            self._bgr = as_bgr8(self.full())
        return self._bgr

    def region(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """(y1 - y0, x1 - x0) uint8: the pixels of columns x0..x1-1 and rows y0..y1-1, which
        must lie inside the frame."""
        if self._full is not None or 2 * (x1 - x0) * (y1 - y0) > self.width * self.height:
            return self.full()[y0:y1, x0:x1]
        for rx0, ry0, rx1, ry1, gray in self._regions:
            if rx0 <= x0 and ry0 <= y0 and x1 <= rx1 and y1 <= ry1:
                return gray[y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0]
        m = self.MARGIN_PX
        rx0, ry0 = max(x0 - m, 0), max(y0 - m, 0)
        rx1, ry1 = min(x1 + m, self.width), min(y1 + m, self.height)
        gray = cv2.cvtColor(self._bgr[ry0:ry1, rx0:rx1], cv2.COLOR_BGR2GRAY)
        self._regions.append((rx0, ry0, rx1, ry1, gray))
        return gray[y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0]

    def features(self, options: FeatureOptions) -> tuple[np.ndarray, np.ndarray]:
        """The whole frame's local features (pixels, descriptors), extracted once per frame for
        every target."""
        if self._features is None:
            self._features = extract_features(self.full(), options.kind, options.max_features)
        return self._features

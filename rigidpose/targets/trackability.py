"""How well a flat image will track as a planar target: a 0-100 score, like ARCore's image quality
score or Vuforia's star rating, with advice on what to change.

The image is resized so that its long side is ``WORK_SIDE_PX`` (the score does not depend on the
file's resolution) and its strongest ``MAX_FEATURES`` SIFT features (the tracker's default kind)
are found there. A feature is *distinctive* when its nearest other descriptor in the image (at
a spot more than ``SAME_SPOT_PX`` away) is at least ``DISTINCT_DISTANCE`` away: a view of a
feature lies about 120 from it (OpenCV's SIFT descriptors have norm 512; 65th percentile between
the demo sheet and a view of it rotated 20 deg and scaled by 0.85), so a frame's feature passes
the tracker's ratio test (0.8) only when the nearest rival is 120 / 0.8 = 150 away. The others
are repeated print (text, patterns, tiles) that matches in several places.

The search (finding the sheet in a frame) needs distinctive features; following it from frame to
frame uses any texture, repeated or not. With ``n`` features, ``d`` of them distinctive, and
``coverage`` the share of the cells of a grid (``CELL_PX`` at the working size: 8 along the long
side) that hold a feature::

    found = min(1, d / 200) * sqrt(min(1, (d / n) / 0.75))
    followed = min(1, n / 200)
    score = round(100 * sqrt(min(1, coverage / 0.8)) * (0.75 * found + 0.25 * followed))

Below ``POOR_SCORE`` tracking is likely to be unreliable. Scores measured here: the demo sheet
100, scikit-image's astronaut, coffee and chelsea 100, the box photo ``box_pose1.JPG`` 77 (the
table around the box is bare), brick 56, pages of text from a small vocabulary 26-48, a tiled
word 25, a flat gray or a gradient 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..io import as_bgr8

__all__ = ["POOR_SCORE", "TrackabilityReport", "trackability"]

WORK_SIDE_PX = 640
"""Long side of the image the features are found in, pixels (0.1-0.5 s in all on 2 shared cores)."""
MAX_FEATURES = 2000
"""The strongest this many SIFT features are looked at."""
DISTINCT_DISTANCE = 150.0
"""SIFT descriptor distance to the nearest other feature at which a feature counts as distinctive."""
SAME_SPOT_PX = 3.0
"""Features closer than this (working pixels) are one spot (SIFT's extra orientations), not a repeat."""
ENOUGH_FEATURES = 200
"""Features at the working size for a full term: distinctive ones for ``found``, any for ``followed``."""
CELL_PX = 80
"""Grid cell side at the working size, pixels."""
GOOD_COVERAGE = 0.8
"""Coverage at and above which the image counts as covered (margins and bare sky are common)."""
GOOD_SHARE = 0.75
"""Distinctive share at and above which repeats do not lower the score."""
FOUND_WEIGHT = 0.75
"""Weight of being found against being followed: a target that cannot be found is not followed."""
POOR_SCORE = 50
"""Scores below this are poor (pages of text, repeated patterns, sparse drawings, flat colour):
``planar_target`` logs a warning."""


@dataclass(frozen=True)
class TrackabilityReport:
    """How well an image will track as a planar target.

    Attributes:
        score: 0 (nothing to track) to 100.
        features: SIFT features found at the working size (``WORK_SIDE_PX`` long side).
        coverage: share (0-1) of the image's grid cells (8 along its long side) holding a feature.
        distinctive: share (0-1) of the features that are not repeated elsewhere in the image.
        advice: one line saying what to change, or that the image is good.
    """

    score: int
    features: int
    coverage: float
    distinctive: float
    advice: str

    def __str__(self) -> str:
        return (
            f"trackability {self.score}/100 ({self.features} features, {self.distinctive:.0%} "
            f"distinctive, covering {self.coverage:.0%} of the image): {self.advice}"
        )


def trackability(image: np.ndarray) -> TrackabilityReport:
    """Score how well ``image`` will track as a printed planar target.

    Args:
        image: (H, W, 3) uint8 BGR (gray, BGRA and 16-bit are converted).
    Returns:
        A ``TrackabilityReport``; see the module's docstring for how it is computed.
    """
    gray = cv2.cvtColor(as_bgr8(image, "image"), cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    scale = WORK_SIDE_PX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    h, w = gray.shape
    keypoints, descriptors = cv2.SIFT_create(nfeatures=MAX_FEATURES).detectAndCompute(gray, None)
    pixels = np.array([k.pt for k in keypoints], np.float32).reshape(-1, 2)
    distinct_mask = _distinctive(pixels, descriptors)
    rows, cols = max(1, round(h / CELL_PX)), max(1, round(w / CELL_PX))
    cells = np.zeros((rows, cols), bool)
    cells[
        np.minimum((pixels[:, 1] * rows / h).astype(int), rows - 1),
        np.minimum((pixels[:, 0] * cols / w).astype(int), cols - 1),
    ] = True
    coverage = float(cells.mean())
    distinct = int(distinct_mask.sum())
    share = distinct / len(pixels) if len(pixels) else 0.0
    coverage_term = math.sqrt(min(1.0, coverage / GOOD_COVERAGE))
    found_term = min(1.0, distinct / ENOUGH_FEATURES) * math.sqrt(min(1.0, share / GOOD_SHARE))
    followed_term = min(1.0, len(pixels) / ENOUGH_FEATURES)
    score = round(100 * coverage_term * (FOUND_WEIGHT * found_term + (1 - FOUND_WEIGHT) * followed_term))
    advice = _advice(len(pixels), distinct, share, cells)
    return TrackabilityReport(score, len(pixels), coverage, share, advice)


def _distinctive(pixels: np.ndarray, descriptors: np.ndarray | None) -> np.ndarray:
    """(N,) bool: the nearest other descriptor, away from the feature's own spot, is at least
    ``DISTINCT_DISTANCE`` away."""
    if descriptors is None or len(pixels) < 2:
        return np.ones(len(pixels), bool)
    d = descriptors.astype(np.float32)
    norms = (d * d).sum(axis=1)
    squared = d @ d.T  # (N, N) squared descriptor distances, in place
    squared *= -2.0
    squared += norms[:, None]
    squared += norms[None, :]
    spot = np.subtract.outer(pixels[:, 0], pixels[:, 0])  # (N, N) squared pixel distances
    np.square(spot, out=spot)
    spot += np.square(np.subtract.outer(pixels[:, 1], pixels[:, 1]))
    squared[spot <= SAME_SPOT_PX**2] = np.inf  # itself, and its other orientations
    return squared.min(axis=1) >= DISTINCT_DISTANCE**2


def _advice(found: int, distinct: int, share: float, cells: np.ndarray) -> str:
    """One line: what to change, the weakest two measures first."""
    if found == 0:
        return "no texture: use an image with detail, edges and contrast (a photo, not a flat colour or gradient)"
    tips = []  # (how good, what to do)
    repeats = "much of the print repeats (text, patterns, tiles): use unique pictures instead"
    if share < GOOD_SHARE:
        tips.append((share / GOOD_SHARE, repeats))
    elif distinct < ENOUGH_FEATURES:  # with repeats, too few distinctive features is their doing
        tips.append(
            (distinct / ENOUGH_FEATURES, f"too little texture ({found} features): add detail and contrast")
        )
    if cells.mean() < GOOD_COVERAGE:
        tips.append((cells.mean() / GOOD_COVERAGE, _coverage_tip(cells)))
    if not tips:
        return "good: many distinctive features over the whole image"
    return "; ".join(tip for _, tip in sorted(tips, key=lambda item: item[0])[:2])


def _coverage_tip(cells: np.ndarray) -> str:
    """Where texture is missing: the half of the image with the fewest covered cells."""
    rows, cols = cells.shape
    centre_y, centre_x = (np.arange(rows) + 0.5) / rows, (np.arange(cols) + 0.5) / cols
    halves = {
        "left": cells[:, centre_x < 0.5],
        "right": cells[:, centre_x > 0.5],
        "top": cells[centre_y < 0.5],
        "bottom": cells[centre_y > 0.5],
    }
    covered = {name: float(half.mean()) for name, half in halves.items() if half.size}
    emptiest = min(covered, key=covered.get)
    if max(covered.values()) - covered[emptiest] < 0.25:
        return f"features cover {cells.mean():.0%} of the image: spread texture over all of it"
    return f"features cover {cells.mean():.0%} of the image: add texture to the empty {emptiest} half"

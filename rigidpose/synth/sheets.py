"""Printable sheets for synthetic suites: a photo poster with an ArUco marker beside it.

One sheet serves every baseline: feature matchers see the photo and the marker; the ArUco
baseline sees the marker, whose corners on the sheet are known exactly.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ..target import Target
from ..targets.planar import image_points_obj, planar_target

__all__ = ["MARKER_DICTIONARY", "TEXT_PAGE", "marker_sheet", "text_page"]

MARKER_DICTIONARY = "DICT_4X4_50"
TEXT_PAGE = "text-page"
"""``marker_sheet``'s photo name for a generated page of text (``text_page``)."""


def text_page(width_px: int = 1200, height_px: int = 1500, seed: int = 0) -> np.ndarray:
    """A printed page of text from a 12-word vocabulary, BGR uint8: the same letters and words
    over and over, the repetitive print that fools feature matchers into wrong poses."""
    rng = np.random.default_rng(seed)
    words = ["the", "pose", "of", "a", "rigid", "object", "in", "video", "and", "frame", "track", "point"]
    page = np.full((height_px, width_px, 3), 250, np.uint8)
    line_px = 44
    for y in range(70, height_px - 40, line_px):
        x = 50
        while True:
            word = words[rng.integers(len(words))]
            (w, _), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 2)
            if x + w > width_px - 50:
                break
            cv2.putText(page, word, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (20, 20, 20), 2, cv2.LINE_AA)
            x += w + 18
    return page


def marker_sheet(
    photo: str = "astronaut", marker_id: int = 7, width_m: float = 0.297, pixels_per_m: float = 3000.0
) -> tuple[Target, list[dict[str, Any]]]:
    """A landscape sheet ``width_m`` wide (A4 by default): a scikit-image photo (or
    ``TEXT_PAGE``, a generated page of text) on the left two thirds, a black-bordered ArUco
    marker on the right third, on white paper.

    Returns:
        The planar target (named after the photo) and the marker list for ``render_sequence``:
        ``[{"dictionary", "id", "corners_obj": (4, 3) metres, top-left first, clockwise}]``.
    """
    from skimage import data

    w = round(width_m * pixels_per_m)
    h = round(w * 210 / 297)
    sheet = np.full((h, w, 3), 255, np.uint8)
    margin = w // 30
    picture = text_page() if photo == TEXT_PAGE else cv2.cvtColor(getattr(data, photo)(), cv2.COLOR_RGB2BGR)
    box_w, box_h = 2 * w // 3 - 2 * margin, h - 2 * margin
    scale = min(box_w / picture.shape[1], box_h / picture.shape[0])
    picture = cv2.resize(picture, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    y0 = (h - picture.shape[0]) // 2
    sheet[y0 : y0 + picture.shape[0], margin : margin + picture.shape[1]] = picture

    side = w // 3 - 2 * margin
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, MARKER_DICTIONARY))
    marker = cv2.aruco.generateImageMarker(dictionary, marker_id, side)
    mx, my = 2 * w // 3 + margin, (h - side) // 2
    sheet[my : my + side, mx : mx + side] = marker[..., None]
    # outer corners of the marker, at pixel boundaries (pixel-centre convention: -0.5)
    corners_px = np.array([[mx, my], [mx + side, my], [mx + side, my + side], [mx, my + side]], float) - 0.5
    corners_obj = image_points_obj(corners_px, (w, h), width_m)
    target = planar_target(sheet, width_m, name=photo)
    return target, [{"dictionary": MARKER_DICTIONARY, "id": marker_id, "corners_obj": corners_obj.tolist()}]

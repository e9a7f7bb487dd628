"""Local-feature detection: SIFT, ORB or AKAZE (opencv-contrib) matched to a target's appearance.

``extract_features`` finds keypoints and descriptors in an image, optionally at several scales
of it (so a target made from a large scan is still found when small in the frame).
``FeatureDetector`` matches a frame's features to the target's with Lowe's ratio test and returns
``Observations`` (2D-3D matches); geometric verification is the solver's RANSAC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .._validate import check_choice
from ..errors import InvalidInputError
from ..io import as_bgr8
from ..target import Target
from .observations import Observations

__all__ = ["FEATURE_KINDS", "FeatureDetector", "FeatureOptions", "extract_features"]

FEATURE_KINDS = ("sift", "orb", "akaze")


def _create(kind: str, max_features: int) -> cv2.Feature2D:
    check_choice(kind, "kind", FEATURE_KINDS)
    if kind == "sift":
        return cv2.SIFT_create(nfeatures=max_features)
    if kind == "orb":
        return cv2.ORB_create(nfeatures=max_features, fastThreshold=10)
    return cv2.xfeatures2d.AKAZE_create(threshold=0.0005)  # opencv-contrib 5: AKAZE lives in xfeatures2d


def _gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2 and image.dtype == np.uint8:
        return image
    return cv2.cvtColor(as_bgr8(image, "image"), cv2.COLOR_BGR2GRAY)


def extract_features(
    image: np.ndarray,
    kind: str = "sift",
    max_features: int = 2000,
    scales: Sequence[float] = (1.0,),
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints and descriptors of ``image``.

    Args:
        image: (H, W) gray or (H, W, 3) BGR.
        kind: one of ``sift``, ``orb``, ``akaze``.
        max_features: per scale (AKAZE keeps its strongest this many).
        scales: image scales to detect at; keypoints are mapped back to full resolution.
        mask: (H, W) uint8, detect only where non-zero.
    Returns:
        pixels (M, 2) float64 in ``image``'s pixel coordinates, descriptors (M, D) uint8 or float32.
    """
    gray = _gray(image)
    detector = _create(kind, max_features)
    all_pixels, all_descriptors = [], []
    for scale in scales:
        if not 0 < scale <= 1:
            raise InvalidInputError(f"scales: expected values in (0, 1], got {scale!r}")
        scaled = (
            gray if scale == 1 else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        )
        scaled_mask = (
            None if mask is None else cv2.resize(mask, scaled.shape[::-1], interpolation=cv2.INTER_NEAREST)
        )
        keypoints, descriptors = detector.detectAndCompute(scaled, scaled_mask)
        if descriptors is None or not keypoints:
            continue
        if kind == "akaze" and len(keypoints) > max_features:
            strongest = np.argsort([-k.response for k in keypoints])[:max_features]
            keypoints, descriptors = [keypoints[i] for i in strongest], descriptors[strongest]
        points = np.array([k.pt for k in keypoints], dtype=np.float64)
        all_pixels.append((points + 0.5) / scale - 0.5)  # pixel-centre convention
        all_descriptors.append(descriptors)
    if not all_pixels:
        width = 128 if kind == "sift" else 32 if kind == "orb" else 61
        return np.zeros((0, 2)), np.zeros((0, width), np.float32 if kind == "sift" else np.uint8)
    return np.vstack(all_pixels), np.vstack(all_descriptors)


@dataclass(frozen=True)
class FeatureOptions:
    """Attributes:
    kind: the feature kind; the target's appearance must be of the same kind.
    max_features: features per frame.
    ratio: Lowe's ratio test (best / second-best descriptor distance below this).
    """

    kind: str = "sift"
    max_features: int = 2000
    ratio: float = 0.8

    def __post_init__(self) -> None:
        check_choice(self.kind, "kind", FEATURE_KINDS)
        if not 0 < self.ratio < 1:
            raise InvalidInputError(f"ratio: expected a value in (0, 1), got {self.ratio!r}")


class FeatureDetector:
    """Finds ``target`` in frames by matching local features to its appearance."""

    NEIGHBOURS = 8
    """Nearest reference features looked at per frame feature: a sheet's point is in about 15
    reference views (scales, tilts), so the nearest few are often all the same point."""

    def __init__(self, target: Target, options: FeatureOptions = FeatureOptions()) -> None:
        appearance = target.appearance
        if appearance is None or appearance.detector != options.kind:
            have = "none" if appearance is None else appearance.detector
            raise InvalidInputError(
                f"target {target.name!r}: expected {options.kind} features in its appearance, has {have}; "
                f"rebuild it with --features {options.kind}"
            )
        self.target, self.options = target, options
        self.appearance = appearance
        # exact search: FLANN's kd-trees are 2-3x faster for SIFT but draw their splits from the
        # C library's rand(), so detections would change with what else ran in the process
        self.matcher = cv2.BFMatcher(cv2.NORM_L2 if options.kind == "sift" else cv2.NORM_HAMMING)
        self.matcher.add([np.ascontiguousarray(appearance.descriptors)])
        self.matcher.train()
        # the same point of the target appears in several reference views (scales, tilts):
        # neighbours closer than this are the same point, not a rival, in the ratio test
        self.same_point_m = 0.01 * target.diameter_m

    def detect(self, image: np.ndarray, mask: np.ndarray | None = None) -> Observations:
        """Matches between the frame (BGR or gray) and the target's features."""
        pixels, descriptors = extract_features(image, self.options.kind, self.options.max_features, mask=mask)
        return self.match(pixels, descriptors)

    def match(self, pixels: np.ndarray, descriptors: np.ndarray) -> Observations:
        """Matches between features already extracted from a frame (``extract_features`` with
        this detector's kind) and the target's: one extraction serves several targets.

        Lowe's ratio test compares the best neighbour with the best one that is another point
        of the target (the same point seen in several reference views is not a rival). When all
        ``NEIGHBOURS`` nearest are views of one point, the ratio to the farthest of them bounds
        the true ratio from above and is used instead: such a match is kept only when it is
        clearly better than all of them. Observations are ordered best first (lowest ratio), as
        PROSAC sampling in ``solve_pose`` expects; ``scores`` are ``1 - ratio``."""
        if len(pixels) < 2 or len(self.appearance) < 2:
            return Observations.empty(self.target.name)
        query, train, ratios = [], [], []
        points = self.appearance.points_obj
        k = min(self.NEIGHBOURS, len(self.appearance))
        for candidates in self.matcher.knnMatch(np.ascontiguousarray(descriptors), k=k):
            if not candidates:
                continue
            best = candidates[0]
            rival = next(
                (
                    c
                    for c in candidates[1:]
                    if np.linalg.norm(points[c.trainIdx] - points[best.trainIdx]) > self.same_point_m
                ),
                candidates[-1],  # all are one point: the farthest bounds the rival's distance
            )
            ratio = best.distance / max(rival.distance, 1e-9)
            if ratio < self.options.ratio:
                query.append(best.queryIdx)
                train.append(best.trainIdx)
                ratios.append(ratio)
        if not query:
            return Observations.empty(self.target.name)
        order = np.argsort(ratios, kind="stable")
        query, train = np.asarray(query)[order], np.asarray(train)[order]
        scores = np.clip(1.0 - np.asarray(ratios)[order], 0.0, 1.0)  # a clearer best match scores higher
        return Observations(self.target.name, pixels[query], self.appearance.points_obj[train], scores)

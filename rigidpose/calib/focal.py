"""Focal length from views of a known target, for a user who has never calibrated.

The target's features give 2D-3D matches in every frame without knowing the camera. A sweep over
fields of view from 20 to 120 degrees picks the focal length under which the matches of the
best frames fit rigid poses best (a truncated reprojection cost); then the focal length (and,
on request, k1) is refined jointly over all frames with OpenCV's calibration, the principal point
held at the image centre and pixels square, and the inliers chosen again under the new focal
length until it settles.

Perspective is what tells focal length apart from distance: frames where the target is tilted
or fills much of the image inform it; a target seen only face-on does not, and the reported
standard deviation says so.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from .._validate import check_int, check_number
from ..camera import Camera
from ..detect.features import FeatureDetector, FeatureOptions
from ..errors import InvalidInputError
from ..io import Frame
from ..solve import SolveOptions, solve_pose
from ..target import Target
from .calibrate import CalibrationError, same_size

__all__ = ["FocalEstimate", "FocalOptions", "TargetMatches", "collect_matches", "estimate_focal"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FocalOptions:
    """Attributes:
    estimate_k1: also fit the first radial distortion coefficient.
    min_matches: a frame-target pair with fewer feature matches is not used.
    min_views: fewer usable frame-target pairs than this is an error.
    sweep_views: frame-target pairs (the ones with the most matches) that judge the sweep.
    threshold_px: inlier threshold of the poses, pixels.
    max_relative_std: an estimate less certain than this (std / focal) is an error.
    """

    estimate_k1: bool = False
    min_matches: int = 25
    min_views: int = 5
    sweep_views: int = 15
    threshold_px: float = 3.0
    max_relative_std: float = 0.1

    def __post_init__(self) -> None:
        check_int(self.min_matches, "min_matches", ge=6)
        check_int(self.min_views, "min_views", ge=2)
        check_int(self.sweep_views, "sweep_views", ge=1)
        check_number(self.threshold_px, "threshold_px", gt=0)


@dataclass(frozen=True)
class TargetMatches:
    """Feature matches of one target in one frame: ``pixels`` (N, 2) and ``points_obj`` (N, 3)
    metres, object frame."""

    frame_index: int
    target: str
    pixels: np.ndarray
    points_obj: np.ndarray


@dataclass(frozen=True)
class FocalEstimate:
    """Attributes:
    camera: square pixels, principal point at the image centre, k1 when estimated.
    focal_px: the focal length, pixels.
    std_focal_px: its standard deviation from the fit's curvature, pixels: the matches' noise only;
        systematic errors (blur, rolling shutter, a target's registration) come on top.
    rms_px: reprojection error of the inliers, pixels.
    views: frame-target pairs used; inliers: matches used in all.
    sweep_focal_px: the sweep's pick, before refinement.
    """

    camera: Camera
    focal_px: float
    std_focal_px: float
    rms_px: float
    views: int
    inliers: int
    sweep_focal_px: float


def collect_matches(
    targets: list[Target], frames: Iterable[Frame], min_matches: int = 25
) -> tuple[list[TargetMatches], tuple[int, int] | None]:
    """Feature matches of every target in every frame (pairs with fewer than ``min_matches``
    are left out), and the frames' size ``(width, height)`` (None when there were no frames)."""
    detectors = []
    for target in targets:
        if target.appearance is None:
            raise InvalidInputError(
                f"target {target.name!r} has no features: rebuild it with --features sift"
            )
        detectors.append(FeatureDetector(target, FeatureOptions(kind=target.appearance.detector)))
    matches: list[TargetMatches] = []
    size, first = None, ""
    for frame in frames:
        name = None if getattr(frame, "path", None) is None else str(frame.path)
        first = first or name or f"frame {frame.index}"
        size = same_size(size, frame.image, frame.index, name, first)
        for detector in detectors:
            found = detector.detect(frame.image)
            if len(found) >= min_matches:
                matches.append(TargetMatches(frame.index, found.target, found.pixels, found.points_obj))
    return matches, size


def _camera(focal_px: float, size: tuple[int, int], k1: float = 0.0) -> Camera:
    width, height = size
    return Camera.from_intrinsics(
        focal_px, focal_px, (width - 1) / 2, (height - 1) / 2, width, height, [k1, 0, 0, 0, 0]
    )


def _truncated_cost(camera: Camera, views: list[TargetMatches], threshold_px: float) -> float:
    """Sum over views of min(error², (2 threshold)²) under each view's best pose: how well
    rigid poses explain the matches with this camera."""
    options = SolveOptions(threshold_px=threshold_px, min_inliers=6, max_iterations=300)
    cap = (2 * threshold_px) ** 2
    total = 0.0
    for view in views:
        estimate = solve_pose(view.points_obj, view.pixels, camera, options)
        if estimate is None:
            total += cap * len(view.pixels)
            continue
        projected = camera.project(estimate.T_cam_obj.apply(view.points_obj))
        errors = np.sum((projected - view.pixels) ** 2, axis=1)
        total += float(np.minimum(errors, cap).sum())
    return total


class _Profile:
    """The robust reprojection cost of the inliers as a function of the camera alone: every
    view's pose is refined (Levenberg-Marquardt, from its pose when its inliers were chosen)."""

    def __init__(
        self, views: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], size: tuple[int, int]
    ):
        self.views, self.size = views, size

    def residuals(self, focal_px: float, k1: float) -> np.ndarray:
        camera = _camera(focal_px, self.size, k1)
        errors = []
        for points, pixels, rvec, tvec in self.views:
            r, t = cv2.solvePnPRefineLM(
                points, pixels, camera.K, camera.dist_coeffs, rvec.copy(), tvec.copy()
            )
            projected, _ = cv2.projectPoints(points, r, t, camera.K, camera.dist_coeffs)
            errors.append(np.linalg.norm(projected.reshape(-1, 2) - pixels, axis=1))
        return np.concatenate(errors)

    def __call__(self, focal_px: float, k1: float) -> float:
        """Mean Huber cost (quadratic to 1 px, linear beyond), pixels²."""
        e = self.residuals(focal_px, k1)
        return float(np.mean(np.where(e < 1.0, e**2, 2.0 * e - 1.0)))


def _golden(cost, low: float, high: float, tolerance: float) -> float:
    """The minimum of a unimodal ``cost`` on [low, high], to ``tolerance``."""
    ratio = (math.sqrt(5) - 1) / 2
    a, b = low, high
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = cost(c), cost(d)
    while b - a > tolerance:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = cost(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = cost(d)
    return (a + b) / 2


def _refine(profile: _Profile, focal_px: float, k1: float, estimate_k1: bool) -> tuple[float, float]:
    """Minimise the profile over focal length (within 1.5x either way) and, alternately, k1."""
    for _ in range(3 if estimate_k1 else 1):
        start = math.log(focal_px)
        focal_px = math.exp(
            _golden(lambda u, k1=k1: profile(math.exp(u), k1), start - 0.405, start + 0.405, 1e-4)
        )
        if estimate_k1:
            k1 = _golden(lambda k, f=focal_px: profile(f, k), -0.6, 0.6, 1e-4)
    return focal_px, k1


def _inlier_views(
    views: list[TargetMatches], camera: Camera, threshold_px: float, min_inliers: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(points (K, 3), pixels (K, 2), rvec, tvec) of each view with enough inliers under ``camera``."""
    options = SolveOptions(threshold_px=threshold_px, min_inliers=min_inliers)
    kept = []
    for view in views:
        estimate = solve_pose(view.points_obj, view.pixels, camera, options)
        if estimate is None:
            continue
        rvec, tvec = estimate.T_cam_obj.as_rvec_tvec()
        inliers = estimate.inliers
        kept.append(
            (
                view.points_obj[inliers].astype(np.float64),
                view.pixels[inliers].astype(np.float64),
                rvec.reshape(3, 1),
                tvec.reshape(3, 1),
            )
        )
    return kept


def estimate_focal(
    matches: list[TargetMatches], size: tuple[int, int], options: FocalOptions = FocalOptions()
) -> FocalEstimate:
    """The focal length (and optionally k1) that best explains ``matches`` seen in frames of
    ``size`` ``(width, height)`` pixels. Raises ``CalibrationError`` with advice when the
    matches cannot tell it."""
    views = [m for m in matches if len(m.pixels) >= options.min_matches]
    if len(views) < options.min_views:
        raise CalibrationError(
            f"the target was found in {len(views)} frames (need {options.min_views}): film it from "
            "several angles, filling a good part of the frame"
        )
    width, _ = size
    best = sorted(views, key=lambda m: -len(m.pixels))[: options.sweep_views]
    candidates = [(width / 2) / math.tan(math.radians(fov) / 2) for fov in np.geomspace(20, 120, 40)]
    costs = [_truncated_cost(_camera(f, size), best, options.threshold_px) for f in candidates]
    sweep_focal = candidates[int(np.argmin(costs))]
    log.info("focal sweep: %.1f px", sweep_focal)

    focal, k1 = sweep_focal, 0.0
    for _ in range(3):  # choose the inliers again under the refined camera until it settles
        inlier_views = _inlier_views(
            views, _camera(focal, size, k1), options.threshold_px, options.min_matches
        )
        if len(inlier_views) < options.min_views:
            raise CalibrationError(
                f"only {len(inlier_views)} frames fit a rigid pose (need {options.min_views}): is the "
                "target the one in the video, and is it sharp?"
            )
        profile = _Profile(inlier_views, size)
        previous = focal
        focal, k1 = _refine(profile, focal, k1, options.estimate_k1)
        if abs(focal / previous - 1) < 2e-3:
            break
    # standard deviation from the profile's curvature (Gauss-Newton): var = 2 s² / E''
    errors = profile.residuals(focal, k1)
    energy = float(np.sum(errors**2))
    step = 0.01 * focal
    below, above = (float(np.sum(profile.residuals(focal + d, k1) ** 2)) for d in (-step, step))
    curvature = (below - 2 * energy + above) / step**2
    variance = energy / max(len(errors) - 6 * len(inlier_views) - 2, 1)
    std_focal = math.sqrt(2 * variance / curvature) if curvature > 0 else math.inf
    if not std_focal <= options.max_relative_std * focal:
        raise CalibrationError(
            f"the views cannot tell the focal length ({focal:.0f} +- {std_focal:.0f} px): film the target "
            "tilted by 30-60 degrees and close enough to fill much of the frame"
        )
    return FocalEstimate(
        camera=_camera(focal, size, k1),
        focal_px=focal,
        std_focal_px=std_focal,
        rms_px=float(np.sqrt(np.mean(errors**2))),
        views=len(inlier_views),
        inliers=len(errors),
        sweep_focal_px=sweep_focal,
    )

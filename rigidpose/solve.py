"""2D-3D matches to a pose: robust PnP, the planar two-fold ambiguity, and refinement.

``solve_pose(points_obj, pixels, camera)`` returns a ``PoseEstimate`` or None (too few matches or
too few inliers: an expected failure is a value, not an exception). Steps:

1. RANSAC over minimal sets (OpenCV's USAC with MAGSAC++ scoring by default), lens distortion
   honoured throughout.
2. For a planar point set, both IPPE solutions are computed on the inliers. A view of a plane
   often fits two mirror-like poses almost equally well (the "flip"); the one with the smaller
   reprojection error wins only when clearly better, otherwise the one closer to ``T_prior``
   (the previous frame's pose) wins, and confidence drops when neither tells them apart.
3. Levenberg-Marquardt refinement on the inliers.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ._validate import as_array, check_choice, check_int, check_number
from .camera import Camera
from .errors import InvalidInputError
from .geometry import Pose, pose_distance

__all__ = [
    "PoseEstimate",
    "SolveOptions",
    "refine_weighted",
    "reprojection_rms_px",
    "solve_pose",
    "solve_weighted_pose",
]

_METHODS = {
    "prosac": cv2.USAC_PROSAC,
    "magsac": cv2.USAC_MAGSAC,
    "ransac": cv2.SOLVEPNP_ITERATIVE,
    "sqpnp": cv2.SOLVEPNP_SQPNP,
}


@dataclass(frozen=True)
class SolveOptions:
    """How ``solve_pose`` works.

    Attributes:
        method: ``prosac`` (OpenCV USAC, PROSAC: samples the first matches first, so they must
            be ordered best first, as ``FeatureDetector`` orders them; with a few per cent of
            inliers, e.g. a far-away sheet in a busy frame, it finds them where uniform sampling
            does not), ``magsac`` (OpenCV USAC, MAGSAC++, any order), ``ransac`` (classic,
            iterative PnP) or ``sqpnp`` (classic RANSAC with SQPnP).
        threshold_px: inlier threshold on the reprojection error, pixels.
        confidence: RANSAC's confidence that an all-inlier sample was drawn.
        max_iterations: RANSAC's iteration bound.
        min_inliers: fewer inliers than this gives None.
        ambiguity_ratio: for planar sets, the second IPPE solution is rejected on reprojection
            alone when its error is this many times the first's.
        refine: Levenberg-Marquardt on the inliers.
    """

    method: str = "prosac"
    threshold_px: float = 3.0
    confidence: float = 0.999
    max_iterations: int = 1000
    min_inliers: int = 10
    ambiguity_ratio: float = 1.5
    refine: bool = True

    def __post_init__(self) -> None:
        check_choice(self.method, "method", tuple(_METHODS))
        check_number(self.threshold_px, "threshold_px", gt=0)
        check_number(self.confidence, "confidence", gt=0, lt=1)
        check_int(self.min_inliers, "min_inliers", ge=4)


@dataclass(frozen=True)
class PoseEstimate:
    """A solved pose.

    Attributes:
        T_cam_obj: object frame -> camera frame, metres.
        inliers: (K,) int64 indices into the matches that support the pose.
        reproj_error_px: RMS reprojection error of the inliers, pixels.
        confidence: in [0, 1], from the inlier count and share and, for planar sets, how clearly
            the flip was ruled out.
        ambiguous: a planar set whose two solutions fit about equally well.
        alternative: when ambiguous, the other solution (IPPE's, not refined): a caller that can
            tell them apart (e.g. by the target's appearance) may prefer it.
    """

    T_cam_obj: Pose
    inliers: np.ndarray
    reproj_error_px: float
    confidence: float
    ambiguous: bool = False
    alternative: Pose | None = None


def _plane_frame(points_obj: np.ndarray) -> Pose | None:
    """``T_obj_plane`` putting coplanar points on z = 0 of a plane frame, or None when the points
    are not coplanar (thinnest extent below 1e-3 of the largest)."""
    centre = points_obj.mean(axis=0)
    _, singular, vt = np.linalg.svd(points_obj - centre, full_matrices=False)
    if singular[0] <= 0 or singular[2] > 1e-3 * singular[0]:
        return None
    rotation = vt.T.copy()
    if np.linalg.det(rotation) < 0:
        rotation[:, 2] *= -1
    return Pose(rotation, centre)


def reprojection_rms_px(camera: Camera, T_cam_obj: Pose, points_obj: np.ndarray, pixels: np.ndarray) -> float:
    """RMS distance between ``pixels`` (N, 2) and the projections of ``points_obj`` (N, 3, metres,
    object frame) under ``T_cam_obj``, pixels."""
    residuals = camera.project(T_cam_obj.apply(points_obj)) - pixels
    return float(np.sqrt(np.mean(np.sum(residuals**2, axis=1))))


def solve_pose(
    points_obj: np.ndarray,
    pixels: np.ndarray,
    camera: Camera,
    options: SolveOptions = SolveOptions(),
    T_prior: Pose | None = None,
) -> PoseEstimate | None:
    """Robust pose from 2D-3D matches.

    Args:
        points_obj: (N, 3) metres, object frame.
        pixels: (N, 2) pixels where each point is seen (distorted image coordinates).
        camera: intrinsics and distortion of the image.
        options: see ``SolveOptions``.
        T_prior: the pose expected (e.g. the last frame's ``T_cam_obj``); breaks planar ties.
    Returns:
        A ``PoseEstimate``, or None when there are too few matches or inliers or the solution
        lies behind the camera.
    """
    points_obj = as_array(points_obj, "points_obj", ("N", 3))
    pixels = as_array(pixels, "pixels", ("N", 2))
    if len(points_obj) != len(pixels):
        raise InvalidInputError(f"pixels: expected one per point ({len(points_obj)}), got {len(pixels)}")
    if len(points_obj) < options.min_inliers:
        return None

    flags = _METHODS[options.method]
    ok, rvec, tvec, inliers = cv2.solvePnPRansac(
        points_obj,
        pixels,
        camera.K,
        camera.dist_coeffs,
        iterationsCount=options.max_iterations,
        reprojectionError=options.threshold_px,
        confidence=options.confidence,
        flags=flags,
    )
    if not ok or inliers is None or len(inliers) < options.min_inliers:
        return None
    if not (np.all(np.isfinite(rvec)) and np.all(np.isfinite(tvec))):
        return None
    inliers = np.sort(inliers.ravel().astype(np.int64))
    T_cam_obj = Pose.from_rvec_tvec(rvec, tvec)
    inlier_obj, inlier_px = points_obj[inliers], pixels[inliers]

    ambiguous, flip_margin, alternative = False, 1.0, None
    T_obj_plane = _plane_frame(inlier_obj)
    if T_obj_plane is not None:
        points_plane = T_obj_plane.inv().apply(inlier_obj)
        points_plane[:, 2] = 0.0
        count, rvecs, tvecs, errors = cv2.solvePnPGeneric(
            points_plane, inlier_px, camera.K, camera.dist_coeffs, flags=cv2.SOLVEPNP_IPPE
        )
        candidates = [
            Pose.from_rvec_tvec(rvecs[k], tvecs[k]) @ T_obj_plane.inv()
            for k in range(count)
            if np.all(np.isfinite(rvecs[k])) and np.all(np.isfinite(tvecs[k]))
        ]
        if not candidates:  # IPPE fails on degenerate inliers: keep RANSAC's pose
            candidates = [T_cam_obj]
        errors = [reprojection_rms_px(camera, T, inlier_obj, inlier_px) for T in candidates]
        order = np.argsort(errors)
        best = candidates[order[0]]
        if len(candidates) == 2:
            first, second = errors[order[0]], errors[order[1]]
            flip_margin = min(1.0, (second / max(first, 1e-9) - 1.0) / (options.ambiguity_ratio - 1.0))
            if second < options.ambiguity_ratio * max(first, 0.05):
                ambiguous = True
                if T_prior is not None:
                    best = min(candidates, key=lambda T: pose_distance(T, T_prior).rotation_rad)
                alternative = candidates[1] if best is candidates[0] else candidates[0]
        T_cam_obj = best

    if options.refine:
        rvec, tvec = T_cam_obj.as_rvec_tvec()
        rvec, tvec = cv2.solvePnPRefineLM(
            inlier_obj,
            inlier_px,
            camera.K,
            camera.dist_coeffs,
            rvec.reshape(3, 1).copy(),
            tvec.reshape(3, 1).copy(),  # (3,) vectors are silently not refined
        )
        if not (np.all(np.isfinite(rvec)) and np.all(np.isfinite(tvec))):
            return None
        T_cam_obj = Pose.from_rvec_tvec(rvec, tvec)
    if np.any(T_cam_obj.apply(inlier_obj)[:, 2] <= 0):
        return None

    error = reprojection_rms_px(camera, T_cam_obj, inlier_obj, inlier_px)
    support = min(1.0, len(inliers) / (3.0 * options.min_inliers)) * min(
        1.0, 2.0 * len(inliers) / len(points_obj)
    )
    fit = float(np.exp(-((error / options.threshold_px) ** 2)))
    confidence = support * fit * (0.5 + 0.5 * max(flip_margin, 0.0) if ambiguous and T_prior is None else 1.0)
    return PoseEstimate(
        T_cam_obj, inliers, error, float(np.clip(confidence, 0.0, 1.0)), ambiguous, alternative
    )


def refine_weighted(
    points_obj: np.ndarray,
    pixels: np.ndarray,
    weights: np.ndarray,
    camera: Camera,
    T_start: Pose,
    iterations: int = 10,
) -> Pose | None:
    """Levenberg-Marquardt on ``sum_i weights_i * |project(points_obj_i) - pixels_i|^2`` from
    ``T_start`` (lens distortion honoured): each point counts as much as its weight says, e.g. a
    network's confidence in it. None when the solution leaves the camera's front."""
    rvec, tvec = (v.reshape(3, 1).astype(np.float64) for v in T_start.as_rvec_tvec())
    sqrt_w = np.sqrt(np.repeat(np.asarray(weights, dtype=np.float64), 2))
    damping = 1e-3

    def cost(r: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        projected, jacobian = cv2.projectPoints(points_obj, r, t, camera.K, camera.dist_coeffs)
        residual = (projected.reshape(-1, 2) - pixels).ravel() * sqrt_w
        return float(residual @ residual), residual, jacobian[:, :6] * sqrt_w[:, None]

    current, residual, jacobian = cost(rvec, tvec)
    for _ in range(iterations):
        normal = jacobian.T @ jacobian
        gradient = jacobian.T @ residual
        step = np.linalg.solve(normal + damping * np.diag(np.diag(normal) + 1e-9), -gradient)
        r_new, t_new = rvec + step[:3, None], tvec + step[3:, None]
        trial, trial_residual, trial_jacobian = cost(r_new, t_new)
        if trial < current:
            rvec, tvec, current, residual, jacobian = r_new, t_new, trial, trial_residual, trial_jacobian
            damping = max(damping / 10, 1e-7)
            if np.abs(step).max() < 1e-9:
                break
        else:
            damping *= 10
    T = Pose.from_rvec_tvec(rvec.ravel(), tvec.ravel())
    if not np.all(np.isfinite(T.translation)) or np.any(T.apply(points_obj)[:, 2] <= 0):
        return None
    return T


def solve_weighted_pose(
    points_obj: np.ndarray,
    pixels: np.ndarray,
    weights: np.ndarray,
    camera: Camera,
    threshold_px: float,
    min_inliers: int = 6,
) -> PoseEstimate | None:
    """Robust pose from a few matches of known reliability (a keypoint network's).

    RANSAC with EPnP over the matches, then ``refine_weighted`` on the inliers. The confidence
    is the inliers' mean weight times their count over ``1.5 * min_inliers`` (capped at 1).

    Args:
        points_obj: (N, 3) metres, object frame.
        pixels: (N, 2) distorted pixels.
        weights: (N,) in (0, 1], each match's reliability.
        camera: intrinsics and distortion.
        threshold_px: RANSAC's inlier threshold, pixels (scale it with the object's size in the image).
        min_inliers: fewer inliers than this (at least 4) gives None.
    """
    points_obj = as_array(points_obj, "points_obj", ("N", 3))
    pixels = as_array(pixels, "pixels", ("N", 2))
    weights = as_array(weights, "weights", ("N",))
    if not len(points_obj) == len(pixels) == len(weights):
        raise InvalidInputError(
            f"expected as many points_obj, pixels and weights, got {len(points_obj)}, {len(pixels)}, {len(weights)}"
        )
    if min_inliers < 4 or threshold_px <= 0:
        raise InvalidInputError(
            f"expected min_inliers >= 4 and threshold_px > 0, got {min_inliers}, {threshold_px}"
        )
    if len(points_obj) < min_inliers:
        return None
    try:
        ok, rvec, tvec, inliers = cv2.solvePnPRansac(
            points_obj,
            pixels,
            camera.K,
            camera.dist_coeffs,
            iterationsCount=200,
            reprojectionError=float(threshold_px),
            confidence=0.999,
            flags=cv2.SOLVEPNP_EPNP,
        )
    except cv2.error:  # a degenerate set (points on a line, all at one pixel)
        return None
    if not ok or inliers is None or len(inliers) < min_inliers:
        return None
    inliers = np.sort(inliers.ravel().astype(np.int64))
    T = refine_weighted(
        points_obj[inliers],
        pixels[inliers],
        weights[inliers],
        camera,
        Pose.from_rvec_tvec(rvec.ravel(), tvec.ravel()),
    )
    if T is None:
        return None
    error = reprojection_rms_px(camera, T, points_obj[inliers], pixels[inliers])
    if error > threshold_px:
        return None
    confidence = float(np.mean(weights[inliers])) * min(1.0, len(inliers) / (1.5 * min_inliers))
    return PoseEstimate(T, inliers, error, float(np.clip(confidence, 0.0, 1.0)))

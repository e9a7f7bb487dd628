"""Point flow and the pose fit: points moved by pyramidal Lucas-Kanade from the last frame,
the pose refined to them (points that no longer fit dropped), and how uncertain that pose is."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..camera import Camera
from ..geometry import Pose

if TYPE_CHECKING:
    from .options import TrackerOptions
    from .state import TrackState
    from .view import GrayFrame

__all__ = ["FLOW_CRITERIA", "corner_uncertainty_px", "fit", "follow", "median", "project"]

FLOW_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 20, 0.03)
"""Lucas-Kanade stops after 20 iterations or a step under 0.03 px."""


def median(values: np.ndarray) -> float:
    """``np.median`` of a small 1-D array, without its overhead (8x faster for 100 values)."""
    ordered = np.sort(values)
    half = len(ordered) // 2
    return (
        float(ordered[half]) if len(ordered) % 2 else 0.5 * (float(ordered[half - 1]) + float(ordered[half]))
    )


def project(camera: Camera, T_cam_obj: Pose, points_obj: np.ndarray) -> np.ndarray:
    """``camera.project(T_cam_obj.apply(points_obj))`` without the input checks, for the
    per-frame path (3x faster for a few points): (N, 3) finite float64 metres -> (N, 2) pixels,
    NaN rows behind the camera."""
    return camera.project_unchecked(points_obj @ T_cam_obj.rotation.T + T_cam_obj.translation)


def follow(options: TrackerOptions, camera: Camera, track: TrackState, gray: GrayFrame) -> Pose | None:
    """Move the tracked points by optical flow from ``track.follow_from`` (the same region
    of this frame) and fit the pose to them; on success they replace ``track``'s points."""
    T_pred = track.predict()
    if T_pred is None or len(track.points_obj) < options.min_points or track.follow_from is None:
        return None
    previous, x0, y0 = track.follow_from
    height, width = previous.shape
    current = gray.region(x0, y0, x0 + width, y0 + height)
    origin = np.array([x0, y0], np.float32)
    guess = project(camera, T_pred, track.points_obj)
    usable = np.all(np.isfinite(guess), axis=1)
    guess = np.where(usable[:, None], guess, track.pixels).astype(np.float32) - origin
    moved, status, _ = cv2.calcOpticalFlowPyrLK(
        previous,
        current,
        (track.pixels - origin).reshape(-1, 1, 2),
        guess.reshape(-1, 1, 2),
        winSize=(options.flow_window_px, options.flow_window_px),
        maxLevel=options.flow_levels,
        criteria=FLOW_CRITERIA,
        flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
    )
    moved = moved.reshape(-1, 2) + origin
    w, h = camera.size
    ok = (
        (status.ravel() == 1)
        & (moved[:, 0] >= 0)
        & (moved[:, 1] >= 0)
        & (moved[:, 0] <= w - 1)
        & (moved[:, 1] <= h - 1)
    )
    fitted = fit(
        options, camera, track.points_obj[ok], moved[ok], T_pred, min_share=0.5, sheet=track.sheet is not None
    )
    if fitted is None:
        return None
    T, keep, residual = fitted
    track.points_obj, track.pixels = track.points_obj[ok][keep], moved[ok][keep]
    track.residual_px = residual
    track.confidence = float(min(1.0, len(track.points_obj) / (4.0 * options.min_points)))
    return T


def fit(
    options: TrackerOptions,
    camera: Camera,
    points_obj: np.ndarray,
    pixels: np.ndarray,
    T_start: Pose,
    min_share: float,
    sheet: bool = False,
) -> tuple[Pose, np.ndarray, float] | None:
    """Pose from 2D-3D pairs starting at ``T_start``: gate by the residual at the start,
    Levenberg-Marquardt, drop points beyond ``max_residual_px`` (a mesh's points: a fixed
    bound), and refine again on the points kept.

    Points on a ``sheet`` lie exactly on it, so their residuals are the flow's alone: they
    are dropped beyond three median residuals too, down to ``min_residual_px``. And their
    second refinement is skipped when it would run on the same points: one run converges
    (on the suite's sheets and the drill's sequences alike, its squared residuals are within
    1e-6 px^2 of six runs'). Mesh targets keep both runs: on the learned bench skipping it
    flips occlusion decisions both ways, up to 30 points of a sequence's hidden frames, for
    no time that matters next to the network's.

    Returns (pose, kept mask, RMS residual px) or None when fewer than ``min_points`` or
    less than ``min_share`` of the pairs fit.
    """
    count = len(points_obj)
    if count < options.min_points:
        return None
    pixels = pixels.astype(np.float64)
    minimum = max(options.min_points, min_share * count)
    floor_px = options.min_residual_px if sheet else options.max_residual_px

    def residuals(rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
        projected, _ = cv2.projectPoints(points_obj, rvec, tvec, camera.K, camera.dist_coeffs)
        offsets = projected.reshape(-1, 2) - pixels
        return np.sqrt(np.einsum("ij,ij->i", offsets, offsets))

    def refine(rvec: np.ndarray, tvec: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # rvec, tvec must be (3, 1): (3,) vectors are silently returned unrefined
        return cv2.solvePnPRefineLM(points_obj[keep], pixels[keep], camera.K, camera.dist_coeffs, rvec, tvec)

    rvec, tvec = (v.reshape(3, 1).copy() for v in T_start.as_rvec_tvec())
    start = residuals(rvec, tvec)
    keep = start < max(3.0 * median(start), 2.0 * options.max_residual_px)
    if keep.sum() < options.min_points:
        return None
    for _ in range(2):
        rvec, tvec = refine(rvec, tvec, keep)
        errors = residuals(rvec, tvec)
        # three times the median residual (a robust spread: 3.5 sigma of Gaussian noise)
        bound = min(options.max_residual_px, max(floor_px, 3.0 * median(errors)))
        kept = errors < bound
        if kept.sum() < minimum:
            return None
        settled = sheet and bool(np.array_equal(kept, keep))
        keep = kept
        if settled:
            break
    if not (np.all(np.isfinite(rvec)) and np.all(np.isfinite(tvec))):
        return None
    rotation, translation = cv2.Rodrigues(rvec)[0], tvec.ravel().copy()
    if np.any(points_obj[keep] @ rotation[2] + translation[2] <= 0):  # behind the camera
        return None
    kept_errors = errors[keep]
    rms_px = math.sqrt(float(kept_errors @ kept_errors) / len(kept_errors))
    return Pose.unchecked(rotation, translation), keep, rms_px


def corner_uncertainty_px(camera: Camera, track: TrackState, T: Pose, corners_obj: np.ndarray) -> float:
    """How far ``corners_obj`` (K, 3) may be from where pose ``T`` (fitted to the followed
    points) projects them: the RMS over the corners of their 1-sigma reprojection error,
    pixels, from the points' residuals (at least 0.1 px each way: a perfect fit of a few
    points is not a certain one) through the fit's Jacobian. Large when few points remain
    or they all sit in a sliver of the target (a sheet leaving the view); inf when the
    points do not pin the pose down at all."""
    points_obj, pixels = track.points_obj, track.pixels
    count = len(points_obj)
    if count < 4:
        return math.inf
    origin = np.zeros(3)
    # rotations about the object's origin (camera axes) and translations: 6 parameters
    projected, jacobian = cv2.projectPoints(
        points_obj @ T.rotation.T, origin, T.translation, camera.K, camera.dist_coeffs
    )
    residuals = projected.reshape(-1, 2) - pixels
    variance_px2 = max(float(np.sum(residuals**2)) / max(2 * count - 6, 1), 0.1**2)
    information = jacobian[:, :6].T @ jacobian[:, :6]
    _, eigenvalues, eigenvectors = cv2.eigen(information)  # descending; vectors are rows
    if not eigenvalues[-1, 0] > 1e-12 * eigenvalues[0, 0]:
        return math.inf
    covariance = (eigenvectors.T / eigenvalues.T) @ eigenvectors * variance_px2
    _, corner_jacobian = cv2.projectPoints(
        corners_obj @ T.rotation.T, origin, T.translation, camera.K, camera.dist_coeffs
    )
    corner_jacobian = corner_jacobian[:, :6]
    return math.sqrt(float(np.trace(corner_jacobian @ covariance @ corner_jacobian.T)) / len(corners_obj))

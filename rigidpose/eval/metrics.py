"""Pose-error metrics, pure functions with BOP's argument pattern: estimate first, then ground
truth, then the object's points, then what else a metric needs.

Per-frame errors follow the BOP toolkit's definitions (``pose_error.py``) but stay in our units
(metres, radians, pixels). ``T_est`` and ``T_gt`` are both ``T_cam_obj``; ``points_obj`` is
(N, 3) metres in the object frame (mesh vertices or samples of its surface).

Per-sequence measures take per-frame arrays (one entry per frame) and return plain floats.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..camera import Camera
from ..geometry import Pose, pose_distance

__all__ = [
    "GROSS_ROTATION_RAD",
    "add",
    "adds",
    "corner_error_px",
    "false_poses",
    "gross_errors",
    "jitter",
    "latency_ms",
    "mean_projection_error_px",
    "motion_errors",
    "mspd",
    "mssd",
    "precision_at",
    "rms",
    "rotation_error_rad",
    "tracked_share",
    "translation_error_m",
]

GROSS_ROTATION_RAD = np.radians(30.0)
"""A rotation error above this is a gross error (e.g. a planar target's flipped solution)."""


# -- per frame ---------------------------------------------------------------------------------
def rotation_error_rad(T_est: Pose, T_gt: Pose) -> float:
    """Angle of the rotation between the two, radians in [0, pi]."""
    return pose_distance(T_est, T_gt).rotation_rad


def translation_error_m(T_est: Pose, T_gt: Pose) -> float:
    """Distance between the two translations, metres."""
    return pose_distance(T_est, T_gt).translation_m


def add(T_est: Pose, T_gt: Pose, points_obj: np.ndarray) -> float:
    """ADD: mean distance between corresponding model points under the two poses, metres."""
    return float(np.linalg.norm(T_est.apply(points_obj) - T_gt.apply(points_obj), axis=1).mean())


def adds(T_est: Pose, T_gt: Pose, points_obj: np.ndarray) -> float:
    """ADD-S (ADI): mean distance from each ground-truth model point to the nearest estimated
    model point, metres. For objects with symmetries."""
    from scipy.spatial import cKDTree

    distances, _ = cKDTree(T_est.apply(points_obj)).query(T_gt.apply(points_obj), k=1)
    return float(np.mean(distances))


def _with_identity(symmetries: Sequence[Pose]) -> list[Pose]:
    return [Pose.identity(), *symmetries]


def mssd(T_est: Pose, T_gt: Pose, points_obj: np.ndarray, symmetries: Sequence[Pose] = ()) -> float:
    """MSSD: over the symmetries ``S`` (identity implied), the smallest maximum distance between
    ``T_est p`` and ``T_gt S p``, metres."""
    estimated = T_est.apply(points_obj)
    return min(
        float(np.linalg.norm(estimated - (T_gt @ S).apply(points_obj), axis=1).max())
        for S in _with_identity(symmetries)
    )


def mspd(
    T_est: Pose, T_gt: Pose, points_obj: np.ndarray, camera: Camera, symmetries: Sequence[Pose] = ()
) -> float:
    """MSPD: like MSSD with the points projected into the image, pixels."""
    estimated = camera.project(T_est.apply(points_obj))
    return min(
        float(np.linalg.norm(estimated - camera.project((T_gt @ S).apply(points_obj)), axis=1).max())
        for S in _with_identity(symmetries)
    )


def mean_projection_error_px(T_est: Pose, T_gt: Pose, points_obj: np.ndarray, camera: Camera) -> float:
    """Mean 2D distance between the projections of model points under the two poses, pixels."""
    return float(
        np.linalg.norm(
            camera.project(T_est.apply(points_obj)) - camera.project(T_gt.apply(points_obj)), axis=1
        ).mean()
    )


def corner_error_px(T_est: Pose, T_gt: Pose, corners_obj: np.ndarray, camera: Camera) -> float:
    """Corner alignment error of a planar target: RMS over its four corners of the 2D distance
    between their projections under the two poses, pixels (as in planar tracking benchmarks)."""
    difference = camera.project(T_est.apply(corners_obj)) - camera.project(T_gt.apply(corners_obj))
    return float(np.sqrt(np.mean(np.sum(difference**2, axis=1))))


# -- per sequence ------------------------------------------------------------------------------
def precision_at(errors: Sequence[float] | np.ndarray, threshold: float) -> float:
    """Share of frames whose error is at most ``threshold``; a frame with no estimate has error
    NaN or inf and counts as a miss. 0.0 for no frames."""
    errors = np.asarray(errors, dtype=np.float64)
    if errors.size == 0:
        return 0.0
    return float(np.mean(np.nan_to_num(errors, nan=np.inf) <= threshold))


def tracked_share(has_pose: Sequence[bool] | np.ndarray, visible: Sequence[bool] | np.ndarray) -> float:
    """Share of frames where the object is visible that have a pose. 0.0 if it is never visible."""
    has_pose, visible = np.asarray(has_pose, bool), np.asarray(visible, bool)
    return float(has_pose[visible].mean()) if visible.any() else 0.0


def gross_errors(
    rotation_errors_rad: Sequence[float] | np.ndarray, threshold_rad: float = GROSS_ROTATION_RAD
) -> int:
    """Number of frames whose rotation error exceeds ``threshold_rad`` (NaN = no estimate, not counted)."""
    errors = np.asarray(rotation_errors_rad, dtype=np.float64)
    return int(np.sum(errors[np.isfinite(errors)] > threshold_rad))


def false_poses(has_pose: Sequence[bool] | np.ndarray, visible: Sequence[bool] | np.ndarray) -> int:
    """Number of frames with a pose while the object is not visible."""
    return int(np.sum(np.asarray(has_pose, bool) & ~np.asarray(visible, bool)))


def motion_errors(T_est: Sequence[Pose | None], T_gt: Sequence[Pose]) -> tuple[np.ndarray, np.ndarray]:
    """How much the estimate's frame-to-frame motion differs from the truth's, per frame.

    Entry ``i`` compares the motion from frame ``i - 1`` to ``i``: translation
    ``|(t_est[i] - t_est[i-1]) - (t_gt[i] - t_gt[i-1])|``, metres, and the angle between
    ``R_est[i] R_est[i-1]^T`` and ``R_gt[i] R_gt[i-1]^T``, radians. Two (N,) arrays, N the
    shorter length; NaN at frame 0 and wherever either frame of the pair has no estimate.
    """
    count = min(len(T_est), len(T_gt))
    translation, rotation = np.full(count, np.nan), np.full(count, np.nan)
    for i in range(1, count):
        a, b = T_est[i - 1], T_est[i]
        if a is None or b is None:
            continue
        motion_est = Pose(b.rotation @ a.rotation.T, b.translation - a.translation)
        motion_gt = Pose(
            T_gt[i].rotation @ T_gt[i - 1].rotation.T, T_gt[i].translation - T_gt[i - 1].translation
        )
        distance = pose_distance(motion_est, motion_gt)
        translation[i], rotation[i] = distance.translation_m, distance.rotation_rad
    return translation, rotation


def rms(values: Sequence[float] | np.ndarray) -> float:
    """Root mean square of the finite values; NaN when there are none."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(np.sqrt(np.mean(np.square(values)))) if values.size else float("nan")


def jitter(T_est: Sequence[Pose | None], T_gt: Sequence[Pose]) -> tuple[float, float]:
    """Frame-to-frame jitter: the RMS of ``motion_errors`` over consecutive frame pairs that both
    have an estimate, (metres, radians). NaN, NaN without pairs."""
    translation, rotation = motion_errors(T_est, T_gt)
    return rms(translation), rms(rotation)


def latency_ms(samples_ms: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """Median and 95th percentile of per-frame processing times, milliseconds."""
    samples = np.asarray(samples_ms, dtype=np.float64)
    if samples.size == 0:
        return float("nan"), float("nan")
    return float(np.median(samples)), float(np.percentile(samples, 95))

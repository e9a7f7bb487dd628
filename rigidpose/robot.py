"""Robot frames: the camera's pose in the robot's base frame, and hand-eye calibration to find it.

A fixed camera's ``T_base_cam`` (camera frame -> robot base frame, metres) turns every tracked
``T_cam_obj`` into ``T_base_obj = T_base_cam @ T_cam_obj``, what a robot needs to grasp.

``calibrate_hand_eye`` finds it from N stops of the robot, each with the gripper's pose from the
robot (``T_base_gripper``) and the target's pose from the camera (``T_cam_obj``):

- **eye-to-hand** (camera fixed, target held by the gripper):
  ``T_base_gripper_i @ T_gripper_obj = T_base_cam @ T_cam_obj_i``; unknowns ``T_base_cam`` and
  ``T_gripper_obj``.
- **eye-in-hand** (camera on the gripper, target fixed):
  ``T_base_gripper_i @ T_gripper_cam @ T_cam_obj_i = T_base_obj``; unknowns ``T_gripper_cam`` and
  ``T_base_obj``.

Both reduce to ``A X = X B`` over pairs of stops, solved in closed form (Park and Martin, 1994:
rotation from the rotation axes, then translation by linear least squares), then refined jointly
over every stop by Gauss-Newton. OpenCV's ``calibrateHandEye`` implements the same family, but
opencv-contrib-python 5.0.0.93 ships without its Python binding (opencv/opencv#29565).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ._files import atomic_write_text
from .errors import FileFormatError, InvalidInputError
from .geometry import Pose, pose_distance

__all__ = ["HandEyeResult", "calibrate_hand_eye", "load_transform", "read_robot_poses", "save_transform"]

_UNITS_M = {"m": 1.0, "cm": 0.01, "mm": 0.001}


# -- transform files ------------------------------------------------------------------------------
def _pose_from(value: Any, path: Path, what: str, scale_m: float = 1.0) -> Pose:
    matrix = np.asarray(value, dtype=np.float64) if isinstance(value, list) else None
    if matrix is None or matrix.shape != (4, 4) or not np.allclose(matrix[3], [0, 0, 0, 1], atol=1e-6):
        raise FileFormatError(f"{path}: {what}: expected a 4x4 matrix with last row 0 0 0 1")
    rotation = matrix[:3, :3]
    if np.abs(rotation.T @ rotation - np.eye(3)).max() > 1e-3 or np.linalg.det(rotation) < 0:
        raise FileFormatError(f"{path}: {what}: the upper-left 3x3 is not a rotation")
    matrix = matrix.copy()
    matrix[:3, 3] *= scale_m
    return Pose.from_matrix(matrix, orthonormalize=True)  # printed decimals drift a little


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read ({exc.strerror})") from None


def _json_with_units(path: Path, text: str) -> tuple[Any, float]:
    """The file's JSON and its ``units`` (default m) as metres per unit."""
    try:
        data = json.loads(text)
    except ValueError:
        raise FileFormatError(f"{path}: not valid JSON") from None
    units = data.get("units", "m") if isinstance(data, dict) else "m"
    if units not in _UNITS_M:
        raise FileFormatError(f"{path}: units: expected one of {', '.join(_UNITS_M)}, got {units!r}")
    return data, _UNITS_M[units]


def load_transform(path: str | os.PathLike[str], name: str = "T_base_cam") -> Pose:
    """A rigid transform from a file: JSON ``{"T_base_cam": 4x4, "units": "m"}`` (what
    ``save_transform`` and ``rigidpose handeye`` write; ``units`` m, cm or mm, default m) or a
    text file of 4 rows of 4 numbers in metres. ``name`` is the JSON key."""
    path = Path(path)
    text = _read_text(path)
    if path.suffix.lower() == ".json":
        data, scale_m = _json_with_units(path, text)
        if not isinstance(data, dict) or name not in data:
            raise FileFormatError(f"{path}: expected a JSON object with {name!r} (a 4x4 matrix)")
        return _pose_from(data[name], path, name, scale_m)
    try:
        rows = [
            [float(x) for x in line.replace(",", " ").split()] for line in text.splitlines() if line.strip()
        ]
    except ValueError:
        raise FileFormatError(f"{path}: expected 4 rows of 4 numbers (or a .json file)") from None
    return _pose_from(rows, path, name)


def save_transform(
    path: str | os.PathLike[str], T: Pose, name: str = "T_base_cam", metadata: dict[str, Any] | None = None
) -> None:
    """Write ``T`` as JSON ``{name: 4x4, "units": "m", **metadata}``, atomically."""
    content = {name: T.as_matrix().tolist(), "units": "m", **(metadata or {})}
    atomic_write_text(path, json.dumps(content, indent=2) + "\n")


def read_robot_poses(path: str | os.PathLike[str]) -> list[Pose]:
    """The gripper's poses from a robot log: JSON ``{"units": "mm", "T_base_gripper": [4x4, ...]}``,
    one matrix per stop, in the order of the stops."""
    path = Path(path)
    data, scale_m = _json_with_units(path, _read_text(path))
    if not isinstance(data, dict) or not isinstance(data.get("T_base_gripper"), list):
        raise FileFormatError(f'{path}: expected {{"units": "m", "T_base_gripper": [4x4, ...]}}')
    return [
        _pose_from(m, path, f"T_base_gripper[{i}]", scale_m) for i, m in enumerate(data["T_base_gripper"])
    ]


# -- hand-eye calibration -------------------------------------------------------------------------
@dataclass(frozen=True)
class HandEyeResult:
    """A hand-eye calibration.

    Attributes:
        eye_in_hand: which setup was solved.
        T_robot_cam: the camera in the robot frame it is fixed to: the base eye-to-hand
            (``T_base_cam``), the gripper eye-in-hand (``T_gripper_cam``).
        T_other: the second unknown: eye-to-hand ``T_gripper_obj`` (the target on the gripper),
            eye-in-hand ``T_base_obj`` (the fixed target).
        residual_mm: (N,) per stop, how far the measured target position is from the one the
            calibration predicts, mm.
        residual_deg: (N,) the same for the target's rotation, degrees.
    """

    eye_in_hand: bool
    T_robot_cam: Pose
    T_other: Pose
    residual_mm: np.ndarray
    residual_deg: np.ndarray

    @property
    def T_base_cam(self) -> Pose | None:
        """Eye-to-hand: the fixed camera in the robot's base frame; None eye-in-hand."""
        return None if self.eye_in_hand else self.T_robot_cam

    @property
    def T_gripper_cam(self) -> Pose | None:
        """Eye-in-hand: the camera on the gripper; None eye-to-hand."""
        return self.T_robot_cam if self.eye_in_hand else None


def _rotation_log(R: np.ndarray) -> np.ndarray:
    return cv2.Rodrigues(np.ascontiguousarray(R))[0].ravel()


def _solve_ax_xb(A: Sequence[Pose], B: Sequence[Pose]) -> Pose:
    """X with A_k X = X B_k for motions A_k, B_k (Park and Martin)."""
    alphas = np.array([_rotation_log(a.rotation) for a in A])
    betas = np.array([_rotation_log(b.rotation) for b in B])
    # R_X maps the B rotation axes onto the A ones: Kabsch on alpha = R_X beta
    u, _, vt = np.linalg.svd(betas.T @ alphas)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    R = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    # (R_A - I) t_X = R_X t_B - t_A, stacked
    lhs = np.vstack([a.rotation - np.eye(3) for a in A])
    rhs = np.concatenate([R @ b.translation - a.translation for a, b in zip(A, B)])
    t, *_ = np.linalg.lstsq(lhs, rhs, rcond=None)
    return Pose(R, t)


def _camera_residuals(
    X: Pose, W: Pose, M: Sequence[Pose], B: Sequence[Pose], sigmas: tuple[float, float, float]
) -> np.ndarray:
    """(6N,) errors of the predicted ``X^-1 M_i W`` against the measured ``B_i``, camera frame,
    each divided by its noise: rotation, then lateral x, y and depth z."""
    sigma_rot, sigma_lateral, sigma_depth = sigmas
    scale = np.array([sigma_lateral, sigma_lateral, sigma_depth])
    X_inv = X.inv()
    out = []
    for m, b in zip(M, B):
        predicted = X_inv @ m @ W
        out.append(_rotation_log(b.rotation.T @ predicted.rotation) / sigma_rot)
        out.append((predicted.translation - b.translation) / scale)
    return np.concatenate(out)


def _perturb(T: Pose, delta: np.ndarray) -> Pose:
    return Pose.from_rvec_tvec(delta[:3], delta[3:]) @ T


def calibrate_hand_eye(
    T_base_gripper: Sequence[Pose],
    T_cam_obj: Sequence[Pose],
    *,
    eye_in_hand: bool = False,
    camera_sigmas: tuple[float, float, float] = (math.radians(0.1), 0.0005, 0.0015),
    iterations: int = 10,
) -> HandEyeResult:
    """Hand-eye calibration from N >= 3 robot stops (see the module's docstring).

    Args:
        T_base_gripper: (N,) the gripper in the robot's base frame, from the robot, metres.
        T_cam_obj: (N,) the target in the camera frame at the same stops, from the tracker.
        eye_in_hand: the camera rides on the gripper (else it is fixed and the gripper holds the target).
        camera_sigmas: the tracker's typical noise (rotation in radians, lateral and depth
            in metres) to weigh the refinement; only their ratios matter. The robot's own poses
            are taken as exact (they are about ten times more precise).
        iterations: Gauss-Newton steps after the closed form.
    Raises:
        InvalidInputError: different counts, fewer than 3 stops, or motions that rotate about
            fewer than two distinct axes (the problem then has no unique answer).
    """
    A_abs, B_abs = list(T_base_gripper), list(T_cam_obj)
    sigmas = tuple(float(x) for x in camera_sigmas)
    if len(sigmas) != 3 or min(sigmas) <= 0:
        raise InvalidInputError(f"camera_sigmas: expected three values > 0, got {camera_sigmas!r}")
    if len(A_abs) != len(B_abs):
        raise InvalidInputError(
            f"expected as many robot poses as target poses, got {len(A_abs)} and {len(B_abs)}"
        )
    if len(A_abs) < 3:
        raise InvalidInputError(f"hand-eye calibration needs at least 3 stops, got {len(A_abs)}")
    if eye_in_hand:  # A_i X B_i = Z: motions A_j^-1 A_i and B_j B_i^-1
        pairs = [(j.inv() @ i, bj @ bi.inv()) for (i, bi), (j, bj) in _all_pairs(A_abs, B_abs)]
    else:  # A_i Y = X B_i: motions A_j A_i^-1 and B_j B_i^-1
        pairs = [(j @ i.inv(), bj @ bi.inv()) for (i, bi), (j, bj) in _all_pairs(A_abs, B_abs)]
    axes = np.array([_rotation_log(a.rotation) for a, _ in pairs])
    strong = axes[np.linalg.norm(axes, axis=1) > math.radians(2)]
    if (
        len(strong) < 2
        or np.linalg.matrix_rank(strong / np.linalg.norm(strong, axis=1, keepdims=True), tol=0.05) < 2
    ):
        raise InvalidInputError(
            "the robot's stops rotate the gripper about fewer than two distinct axes: "
            "add stops tilted about different axes (at least 10-20 degrees each)"
        )
    X = _solve_ax_xb([a for a, _ in pairs], [b for _, b in pairs])

    # Refine by maximum likelihood: the camera's measurements are far noisier than the robot's, so
    # predict each T_cam_obj_i = X^-1 @ M_i @ W and weigh its errors by the camera's noise, in the
    # camera frame. Eye-to-hand: X = T_base_cam, M_i = T_base_gripper_i, W = T_gripper_obj.
    # Eye-in-hand: X = T_gripper_cam, M_i = T_base_gripper_i^-1, W = T_base_obj.
    M = [a.inv() for a in A_abs] if eye_in_hand else A_abs
    W = _mean_pose([m.inv() @ X @ b for m, b in zip(M, B_abs)])
    X, W = _gauss_newton(X, W, M, B_abs, sigmas, iterations)

    errors = [pose_distance(X.inv() @ m @ W, b) for m, b in zip(M, B_abs)]
    residual_mm = 1000.0 * np.array([e.translation_m for e in errors])
    residual_deg = np.degrees([e.rotation_rad for e in errors])
    return HandEyeResult(eye_in_hand, X, W, residual_mm, residual_deg)


def _all_pairs(A: list[Pose], B: list[Pose]) -> list[tuple[tuple[Pose, Pose], tuple[Pose, Pose]]]:
    n = len(A)
    return [((A[i], B[i]), (A[j], B[j])) for i in range(n) for j in range(i + 1, n)]


def _mean_pose(poses: Sequence[Pose]) -> Pose:
    """Chordal mean of rotations, mean of translations."""
    u, _, vt = np.linalg.svd(sum(p.rotation for p in poses))
    R = u @ np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))]) @ vt
    return Pose(R, np.mean([p.translation for p in poses], axis=0))


def _gauss_newton(
    X: Pose,
    W: Pose,
    M: Sequence[Pose],
    B: Sequence[Pose],
    sigmas: tuple[float, float, float],
    iterations: int,
) -> tuple[Pose, Pose]:
    """Refine X and W jointly (numeric Jacobian, 12 parameters)."""
    step = 1e-7
    for _ in range(iterations):
        r0 = _camera_residuals(X, W, M, B, sigmas)
        J = np.empty((len(r0), 12))
        for k in range(12):
            delta = np.zeros(6)
            delta[k % 6] = step
            Xk, Wk = (_perturb(X, delta), W) if k < 6 else (X, _perturb(W, delta))
            J[:, k] = (_camera_residuals(Xk, Wk, M, B, sigmas) - r0) / step
        update, *_ = np.linalg.lstsq(J, -r0, rcond=None)
        X, W = _perturb(X, update[:6]), _perturb(W, update[6:])
        if np.abs(update).max() < 1e-10:
            break
    return X, W

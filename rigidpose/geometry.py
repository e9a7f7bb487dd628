"""Rigid transforms and the conventions every rigidpose module follows.

Conventions (stated here once; the README repeats them):

- **Camera frame** is OpenCV's: x right, y down, z forward (out of the lens). Every frame is
  right-handed.
- **Units**: metres, radians, pixels. Pixel (0, 0) is the *centre* of the top-left pixel. Other
  units appear only at file boundaries (a mesh in cm is converted on load with ``units=``; BOP
  files are in mm).
- **Names say what a pose maps**: ``T_cam_obj`` maps points from the object frame into the camera
  frame, ``p_cam = T_cam_obj.apply(p_obj)``. Composition chains the inner frames:
  ``T_cam_world = T_cam_obj @ T_obj_world``; ``T_obj_cam = T_cam_obj.inv()``.
- **Planar targets** made from an image: origin at the image's centre, x along its columns, y
  along its rows, z = x × y (into the sheet); the sheet is the plane z = 0.
- **Quaternions** are (x, y, z, w), scalar last, as in ROS and scipy, unless ``scalar_first=True``.
- OpenCV's ``rvec``/``tvec`` (axis-angle in radians, translation in metres) appear only at the
  edge with cv2 calls: ``Pose.from_rvec_tvec`` / ``Pose.as_rvec_tvec``.

Geometry is float64 throughout; arrays held by a ``Pose`` are read-only copies (except from
``Pose.unchecked``, the per-frame paths' constructor, which freezes and keeps the arrays it is
given). ``rotation_log`` is a rotation matrix's axis-angle vector, accurate near 0 and pi radians;
``pose_distance`` and ``poses_agree`` compare two poses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np
import numpy.typing as npt

from ._validate import as_array
from .errors import InvalidInputError

__all__ = ["Pose", "PoseDistance", "pose_distance", "poses_agree", "rotation_log"]

_ROTATION_TOL = 1e-5  # max |R^T R - I| accepted for a rotation matrix


def _check_rotation(rotation: np.ndarray, name: str) -> None:
    error = np.abs(rotation.T @ rotation - np.eye(3)).max()
    if error > _ROTATION_TOL or np.linalg.det(rotation) <= 0:
        raise InvalidInputError(
            f"{name}: expected a rotation matrix (orthonormal, det +1), "
            f"got |R^T R - I| = {error:.2g}, det = {np.linalg.det(rotation):.3g}"
        )


def rotation_log(rotation: np.ndarray) -> np.ndarray:
    """Axis-angle vector (3,) float64, radians (the axis scaled by the angle), of a (3, 3)
    rotation matrix, accurate near 0 and near pi radians
    (``cv2.Rodrigues`` returns 0 below about 1e-5 rad)."""
    r = rotation
    sin_axis = 0.5 * np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])  # sin(a) n
    sin_a = float(np.linalg.norm(sin_axis))
    cos_a = 0.5 * (float(np.trace(r)) - 1.0)
    angle = math.atan2(sin_a, cos_a)
    if sin_a > 1e-6:
        return sin_axis * (angle / sin_a)
    if cos_a > 0:  # angle < 1e-6: sin(a) = a to within a^3 / 6
        return sin_axis
    # angle near pi: n n^T = (R + I) / 2; take the best-conditioned column, sign from sin(a) n
    outer = 0.5 * (r + np.eye(3))
    i = int(np.argmax(np.diag(outer)))
    axis = outer[:, i] / math.sqrt(outer[i, i])
    if axis @ sin_axis < 0:
        axis = -axis
    return axis * angle


def _nearest_rotation(matrix: np.ndarray) -> np.ndarray:
    u, _, vt = np.linalg.svd(matrix)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


@dataclass(frozen=True, eq=False)
class Pose:
    """A rigid transform ``p_to = rotation @ p_from + translation``.

    Name instances for what they map, e.g. ``T_cam_obj`` (object frame -> camera frame).

    Attributes:
        rotation: (3, 3) float64, a proper rotation matrix (read-only).
        translation: (3,) float64, metres (read-only).
    """

    rotation: np.ndarray
    translation: np.ndarray

    __array_ufunc__ = None  # numpy defers: ``pose @ array`` is a TypeError, not a silent object array

    def __post_init__(self) -> None:
        rotation = as_array(self.rotation, "rotation", (3, 3), readonly=True)
        translation = as_array(self.translation, "translation", (3,), readonly=True)
        _check_rotation(rotation, "rotation")
        object.__setattr__(self, "rotation", rotation)
        object.__setattr__(self, "translation", translation)

    @classmethod
    def unchecked(cls, rotation: np.ndarray, translation: np.ndarray) -> Pose:
        """A Pose of fresh float64 arrays, C-contiguous, that are a rotation and a translation by
        construction (products and inverses of poses, Rodrigues): no copies, no checks; the
        arrays are made read-only in place, so the caller must not hold on to them for writing.
        The per-frame path makes a dozen of these; the checks would cost it 0.1 ms."""
        pose = object.__new__(cls)
        rotation.flags.writeable = False
        translation.flags.writeable = False
        object.__setattr__(pose, "rotation", rotation)
        object.__setattr__(pose, "translation", translation)
        return pose

    # -- factories --------------------------------------------------------------------------
    @classmethod
    def identity(cls) -> Pose:
        """The transform that maps every point to itself."""
        return cls(np.eye(3), np.zeros(3))

    @classmethod
    def from_matrix(cls, matrix: np.ndarray, *, orthonormalize: bool = False) -> Pose:
        """From a (4, 4) homogeneous matrix (last row 0 0 0 1) or a (3, 4) [R | t], t in metres.

        With ``orthonormalize`` the 3x3 block is replaced by its nearest rotation (SVD), for
        matrices that went through float32 or a text file; otherwise it must be one already.
        """
        m = np.asarray(matrix, dtype=np.float64)
        if m.shape not in ((4, 4), (3, 4)):
            raise InvalidInputError(f"matrix: expected (4, 4) or (3, 4), got {m.shape}")
        if m.shape == (4, 4) and not np.allclose(m[3], [0.0, 0.0, 0.0, 1.0], atol=1e-9):
            raise InvalidInputError(f"matrix: expected last row [0, 0, 0, 1], got {m[3].tolist()}")
        rotation = as_array(m[:3, :3], "matrix[:3, :3]", (3, 3))
        if orthonormalize:
            rotation = _nearest_rotation(rotation)
        return cls(rotation, m[:3, 3])

    @classmethod
    def from_rvec_tvec(cls, rvec: npt.ArrayLike, tvec: npt.ArrayLike) -> Pose:
        """From OpenCV's axis-angle ``rvec`` (3,) radians and ``tvec`` (3,) metres.

        ``(rvec, tvec)`` as returned by ``cv2.solvePnP`` give ``T_cam_obj``.
        """
        rvec = as_array(np.reshape(np.asarray(rvec, dtype=np.float64), -1), "rvec", (3,))
        tvec = as_array(np.reshape(np.asarray(tvec, dtype=np.float64), -1), "tvec", (3,))
        rotation, _ = cv2.Rodrigues(rvec)
        return cls.unchecked(rotation, tvec.copy())

    @classmethod
    def from_quat(cls, quat: np.ndarray, translation: np.ndarray, *, scalar_first: bool = False) -> Pose:
        """From a quaternion (x, y, z, w) (or (w, x, y, z) with ``scalar_first``) and a
        translation (3,) in metres. The quaternion is normalised; it must not be zero."""
        q = as_array(quat, "quat", (4,))
        norm = np.linalg.norm(q)
        if norm < 1e-12:
            raise InvalidInputError("quat: expected a non-zero quaternion, got norm 0")
        q = q / norm
        w, x, y, z = q if scalar_first else np.roll(q, 1)
        rotation = np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
            ]
        )
        return cls(rotation, translation)

    # -- conversions ------------------------------------------------------------------------
    def as_matrix(self) -> np.ndarray:
        """(4, 4) float64 homogeneous matrix, translation in metres (a new, writable array)."""
        matrix = np.eye(4)
        matrix[:3, :3] = self.rotation
        matrix[:3, 3] = self.translation
        return matrix

    def as_rvec_tvec(self) -> tuple[np.ndarray, np.ndarray]:
        """OpenCV's ``(rvec, tvec)``: (3,) float64 axis-angle in radians, (3,) float64 metres."""
        return rotation_log(self.rotation), self.translation.copy()

    def as_quat(self, *, scalar_first: bool = False) -> np.ndarray:
        """(4,) float64 unit quaternion (x, y, z, w), or (w, x, y, z) with ``scalar_first``.

        Of the two quaternions of a rotation, the one with w >= 0 is returned.
        """
        r = self.rotation
        # Shepperd's method: pivot on the largest of w^2, x^2, y^2, z^2 for stability.
        squares = np.array(
            [
                1 + r[0, 0] + r[1, 1] + r[2, 2],
                1 + r[0, 0] - r[1, 1] - r[2, 2],
                1 - r[0, 0] + r[1, 1] - r[2, 2],
                1 - r[0, 0] - r[1, 1] + r[2, 2],
            ]
        )
        i = int(np.argmax(squares))
        s = 2.0 * np.sqrt(squares[i])  # 4 * |component i|
        if i == 0:
            wxyz = [s / 4, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s]
        elif i == 1:
            wxyz = [(r[2, 1] - r[1, 2]) / s, s / 4, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s]
        elif i == 2:
            wxyz = [(r[0, 2] - r[2, 0]) / s, (r[0, 1] + r[1, 0]) / s, s / 4, (r[1, 2] + r[2, 1]) / s]
        else:
            wxyz = [(r[1, 0] - r[0, 1]) / s, (r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, s / 4]
        q = np.array(wxyz)
        q /= np.linalg.norm(q)
        if q[0] < 0:
            q = -q
        return q if scalar_first else np.roll(q, -1)

    # -- algebra ----------------------------------------------------------------------------
    def inv(self) -> Pose:
        """The inverse transform: ``T_obj_cam = T_cam_obj.inv()``."""
        rotation_t = np.ascontiguousarray(self.rotation.T)
        return Pose.unchecked(rotation_t, -(rotation_t @ self.translation))

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Transform points: (N, 3) or (3,) metres in the source frame -> same shape, target frame."""
        p = np.asarray(points, dtype=np.float64)
        if p.shape == (3,):
            return self.rotation @ p + self.translation
        p = as_array(p, "points", ("N", 3))
        return p @ self.rotation.T + self.translation

    def __matmul__(self, other: Pose) -> Pose:
        """Compose: ``T_a_c = T_a_b @ T_b_c`` (apply ``other`` first, then ``self``)."""
        if not isinstance(other, Pose):
            return NotImplemented
        return Pose.unchecked(
            self.rotation @ other.rotation, self.rotation @ other.translation + self.translation
        )

    def allclose(self, other: Pose, *, atol_rad: float = 1e-9, atol_m: float = 1e-9) -> bool:
        """True when ``other`` is within ``atol_rad`` of rotation and ``atol_m`` of translation."""
        distance = pose_distance(self, other)
        return distance.rotation_rad <= atol_rad and distance.translation_m <= atol_m

    def __repr__(self) -> str:
        rvec, tvec = self.as_rvec_tvec()
        angle = float(np.linalg.norm(rvec))
        axis = rvec / angle if angle > 0 else np.array([0.0, 0.0, 1.0])
        return (
            f"Pose(angle={np.degrees(angle):.3f} deg about {np.round(axis, 4).tolist()}, "
            f"translation_m={np.round(tvec, 6).tolist()})"
        )


class PoseDistance(NamedTuple):
    """How far apart two poses are: rotation angle in radians, translation distance in metres."""

    rotation_rad: float
    translation_m: float


def pose_distance(T_a: Pose, T_b: Pose) -> PoseDistance:
    """Angle of ``R_a^T R_b`` (radians, in [0, pi]) and ``|t_a - t_b|`` (metres).

    Both poses must map between the same two frames (e.g. two estimates of ``T_cam_obj``).
    """
    rvec = rotation_log(T_a.rotation.T @ T_b.rotation)
    return PoseDistance(float(np.linalg.norm(rvec)), float(np.linalg.norm(T_a.translation - T_b.translation)))


def poses_agree(T: Pose, T_reference: Pose, max_rotation_deg: float, max_distance_share: float) -> bool:
    """Whether ``T`` is within ``max_rotation_deg`` of ``T_reference`` and within
    ``max_distance_share`` of its distance from the camera (both ``T_cam_obj``)."""
    change = pose_distance(T, T_reference)
    distance_m = float(np.linalg.norm(T_reference.translation))
    return (
        change.rotation_rad <= math.radians(max_rotation_deg)
        and change.translation_m <= max_distance_share * distance_m
    )

"""Pinhole camera with OpenCV's lens distortion, and its file formats.

A ``Camera`` holds the intrinsic matrix ``K`` (pixels), OpenCV's distortion coefficients and the
image size it was calibrated at. Points are in the camera frame (x right, y down, z forward,
metres); pixel (0, 0) is the centre of the top-left pixel. ``Camera.project`` checks its points;
``Camera.project_unchecked`` is the same without the checks, for per-frame paths.

Files read by ``Camera.load`` (format found from the content) and written by ``Camera.save``:

- ``opencv``: FileStorage YAML or XML as OpenCV's calibration samples write it (``camera_matrix``,
  ``distortion_coefficients``, ``image_width``, ``image_height``).
- ``ros``: ROS ``camera_info`` YAML as ``camera_calibration_parsers`` writes it; the
  ``sensor_msgs/CameraInfo`` message form (``K``/``k``, ``D``/``d``, ``width``, ``height``) is read too.
- ``json``: ``{"image_width", "image_height", "camera_matrix": 3x3 rows, "distortion_coefficients": [...]}``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from ._files import atomic_write_text
from ._validate import as_array, check_choice, check_positive
from .errors import FileFormatError, InvalidInputError, SourceError

__all__ = ["Camera"]

DIST_LENGTHS = (0, 4, 5, 8, 12, 14)
"""Lengths of OpenCV distortion vectors: (k1 k2 p1 p2 [k3 [k4 k5 k6 [s1 s2 s3 s4 [tx ty]]]])."""

FORMATS = ("opencv", "ros", "json")
_ROS_MODELS = ("plumb_bob", "rational_polynomial")
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-10)
_NO_MOTION = np.zeros(3)  # rvec and tvec of points already in the camera frame
_NO_MOTION.flags.writeable = False
MIN_FOV_DEG = 1.0
MAX_FOV_DEG = 179.0
"""Fields of view (degrees, across the full image width or height) a camera may have, checked in
``Camera``'s constructor: 1 deg is a 2000 mm lens on a full-frame sensor, 179 deg a full-frame
fisheye; beyond them the focal length is a typo, in mm, or for another image size."""


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise InvalidInputError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True, eq=False)
class Camera:
    """Intrinsics of one camera at one image size.

    Raises ``InvalidInputError`` when fx or fy gives a field of view (``2 atan(size / (2 f))``
    across the image's width or height) outside [``MIN_FOV_DEG``, ``MAX_FOV_DEG``].

    Attributes:
        K: (3, 3) float64 intrinsic matrix [[fx, s, cx], [0, fy, cy], [0, 0, 1]], pixels.
        width: image width in pixels.
        height: image height in pixels.
        dist_coeffs: (D,) float64 OpenCV distortion (k1, k2, p1, p2[, k3[, ...]]) with D in
            (0, 4, 5, 8, 12, 14); empty for an ideal pinhole.
    """

    K: np.ndarray
    width: int
    height: int
    dist_coeffs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _distorted: bool = field(default=False, init=False, repr=False, compare=False)  # set from dist_coeffs

    def __post_init__(self) -> None:
        K = as_array(self.K, "K", (3, 3), readonly=True)
        if K[0, 0] <= 0 or K[1, 1] <= 0:
            raise InvalidInputError(f"K: expected positive focal lengths, got fx={K[0, 0]:g}, fy={K[1, 1]:g}")
        if K[1, 0] != 0 or K[2, 0] != 0 or K[2, 1] != 0 or K[2, 2] != 1:
            raise InvalidInputError(f"K: expected [[fx, s, cx], [0, fy, cy], [0, 0, 1]], got {K.tolist()}")
        dist = as_array(np.ravel(self.dist_coeffs), "dist_coeffs", ("D",), readonly=True)
        if dist.size not in DIST_LENGTHS:
            raise InvalidInputError(
                f"dist_coeffs: expected {', '.join(map(str, DIST_LENGTHS))} values, got {dist.size}"
            )
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "dist_coeffs", dist)
        object.__setattr__(self, "_distorted", bool(np.any(dist != 0)))  # both are read-only
        object.__setattr__(self, "width", _positive_int(self.width, "width"))
        object.__setattr__(self, "height", _positive_int(self.height, "height"))
        for name, focal, size, across in (
            ("fx", K[0, 0], self.width, "wide"),
            ("fy", K[1, 1], self.height, "high"),
        ):
            fov_deg = math.degrees(2.0 * math.atan2(size, 2.0 * focal))
            if not MIN_FOV_DEG - 1e-9 <= fov_deg <= MAX_FOV_DEG + 1e-9:  # from_fov's ends pass
                raise InvalidInputError(
                    f"{name}: expected a focal length giving a field of view of {MIN_FOV_DEG:g} to "
                    f"{MAX_FOV_DEG:g} deg, got {focal:g} px, which gives {fov_deg:.4g} deg across an "
                    f"image {size} px {across} ({self.width}x{self.height})"
                )

    # -- factories --------------------------------------------------------------------------
    @classmethod
    def from_intrinsics(
        cls,
        fx: float,
        fy: float,
        cx: float,
        cy: float,
        width: int,
        height: int,
        dist_coeffs: npt.ArrayLike = (),
    ) -> Camera:
        """From focal lengths and principal point (pixels) and the image size."""
        K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], dtype=np.float64)
        return cls(K, width, height, np.asarray(dist_coeffs, dtype=np.float64))

    @classmethod
    def from_fov(cls, width: int, height: int, fov_x_rad: float) -> Camera:
        """An ideal camera with square pixels, horizontal field of view ``fov_x_rad`` (radians,
        1 to 179 deg) across the full image width, and the principal point at the image centre."""
        fov = check_positive(fov_x_rad, "fov_x_rad")
        if not math.radians(MIN_FOV_DEG) <= fov <= math.radians(MAX_FOV_DEG):
            raise InvalidInputError(
                f"fov_x_rad: expected {math.radians(MIN_FOV_DEG):.4f} to {math.radians(MAX_FOV_DEG):.4f} "
                f"({MIN_FOV_DEG:g} to {MAX_FOV_DEG:g} deg), got {fov_x_rad!r}"
            )
        width = _positive_int(width, "width")
        height = _positive_int(height, "height")
        focal = (width / 2.0) / math.tan(fov / 2.0)
        return cls.from_intrinsics(focal, focal, (width - 1) / 2.0, (height - 1) / 2.0, width, height)

    # -- properties -------------------------------------------------------------------------
    @property
    def fx(self) -> float:
        return float(self.K[0, 0])

    @property
    def fy(self) -> float:
        return float(self.K[1, 1])

    @property
    def cx(self) -> float:
        return float(self.K[0, 2])

    @property
    def cy(self) -> float:
        return float(self.K[1, 2])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, the order OpenCV's functions take."""
        return (self.width, self.height)

    @property
    def has_distortion(self) -> bool:
        return self._distorted

    # -- geometry ---------------------------------------------------------------------------
    def project(self, points_cam: np.ndarray) -> np.ndarray:
        """Project points in the camera frame to pixels, with lens distortion.

        Args:
            points_cam: (N, 3) metres, camera frame.
        Returns:
            (N, 2) float64 pixels; rows of points with z <= 0 (behind the camera) are NaN.
        """
        return self.project_unchecked(as_array(points_cam, "points_cam", ("N", 3)))

    def project_unchecked(self, points_cam: np.ndarray) -> np.ndarray:
        """``project`` without the input checks, for per-frame paths: ``points_cam`` (N, 3) finite
        float64, not modified."""
        front = points_cam[:, 2] > 0
        if front.all():
            return self._project_in_front(points_cam)
        pixels = np.full((len(points_cam), 2), np.nan)
        if front.any():
            pixels[front] = self._project_in_front(points_cam[front])
        return pixels

    def _project_in_front(self, points_cam: np.ndarray) -> np.ndarray:
        if self._distorted:
            projected, _ = cv2.projectPoints(points_cam, _NO_MOTION, _NO_MOTION, self.K, self.dist_coeffs)
            return projected.reshape(-1, 2)
        homogeneous = points_cam @ self.K.T
        return homogeneous[:, :2] / homogeneous[:, 2:]

    def undistort_points(self, pixels: np.ndarray) -> np.ndarray:
        """Remove lens distortion from pixel positions.

        Args:
            pixels: (N, 2) pixels as seen by this camera.
        Returns:
            (N, 2) float64 pixels where an ideal pinhole camera with the same ``K`` would see them.
        """
        points = as_array(pixels, "pixels", ("N", 2))
        if not self.has_distortion or len(points) == 0:
            return points.copy()
        undistorted = cv2.undistortPoints(
            points.reshape(-1, 1, 2),
            self.K,
            self.dist_coeffs,
            None,
            self.K,
            criteria=_UNDISTORT_CRITERIA,
        )
        return undistorted.reshape(-1, 2).astype(np.float64)

    def rays(self, pixels: np.ndarray) -> np.ndarray:
        """Camera-frame directions (N, 3) ``(x/z, y/z, 1)`` of the rays seen at ``pixels``
        (N, 2), lens distortion removed."""
        undistorted = self.undistort_points(pixels)
        homogeneous = np.column_stack([undistorted, np.ones(len(undistorted))])
        return np.linalg.solve(self.K, homogeneous.T).T

    def ray_image(self) -> np.ndarray:
        """(H, W, 3) float64: ``rays`` of every pixel centre, lens distortion removed; a depth
        image times it gives each pixel's point, camera frame."""
        us, vs = np.meshgrid(
            np.arange(self.width, dtype=np.float64), np.arange(self.height, dtype=np.float64)
        )
        return self.rays(np.column_stack([us.ravel(), vs.ravel()])).reshape(self.height, self.width, 3)

    def scaled(self, width: int, height: int) -> Camera:
        """This camera for a stream resized (not cropped) to ``width`` x ``height`` pixels.

        Pixel centres scale about the image's outer edge: ``u' = (u + 0.5) * s - 0.5``.
        Raises ``InvalidInputError`` when the aspect ratio differs by more than 1 %, which means
        a crop, not a resize: calibrate at that size instead.
        """
        width = _positive_int(width, "width")
        height = _positive_int(height, "height")
        sx, sy = width / self.width, height / self.height
        if abs(sx / sy - 1.0) > 0.01:
            raise InvalidInputError(
                f"cannot scale a {self.width}x{self.height} camera to {width}x{height}: the aspect "
                "ratio differs (the stream is cropped, not resized); calibrate at that size"
            )
        K = self.K.copy()
        K[0, 0] *= sx
        K[0, 1] *= sx
        K[1, 1] *= sy
        K[0, 2] = (K[0, 2] + 0.5) * sx - 0.5
        K[1, 2] = (K[1, 2] + 0.5) * sy - 0.5
        return Camera(K, width, height, self.dist_coeffs)

    def without_distortion(self) -> Camera:
        """The same ``K`` and size with no lens distortion."""
        return Camera(self.K, self.width, self.height)

    def __repr__(self) -> str:
        return (
            f"Camera({self.width}x{self.height}, fx={self.fx:.2f}, fy={self.fy:.2f}, "
            f"cx={self.cx:.2f}, cy={self.cy:.2f}, dist_coeffs={np.round(self.dist_coeffs, 5).tolist()})"
        )

    # -- files ------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Camera:
        """Read a camera file in any of the formats of this module (found from its content)."""
        path = Path(path)
        if not path.is_file():
            raise SourceError(f"{path}: no such camera file")
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise SourceError(f"{path}: cannot read camera file ({exc.strerror})") from exc
        head = text.lstrip()[:64]
        if head.startswith("{"):
            fields = _fields_from_json(text, path)
        elif head.startswith("%YAML") or head.startswith("<?xml") or "opencv-matrix" in text:
            fields = _fields_from_opencv(path)
        else:
            fields = _fields_from_ros(text, path)
        try:
            return cls(**fields)
        except InvalidInputError as exc:
            raise FileFormatError(f"{path}: {exc}") from exc

    def save(
        self,
        path: str | os.PathLike[str],
        format: str | None = None,
        metadata: dict[str, int | float | str] | None = None,
    ) -> None:
        """Write this camera atomically.

        Args:
            path: ``.json``, ``.yaml``/``.yml`` or ``.xml``.
            format: one of ``opencv``, ``ros``, ``json``; by default ``json`` for ``.json`` and
                ``opencv`` otherwise. ``opencv`` writes YAML or XML by the suffix.
            metadata: extra numbers or text to record after the camera's fields (e.g. how it was
                calibrated, ``avg_reprojection_error``); ``opencv`` and ``json`` only. Readers
                ignore them.
        """
        metadata = dict(metadata or {})
        for key, value in metadata.items():
            if not key.isidentifier() or key in self._as_fields() or not isinstance(value, (int, float, str)):
                raise InvalidInputError(
                    f"metadata: expected identifiers (not camera fields) with numbers or text, got {key!r}: {value!r}"
                )
        path = Path(path)
        suffix = path.suffix.lower()
        if format is None:
            format = "json" if suffix == ".json" else "opencv"
        check_choice(format, "format", FORMATS)
        if metadata and format == "ros":
            raise InvalidInputError(
                "metadata: a ROS camera_info file has no place for it; use opencv or json"
            )
        if format == "opencv":
            if suffix not in (".yaml", ".yml", ".xml"):
                raise InvalidInputError(
                    f"path: an OpenCV camera file ends in .yaml, .yml or .xml, got {path.name!r}"
                )
            # written in memory and saved by Python: OpenCV cannot open every path
            storage = cv2.FileStorage(
                ".xml" if path.suffix.lower() == ".xml" else ".yaml",
                cv2.FILE_STORAGE_WRITE | cv2.FILE_STORAGE_MEMORY,
            )
            storage.write("image_width", self.width)
            storage.write("image_height", self.height)
            storage.write("camera_matrix", self.K)
            storage.write("distortion_coefficients", self.dist_coeffs.reshape(-1, 1))
            for key, value in metadata.items():
                storage.write(key, value)
            atomic_write_text(path, storage.releaseAndGetString())
        elif format == "json":
            atomic_write_text(path, json.dumps(self._as_fields() | metadata, indent=2) + "\n")
        else:
            atomic_write_text(path, self._as_ros_yaml())

    def _as_fields(self) -> dict[str, Any]:
        return {
            "image_width": self.width,
            "image_height": self.height,
            "camera_matrix": self.K.tolist(),
            "distortion_coefficients": self.dist_coeffs.tolist(),
        }

    def _as_ros_yaml(self) -> str:
        dist = self.dist_coeffs
        if dist.size <= 5:
            model, dist = "plumb_bob", np.pad(dist, (0, 5 - dist.size))
        elif dist.size == 8:
            model = "rational_polynomial"
        else:
            raise InvalidInputError(
                f"dist_coeffs: ROS camera_info holds 5 or 8 coefficients, this camera has {dist.size}"
            )
        projection = np.hstack([self.K, np.zeros((3, 1))])

        def matrix(name: str, m: np.ndarray) -> str:
            data = ", ".join(repr(float(v)) for v in m.ravel())
            return f"{name}:\n  rows: {m.shape[0]}\n  cols: {m.shape[1]}\n  data: [{data}]\n"

        return (
            f"image_width: {self.width}\nimage_height: {self.height}\ncamera_name: camera\n"
            + matrix("camera_matrix", self.K)
            + f"distortion_model: {model}\n"
            + matrix("distortion_coefficients", dist.reshape(1, -1))
            + matrix("rectification_matrix", np.eye(3))
            + matrix("projection_matrix", projection)
        )


# -- readers: each returns Camera's fields or raises FileFormatError naming the file --------------
def _require(mapping: dict[str, Any], keys: tuple[str, ...], path: Path) -> list[Any]:
    """The first present key of each alternative group, e.g. ('K', 'k')."""
    values = []
    for key in keys:
        options = key.split("|")
        found = next((mapping[o] for o in options if o in mapping), None)
        if found is None:
            raise FileFormatError(f"{path}: missing key {options[0]!r}")
        values.append(found)
    return values


def _matrix(value: Any, path: Path, key: str, shape: tuple[int, ...]) -> np.ndarray:
    if isinstance(value, dict):  # ROS {rows, cols, data}
        value = value.get("data")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise FileFormatError(f"{path}: {key} is not a numeric matrix") from None
    if array.size != int(np.prod(shape)):
        raise FileFormatError(
            f"{path}: {key}: expected {int(np.prod(shape))} values {shape}, got {array.size}"
        )
    if not np.all(np.isfinite(array)):
        raise FileFormatError(f"{path}: {key} holds NaN or inf")
    return array.reshape(shape)


def _size(value: Any, path: Path, key: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FileFormatError(f"{path}: {key}: expected a positive integer, got {value!r}") from None
    if not number.is_integer() or number <= 0:
        raise FileFormatError(f"{path}: {key}: expected a positive integer, got {value!r}")
    return int(number)


def _dist(value: Any, path: Path, key: str) -> np.ndarray:
    if isinstance(value, dict):
        value = value.get("data")
    array = np.asarray(value if value is not None else [], dtype=np.float64).ravel()
    return _matrix(array, path, key, (array.size,))


def _fields_from_json(text: str, path: Path) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise FileFormatError(f"{path}: expected a JSON object, got {type(data).__name__}")
    width, height, K = _require(data, ("image_width", "image_height", "camera_matrix"), path)
    return {
        "K": _matrix(K, path, "camera_matrix", (3, 3)),
        "width": _size(width, path, "image_width"),
        "height": _size(height, path, "image_height"),
        "dist_coeffs": _dist(data.get("distortion_coefficients", []), path, "distortion_coefficients"),
    }


def _fields_from_opencv(path: Path) -> dict[str, Any]:
    try:  # read by Python, parsed in memory: OpenCV cannot open every path
        text = path.read_bytes().decode("utf-8")
        storage = cv2.FileStorage(text, cv2.FILE_STORAGE_READ | cv2.FILE_STORAGE_MEMORY)
        opened = storage.isOpened()
    except (cv2.error, SystemError, UnicodeDecodeError):
        opened = False
    if not opened:
        raise FileFormatError(f"{path}: not a valid OpenCV FileStorage YAML/XML file")
    try:
        fields: dict[str, Any] = {}
        for key in ("camera_matrix", "image_width", "image_height"):
            if storage.getNode(key).empty():
                raise FileFormatError(f"{path}: missing key {key!r}")
        try:
            K = storage.getNode("camera_matrix").mat()
        except cv2.error:
            K = None
        if K is None:
            raise FileFormatError(f"{path}: camera_matrix is not an opencv-matrix")
        fields["K"] = _matrix(K, path, "camera_matrix", (3, 3))
        fields["width"] = _size(storage.getNode("image_width").real(), path, "image_width")
        fields["height"] = _size(storage.getNode("image_height").real(), path, "image_height")
        node = storage.getNode("distortion_coefficients")
        try:
            dist = None if node.empty() else node.mat()
        except cv2.error:
            raise FileFormatError(f"{path}: distortion_coefficients is not a valid opencv-matrix") from None
        fields["dist_coeffs"] = _dist(dist, path, "distortion_coefficients")
        return fields
    finally:
        storage.release()


def _fields_from_ros(text: str, path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FileFormatError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise FileFormatError(f"{path}: not a camera file (expected OpenCV, ROS camera_info or JSON)")
    if "camera_matrix" in data or "image_width" in data:  # camera_calibration_parsers
        width, height, K = _require(data, ("image_width", "image_height", "camera_matrix"), path)
        dist = data.get("distortion_coefficients")
    else:  # sensor_msgs/CameraInfo message
        width, height, K = _require(data, ("width", "height", "K|k"), path)
        dist = data.get("D", data.get("d"))
    model = data.get("distortion_model", "plumb_bob")
    dist_coeffs = _dist(dist, path, "distortion_coefficients")
    if model not in _ROS_MODELS:
        raise FileFormatError(
            f"{path}: distortion_model {model!r} is not supported; expected one of "
            f"{', '.join(repr(m) for m in _ROS_MODELS)}"
        )
    return {
        "K": _matrix(K, path, "camera_matrix", (3, 3)),
        "width": _size(width, path, "image_width"),
        "height": _size(height, path, "image_height"),
        "dist_coeffs": dist_coeffs,
    }

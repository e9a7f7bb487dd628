"""Offscreen OpenGL rendering with pyrender: the one place where OpenGL's conventions exist.

OpenGL's camera looks down its -z axis with y up; OpenCV's (ours) looks down +z with y down.
``gl_camera_pose`` is the only function that converts between them. ``intrinsics_camera`` builds a
pyrender camera whose projection equals ``Camera.project`` (without distortion) to a small
fraction of a pixel, including our pixel-centre convention (OpenGL puts pixel centres at +0.5).

Without a display the platform is EGL when libEGL is installed (Mesa's llvmpipe works), else OSMesa. Set
``PYOPENGL_PLATFORM`` yourself to force one; with a display, pyrender's window works too.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import cv2
import numpy as np

from ..camera import Camera
from ..errors import BackendMissingError, RigidPoseError
from ..geometry import Pose

__all__ = ["PinholeView", "gl_camera_pose", "import_pyrender", "intrinsics_camera", "offscreen_renderer"]

logger = logging.getLogger(__name__)

_GL_FROM_CV = np.diag([1.0, -1.0, -1.0, 1.0])  # flips y and z: OpenCV camera axes <-> OpenGL's


def _headless_platform() -> str | None:
    """``egl`` when libEGL is installed, else ``osmesa`` when libOSMesa is, else None."""
    import ctypes.util

    if ctypes.util.find_library("EGL"):
        return "egl"
    if ctypes.util.find_library("OSMesa"):
        return "osmesa"
    return None


def import_pyrender() -> Any:
    """pyrender, imported with the settings it needs here (numpy 2, a headless platform).

    Without a display and without ``PYOPENGL_PLATFORM`` set, EGL is chosen when libEGL is
    installed, else OSMesa. PyOpenGL reads the variable once, at its first import.
    """
    if not hasattr(np, "infty"):
        setattr(np, "infty", np.inf)  # noqa: B010  pyrender 0.1.45 uses np.infty, removed in numpy 2
    if "PYOPENGL_PLATFORM" not in os.environ and not os.environ.get("DISPLAY"):
        platform = _headless_platform()
        if platform:
            os.environ["PYOPENGL_PLATFORM"] = platform
    try:
        import pyrender
    except ImportError as exc:
        raise BackendMissingError(
            f"the OpenGL renderer needs pyrender ({exc}); install it with: pip install 'rigidpose[render]'"
        ) from None
    return pyrender


def offscreen_renderer(width: int, height: int) -> Any:
    """A ``pyrender.OffscreenRenderer`` of ``width`` x ``height`` pixels."""
    pyrender = import_pyrender()
    try:
        return pyrender.OffscreenRenderer(width, height)
    except Exception as exc:
        platform = os.environ.get("PYOPENGL_PLATFORM", "default")
        raise RigidPoseError(
            f"cannot start offscreen OpenGL (platform {platform}): {exc}; install libegl1 and "
            "libgl1-mesa-dri (EGL) or libosmesa6 (OSMesa), or set PYOPENGL_PLATFORM"
        ) from None


def intrinsics_camera(camera: Camera, znear_m: float = 0.01, zfar_m: float = 100.0) -> Any:
    """A ``pyrender.IntrinsicsCamera`` matching ``camera`` (fx, fy and principal point exactly).

    OpenGL samples pixel i at i + 0.5 where our convention puts its centre at i, so the
    principal point moves by half a pixel. Lens distortion is not applied here.
    """
    pyrender = import_pyrender()
    return pyrender.IntrinsicsCamera(
        fx=camera.fx, fy=camera.fy, cx=camera.cx + 0.5, cy=camera.cy + 0.5, znear=znear_m, zfar=zfar_m
    )


def gl_camera_pose(T_cam_world: Pose) -> np.ndarray:
    """pyrender's camera node pose (4, 4): OpenGL camera -> world, from OpenCV's ``T_cam_world``."""
    return T_cam_world.inv().as_matrix() @ _GL_FROM_CV


class PinholeView:
    """How a camera with lens distortion is rendered by OpenGL, which only knows pinholes.

    OpenGL draws an ideal (pinhole) image with a margin wide enough to cover the distorted view,
    ``supersample`` times larger; ``to_camera`` shrinks it (area average) and warps it into the
    distorted view by the exact inverse of ``Camera.project`` (``Camera.undistort_points`` on every
    output pixel). Without distortion and supersampling it does nothing.

    Attributes:
        camera: the output camera, lens distortion included.
        render_camera: the pinhole camera to render with (margin and supersampling included).
    """

    def __init__(self, camera: Camera, supersample: int = 1) -> None:
        if int(supersample) < 1:
            raise RigidPoseError(f"supersample: expected an integer >= 1, got {supersample!r}")
        self.camera, self.supersample = camera, int(supersample)
        self.margin_px = self._distortion_margin(camera) if camera.has_distortion else 0
        K = camera.K.copy()
        K[0, 2] += self.margin_px
        K[1, 2] += self.margin_px
        self.ideal_camera = Camera(K, camera.width + 2 * self.margin_px, camera.height + 2 * self.margin_px)
        s = self.supersample
        self.render_camera = self.ideal_camera.scaled(
            self.ideal_camera.width * s, self.ideal_camera.height * s
        )
        self._maps = self._distortion_maps() if camera.has_distortion else None

    @staticmethod
    def _distortion_margin(camera: Camera) -> int:
        """Pixels of ideal image needed beyond each edge to cover the distorted view."""
        w, h = camera.width, camera.height
        t = np.linspace(0.0, 1.0, 64)
        border = np.concatenate(
            [
                np.column_stack([t * (w - 1), np.zeros(64)]),
                np.column_stack([t * (w - 1), np.full(64, h - 1.0)]),
                np.column_stack([np.zeros(64), t * (h - 1)]),
                np.column_stack([np.full(64, w - 1.0), t * (h - 1)]),
            ]
        )
        ideal = camera.undistort_points(border)
        overshoot = max(
            -ideal[:, 0].min(),
            -ideal[:, 1].min(),
            ideal[:, 0].max() - (w - 1),
            ideal[:, 1].max() - (h - 1),
            0,
        )
        return int(np.ceil(overshoot)) + 4

    def _distortion_maps(self) -> tuple[np.ndarray, np.ndarray]:
        """For each output (distorted) pixel, where it lies in the ideal image with margin."""
        w, h = self.camera.width, self.camera.height
        grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64)), -1)
        ideal = self.camera.undistort_points(grid.reshape(-1, 2)).reshape(h, w, 2) + self.margin_px
        return ideal[..., 0].astype(np.float32), ideal[..., 1].astype(np.float32)

    def to_camera(self, image: np.ndarray, nearest: bool = False) -> np.ndarray:
        """An image rendered with ``render_camera`` as the output camera sees it.

        ``nearest`` samples instead of averaging (for depth, where averages across edges lie).
        """
        if self.supersample > 1:
            size = (self.ideal_camera.width, self.ideal_camera.height)
            if nearest:
                s = self.supersample
                image = image[s // 2 :: s, s // 2 :: s][: size[1], : size[0]]
            else:
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        if self._maps is not None:
            interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
            image = cv2.remap(image, *self._maps, interpolation, borderMode=cv2.BORDER_CONSTANT)
        return image

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
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import BackendMissingError, RigidPoseError
from ..geometry import Pose

if TYPE_CHECKING:
    from ..camera import Camera

__all__ = ["gl_camera_pose", "import_pyrender", "intrinsics_camera", "offscreen_renderer"]

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
        np.inf = np.inf  # pyrender 0.1.45 uses np.infty, removed in numpy 2
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

"""Rendered views of a calibration board with known intrinsics: ground truth for calibration.

``board_views`` places the printed board (with a white paper border) at random positions and
tilts that cover the image, renders it with ``TargetRenderer`` (lens distortion exact), and
composites it over a photo background with sensor noise.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..calib.board import Board
from ..camera import Camera
from ..geometry import Pose
from ..targets.planar import planar_target
from .effects import background, sensor_noise
from .scene import TargetRenderer

__all__ = ["board_target", "board_views"]

_PX_PER_SQUARE = 64


def board_target(board: Board) -> tuple[object, Pose]:
    """The printed board as a planar target (white border of half a square), and
    ``T_target_board``, the board frame in the target's frame."""
    picture = board.image(_PX_PER_SQUARE)
    border = _PX_PER_SQUARE // 2
    sheet = cv2.copyMakeBorder(picture, border, border, border, border, cv2.BORDER_CONSTANT, value=255)
    sheet = cv2.cvtColor(sheet, cv2.COLOR_GRAY2BGR)
    width_m = sheet.shape[1] / _PX_PER_SQUARE * board.square_m
    target = planar_target(sheet, width_m, name="board")
    # the target's origin is the sheet's centre; the board's is its first square's outer corner
    half = np.array([sheet.shape[1], sheet.shape[0]]) / 2 - border
    T_target_board = Pose.from_rvec_tvec(np.zeros(3), [*(-half / _PX_PER_SQUARE * board.square_m), 0.0])
    return target, T_target_board


def _random_view(board: Board, camera: Camera, rng: np.random.Generator) -> Pose:
    """A board pose that fills 30-70 % of the image's width, tilted up to 50 degrees, its centre
    anywhere in the central 60 % of the image."""
    width_m, height_m = board.size_m
    tilt = math.radians(rng.uniform(5, 50))
    axis_angle = rng.uniform(0, 2 * math.pi)
    tilt_rvec = tilt * np.array([math.cos(axis_angle), math.sin(axis_angle), 0.0])
    roll_rvec = np.array([0.0, 0.0, math.radians(rng.uniform(-30, 30))])
    rotation = Pose.from_rvec_tvec(tilt_rvec, np.zeros(3)) @ Pose.from_rvec_tvec(roll_rvec, np.zeros(3))
    span_px = rng.uniform(0.3, 0.7) * camera.width
    depth_m = camera.fx * max(width_m, height_m) / span_px
    centre_px = np.array([camera.width, camera.height]) * rng.uniform(0.2, 0.8, 2)
    centre_cam = np.array(
        [(centre_px[0] - camera.cx) / camera.fx, (centre_px[1] - camera.cy) / camera.fy, 1.0]
    )
    centre_cam *= depth_m
    centre_board = np.array([width_m / 2, height_m / 2, 0.0])
    R = rotation.as_matrix()[:3, :3]
    return Pose.from_matrix(
        np.block([[R, (centre_cam - R @ centre_board)[:, None]], [np.zeros((1, 3)), 1.0]])
    )


def board_views(
    board: Board, camera: Camera, count: int, seed: int = 0, motion_blur_px: float = 0.0
) -> list[tuple[np.ndarray, Pose]]:
    """``count`` rendered views of ``board`` seen by ``camera``: (H, W, 3) uint8 BGR images and
    their exact ``T_cam_board``. ``motion_blur_px`` smears each view along a random direction."""
    rng = np.random.default_rng(seed)
    target, T_target_board = board_target(board)
    renderer = TargetRenderer(target, camera, supersample=2)
    views = []
    try:
        for _ in range(count):
            T_cam_board = _random_view(board, camera, rng)
            rendered = renderer.render(T_cam_board @ T_target_board.inv())
            image = background("photo", camera.width, camera.height, rng)
            alpha = rendered.alpha[..., None]
            gain = rng.uniform(0.6, 1.0)
            image = image * (1 - alpha) + rendered.color * alpha * gain
            if motion_blur_px > 0:
                image = _smear(image, motion_blur_px, rng.uniform(0, math.pi))
            image = sensor_noise(image.astype(np.float32), rng)
            views.append((np.round(image * 255).astype(np.uint8), T_cam_board))
    finally:
        renderer.close()
    return views


def _smear(image: np.ndarray, length_px: float, angle_rad: float) -> np.ndarray:
    """Linear motion blur ``length_px`` long at ``angle_rad``."""
    size = math.ceil(length_px) | 1
    kernel = np.zeros((size, size), np.float32)
    centre = size // 2
    dx, dy = math.cos(angle_rad) * length_px / 2, math.sin(angle_rad) * length_px / 2
    cv2.line(
        kernel, (round(centre - dx), round(centre - dy)), (round(centre + dx), round(centre + dy)), 1.0, 1
    )
    return cv2.filter2D(image, -1, kernel / kernel.sum())

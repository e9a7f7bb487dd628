"""What an RGB-D camera would measure in a synthetic frame: the scene's geometry and the sensor's
errors.

The scene: the rendered object resting on a table (the plane ``z = max z`` of the object's
bounds, object frame: the side facing away from the trajectory's cameras, so a box stands on it
and a sheet lies on it), and a hand in front of the object where the colour frame shows one.

The sensor (``KinectNoise``), after Nguyen, Izadi and Lovell (3DIMPVT 2012) for the Kinect v1:
axial noise ``sigma(z) = 1.2 mm + 1.9 mm * (z - 0.4 m)^2 / m^2``, correlated over a few pixels as
block matching makes it; disparity quantisation (steps growing as ``z^2``); holes along depth
edges, where the projector's pattern is shadowed; a few random dropouts; a working range.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..geometry import Pose

__all__ = ["KinectNoise", "scene_depth", "table_depth"]


def table_depth(ray_image: np.ndarray, T_cam_obj: Pose, height_obj_m: float) -> np.ndarray:
    """(H, W) float32 metres: depth of the plane ``z_obj = height_obj_m`` (object frame) on the
    rays of ``ray_image`` (``Camera.ray_image()``); 0 where a ray does not meet it in front of the
    camera."""
    h, w = ray_image.shape[:2]
    rays = ray_image.reshape(-1, 3)
    normal_cam = T_cam_obj.rotation[:, 2]
    point_cam = T_cam_obj.apply(np.array([[0.0, 0.0, height_obj_m]]))[0]
    denominator = rays @ normal_cam
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(np.abs(denominator) > 1e-9, (point_cam @ normal_cam) / denominator, 0.0)
    return np.where(z > 0, z, 0.0).reshape(h, w).astype(np.float32)


def scene_depth(
    object_depth_m: np.ndarray, table_m: np.ndarray, hand: np.ndarray | None, hand_depth_m: float
) -> np.ndarray:
    """(H, W) float32 metres: the object where rendered, the table elsewhere, and the hand (coverage
    ``hand`` > 0.5, at ``hand_depth_m``) over both."""
    depth = np.where(object_depth_m > 0, object_depth_m, table_m).astype(np.float32)
    if hand is not None:
        depth[hand > 0.5] = hand_depth_m
    return depth


@dataclass(frozen=True)
class KinectNoise:
    """A structured-light depth sensor's errors (defaults: Kinect v1).

    Attributes:
        sigma_m: axial noise at 0.4 m; it grows by ``sigma_growth`` m per m^2 beyond.
        correlation_px: the noise is smoothed over about this many pixels (block matching).
        quantization: depth step ``quantization * z^2`` (metres, z in metres).
        edge_px, edge_jump_m, edge_dropout: pixels within ``edge_px`` of a depth jump larger than
            ``edge_jump_m`` are lost with probability ``edge_dropout``.
        dropout: share of other pixels lost at random.
        range_m: (nearest, farthest) measured depth; outside it the pixel reads 0.
    """

    sigma_m: float = 0.0012
    sigma_growth: float = 0.0019
    correlation_px: float = 1.5
    quantization: float = 0.00285
    edge_px: int = 2
    edge_jump_m: float = 0.02
    edge_dropout: float = 0.8
    dropout: float = 0.005
    range_m: tuple[float, float] = (0.4, 6.0)

    def sigma_at(self, z_m: np.ndarray) -> np.ndarray:
        """Axial noise standard deviation, metres, at depth ``z_m`` (metres)."""
        return self.sigma_m + self.sigma_growth * (np.asarray(z_m) - 0.4) ** 2

    def __call__(self, depth_m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The measured (H, W) float32 depth, metres, 0 = no reading, from the exact ``depth_m``."""
        z = depth_m.astype(np.float64)
        valid = z > 0
        # holes along depth edges: the largest jump to a 4-neighbour, then widened
        jump = np.zeros_like(z)
        jump[:, 1:] = np.maximum(jump[:, 1:], np.abs(np.diff(z, axis=1)))
        jump[:, :-1] = np.maximum(jump[:, :-1], np.abs(np.diff(z, axis=1)))
        jump[1:] = np.maximum(jump[1:], np.abs(np.diff(z, axis=0)))
        jump[:-1] = np.maximum(jump[:-1], np.abs(np.diff(z, axis=0)))
        edges = (jump > self.edge_jump_m).astype(np.uint8)
        if self.edge_px > 0:
            edges = cv2.dilate(edges, np.ones((2 * self.edge_px + 1,) * 2, np.uint8))
        lost = (edges > 0) & (rng.uniform(size=z.shape) < self.edge_dropout)
        lost |= rng.uniform(size=z.shape) < self.dropout

        noise = rng.standard_normal(z.shape)
        if self.correlation_px > 0:  # smoothed, then rescaled to unit variance
            noise = cv2.GaussianBlur(noise, (0, 0), self.correlation_px)
            noise /= max(float(noise.std()), 1e-12)
        z = z + noise * self.sigma_at(z)
        step = self.quantization * z**2
        z = np.round(z / np.maximum(step, 1e-9)) * step
        near, far = self.range_m
        keep = valid & ~lost & (z >= near) & (z <= far)
        return np.where(keep, z, 0.0).astype(np.float32)

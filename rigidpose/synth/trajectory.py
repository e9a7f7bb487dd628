"""Smooth random camera trajectories around a target, as exact ``T_cam_obj`` poses.

The camera looks at a point near the object's centre from a viewing direction tilted away from
the object's front axis (-z, the side a planar sheet shows), at a distance in multiples of the
object's diameter, rolled about its own viewing axis, and panned so that the object's centre sits
at an offset from the image centre. Each of these parameters is a smooth random function of time
(random keyframes about every second, interpolated and low-pass filtered), so velocities are
continuous, as with a hand-held camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError
from ..geometry import Pose

__all__ = ["TrajectoryOptions", "look_at_pose", "random_trajectory"]


@dataclass(frozen=True)
class TrajectoryOptions:
    """How the camera moves. Angles in radians, distances in object diameters.

    Attributes:
        distance: (min, max) camera distance from the look-at point, in object diameters.
        max_tilt_rad: largest angle between the viewing direction and the object's front axis.
        max_roll_rad: largest in-plane rotation either way.
        max_offset: largest offset of the object's centre from the image centre, as a fraction of
            the half image size (1.0 = at the image edge).
        exit: the object leaves the frame once (about a quarter of the sequence) and comes back.
        still_frames: frames in the middle where the camera holds still (for jitter); 0 for none.
        keyframe_s: seconds between random keyframes (shorter = faster motion).
    """

    distance: tuple[float, float] = (0.9, 2.2)
    max_tilt_rad: float = math.radians(40)
    max_roll_rad: float = math.radians(30)
    max_offset: float = 0.3
    exit: bool = False
    still_frames: int = 0
    keyframe_s: float = 1.2

    def __post_init__(self) -> None:
        near, far = self.distance
        if not 0 < near <= far < 1e4:
            raise InvalidInputError(
                f"distance: expected 0 < near <= far (object diameters), got near={near}, far={far}"
            )
        for name in ("max_roll_rad", "max_offset", "still_frames"):
            if not getattr(self, name) >= 0:
                raise InvalidInputError(f"{name}: expected a value >= 0, got {getattr(self, name)!r}")
        if not self.keyframe_s > 0:
            raise InvalidInputError(f"keyframe_s: expected seconds > 0, got {self.keyframe_s!r}")


def look_at_pose(
    eye_obj: np.ndarray, target_obj: np.ndarray, down_obj: np.ndarray, roll_rad: float = 0.0
) -> Pose:
    """``T_cam_obj`` of a camera at ``eye_obj`` looking at ``target_obj`` (object frame, metres),
    with the image's downward direction as close as possible to ``down_obj``, then rolled by
    ``roll_rad`` about the viewing axis."""
    z = np.asarray(target_obj, float) - np.asarray(eye_obj, float)
    z /= np.linalg.norm(z)
    x = np.cross(down_obj, z)
    if np.linalg.norm(x) < 1e-9:  # looking along "down": any perpendicular will do
        x = np.cross([1.0, 0.0, 0.0] if abs(z[0]) < 0.9 else [0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    c, s = math.cos(roll_rad), math.sin(roll_rad)
    x, y = c * x + s * y, -s * x + c * y
    R_obj_cam = np.column_stack([x, y, z])
    return Pose(R_obj_cam, eye_obj).inv()


def _smooth_signal(
    rng: np.random.Generator, frames: int, fps: float, keyframe_s: float, low: float, high: float
) -> np.ndarray:
    """(frames,) smooth random values in [low, high]."""
    step = max(2, round(keyframe_s * fps))
    keys = rng.uniform(low, high, size=frames // step + 3)
    positions = np.arange(len(keys)) * step
    dense = np.interp(np.arange(frames + 2 * step), positions, keys)
    sigma = step / 2.5
    radius = int(3 * sigma)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    smooth = np.convolve(dense, kernel, mode="same")
    return np.clip(smooth[step : step + frames], low, high)


def random_trajectory(
    frames: int,
    fps: float,
    diameter_m: float,
    fov_x_rad: float,
    fov_y_rad: float,
    options: TrajectoryOptions,
    rng: np.random.Generator,
    center_obj: np.ndarray | None = None,
) -> list[Pose]:
    """``frames`` poses ``T_cam_obj`` sampled at ``fps``; see ``TrajectoryOptions``.

    ``center_obj`` (3,) metres is the point the camera circles, by default the object origin;
    pass the mesh's bounding-box centre for meshes whose origin is elsewhere.
    """
    center = np.zeros(3) if center_obj is None else np.asarray(center_obj, dtype=np.float64)
    o = options
    distance = _smooth_signal(rng, frames, fps, o.keyframe_s, *o.distance) * diameter_m
    tilt = _smooth_signal(rng, frames, fps, o.keyframe_s, 0.0, o.max_tilt_rad)
    azimuth = np.cumsum(_smooth_signal(rng, frames, fps, o.keyframe_s, -1.5, 1.5)) / fps + rng.uniform(
        0, 2 * np.pi
    )
    roll = _smooth_signal(rng, frames, fps, o.keyframe_s, -o.max_roll_rad, o.max_roll_rad)
    offset_x = _smooth_signal(rng, frames, fps, o.keyframe_s, -o.max_offset, o.max_offset)
    offset_y = _smooth_signal(rng, frames, fps, o.keyframe_s, -o.max_offset, o.max_offset)
    look_jitter = _smooth_signal(rng, frames, fps, o.keyframe_s, -0.1, 0.1) * diameter_m

    if o.exit:  # slide out of one side of the frame and back in, over a quarter of the sequence
        start, length = int(frames * 0.45), max(8, frames // 4)
        phase = np.clip((np.arange(frames) - start) / length, 0.0, 1.0)
        side = rng.choice([-1.0, 1.0])
        offset_x = offset_x + side * 2.6 * np.sin(np.pi * phase) ** 2

    t = np.arange(frames)
    if o.still_frames > 0:  # hold every parameter: the camera stands still
        hold = frames // 2
        t = np.where((t >= hold) & (t < hold + o.still_frames), hold, t)
        t = np.where(t >= hold + o.still_frames, t - o.still_frames + 1, t)
        t = np.clip(t, 0, frames - 1)

    poses = []
    for i in t:
        direction = np.array(
            [
                math.sin(tilt[i]) * math.cos(azimuth[i]),
                math.sin(tilt[i]) * math.sin(azimuth[i]),
                -math.cos(tilt[i]),
            ]
        )
        look = center + np.array([look_jitter[i], -look_jitter[i], 0.0])
        T_cam_obj = look_at_pose(look + distance[i] * direction, look, np.array([0.0, 1.0, 0.0]), roll[i])
        # Pan the camera so the look-at point appears at the requested offset from the centre.
        ray = np.array([offset_x[i] * math.tan(fov_x_rad / 2), offset_y[i] * math.tan(fov_y_rad / 2), 1.0])
        ray /= np.linalg.norm(ray)
        axis = np.cross([0.0, 0.0, 1.0], ray)
        angle = math.asin(min(1.0, float(np.linalg.norm(axis))))
        pan = Pose.from_rvec_tvec(axis / max(np.linalg.norm(axis), 1e-12) * angle, np.zeros(3))
        poses.append(pan @ T_cam_obj)
    return poses

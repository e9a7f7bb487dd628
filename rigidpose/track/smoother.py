"""``PoseSmoother``: the one-euro filter on the reported pose."""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..geometry import Pose, rotation_log

__all__ = ["PoseSmoother"]


class PoseSmoother:
    """One-euro filter (Casiez et al., CHI 2012) on a pose.

    The cutoff frequency grows with the pose's speed, ``min_cutoff_hz + beta * speed``, where
    speed approximates how fast the object moves in the image, pixels per second: ``focal_px``
    times the rotation rate (rad/s) plus the translation rate relative to the distance (1/s).
    At rest the filter is strong and removes jitter; in fast motion it lets the pose through.
    """

    def __init__(
        self,
        min_cutoff_hz: float = 1.0,
        beta: float = 0.5,
        focal_px: float = 600.0,
        derivative_cutoff_hz: float = 1.0,
    ) -> None:
        self.min_cutoff_hz, self.beta, self.derivative_cutoff_hz = min_cutoff_hz, beta, derivative_cutoff_hz
        self.focal_px = focal_px
        self.reset()

    def reset(self) -> None:
        """Forget the past (after the object was lost)."""
        self._smoothed: Pose | None = None
        self._last_raw: Pose | None = None
        self._velocity: np.ndarray | None = None  # none until a second pose gives one

    @staticmethod
    def _alpha(cutoff_hz: float, dt_s: float) -> float:
        tau = 1.0 / (2.0 * math.pi * cutoff_hz)
        return 1.0 / (1.0 + tau / dt_s)

    def __call__(self, T_raw: Pose, dt_s: float) -> Pose:
        """The smoothed pose after a new raw pose ``dt_s`` seconds after the previous one."""
        if self._smoothed is None or self._last_raw is None or self.min_cutoff_hz <= 0 or dt_s <= 0:
            self._smoothed = self._last_raw = T_raw
            self._velocity = None
            return T_raw
        # velocity (rotation rate, translation rate relative to the distance), filtered as a
        # vector so that noise averages out instead of adding up; raw matrices, one Pose at the end
        R_raw, t_raw = T_raw.rotation, T_raw.translation
        R_smooth, t_smooth = self._smoothed.rotation, self._smoothed.translation
        step_rvec = rotation_log(R_raw @ self._last_raw.rotation.T)
        distance = max(math.sqrt(float(t_raw @ t_raw)), 1e-3)
        velocity = np.concatenate([step_rvec, (t_raw - self._last_raw.translation) / distance]) / dt_s
        # the first velocity is taken as it is: starting from rest would smooth hard, and lag,
        # while an object found in motion (entering the view, found again) keeps moving
        if self._velocity is None:
            self._velocity = velocity
        else:
            self._velocity += self._alpha(self.derivative_cutoff_hz, dt_s) * (velocity - self._velocity)
        rate, shift = self._velocity[:3], self._velocity[3:]
        speed_px_s = self.focal_px * (math.sqrt(float(rate @ rate)) + math.sqrt(float(shift @ shift)))
        alpha = self._alpha(self.min_cutoff_hz + self.beta * float(speed_px_s), dt_s)
        towards = rotation_log(R_raw @ R_smooth.T)
        rotation = cv2.Rodrigues(alpha * towards)[0] @ R_smooth
        self._smoothed = Pose.unchecked(rotation, t_smooth + alpha * (t_raw - t_smooth))
        self._last_raw = T_raw
        return self._smoothed

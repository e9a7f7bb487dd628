"""Synthetic robot stops for hand-eye calibration, with exact answers and realistic noise."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..geometry import Pose
from .trajectory import look_at_pose

__all__ = ["HandEyeNoise", "HandEyeStops", "hand_eye_stops"]


@dataclass(frozen=True)
class HandEyeNoise:
    """Standard deviations of the measurements (per axis).

    Attributes:
        robot_rotation_rad, robot_translation_m: the robot's reported gripper pose (an industrial
            arm repeats to about 0.05 mm).
        camera_rotation_rad, camera_lateral_m, camera_depth_m: the tracked target pose, camera
            frame (a tracked board at 0.6-1 m: a few hundredths of a degree, 0.2 mm across the
            image and about 0.5 mm along the camera's axis).
    """

    robot_rotation_rad: float = math.radians(0.005)
    robot_translation_m: float = 0.00005
    camera_rotation_rad: float = math.radians(0.05)
    camera_lateral_m: float = 0.0002
    camera_depth_m: float = 0.0005


@dataclass(frozen=True)
class HandEyeStops:
    """Measured poses at N stops and the truth they were made from.

    Attributes:
        T_base_gripper: (N,) noisy gripper poses, robot base frame.
        T_cam_obj: (N,) noisy target poses, camera frame.
        T_truth: the exact answer: ``T_base_cam`` eye-to-hand, ``T_gripper_cam`` eye-in-hand.
    """

    T_base_gripper: list[Pose]
    T_cam_obj: list[Pose]
    T_truth: Pose


def _noisy(T: Pose, rotation_rad: float, translation_m: np.ndarray, rng: np.random.Generator) -> Pose:
    """``T`` with a small random rotation about its own origin and translation noise (metres,
    per axis of the frame ``T`` maps into)."""
    wobble = Pose.from_rvec_tvec(rng.normal(0.0, rotation_rad, 3), np.zeros(3)).rotation
    return Pose(T.rotation @ wobble, T.translation + rng.normal(0.0, 1.0, 3) * translation_m)


def hand_eye_stops(
    n: int, rng: np.random.Generator, *, eye_in_hand: bool = False, noise: HandEyeNoise = HandEyeNoise()
) -> HandEyeStops:
    """``n`` robot stops in a plausible cell: a camera about a metre from a 30 x 40 x 25 cm
    workspace; the gripper tilted up to 45 degrees about every axis between stops.

    Eye-to-hand: a fixed camera watches a target the gripper holds 12 cm below its flange.
    Eye-in-hand: the camera rides 8 cm off the flange and looks at a target on the table from
    0.4-0.7 m.
    """
    robot_noise = np.full(3, noise.robot_translation_m)
    camera_noise = np.array([noise.camera_lateral_m, noise.camera_lateral_m, noise.camera_depth_m])
    A, B = [], []
    if not eye_in_hand:
        T_base_cam = look_at_pose(
            np.array([1.2, 0.3, 0.9]), np.array([0.5, 0.0, 0.2]), np.array([0.0, 0.0, -1.0])
        ).inv()
        T_gripper_obj = Pose.from_rvec_tvec(np.array([0.1, -0.2, 0.3]), np.array([0.01, 0.02, 0.12]))
        for _ in range(n):
            down = np.array([math.pi, 0.0, 0.0]) + rng.uniform(-0.8, 0.8, 3)
            T_base_gripper = Pose.from_rvec_tvec(down, rng.uniform([0.35, -0.2, 0.1], [0.65, 0.2, 0.35]))
            T_cam_obj = T_base_cam.inv() @ T_base_gripper @ T_gripper_obj
            A.append(_noisy(T_base_gripper, noise.robot_rotation_rad, robot_noise, rng))
            B.append(_noisy(T_cam_obj, noise.camera_rotation_rad, camera_noise, rng))
        return HandEyeStops(A, B, T_base_cam)
    T_gripper_cam = Pose.from_rvec_tvec(np.array([0.05, 0.02, -0.1]), np.array([0.03, -0.05, 0.08]))
    T_base_obj = Pose.from_rvec_tvec(np.array([0.0, 0.0, 0.4]), np.array([0.5, 0.1, 0.0]))
    for _ in range(n):
        eye = T_base_obj.translation + rng.uniform([-0.25, -0.25, 0.4], [0.25, 0.25, 0.7])
        T_cam_base = look_at_pose(
            eye, T_base_obj.translation, np.array([1.0, 0.0, 0.0]), rng.uniform(-0.5, 0.5)
        )
        T_base_gripper = T_cam_base.inv() @ T_gripper_cam.inv()
        A.append(_noisy(T_base_gripper, noise.robot_rotation_rad, robot_noise, rng))
        B.append(_noisy(T_cam_base @ T_base_obj, noise.camera_rotation_rad, camera_noise, rng))
    return HandEyeStops(A, B, T_gripper_cam)

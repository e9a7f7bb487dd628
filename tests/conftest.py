from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rigidpose as rp

REPO = Path(__file__).resolve().parent.parent
BOX_DATA = REPO / "demos" / "data" / "box"


def random_pose(rng: np.random.Generator, distance_m: float = 1.0) -> rp.Pose:
    """A pose with a uniformly random rotation and a translation of about ``distance_m``."""
    quat = rng.normal(size=4)
    return rp.Pose.from_quat(quat, rng.normal(size=3) * distance_m)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def distorted_camera() -> rp.Camera:
    """fx != fy, off-centre principal point, five distortion coefficients."""
    return rp.Camera.from_intrinsics(
        612.5, 598.25, 331.7, 236.4, 640, 480, [-0.28, 0.09, 0.0012, -0.0008, -0.015]
    )

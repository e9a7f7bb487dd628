"""Metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

import rigidpose as rp
from rigidpose.eval import metrics as m

SQUARE = np.array([[-0.1, -0.1, 0.0], [0.1, -0.1, 0.0], [0.1, 0.1, 0.0], [-0.1, 0.1, 0.0]])
GT = rp.Pose.from_rvec_tvec([0.0, 0.0, 0.0], [0.0, 0.0, 1.0])
CAMERA = rp.Camera.from_intrinsics(500.0, 500.0, 320.0, 240.0, 640, 480)


def test_translation_only_error():
    est = rp.Pose.from_rvec_tvec([0, 0, 0], [0.003, 0.004, 1.0])  # 5 mm off, sideways
    assert m.translation_error_m(est, GT) == pytest.approx(0.005)
    assert m.rotation_error_rad(est, GT) == 0.0
    assert m.add(est, GT, SQUARE) == pytest.approx(0.005)
    assert m.mssd(est, GT, SQUARE) == pytest.approx(0.005)
    # at 1 m with f = 500 px, 5 mm sideways is 2.5 px for every point
    assert m.mean_projection_error_px(est, GT, SQUARE, CAMERA) == pytest.approx(2.5)
    assert m.corner_error_px(est, GT, SQUARE, CAMERA) == pytest.approx(2.5)
    assert m.mspd(est, GT, SQUARE, CAMERA) == pytest.approx(2.5)


def test_rotation_about_the_centre():
    est = rp.Pose.from_rvec_tvec([0, 0, math.pi / 2], [0.0, 0.0, 1.0])  # 90 degrees in-plane
    assert m.rotation_error_rad(est, GT) == pytest.approx(math.pi / 2)
    # each corner moves from one corner to the next: distance 0.2 m
    assert m.add(est, GT, SQUARE) == pytest.approx(0.2)
    # ...but lands on another corner, so the symmetric ADD-S is zero
    assert m.adds(est, GT, SQUARE) == pytest.approx(0.0, abs=1e-12)
    # with the 90-degree symmetry declared, MSSD and MSPD are zero; without it, 0.2 m and 100 px
    quarter = rp.Pose.from_rvec_tvec([0, 0, math.pi / 2], [0, 0, 0])
    assert m.mssd(est, GT, SQUARE) == pytest.approx(0.2)
    assert m.mssd(est, GT, SQUARE, [quarter]) == pytest.approx(0.0, abs=1e-12)
    assert m.mspd(est, GT, SQUARE, CAMERA) == pytest.approx(100.0)
    assert m.mspd(est, GT, SQUARE, CAMERA, [quarter]) == pytest.approx(0.0, abs=1e-9)


def test_corner_error_is_rms_not_mean():
    # a square with a corner at the origin, turned 90 degrees in-plane about that corner: the
    # corners move 0, 0.2*sqrt(2), 0.4 and 0.2*sqrt(2) m, i.e. 0, 141.4, 200 and 141.4 px at 1 m
    corners = np.array([[0.0, 0.0, 0.0], [0.2, 0.0, 0.0], [0.2, 0.2, 0.0], [0.0, 0.2, 0.0]])
    est = rp.Pose.from_rvec_tvec([0, 0, math.pi / 2], [0.0, 0.0, 1.0])
    assert m.corner_error_px(est, GT, corners, CAMERA) == pytest.approx(
        math.sqrt((0 + 20000 + 40000 + 20000) / 4)
    )
    assert m.mean_projection_error_px(est, GT, corners, CAMERA) == pytest.approx(
        (0 + 2 * 100 * math.sqrt(2) + 200) / 4
    )


def test_precision_tracked_gross_false():
    errors = [1.0, 4.9, 5.0, 5.1, np.nan, np.inf]
    assert m.precision_at(errors, 5.0) == pytest.approx(3 / 6)
    assert m.precision_at([], 5.0) == 0.0
    has_pose = [True, True, False, True, False, True]
    visible = [True, True, True, False, False, True]
    assert m.tracked_share(has_pose, visible) == pytest.approx(3 / 4)
    assert m.false_poses(has_pose, visible) == 1
    assert m.tracked_share([False], [False]) == 0.0
    rotation_errors = [0.1, math.radians(31), math.radians(29), np.nan, math.pi]
    assert m.gross_errors(rotation_errors) == 2


def test_jitter_of_a_still_object():
    truth = [GT] * 5
    # estimates alternate by +-1 mm in x and +-0.01 rad about z: every step moves 2 mm and 0.02 rad
    estimates = [rp.Pose.from_rvec_tvec([0, 0, 0.01 * s], [0.001 * s, 0.0, 1.0]) for s in (1, -1, 1, -1, 1)]
    translation_m, rotation_rad = m.jitter(estimates, truth)
    assert translation_m == pytest.approx(0.002)
    assert rotation_rad == pytest.approx(0.02)
    # a gap breaks the pairs: only (0, 1) and (3, 4) count
    estimates[2] = None
    assert m.jitter(estimates, truth)[0] == pytest.approx(0.002)
    assert all(math.isnan(v) for v in m.jitter([None, GT], truth[:2]))


def test_motion_errors_per_frame_pair():
    truth = [GT] * 4
    estimates = [rp.Pose.from_rvec_tvec([0, 0, 0], [0.001 * s, 0.0, 1.0]) for s in (0, 1, 1, 3)]
    estimates[2] = None
    translation_m, rotation_rad = m.motion_errors(estimates, truth)
    np.testing.assert_allclose(translation_m, [np.nan, 0.001, np.nan, np.nan])
    assert rotation_rad[1] == pytest.approx(0.0, abs=1e-12) and np.isnan(rotation_rad[[0, 2, 3]]).all()
    assert m.rms([3.0, np.nan, 4.0]) == pytest.approx(math.sqrt(12.5)) and math.isnan(m.rms([np.nan]))


def test_jitter_ignores_true_motion():
    truth = [rp.Pose.from_rvec_tvec([0, 0.05 * i, 0], [0.01 * i, 0, 1.0]) for i in range(6)]
    assert m.jitter(truth, truth) == pytest.approx((0.0, 0.0), abs=1e-12)


def test_latency():
    median, p95 = m.latency_ms([10.0] * 19 + [100.0])
    assert median == 10.0 and p95 == pytest.approx(14.5)

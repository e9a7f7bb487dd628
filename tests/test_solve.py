from __future__ import annotations

import math

import numpy as np
import pytest

import rigidpose as rp
from rigidpose.solve import SolveOptions, solve_pose


def _matches(rng, camera, T_cam_obj, points_obj, noise_px=0.3, outlier_share=0.3):
    pixels = camera.project(T_cam_obj.apply(points_obj)) + rng.normal(
        scale=noise_px, size=(len(points_obj), 2)
    )
    outliers = rng.choice(len(points_obj), int(outlier_share * len(points_obj)), replace=False)
    pixels[outliers] = rng.uniform([0, 0], [camera.width, camera.height], size=(len(outliers), 2))
    return pixels, outliers


@pytest.mark.parametrize("method", ["prosac", "magsac", "ransac", "sqpnp"])
@pytest.mark.parametrize("planar", [True, False], ids=["planar", "3d"])
def test_recovers_pose_with_outliers_noise_and_distortion(rng, distorted_camera, method, planar):
    T_cam_obj = rp.Pose.from_rvec_tvec([0.4, -0.3, 0.2], [0.02, -0.01, 0.6])
    points_obj = rng.uniform(-0.12, 0.12, size=(200, 3))
    if planar:
        points_obj[:, 2] = 0.0
    pixels, outliers = _matches(rng, distorted_camera, T_cam_obj, points_obj)
    estimate = solve_pose(points_obj, pixels, distorted_camera, SolveOptions(method=method))
    assert estimate is not None
    distance = rp.pose_distance(estimate.T_cam_obj, T_cam_obj)
    assert distance.rotation_rad < math.radians(0.5) and distance.translation_m < 0.003
    assert len(set(estimate.inliers) & set(outliers)) <= 3  # random pixels rarely land within 3 px
    assert len(estimate.inliers) >= 120
    assert estimate.reproj_error_px < 0.6 and 0.5 < estimate.confidence <= 1.0


def test_planar_flip_is_resolved_by_the_prior(rng):
    # a small, far, nearly frontal sheet: both IPPE solutions fit about equally well
    camera = rp.Camera.from_intrinsics(500.0, 500.0, 320.0, 240.0, 640, 480)
    T_true = rp.Pose.from_rvec_tvec([0.25, 0.0, 0.0], [0.0, 0.0, 3.0])
    corners = np.array([[-0.05, -0.05, 0], [0.05, -0.05, 0], [0.05, 0.05, 0], [-0.05, 0.05, 0]], float)
    points_obj = np.vstack([corners, rng.uniform(-0.05, 0.05, size=(36, 3)) * [1, 1, 0]])
    pixels = camera.project(T_true.apply(points_obj)) + rng.normal(scale=0.4, size=(len(points_obj), 2))
    options = SolveOptions(min_inliers=8)
    guided = solve_pose(points_obj, pixels, camera, options, T_prior=T_true)
    assert guided is not None and guided.ambiguous
    assert rp.pose_distance(guided.T_cam_obj, T_true).rotation_rad < math.radians(5)
    unguided = solve_pose(points_obj, pixels, camera, options)
    assert unguided is not None and unguided.ambiguous and unguided.confidence < guided.confidence


def test_clear_view_is_not_ambiguous(rng):
    camera = rp.Camera.from_intrinsics(500.0, 500.0, 320.0, 240.0, 640, 480)
    T_true = rp.Pose.from_rvec_tvec([0.6, 0.2, 0.0], [0.0, 0.0, 0.5])
    points_obj = rng.uniform(-0.15, 0.15, size=(80, 3)) * [1, 1, 0]
    pixels = camera.project(T_true.apply(points_obj)) + rng.normal(scale=0.3, size=(80, 2))
    estimate = solve_pose(points_obj, pixels, camera)
    assert estimate is not None and not estimate.ambiguous
    assert rp.pose_distance(estimate.T_cam_obj, T_true).rotation_rad < math.radians(0.5)


def test_prosac_finds_a_far_sheet_among_many_wrong_matches():
    """A sheet 90 px wide in a busy frame: 20 right matches among 300, 16 of them among the 40
    ranked best (as the ratio test ranks them). PROSAC, the default, samples those first;
    MAGSAC++'s uniform draws of four rarely hold four right ones."""
    camera = rp.Camera.from_intrinsics(554.0, 554.0, 319.5, 239.5, 640, 480)
    T_true = rp.Pose.from_rvec_tvec([0.5, 0.2, 0.1], [0.0, -0.2, 2.2])
    found = {"prosac": 0, "magsac": 0}
    for seed in range(20):
        rng = np.random.default_rng(seed)
        sheet = rng.uniform([-0.105, -0.15, 0], [0.105, 0.15, 0], size=(300, 3))
        pixels = camera.project(T_true.apply(sheet)) + rng.normal(scale=0.5, size=(300, 2))
        right = np.zeros(300, bool)
        right[rng.choice(40, 16, replace=False)] = True
        right[rng.choice(np.arange(40, 300), 4, replace=False)] = True
        pixels[~right] = rng.uniform([0, 0], [640, 480], size=((~right).sum(), 2))
        for method in found:
            estimate = solve_pose(sheet, pixels, camera, SolveOptions(method=method))
            if estimate is not None and rp.pose_distance(estimate.T_cam_obj, T_true).translation_m < 0.03:
                found[method] += 1
    assert SolveOptions().method == "prosac"
    assert found["prosac"] >= 18 and found["magsac"] <= 10


def test_too_few_matches_or_only_outliers_give_none(rng, distorted_camera):
    points_obj = rng.uniform(-0.1, 0.1, size=(60, 3))
    assert solve_pose(points_obj[:5], np.zeros((5, 2)), distorted_camera) is None
    garbage = rng.uniform([0, 0], [640, 480], size=(60, 2))
    assert solve_pose(points_obj, garbage, distorted_camera) is None


def test_input_errors(distorted_camera):
    with pytest.raises(rp.InvalidInputError, match=r"points_obj: expected \(N, 3\), got \(4, 2\)"):
        solve_pose(np.zeros((4, 2)), np.zeros((4, 2)), distorted_camera)
    with pytest.raises(rp.InvalidInputError, match=r"pixels: expected one per point \(4\), got 3"):
        solve_pose(np.zeros((4, 3)), np.zeros((3, 2)), distorted_camera)
    with pytest.raises(
        rp.InvalidInputError, match="method: expected one of 'prosac', 'magsac', 'ransac', 'sqpnp'"
    ):
        SolveOptions(method="epnp")

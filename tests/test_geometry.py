from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from conftest import random_pose

import rigidpose as rp


def test_inverse_composes_to_identity(rng):
    for _ in range(20):
        T = random_pose(rng)
        assert (T.inv() @ T).allclose(rp.Pose.identity(), atol_rad=1e-12, atol_m=1e-12)
        assert (T @ T.inv()).allclose(rp.Pose.identity(), atol_rad=1e-12, atol_m=1e-12)


def test_matrix_round_trip_and_values(rng):
    T = random_pose(rng)
    matrix = T.as_matrix()
    assert matrix.shape == (4, 4)
    np.testing.assert_array_equal(matrix[3], [0, 0, 0, 1])
    np.testing.assert_allclose(rp.Pose.from_matrix(matrix).as_matrix(), matrix, atol=0)
    np.testing.assert_allclose(rp.Pose.from_matrix(matrix[:3]).as_matrix(), matrix, atol=0)


def test_rvec_tvec_round_trip_matches_cv2_rodrigues(rng):
    for _ in range(20):
        rvec = rng.uniform(-1, 1, 3) * rng.uniform(0, math.pi) / math.sqrt(3)
        tvec = rng.normal(size=3)
        T = rp.Pose.from_rvec_tvec(rvec.reshape(3, 1), tvec.reshape(3, 1))  # cv2's column shape
        np.testing.assert_allclose(T.rotation, cv2.Rodrigues(rvec)[0], atol=1e-15)
        rvec2, tvec2 = T.as_rvec_tvec()
        assert rvec2.shape == (3,) and tvec2.shape == (3,)
        np.testing.assert_allclose(rvec2, rvec, atol=1e-12)
        np.testing.assert_allclose(tvec2, tvec, atol=0)


def test_quaternion_known_values_and_order():
    half = math.sqrt(0.5)
    T = rp.Pose.from_quat([0.0, 0.0, half, half], [1.0, 2.0, 3.0])  # 90 deg about z, (x, y, z, w)
    np.testing.assert_allclose(T.apply(np.array([1.0, 0.0, 0.0])), [1.0, 3.0, 3.0], atol=1e-15)
    np.testing.assert_allclose(T.as_quat(), [0.0, 0.0, half, half], atol=1e-15)
    np.testing.assert_allclose(T.as_quat(scalar_first=True), [half, 0.0, 0.0, half], atol=1e-15)
    same = rp.Pose.from_quat([half, 0.0, 0.0, half], [1.0, 2.0, 3.0], scalar_first=True)
    assert same.allclose(T)


def test_quaternion_round_trip_near_every_pivot(rng):
    # Rotations near 0 and near 180 degrees about each axis exercise every branch of Shepperd's method.
    rotations = [random_pose(rng) for _ in range(20)]
    for axis in np.eye(3):
        for angle in (1e-9, math.pi - 1e-9, math.pi):
            rotations.append(rp.Pose.from_rvec_tvec(axis * angle, np.zeros(3)))
    for T in rotations:
        q = T.as_quat()
        assert q[3] >= 0 and abs(np.linalg.norm(q) - 1) < 1e-12
        assert rp.Pose.from_quat(q, T.translation).allclose(T, atol_rad=1e-9)
        assert rp.Pose.from_quat(-q, T.translation).allclose(T, atol_rad=1e-9)  # q and -q: same rotation


def test_apply_and_composition_follow_frame_names(rng):
    T_cam_obj, T_obj_world = random_pose(rng), random_pose(rng)
    points_world = rng.normal(size=(50, 3))
    T_cam_world = T_cam_obj @ T_obj_world
    np.testing.assert_allclose(
        T_cam_world.apply(points_world), T_cam_obj.apply(T_obj_world.apply(points_world)), atol=1e-12
    )
    np.testing.assert_allclose(T_cam_obj.inv().apply(T_cam_obj.apply(points_world)), points_world, atol=1e-12)
    single = T_cam_obj.apply(points_world[0])
    assert single.shape == (3,)
    np.testing.assert_allclose(single, T_cam_obj.apply(points_world[:1])[0], atol=0)


def test_pose_is_immutable_and_owns_its_arrays():
    rotation = np.eye(3)
    T = rp.Pose(rotation, np.zeros(3))
    rotation[0, 0] = 5.0  # the caller's array changes; the pose must not
    assert T.rotation[0, 0] == 1.0
    with pytest.raises(ValueError):
        T.translation[0] = 1.0
    with pytest.raises(AttributeError):
        T.rotation = np.eye(3)  # type: ignore[misc]


def test_pose_distance_small_and_large_angles():
    a = rp.Pose.identity()
    for angle in (1e-7, 0.3, math.pi - 1e-6):
        b = rp.Pose.from_rvec_tvec([0.0, angle, 0.0], [0.3, 0.4, 0.0])
        distance = rp.pose_distance(a, b)
        assert distance.rotation_rad == pytest.approx(angle, rel=1e-9)
        assert distance.translation_m == pytest.approx(0.5, rel=1e-12)


def test_from_matrix_orthonormalize_repairs_float32_noise(rng):
    matrix = random_pose(rng).as_matrix()
    noisy = matrix + rng.normal(scale=1e-4, size=(4, 4)) * np.r_[np.ones(3), 0][:, None]
    with pytest.raises(rp.InvalidInputError, match="expected a rotation matrix"):
        rp.Pose.from_matrix(noisy)
    repaired = rp.Pose.from_matrix(noisy, orthonormalize=True)
    assert rp.pose_distance(repaired, rp.Pose.from_matrix(matrix)).rotation_rad < 1e-3


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: rp.Pose(np.eye(3), np.zeros(2)), r"translation: expected \(3,\), got \(2,\)"),
        (lambda: rp.Pose(np.eye(2), np.zeros(3)), r"rotation: expected \(3, 3\), got \(2, 2\)"),
        (lambda: rp.Pose(np.diag([1.0, 1.0, -1.0]), np.zeros(3)), "det = -1"),
        (lambda: rp.Pose(np.eye(3) * 2, np.zeros(3)), "expected a rotation matrix"),
        (lambda: rp.Pose(np.eye(3), [0.0, np.nan, 0.0]), "translation: expected finite values"),
        (lambda: rp.Pose.from_matrix(np.eye(3)), r"matrix: expected \(4, 4\) or \(3, 4\), got \(3, 3\)"),
        (lambda: rp.Pose.from_matrix(np.ones((4, 4))), "expected last row"),
        (lambda: rp.Pose.from_quat([0, 0, 0, 0], np.zeros(3)), "non-zero quaternion"),
        (lambda: rp.Pose.from_quat([0, 0, 1], np.zeros(3)), r"quat: expected \(4,\), got \(3,\)"),
        (lambda: rp.Pose.from_rvec_tvec([0, 0], [0, 0, 0]), r"rvec: expected \(3,\), got \(2,\)"),
        (lambda: rp.Pose.identity().apply(np.zeros((5, 2))), r"points: expected \(N, 3\), got \(5, 2\)"),
        (lambda: rp.Pose(np.eye(3), "abc"), "translation: expected a numeric array"),
    ],
)
def test_errors_say_what_was_expected_and_what_came(make, message):
    with pytest.raises(rp.InvalidInputError, match=message) as info:
        make()
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_composition_with_non_pose_is_a_type_error():
    with pytest.raises(TypeError):
        rp.Pose.identity() @ np.eye(4)


@pytest.mark.parametrize("angle", [1e-9, 1e-6, 0.5, math.pi - 1e-3, math.pi - 1e-9])
def test_rvec_is_accurate_near_zero_and_near_pi(angle):
    axis = np.array([0.48, -0.6, 0.64])  # unit length
    rvec, _ = rp.Pose.from_rvec_tvec(axis * angle, np.zeros(3)).as_rvec_tvec()
    np.testing.assert_allclose(rvec, axis * angle, rtol=1e-6, atol=1e-15)

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
from conftest import BOX_DATA, random_pose

import rigidpose as rp


def _points_in_view(rng, n=200):
    """Points spread over most of the field of view, 0.5-3 m in front of the camera."""
    z = rng.uniform(0.5, 3.0, n)
    return np.column_stack([rng.uniform(-0.45, 0.45, n) * z, rng.uniform(-0.35, 0.35, n) * z, z])


def test_project_matches_cv2_projectpoints_with_distortion(rng, distorted_camera):
    T_cam_obj = rp.Pose.from_rvec_tvec([0.1, -0.2, 0.05], [0.02, -0.01, 1.5])
    points_obj = rng.uniform(-0.3, 0.3, size=(100, 3))
    rvec, tvec = T_cam_obj.as_rvec_tvec()
    expected, _ = cv2.projectPoints(points_obj, rvec, tvec, distorted_camera.K, distorted_camera.dist_coeffs)
    ours = distorted_camera.project(T_cam_obj.apply(points_obj))
    np.testing.assert_allclose(ours, expected.reshape(-1, 2), atol=1e-9)


def test_project_pinhole_by_hand_and_behind_camera_is_nan():
    camera = rp.Camera.from_intrinsics(500.0, 400.0, 320.0, 240.0, 640, 480)
    pixels = camera.project(np.array([[0.1, -0.2, 2.0], [0.0, 0.0, -1.0], [1.0, 1.0, 0.0]]))
    np.testing.assert_allclose(pixels[0], [320 + 500 * 0.05, 240 - 400 * 0.1])
    assert np.isnan(pixels[1:]).all()
    assert camera.project(np.zeros((0, 3))).shape == (0, 2)


def test_undistort_points_inverts_distortion(rng, distorted_camera):
    points_cam = _points_in_view(rng)
    distorted = distorted_camera.project(points_cam)
    ideal = distorted_camera.without_distortion().project(points_cam)
    np.testing.assert_allclose(distorted_camera.undistort_points(distorted), ideal, atol=1e-4)
    assert not distorted_camera.without_distortion().has_distortion


def test_scaled_camera_projects_to_scaled_pixels(rng, distorted_camera):
    points_cam = _points_in_view(rng)
    half = distorted_camera.scaled(320, 240)
    full_px = distorted_camera.project(points_cam)
    # pixel-centre convention: u_half = (u_full + 0.5) / 2 - 0.5
    np.testing.assert_allclose(half.project(points_cam), (full_px + 0.5) / 2 - 0.5, atol=1e-9)
    assert half.size == (320, 240)
    with pytest.raises(rp.InvalidInputError, match="aspect ratio differs"):
        distorted_camera.scaled(1280, 720)


def test_from_fov_edges_of_the_image():
    camera = rp.Camera.from_fov(640, 480, math.radians(90))
    assert camera.fx == pytest.approx(320.0) and camera.fy == pytest.approx(320.0)
    assert (camera.cx, camera.cy) == (319.5, 239.5)
    # a ray at 45 degrees lands on the image's left edge, half a pixel left of pixel 0's centre
    np.testing.assert_allclose(camera.project(np.array([[-1.0, 0.0, 1.0]]))[0], [-0.5, 239.5])
    with pytest.raises(rp.InvalidInputError, match="fov_x_rad"):
        rp.Camera.from_fov(640, 480, 4.0)


@pytest.mark.parametrize(
    ("name", "fmt"), [("cam.yaml", None), ("cam.xml", None), ("cam.json", None), ("ros.yaml", "ros")]
)
def test_file_formats_round_trip(tmp_path, distorted_camera, name, fmt):
    path = tmp_path / name
    distorted_camera.save(path, fmt)
    loaded = rp.Camera.load(path)
    np.testing.assert_allclose(loaded.K, distorted_camera.K, rtol=1e-15)
    np.testing.assert_allclose(loaded.dist_coeffs, distorted_camera.dist_coeffs, rtol=1e-15)
    assert loaded.size == distorted_camera.size
    loaded.save(tmp_path / ("again_" + name), fmt)  # written, read, written and read again
    again = rp.Camera.load(tmp_path / ("again_" + name))
    np.testing.assert_array_equal(again.K, loaded.K)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_reads_opencv_calibration_sample_file():
    camera = rp.Camera.load(BOX_DATA / "box.camera.yaml")
    assert (camera.fx, camera.fy, camera.cx, camera.cy, camera.size) == (
        720.0,
        720.0,
        320.0,
        240.0,
        (640, 480),
    )
    assert camera.dist_coeffs.shape == (5,) and not camera.has_distortion


def test_reads_opencv_yaml_1_0_header(tmp_path):
    # OpenCV's calibration sample writes "%YAML:1.0", which plain YAML parsers reject.
    text = (BOX_DATA / "box.camera.yaml").read_text().replace("%YAML 1.2", "%YAML:1.0")
    (tmp_path / "c.yml").write_text(text)
    assert rp.Camera.load(tmp_path / "c.yml").fx == 720.0


def test_reads_ros_camera_info_message_form(tmp_path):
    (tmp_path / "info.yaml").write_text(
        "height: 480\nwidth: 640\ndistortion_model: plumb_bob\n"
        "d: [0.1, -0.2, 0.0, 0.0, 0.0]\nk: [600.0, 0.0, 320.0, 0.0, 610.0, 240.0, 0.0, 0.0, 1.0]\n"
    )
    camera = rp.Camera.load(tmp_path / "info.yaml")
    assert (camera.fx, camera.fy) == (600.0, 610.0)
    np.testing.assert_array_equal(camera.dist_coeffs, [0.1, -0.2, 0, 0, 0])


def _json_camera(**changes):
    data = {
        "image_width": 640,
        "image_height": 480,
        "camera_matrix": [[500, 0, 320], [0, 500, 240], [0, 0, 1]],
        "distortion_coefficients": [0, 0, 0, 0, 0],
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (_json_camera(camera_matrix=None), "missing key 'camera_matrix'"),
        (_json_camera(image_width=None), "missing key 'image_width'"),
        (
            _json_camera(camera_matrix=[[float("nan"), 0, 320], [0, 500, 240], [0, 0, 1]]),
            "camera_matrix holds NaN",
        ),
        (
            _json_camera(camera_matrix=[[-500, 0, 320], [0, 500, 240], [0, 0, 1]]),
            "expected positive focal lengths",
        ),
        (_json_camera(camera_matrix=[[500, 0, 320], [0, 500, 240]]), r"camera_matrix: expected 9 values"),
        (
            _json_camera(distortion_coefficients=[0.1, 0.2, 0.3]),
            "dist_coeffs: expected 0, 4, 5, 8, 12, 14 values, got 3",
        ),
        (_json_camera(image_height=0), "image_height: expected a positive integer"),
        (_json_camera(image_width=640.5), "image_width: expected a positive integer"),
    ],
)
def test_bad_json_files_name_the_file_and_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(rp.FileFormatError, match=message) as info:
        rp.Camera.load(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("%YAML:1.0\n---\nimage_width: 640\nimage_height: 480\n", "missing key 'camera_matrix'"),
        (
            "%YAML:1.0\n---\nimage_width: 640\nimage_height: 480\ncamera_matrix: !!opencv-matrix\n"
            "   rows: 3\n   cols: 3\n   dt: d\n   data: [ 1., 0., 0. ]\n",
            "camera_matrix is not an opencv-matrix",
        ),
        (
            '<?xml version="1.0"?>\n<opencv_storage>\n<image_width>640</image_width>\n',
            "not a valid OpenCV FileStorage",
        ),
        (
            "image_width: 640\nimage_height: 480\ncamera_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}\n"
            "distortion_model: equidistant\ndistortion_coefficients: {rows: 1, cols: 4, data: [0, 0, 0, 0]}\n",
            "distortion_model 'equidistant' is not supported",
        ),
        ("just: [unclosed\n", "not valid YAML"),
        ("hello world\n", "not a camera file"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_yaml_files_name_the_file_and_the_problem(tmp_path, text, message):
    path = tmp_path / ("bad.json" if text.startswith("{") else "bad.yaml")
    path.write_text(text)
    with pytest.raises(rp.FileFormatError, match=message) as info:
        rp.Camera.load(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_missing_file_is_a_source_error(tmp_path):
    with pytest.raises(rp.SourceError, match="no such camera file") as info:
        rp.Camera.load(tmp_path / "nope.yaml")
    assert isinstance(info.value, OSError)


def test_save_rejects_unknown_format_and_keeps_old_file(tmp_path, distorted_camera):
    path = tmp_path / "cam.yaml"
    distorted_camera.save(path)
    before = path.read_bytes()
    with pytest.raises(
        rp.InvalidInputError, match="format: expected one of 'opencv', 'ros', 'json', got 'toml'"
    ):
        distorted_camera.save(path, "toml")
    wide = rp.Camera.from_intrinsics(500, 500, 320, 240, 640, 480, np.zeros(12))
    with pytest.raises(rp.InvalidInputError, match="ROS camera_info holds 5 or 8"):
        wide.save(path, "ros")
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: rp.Camera(np.eye(2), 640, 480), r"K: expected \(3, 3\), got \(2, 2\)"),
        (lambda: rp.Camera(np.eye(3), 0, 480), "width: expected a positive integer, got 0"),
        (lambda: rp.Camera(np.diag([1.0, 1.0, 2.0]), 640, 480), r"K: expected \[\[fx, s, cx\]"),
        (lambda: rp.Camera(np.eye(3), 640, 480, [1.0, 2.0]), "dist_coeffs: expected 0, 4, 5"),
    ],
)
def test_constructor_errors(make, message):
    with pytest.raises(rp.InvalidInputError, match=message):
        make()


def test_camera_at_a_random_pose_sees_points_where_cv2_does(rng, distorted_camera):
    # The same check through a world frame: T_cam_world composes with the projection.
    T_cam_world = rp.Pose.from_rvec_tvec([0.0, 0.0, 0.2], [0.0, 0.0, 2.0]) @ random_pose(rng, 0.0)
    points_world = rng.uniform(-0.3, 0.3, size=(50, 3))
    rvec, tvec = T_cam_world.as_rvec_tvec()
    expected, _ = cv2.projectPoints(
        points_world, rvec, tvec, distorted_camera.K, distorted_camera.dist_coeffs
    )
    np.testing.assert_allclose(
        distorted_camera.project(T_cam_world.apply(points_world)), expected.reshape(-1, 2), atol=1e-9
    )


@pytest.mark.parametrize(
    ("fx", "fy", "message"),
    [
        (1e6, 500.0, r"fx: expected a focal length giving a field of view of 1 to 179 deg, got 1e\+06 px, "
         r"which gives 0\.03667 deg across an image 640 px wide \(640x480\)"),
        (500.0, 1.0, r"fy: .* got 1 px, which gives 179\.5 deg across an image 480 px high \(640x480\)"),
        (2.0, 500.0, r"fx: .* got 2 px, which gives 179\.3 deg"),
    ],
)  # fmt: skip
def test_absurd_focal_lengths_are_refused_with_the_field_of_view(fx, fy, message):
    with pytest.raises(rp.InvalidInputError, match=message) as info:
        rp.Camera.from_intrinsics(fx, fy, 320, 240, 640, 480)
    assert "\n" not in str(info.value)


def test_field_of_view_limits_are_inclusive_and_scaling_keeps_them():
    for fov_deg in (1.0, 179.0):
        camera = rp.Camera.from_fov(640, 640, math.radians(fov_deg))
        assert camera.scaled(320, 320).fx == pytest.approx(camera.fx / 2)
    with pytest.raises(rp.InvalidInputError, match=r"fov_x_rad: expected .*\(1 to 179 deg\), got 3\.13"):
        rp.Camera.from_fov(640, 480, 3.13)
    with pytest.raises(rp.InvalidInputError, match="fy: .* across an image 480 px high"):
        rp.Camera.from_fov(640, 480, math.radians(1.0))  # 0.75 deg vertically


def test_loaded_focal_length_in_mm_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "cam.json"
    path.write_text(json.dumps(_json_camera(camera_matrix=[[1.2, 0, 320], [0, 500, 240], [0, 0, 1]])))
    with pytest.raises(rp.FileFormatError, match=r"fx: .* got 1\.2 px, which gives 179\.6 deg") as info:
        rp.Camera.load(path)
    assert str(info.value).startswith(str(path))

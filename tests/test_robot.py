"""Robot frames: transform files, hand-eye calibration, T_base_obj from the tracker and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import rigidpose as rp
from rigidpose.cli import main
from rigidpose.synth.handeye import HandEyeNoise, hand_eye_stops


def _errors(found: rp.Pose, truth: rp.Pose) -> tuple[float, float]:
    d = rp.pose_distance(found, truth)
    return 1000.0 * d.translation_m, math.degrees(d.rotation_rad)


# -- transform files ----------------------------------------------------------------------------
def test_transform_files_round_trip_in_json_and_text(tmp_path, rng):
    T = rp.Pose.from_rvec_tvec(rng.normal(size=3), rng.normal(size=3))
    rp.save_transform(tmp_path / "T.json", T, metadata={"stops": 15})
    assert rp.load_transform(tmp_path / "T.json").allclose(T, atol_rad=1e-12, atol_m=1e-12)
    assert json.loads((tmp_path / "T.json").read_text())["stops"] == 15
    np.savetxt(tmp_path / "T.txt", T.as_matrix())
    assert rp.load_transform(tmp_path / "T.txt").allclose(T, atol_rad=1e-9, atol_m=1e-9)
    (tmp_path / "mm.json").write_text(json.dumps({"T_base_cam": np.eye(4).tolist(), "units": "mm"}))
    matrix = np.eye(4)
    matrix[:3, 3] = [100.0, 0.0, -50.0]
    (tmp_path / "mm.json").write_text(json.dumps({"T_base_cam": matrix.tolist(), "units": "mm"}))
    assert rp.load_transform(tmp_path / "mm.json").translation == pytest.approx([0.1, 0.0, -0.05])


def test_bad_transform_and_robot_files_are_clear(tmp_path):
    (tmp_path / "a.json").write_text('{"T": 1}')
    with pytest.raises(rp.FileFormatError, match="expected a JSON object with 'T_base_cam'"):
        rp.load_transform(tmp_path / "a.json")
    (tmp_path / "b.txt").write_text("1 0 0\n0 1 0\n0 0 1\n")
    with pytest.raises(rp.FileFormatError, match="expected a 4x4 matrix"):
        rp.load_transform(tmp_path / "b.txt")
    skewed = np.eye(4)
    skewed[0, 1] = 0.5
    np.savetxt(tmp_path / "c.txt", skewed)
    with pytest.raises(rp.FileFormatError, match="c.txt: T_base_cam: the upper-left 3x3 is not a rotation"):
        rp.load_transform(tmp_path / "c.txt")
    with pytest.raises(rp.FileFormatError, match="cannot read"):
        rp.load_transform(tmp_path / "missing.json")
    (tmp_path / "r.json").write_text(json.dumps({"units": "inch", "T_base_gripper": [np.eye(4).tolist()]}))
    with pytest.raises(rp.FileFormatError, match="units: expected one of m, cm, mm, got 'inch'"):
        rp.read_robot_poses(tmp_path / "r.json")
    (tmp_path / "s.json").write_text(json.dumps({"units": "mm", "T_base_gripper": [np.eye(3).tolist()]}))
    with pytest.raises(rp.FileFormatError, match=r"T_base_gripper\[0\]: expected a 4x4 matrix"):
        rp.read_robot_poses(tmp_path / "s.json")


# -- hand-eye -----------------------------------------------------------------------------------
@pytest.mark.parametrize("eye_in_hand", [False, True])
def test_hand_eye_recovers_the_camera_within_1_mm_and_0_1_degree(eye_in_hand):
    """15 noisy stops: tracked target 0.05 deg, 0.2 mm across, 0.5 mm along the view; robot 0.05 mm.
    Over ten random cells the error is typically half a millimetre; none may reach 1 mm / 0.1 deg
    by more than the noise's tail allows."""
    mm, deg = [], []
    for seed in range(10):
        cell = hand_eye_stops(15, np.random.default_rng(seed), eye_in_hand=eye_in_hand)
        result = rp.calibrate_hand_eye(cell.T_base_gripper, cell.T_cam_obj, eye_in_hand=eye_in_hand)
        found = result.T_gripper_cam if eye_in_hand else result.T_base_cam
        assert found is not None and (result.T_base_cam is None) == eye_in_hand
        e_mm, e_deg = _errors(found, cell.T_truth)
        mm.append(e_mm)
        deg.append(e_deg)
        assert np.median(result.residual_mm) < 2.0 and np.median(result.residual_deg) < 0.2
    assert np.median(mm) < 0.7 and np.mean(np.array(mm) < 1.0) >= 0.8 and max(mm) < 1.5
    assert max(deg) < 0.12 and np.median(deg) < 0.07


def test_hand_eye_is_exact_without_noise_and_refuses_poor_stops():
    quiet = HandEyeNoise(0.0, 0.0, 0.0, 0.0, 0.0)
    cell = hand_eye_stops(5, np.random.default_rng(0), noise=quiet)
    result = rp.calibrate_hand_eye(cell.T_base_gripper, cell.T_cam_obj)
    e_mm, e_deg = _errors(result.T_base_cam, cell.T_truth)
    assert e_mm < 1e-6 and e_deg < 1e-6 and result.residual_mm.max() < 1e-6
    with pytest.raises(rp.InvalidInputError, match="at least 3 stops, got 2"):
        rp.calibrate_hand_eye(cell.T_base_gripper[:2], cell.T_cam_obj[:2])
    with pytest.raises(rp.InvalidInputError, match="as many robot poses as target poses, got 5 and 4"):
        rp.calibrate_hand_eye(cell.T_base_gripper, cell.T_cam_obj[:4])
    # the gripper only slides (no rotation between stops): no unique answer
    slid = [
        rp.Pose(cell.T_base_gripper[0].rotation, cell.T_base_gripper[0].translation + [0.05 * k, 0, 0])
        for k in range(5)
    ]
    with pytest.raises(rp.InvalidInputError, match="fewer than two distinct axes"):
        rp.calibrate_hand_eye(slid, cell.T_cam_obj)


# -- the tracker and the command line -----------------------------------------------------------
def test_tracker_reports_the_pose_in_the_robot_base(tmp_path):
    from rigidpose.targets.planar import planar_target

    image = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    image = np.ascontiguousarray(np.kron(image[::8, ::8], np.ones((8, 8, 1), np.uint8)))  # blocky texture
    target = planar_target(image, 0.2, "sheet", features="sift")
    camera = rp.Camera.from_fov(640, 480, math.radians(60))
    from rigidpose.synth.scene import TargetRenderer

    T_cam_obj = rp.Pose.from_rvec_tvec(np.array([0.3, -0.2, 0.1]), np.array([0.01, -0.02, 0.45]))
    renderer = TargetRenderer(target, camera)
    view = renderer.render(T_cam_obj)
    renderer.close()
    frame = (
        np.clip(view.color * view.alpha[..., None] + 0.5 * (1 - view.alpha[..., None]), 0, 1) * 255
    ).astype(np.uint8)
    T_base_cam = rp.Pose.from_rvec_tvec(np.array([2.0, 0.1, -0.3]), np.array([0.8, 0.2, 0.9]))
    tracker = rp.Tracker([target], camera, T_base_cam=T_base_cam)
    (result,) = tracker.update(frame)
    assert result.T_cam_obj is not None and result.T_base_obj is not None
    assert result.T_base_obj.allclose(T_base_cam @ result.T_cam_obj, atol_rad=1e-12, atol_m=1e-12)
    assert rp.pose_distance(result.T_base_obj, T_base_cam @ T_cam_obj).translation_m < 0.003
    line = rp.FramePoses(0, 0.0, (result,)).as_json()
    back = rp.FramePoses.from_json(json.loads(json.dumps(line)))
    assert back.objects[0].T_base_obj.allclose(result.T_base_obj, atol_rad=1e-9, atol_m=1e-9)
    with pytest.raises(rp.InvalidInputError, match="T_base_cam: expected a Pose, got ndarray"):
        rp.Tracker([target], camera, T_base_cam=np.eye(4))


def test_handeye_command_writes_the_transform(tmp_path, capsys):
    cell = hand_eye_stops(15, np.random.default_rng(4))
    robot = {"units": "mm", "T_base_gripper": []}
    with rp.PoseWriter(tmp_path / "tracked.jsonl") as writer:
        for i, (A, B) in enumerate(zip(cell.T_base_gripper, cell.T_cam_obj)):
            matrix = A.as_matrix()
            matrix[:3, 3] *= 1000.0
            robot["T_base_gripper"].append(matrix.tolist())
            lost = i == 3  # the target was not found at one stop: that stop is left out
            objects = (rp.ObjectPose("board", "lost") if lost else rp.ObjectPose("board", "tracking", B),)
            writer.write(rp.FramePoses(i, 0.0, objects))
    (tmp_path / "robot.json").write_text(json.dumps(robot))
    args = ["handeye", "--robot", str(tmp_path / "robot.json"), "--poses", str(tmp_path / "tracked.jsonl")]
    assert main([*args, "--out", str(tmp_path / "T_base_cam.json")]) == 0
    out = capsys.readouterr().out
    assert "from 14 of 15 stops" in out and out.count("stop ") == 14
    e_mm, e_deg = _errors(rp.load_transform(tmp_path / "T_base_cam.json"), cell.T_truth)
    assert e_mm < 1.5 and e_deg < 0.12

    robot["T_base_gripper"] = robot["T_base_gripper"][:10]
    (tmp_path / "short.json").write_text(json.dumps(robot))
    args[2] = str(tmp_path / "short.json")
    assert main([*args, "--out", str(tmp_path / "x.json")]) == 1
    err = capsys.readouterr().err
    assert "has 15 frames" in err and "10 robot poses" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.json").exists()

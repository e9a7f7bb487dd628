from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import REPO

import rigidpose as rp


def run_demo(name: str, out, *args: str) -> subprocess.CompletedProcess:
    """Run ``demos/NAME`` as a user would, writing into ``out``; it must succeed."""
    result = subprocess.run(
        [sys.executable, str(REPO / "demos" / name), "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def sheet_recording(tmp_path_factory):
    """40 frames of the printable sheet filmed by a moving camera, with exact poses."""
    from rigidpose.synth import SequenceOptions, render_sequence
    from rigidpose.targets import planar_target

    image = rp.io.read_image(REPO / "demos" / "data" / "sheet" / "sheet.jpg")
    target = planar_target(image, 0.18, name="sheet", features="sift")
    out = tmp_path_factory.mktemp("recording") / "sheet"
    options = SequenceOptions(frames=40, seed=5, background="procedural")
    return render_sequence(target, out, options, progress=False)


def test_photo_pose_demo_end_to_end(tmp_path):
    result = run_demo("box_photo_pose.py", tmp_path)
    overlay = cv2.imread(str(tmp_path / "box_pose1_pose.png"))
    assert overlay.shape == (480, 718, 3)
    assert cv2.imread(str(tmp_path / "box_video_sheet.png")).shape == (480, 1280, 3)
    assert rp.Target.load(tmp_path / "box_target").keypoints_obj.shape == (8, 3)
    line = json.loads((tmp_path / "box_pose1_poses.jsonl").read_text())
    box = line["objects"][0]
    # the clicked corners are accurate to about a pixel; the solved pose must fit them that well
    assert box["reproj_error_px"] < 1.0
    # the box stands on a table about a metre in front of the camera, its picture face up
    T_cam_obj = rp.Pose.from_matrix(box["T_cam_obj"])
    assert 0.8 < T_cam_obj.translation[2] < 1.4
    assert (
        T_cam_obj.rotation[:, 2] @ [0.0, 0.0, 1.0] < 0
    )  # object z (out of the face) points toward the camera
    assert "455 frames of box.mp4" in result.stdout


def test_track_box_demo_end_to_end(tmp_path):
    """`make demo`: register the box, track it through the whole video, draw it."""
    result = run_demo("track_box.py", tmp_path)
    assert "455 frames, box tracked in" in result.stdout
    records = rp.read_poses(tmp_path / "poses.jsonl")
    posed = sum(r.objects[0].T_cam_obj is not None for r in records)
    assert len(records) == 455 and posed >= 0.95 * len(records)
    assert cv2.imread(str(tmp_path / "contact_sheet.png")).shape == (720, 1280, 3)
    with rp.FrameSource(tmp_path / "overlay.mp4") as overlay:
        assert overlay.frame_count == 455
    assert rp.Target.load(tmp_path / "box-target").appearance.detector == "sift"


def test_webcam_demo_on_a_recording_stands_the_rocket_on_the_sheet(tmp_path, sheet_recording):
    video = tmp_path / "ar.mp4"
    result = run_demo(
        "webcam_sheet.py", video, "--source", str(sheet_recording / "video.mp4"),
        "--camera", str(sheet_recording / "camera.yaml"), "--no-show",
    )  # fmt: skip
    assert "40 frames, sheet found in 40" in result.stdout
    camera = rp.Camera.load(sheet_recording / "camera.yaml")
    truth = rp.read_poses(sheet_recording / "gt.jsonl")
    with rp.FrameSource(video) as drawn, rp.FrameSource(sheet_recording / "video.mp4") as filmed:
        for (k, ar), plain in zip(enumerate(drawn), filmed):
            if k % 10:
                continue
            T = truth[k].objects[0].T_cam_obj
            # the rocket's top (11 cm out of the sheet's centre) is drawn where it projects
            u, v = np.round(camera.project(T.apply(np.array([[0.0, 0.0, -0.09]])))[0]).astype(int)
            patch = np.s_[v - 3 : v + 4, u - 3 : u + 4]
            assert np.abs(ar.image[patch].astype(int) - plain.image[patch].astype(int)).mean() > 20


def test_webcam_demo_without_a_display_names_the_flags_that_do_without_one():
    """It has no --show and --out alone still opens the window: it must suggest --no-show."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    for args in ([], ["--out", "ar.mp4"]):
        result = subprocess.run(
            [sys.executable, str(REPO / "demos" / "webcam_sheet.py"), *args],
            capture_output=True, text=True, timeout=300, env=env,
        )  # fmt: skip
        assert result.returncode == 1 and result.stdout == ""
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("webcam_sheet: no display for the window (DISPLAY is not set); ")
        assert line.endswith("--source clip.mp4 --no-show --out ar.mp4")
        assert "--show needs" not in line


def test_stream_demo_prints_a_pose_line_per_frame(sheet_recording):
    result = subprocess.run(
        [sys.executable, str(REPO / "demos" / "stream_poses.py"), "--target", str(sheet_recording / "target"),
         "--camera", str(sheet_recording / "camera.yaml"), "--source", str(sheet_recording / "video.mp4")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    truth = rp.read_poses(sheet_recording / "gt.jsonl")
    assert [line["frame"] for line in lines] == list(range(40))
    errors = []
    for line, expected in zip(lines, truth):
        (sheet,) = line["objects"]
        T = rp.Pose.from_quat(sheet["quaternion_xyzw"], sheet["position_m"])
        np.testing.assert_allclose(T.as_matrix(), sheet["T_cam_obj"], atol=1e-5)
        errors.append(np.linalg.norm(T.translation - expected.objects[0].T_cam_obj.translation))
    assert np.median(errors) < 0.005  # metres


def test_rgbd_robot_demo_end_to_end(tmp_path):
    result = run_demo("rgbd_robot.py", tmp_path)
    lines = [line for line in result.stdout.splitlines() if line.startswith("frame ")]
    assert len(lines) >= 55 and sum("refined with depth" in line for line in lines) >= 40
    assert (tmp_path / "scene.ply").stat().st_size > 1000 and (tmp_path / "model.ply").stat().st_size > 1000
    T_base_cam = rp.load_transform(tmp_path / "T_base_cam.json")
    assert T_base_cam.translation[2] == 1.2


def test_learned_drill_demo_end_to_end(tmp_path):
    result = run_demo("learned_drill.py", tmp_path)
    posed = int(result.stdout.split("pose in ")[1].split(" of")[0])
    within = int(result.stdout.split("(ADD): ")[1].split(" of")[0])
    # of 90 frames with a hand passing over the drill; measured 90 posed, 75 within 0.1 d with the
    # shipped model (the frames with much of the drill hidden are its weak spot: rigidpose bench
    # --learned)
    assert posed >= 80 and within >= 67
    assert (tmp_path / "contact_sheet.png").stat().st_size > 10_000
    assert len(rp.read_poses(tmp_path / "poses.jsonl")) == 90

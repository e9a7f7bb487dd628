from __future__ import annotations

import json
import subprocess
import sys

import cv2
from conftest import REPO

import rigidpose as rp


def run_demo(name: str, out) -> subprocess.CompletedProcess:
    """Run ``demos/NAME`` as a user would, writing into ``out``; it must succeed."""
    result = subprocess.run(
        [sys.executable, str(REPO / "demos" / name), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result


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
    run_demo("track_box.py", tmp_path)
    records = rp.read_poses(tmp_path / "poses.jsonl")
    posed = sum(r.objects[0].T_cam_obj is not None for r in records)
    assert len(records) == 455 and posed >= 0.95 * len(records)
    assert cv2.imread(str(tmp_path / "contact_sheet.png")).shape == (720, 1280, 3)
    with rp.FrameSource(tmp_path / "overlay.mp4") as overlay:
        assert overlay.frame_count == 455
    assert rp.Target.load(tmp_path / "box-target").appearance.detector == "sift"

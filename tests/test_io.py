from __future__ import annotations

import json
import logging

import cv2
import numpy as np
import pytest
from conftest import BOX_DATA

import rigidpose as rp


def _write_video(path, frames=40, codec="MJPG", fps=25.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (160, 120))
    for i in range(frames):
        image = np.full((120, 160, 3), (i * 6) % 256, np.uint8)
        writer.write(image)
    writer.release()
    return path


def test_video_frames_have_index_timestamp_and_bgr(tmp_path):
    path = _write_video(tmp_path / "clip.avi")
    with rp.FrameSource(path) as source:
        assert source.kind == "video" and len(source) == 40 and source.fps == pytest.approx(25.0)
        frames = list(source)
    assert [f.index for f in frames] == list(range(40))
    assert frames[10].timestamp_ms == pytest.approx(400.0)
    assert frames[0].image.shape == (120, 160, 3) and frames[0].image.dtype == np.uint8
    assert abs(int(frames[10].image.mean()) - 60) <= 3  # the content of frame 10, not another


def test_truncated_video_yields_what_it_can_then_warns(tmp_path, caplog):
    data = _write_video(tmp_path / "clip.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING, logger="rigidpose.io"):
        frames = list(rp.FrameSource(tmp_path / "cut.avi"))
    assert 5 < len(frames) < 40
    assert "truncated or corrupt" in caplog.text


def test_video_with_garbage_inside_does_not_crash(tmp_path):
    data = bytearray(_write_video(tmp_path / "clip.avi").read_bytes())
    rng = np.random.default_rng(3)
    middle = len(data) // 2
    data[middle : middle + 4000] = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    (tmp_path / "bad.avi").write_bytes(bytes(data))
    frames = list(rp.FrameSource(tmp_path / "bad.avi"))
    assert len(frames) >= 10 and all(f.image.shape == (120, 160, 3) for f in frames)


def test_not_a_video_is_a_clear_error(tmp_path):
    (tmp_path / "notes.mp4").write_text("hello")
    with pytest.raises(rp.SourceError, match="notes.mp4: cannot open as a video"):
        rp.FrameSource(tmp_path / "notes.mp4")
    with pytest.raises(rp.SourceError, match="no such file, folder or webcam index"):
        rp.FrameSource(tmp_path / "missing.mp4")


def test_folder_is_sorted_naturally_and_converts_pixels(tmp_path):
    cv2.imwrite(str(tmp_path / "frame10.png"), np.full((20, 30), 1000, np.uint16))  # 16-bit gray
    cv2.imwrite(str(tmp_path / "frame2.png"), np.full((20, 30, 4), 200, np.uint8))  # BGRA
    cv2.imwrite(str(tmp_path / "frame1.jpg"), np.full((20, 30), 50, np.uint8))  # 8-bit gray
    (tmp_path / "readme.txt").write_text("not an image")
    source = rp.FrameSource(tmp_path, fps=10)
    frames = list(source)
    assert source.kind == "folder" and len(source) == 3
    assert [f.timestamp_ms for f in frames] == [0.0, 100.0, 200.0]
    assert all(f.image.shape == (20, 30, 3) and f.image.dtype == np.uint8 for f in frames)
    assert [int(f.image[0, 0, 0]) for f in frames] == [50, 200, 4]  # frame1, frame2, frame10


def test_folder_skips_an_unreadable_image_with_a_warning(tmp_path, caplog):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "b.png").write_bytes(b"\x89PNG broken")
    with caplog.at_level(logging.WARNING, logger="rigidpose.io"):
        frames = list(rp.FrameSource(tmp_path))
    assert len(frames) == 1 and "b.png: cannot decode image" in caplog.text


def test_single_image_and_empty_folder(tmp_path):
    frames = list(rp.FrameSource(BOX_DATA / "box_pose1.JPG"))
    assert len(frames) == 1 and frames[0].image.shape == (480, 718, 3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(rp.SourceError, match="folder holds no images"):
        rp.FrameSource(tmp_path / "empty")


def test_missing_webcam_is_a_clear_error():
    with pytest.raises(rp.SourceError, match="webcam 9: cannot open"):
        rp.FrameSource(9)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((0, 4, 3), np.uint8), "expected an"),
        (np.zeros((4, 4, 2), np.uint8), "expected 1, 3 or 4 channels, got 2"),
        (np.zeros((4, 4), np.int32), "expected uint8, uint16 or float pixels, got int32"),
    ],
)
def test_as_bgr8_rejects_what_it_cannot_convert(image, message):
    with pytest.raises(rp.InvalidInputError, match=message):
        rp.io.as_bgr8(image)


def _sample_records():
    T = rp.Pose.from_rvec_tvec([0.1, 0.2, 0.3], [0.01, -0.02, 0.5])
    return [
        rp.FramePoses(0, 0.0, (rp.ObjectPose("box", "searching"),)),
        rp.FramePoses(
            1, 33.333, (rp.ObjectPose("box", "tracking", T, 57, 0.81, 0.93), rp.ObjectPose("sheet", "lost"))
        ),
    ]


def test_pose_jsonl_round_trip_and_schema(tmp_path):
    path = tmp_path / "poses.jsonl"
    with rp.PoseWriter(path) as writer:
        for record in _sample_records():
            writer.write(record)
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    second = json.loads(lines[1])
    assert set(second) == {"frame", "timestamp_ms", "objects"}
    box = second["objects"][0]
    assert set(box) == {"name", "state", "T_cam_obj", "inliers", "reproj_error_px", "confidence"}
    assert np.asarray(box["T_cam_obj"]).shape == (4, 4) and box["T_cam_obj"][3] == [0, 0, 0, 1]
    assert json.loads(lines[0])["objects"][0]["T_cam_obj"] is None
    assert json.loads(lines[0])["objects"][0]["reproj_error_px"] is None
    records = rp.read_poses(path)
    expected = _sample_records()
    assert (
        records[1]
        .objects[0]
        .T_cam_obj.allclose(expected[1].objects[0].T_cam_obj, atol_rad=1e-12, atol_m=1e-12)
    )
    assert records[1].objects[0].inliers == 57 and records[1].objects[0].reproj_error_px == 0.81
    assert [o.state for r in records for o in r.objects] == ["searching", "tracking", "lost"]


def test_pose_writer_to_stdout(capsys):
    with rp.PoseWriter("-") as writer:
        writer.write(_sample_records()[0])
    assert json.loads(capsys.readouterr().out)["frame"] == 0


def test_read_poses_names_the_bad_line(tmp_path):
    path = tmp_path / "poses.jsonl"
    path.write_text('{"frame": 0, "timestamp_ms": 0, "objects": []}\n{"frame": 1}\n')
    with pytest.raises(
        rp.FileFormatError, match=r"poses.jsonl:2: not a pose line \(missing key 'timestamp_ms'\)"
    ):
        rp.read_poses(path)


def test_object_pose_checks_state_and_confidence():
    with pytest.raises(
        rp.InvalidInputError, match="state: expected one of 'searching', 'tracking', 'lost', got 'found'"
    ):
        rp.ObjectPose("box", "found")
    with pytest.raises(rp.InvalidInputError, match="confidence: expected a value in"):
        rp.ObjectPose("box", "tracking", confidence=1.5)


class _FlakyCamera:
    """A stand-in for cv2.VideoCapture: plays its script of frames (arrays) and failures (None)."""

    def __init__(self, script):
        self.script = script

    def isOpened(self):
        return True

    def set(self, *args):
        return True

    def read(self):
        if not self.script:
            return False, None
        image = self.script.pop(0)
        return image is not None, image

    def release(self):
        pass


class _UnpluggedWebcam(rp.FrameSource):
    """A webcam that delivers 3 frames, stalls, comes back on the second reopening for 2 frames,
    then is unplugged for good."""

    def __init__(self, **kwargs):
        frame = np.zeros((48, 64, 3), np.uint8)
        self.openings = [
            [frame, frame, frame, None, None],  # first opening
            [None],  # the first reopening gets nothing
            [frame, frame, frame],  # back: one frame is read to check, two delivered
        ]
        self.opened = 0
        super().__init__(0, **kwargs)

    def _new_capture(self, index):
        self.opened += 1
        return _FlakyCamera(self.openings.pop(0) if self.openings else [])


def test_a_stalled_webcam_is_reopened_and_a_lost_one_ends_the_stream():
    statuses = []
    source = _UnpluggedWebcam(reconnect_s=2.5, on_status=statuses.append)
    frames = list(source)
    assert len(frames) == 5 and [f.index for f in frames] == list(range(5))
    assert statuses[0].startswith("stalled") and "live" in statuses
    assert any(s.startswith("reconnecting") for s in statuses)
    assert statuses[-1].startswith("lost")
    assert source.opened >= 4  # first opening, two reopenings, then retries until it gave up
    with pytest.raises(rp.InvalidInputError, match="reconnect_s"):
        rp.FrameSource(0, reconnect_s=-1)


@pytest.mark.parametrize(
    ("source", "error", "message"),
    [
        (None, rp.InvalidTypeError, "source: expected a path or a webcam index, got NoneType"),
        (True, rp.InvalidTypeError, "got bool True"),
        (-1, rp.InvalidInputError, "expected a webcam index >= 0, got -1"),  # OpenCV would crash (exit 139)
    ],
)
def test_frame_source_refuses_what_is_neither_a_path_nor_a_webcam(source, error, message):
    with pytest.raises(error, match=message):
        rp.FrameSource(source)


def test_a_float_frame_with_nan_becomes_black_where_it_is_nan():
    image = np.full((4, 4, 3), 0.5)
    image[0, 0] = np.nan
    converted = rp.io.as_bgr8(image)
    assert converted[0, 0].tolist() == [0, 0, 0] and converted[1, 1].tolist() == [128, 128, 128]

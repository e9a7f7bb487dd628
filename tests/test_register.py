"""Registering the real cookie box, tracking it in the real video, and the track CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import BOX_DATA, REPO

import rigidpose as rp
from rigidpose.render.opencv import Painter, contact_sheet
from rigidpose.targets.register import load_correspondences, pose_from_correspondences, register_target

MESH = REPO / "meshes" / "box.ply"


@pytest.fixture(scope="module")
def box():
    mesh = rp.load_mesh(MESH, "cm")
    points_3d, points_2d = load_correspondences(BOX_DATA / "box_pose1.corners.json")
    camera = rp.Camera.load(BOX_DATA / "box_pose1.camera.yaml")
    photo = rp.io.read_image(BOX_DATA / "box_pose1.JPG")
    target, (report,) = register_target(mesh, [(photo, camera, points_3d, points_2d)], "box")
    return target, report


def test_register_puts_photo_features_on_visible_faces_of_the_mesh(box):
    target, report = box
    assert report.click_error_px < 1.0 and report.features_on_mesh > 300
    assert len(target.appearance) == report.features_on_mesh
    points = target.appearance.points_obj
    low, high = target.mesh.bounds
    # every point on the surface of the 18.9 x 25.8 x 7.5 cm box: on at least one face plane
    on_face = np.isclose(points, low, atol=1e-4) | np.isclose(points, high, atol=1e-4)
    assert np.all(on_face.any(axis=1)) and np.all((points >= low - 1e-4) & (points <= high + 1e-4))
    # only faces the photo's camera saw: the picture face (z max) and the two sides facing it
    T_obj_cam = report.T_cam_obj.inv()
    seen_from = T_obj_cam.translation
    for axis in range(3):
        for bound, sign in ((low, -1), (high, 1)):
            on = np.isclose(points[:, axis], bound[axis], atol=1e-4)
            if on.any():
                assert sign * (seen_from[axis] - bound[axis]) > 0, f"features on a hidden face (axis {axis})"
    assert np.isclose(points[:, 2], high[2], atol=1e-4).sum() > 0.5 * len(points)


def test_correspondence_errors_are_clear(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"units": "cm", "points_3d": [[0, 0, 0]] * 6, "points_2d": [[1, 2]] * 5}))
    with pytest.raises(rp.FileFormatError, match="as many points_3d as points_2d"):
        load_correspondences(path)
    path.write_text(json.dumps({"units": "inch", "points_3d": [], "points_2d": []}))
    with pytest.raises(rp.InvalidInputError, match="units: expected one of"):
        load_correspondences(path)
    path.write_text("{")
    with pytest.raises(rp.FileFormatError, match="expected"):
        load_correspondences(path)
    with pytest.raises(rp.InvalidInputError, match="not all on one line"):
        line = np.column_stack([np.linspace(0, 1, 6), np.zeros(6), np.zeros(6)])
        pose_from_correspondences(
            line, np.random.default_rng(0).random((6, 2)), rp.Camera.from_fov(640, 480, 1.0)
        )


def test_wrong_clicks_are_refused(box):
    mesh = rp.load_mesh(MESH, "cm")
    points_3d, points_2d = load_correspondences(BOX_DATA / "box_pose1.corners.json")
    camera = rp.Camera.load(BOX_DATA / "box_pose1.camera.yaml")
    photo = rp.io.read_image(BOX_DATA / "box_pose1.JPG")
    with pytest.raises(rp.InvalidInputError, match="fit no pose"):
        register_target(mesh, [(photo, camera, points_3d, points_2d[::-1])], "box")


def _box_photo(points_3d=None):
    corners_3d, points_2d = load_correspondences(BOX_DATA / "box_pose1.corners.json")
    camera = rp.Camera.load(BOX_DATA / "box_pose1.camera.yaml")
    photo = rp.io.read_image(BOX_DATA / "box_pose1.JPG")
    return photo, camera, corners_3d if points_3d is None else points_3d, points_2d


@pytest.mark.parametrize(
    ("units", "message"),
    [
        (
            "mm",
            "photo 1: the scales of the mesh and the clicked points disagree: the mesh read as mm is "
            "0.0328 m across but the clicked points span 0.328 m: is the mesh in cm? try --units cm",
        ),
        ("m", "the mesh read as m is 32.8 m across but the clicked points span 0.328 m: is the mesh in cm?"),
    ],
)
def test_mesh_read_in_the_wrong_units_is_refused_naming_the_right_ones(units, message):
    mesh = rp.load_mesh(MESH, units)  # the file is in cm
    with pytest.raises(rp.InvalidInputError, match=re.escape(message)) as info:
        register_target(mesh, [_box_photo()], "box", mesh_units=units)
    assert "\n" not in str(info.value)
    with pytest.raises(rp.InvalidInputError, match="the mesh is 32.8 m across .* scaled by 0.01"):
        register_target(rp.load_mesh(MESH, "m"), [_box_photo()], "box")  # units unknown: the factor


def test_correspondences_in_the_wrong_units_or_elsewhere_are_refused(tmp_path):
    mesh = rp.load_mesh(MESH, "cm")
    data = json.loads((BOX_DATA / "box_pose1.corners.json").read_text())
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data | {"units": "mm"}))  # the numbers are cm
    points_3d, _ = load_correspondences(path)
    with pytest.raises(
        rp.InvalidInputError, match=re.escape('try --units mm (or fix "units" in the correspondence')
    ):
        register_target(mesh, [_box_photo(points_3d)], "box", mesh_units="cm")
    moved = _box_photo()[2] + [0.5, 0.0, 0.0]  # half a metre beside the box
    with pytest.raises(
        rp.InvalidInputError,
        match=r"photo 1: expected the clicked points on the mesh, got points up to 0\.5 m",
    ):
        register_target(mesh, [_box_photo(moved)], "box", mesh_units="cm")
    with pytest.raises(rp.InvalidInputError, match="mesh_units: expected one of 'm', 'cm', 'mm', got 'inch'"):
        register_target(mesh, [_box_photo()], "box", mesh_units="inch")


def test_box_is_tracked_in_the_real_video_and_outlined(box, tmp_path):
    target, _ = box
    camera = rp.Camera.load(BOX_DATA / "box.camera.yaml")
    tracker = rp.Tracker([target], camera)
    painter = Painter(target, camera)
    posed, depths, sheet = 0, [], []
    with rp.FrameSource(BOX_DATA / "box.mp4") as source:
        for frame in source:
            if frame.index >= 120:
                break
            (result,) = tracker.update(frame)
            if result.T_cam_obj is not None:
                posed += 1
                depths.append(result.T_cam_obj.translation[2])
            if frame.index % 40 == 0:
                sheet.append((frame.image, painter.annotate(frame.image.copy(), result), result))
    assert posed >= 0.95 * 120
    # the box is held about a metre from the camera and never jumps in depth between frames
    assert 0.6 < np.median(depths) < 1.4 and np.abs(np.diff(depths)).max() < 0.05
    for original, drawn, result in sheet:
        changed = np.any(original != drawn, axis=2)
        changed[:32] = False  # the label
        rows, cols = np.nonzero(changed)
        box_px = camera.project(result.T_cam_obj.apply(target.mesh.vertices))
        low, high = box_px.min(axis=0) - 4, box_px.max(axis=0) + 4
        near = (cols >= low[0]) & (cols <= high[0]) & (rows >= low[1]) & (rows <= high[1])
        assert len(rows) > 500 and near.mean() > 0.99  # lines drawn, and only around the box
    picture = contact_sheet([drawn for _, drawn, _ in sheet], columns=3, width_px=960)
    assert picture.shape == (240, 960, 3)


def test_cli_register_then_track(tmp_path):
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "rigidpose", *args], capture_output=True, text=True, timeout=300
        )

    result = run(
        "target", "register", "--mesh", str(MESH), "--units", "cm",
        "--image", str(BOX_DATA / "box_pose1.JPG"), "--camera", str(BOX_DATA / "box_pose1.camera.yaml"),
        "--correspondences", str(BOX_DATA / "box_pose1.corners.json"), "--out", str(tmp_path / "box"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "features on the mesh" in result.stdout and rp.Target.load(tmp_path / "box").appearance is not None
    # ten frames of the video as a folder of images
    frames = tmp_path / "frames"
    frames.mkdir()
    with rp.FrameSource(BOX_DATA / "box.mp4") as source:
        for frame in source:
            if frame.index >= 10:
                break
            cv2.imwrite(str(frames / f"f{frame.index}.png"), frame.image)
    args = ["track", "--target", str(tmp_path / "box"), "--camera", str(BOX_DATA / "box.camera.yaml")]
    result = run(
        *args,
        "--source",
        str(frames),
        "--poses",
        str(tmp_path / "p.jsonl"),
        "--out",
        str(tmp_path / "o.mp4"),
        "-q",
    )
    assert result.returncode == 0, result.stderr
    records = rp.read_poses(tmp_path / "p.jsonl")
    assert len(records) == 10 and all(len(r.objects) == 1 for r in records)
    assert sum(r.objects[0].T_cam_obj is not None for r in records) >= 9
    with rp.FrameSource(tmp_path / "o.mp4") as overlay:
        assert sum(1 for _ in overlay) == 10
    # a user's mistakes: one line, exit 1, nothing written
    result = run(
        *args[:2], str(frames), *args[3:], "--source", str(frames), "--poses", str(tmp_path / "x.jsonl")
    )
    assert (
        result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1 and "target" in result.stderr
    )
    assert not (tmp_path / "x.jsonl").exists()
    result = run(
        *args,
        "--source",
        str(tmp_path / "missing.mp4"),
        "--poses",
        str(tmp_path / "y.jsonl"),
        "--out",
        str(tmp_path / "y.mp4"),
    )
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "y.mp4").exists() and not (tmp_path / "y.jsonl").exists()
    # the same poses drawn again later: the rocket standing on the box's picture face
    on_top = "0.0945,0.129,0.075,90,0,0"
    render = ["render", "--poses", str(tmp_path / "p.jsonl"), "--source", str(frames), *args[1:]]
    result = run(*render, "--overlay", str(REPO / "meshes" / "rocket.glb"), "--overlay-pose", on_top,
                 "--out", str(tmp_path / "rocket.mp4"), "-q")  # fmt: skip
    assert result.returncode == 0, result.stderr
    first = records[0].objects[0].T_cam_obj
    with rp.FrameSource(tmp_path / "rocket.mp4") as video:
        drawn = next(iter(video)).image.astype(int)
    changed = np.abs(drawn - cv2.imread(str(frames / "f0.png")).astype(int)).sum(axis=2) > 60
    camera = rp.Camera.load(BOX_DATA / "box.camera.yaml")
    base = camera.project(first.apply(np.array([[0.0945, 0.129, 0.075]])))[0]
    rows, cols = np.nonzero(changed)
    assert changed.sum() > 1000  # the rocket is there...
    assert np.median(rows) < base[1] and abs(np.median(cols) - base[0]) < 40  # ...standing up from its base
    for bad, message in (
        (["--overlay-pose", "1,2"], "--overlay-pose"),
        (["--overlay", "sparkles"], "overlay"),
    ):
        result = run(*render, *bad, "--out", str(tmp_path / "bad.mp4"))
        assert result.returncode == 1 and message in result.stderr and len(result.stderr.splitlines()) == 1
        assert not (tmp_path / "bad.mp4").exists()


@pytest.mark.parametrize(
    ("signal_name", "code", "said"), [("SIGINT", 130, "Ctrl-C"), ("SIGTERM", 143, "SIGTERM")]
)
def test_a_stopped_run_leaves_complete_files_and_nothing_half_written(box, tmp_path, signal_name, code, said):
    import signal
    import time

    target, _ = box
    target.save(tmp_path / "box")
    poses, video = tmp_path / "p.jsonl", tmp_path / "o.mp4"
    # a long source (the video's first 30 frames, over and over), so the tracker cannot finish
    # before the signal arrives however busy the machine is
    with rp.FrameSource(BOX_DATA / "box.mp4") as source:
        for frame in source:
            if frame.index == 30:
                break
            cv2.imwrite(str(tmp_path / f"first-{frame.index:02d}.png"), frame.image)
    frames = tmp_path / "frames"
    frames.mkdir()
    for k in range(3000):
        (frames / f"{k:04d}.png").symlink_to(tmp_path / f"first-{k % 30:02d}.png")
    process = subprocess.Popen(
        [sys.executable, "-m", "rigidpose", "track", "--target", str(tmp_path / "box"),
         "--camera", str(BOX_DATA / "box.camera.yaml"), "--source", str(frames),
         "--poses", str(poses), "--out", str(video), "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # as from a terminal: a shell's background job starts with SIGINT ignored, and Python keeps that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip

    def partial_lines() -> int:  # the poses file is written beside its place until the run ends
        return sum(p.read_text().count("\n") for p in tmp_path.glob(".p.jsonl.*.partial"))

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and partial_lines() < 20:
        time.sleep(0.05)
    assert not poses.exists() and not video.exists()  # nothing at the final paths while running
    process.send_signal(getattr(signal, signal_name))
    out, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert f"stopped by {said}" in out and "Traceback" not in err
    records = rp.read_poses(poses)  # every line complete
    assert 20 <= len(records) < 3000
    assert out.startswith(f"{len(records)} frames")
    with rp.FrameSource(video) as overlay:  # the video holds the frames drawn so far
        assert abs(sum(1 for _ in overlay) - len(records)) <= 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_track_needs_something_to_do_and_a_valid_size(tmp_path, capsys):
    from rigidpose.cli import main

    base = ["track", "--target", str(tmp_path), "--camera", str(BOX_DATA / "box.camera.yaml")]
    assert main([*base, "--source", str(BOX_DATA / "box.mp4")]) == 1
    assert "nothing to do" in capsys.readouterr().err
    assert main([*base, "--source", "0", "--show", "--size", "big"]) == 1
    assert "--size: expected WIDTHxHEIGHT" in capsys.readouterr().err

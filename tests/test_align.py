"""Depth: synthetic RGB-D, RGBDSource, and DepthAligner's ICP refinement."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

import rigidpose as rp
from rigidpose.synth.depth import KinectNoise, scene_depth, table_depth
from rigidpose.synth.objects import textured_box
from rigidpose.synth.trajectory import look_at_pose


@pytest.fixture(scope="module")
def box() -> rp.Target:
    rng = np.random.default_rng(3)
    faces = [rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(6)]
    return rp.Target(name="box", mesh=textured_box((0.30, 0.20, 0.15), faces))


@pytest.fixture(scope="module")
def camera() -> rp.Camera:
    return rp.Camera.from_intrinsics(560.0, 560.0, 321.0, 238.0, 640, 480, [-0.2, 0.06, 0.0005, -0.0004, 0.0])


def _view(distance: float, tilt_deg: float, azimuth_deg: float) -> rp.Pose:
    tilt, az = math.radians(tilt_deg), math.radians(azimuth_deg)
    eye = distance * np.array([math.sin(tilt) * math.cos(az), math.sin(tilt) * math.sin(az), -math.cos(tilt)])
    return look_at_pose(eye, np.zeros(3), np.array([0.0, 1.0, 0.0]))


def _sensed(camera, box, T: rp.Pose, seed: int, hand: np.ndarray | None = None) -> np.ndarray:
    """What a Kinect-like sensor reads: the box standing on a table (z = max z), noisy."""
    rays = camera.ray_image()
    z_box = rp.MeshCaster(box.mesh).cast(T, rays)[0]
    table = table_depth(rays, T, float(box.mesh.bounds[1, 2]))
    exact = scene_depth(np.where(np.isfinite(z_box), z_box, 0.0), table, hand, float(T.translation[2]) - 0.2)
    return KinectNoise()(exact, np.random.default_rng(seed))


def _off(T: rp.Pose, along_view_m: float, sideways_m: float, rotation_deg: float, seed: int) -> rp.Pose:
    """T moved like a colour pose errs: mostly along the camera's axis."""
    rng = np.random.default_rng(seed)
    axis = rng.normal(size=3)
    wobble = rp.Pose.from_rvec_tvec(axis / np.linalg.norm(axis) * math.radians(rotation_deg), np.zeros(3))
    return rp.Pose(T.rotation @ wobble.rotation, T.translation + [sideways_m, -sideways_m, along_view_m])


# -- the synthetic sensor -----------------------------------------------------------------------
def test_kinect_noise_grows_with_distance_and_leaves_holes_at_edges():
    sensor = KinectNoise()
    rng = np.random.default_rng(0)
    for z in (1.0, 2.5):
        measured = sensor(np.full((240, 320), z, np.float32), rng)
        valid = measured > 0
        assert 0.98 < valid.mean() <= 1.0  # only the random dropouts
        expected = float(sensor.sigma_at(z))
        assert np.std(measured[valid] - z) == pytest.approx(expected, rel=0.3)
    step = np.full((100, 100), 1.0, np.float32)
    step[:, 50:] = 1.5  # a 50 cm jump between columns 49 and 50
    measured = sensor(step, rng)
    assert (measured[:, 48:52] == 0).mean() > 0.6 and (measured[:, 10:40] == 0).mean() < 0.02
    assert not sensor(np.full((8, 8), 0.3, np.float32), rng).any()  # nearer than the sensor's range


def test_table_is_a_plane_at_the_objects_far_side(camera):
    T = rp.Pose.from_rvec_tvec(np.zeros(3), np.array([0.0, 0.0, 1.2]))  # facing the camera
    depth = table_depth(camera.ray_image(), T, 0.1)
    assert np.allclose(depth, 1.3, atol=1e-6)


# -- RGBDSource ----------------------------------------------------------------------------------
def _write_rgbd(folder, count: int, scale_mm: float | None, size=(64, 48)) -> None:
    (folder / "rgb").mkdir(parents=True)
    (folder / "depth").mkdir()
    w, h = size
    for i in range(count):
        cv2.imwrite(str(folder / "rgb" / f"{i:06d}.png"), np.full((h, w, 3), 40 * i, np.uint8))
        cv2.imwrite(str(folder / "depth" / f"{i:06d}.png"), np.full((h, w), 1000 + i, np.uint16))
    if scale_mm is not None:
        cameras = {
            str(i): {"cam_K": [1, 0, 0, 0, 1, 0, 0, 0, 1], "depth_scale": scale_mm} for i in range(count)
        }
        (folder / "scene_camera.json").write_text(json.dumps(cameras))


def test_rgbd_source_reads_bop_scale_or_the_given_one(tmp_path):
    _write_rgbd(tmp_path / "bop", 3, 0.1)
    frames = list(rp.RGBDSource(tmp_path / "bop" / "rgb", tmp_path / "bop" / "depth"))
    assert [f.index for f in frames] == [0, 1, 2]
    assert frames[2].depth_m.dtype == np.float32 and frames[2].depth_m[0, 0] == pytest.approx(0.1002)
    _write_rgbd(tmp_path / "rs", 2, None)
    frames = list(rp.RGBDSource(tmp_path / "rs" / "rgb", tmp_path / "rs" / "depth"))  # 1 mm per unit
    assert frames[1].depth_m[5, 5] == pytest.approx(1.001)
    frames = list(rp.RGBDSource(tmp_path / "rs" / "rgb", tmp_path / "rs" / "depth", depth_scale_mm=0.25))
    assert frames[1].depth_m[5, 5] == pytest.approx(0.25025)


def test_rgbd_source_bad_inputs_are_clear(tmp_path):
    _write_rgbd(tmp_path / "a", 2, None)
    (tmp_path / "a" / "depth" / "000001.png").unlink()
    with pytest.raises(rp.SourceError, match="1 depth images for 2 colour frames"):
        rp.RGBDSource(tmp_path / "a" / "rgb", tmp_path / "a" / "depth")
    _write_rgbd(tmp_path / "b", 1, None)
    cv2.imwrite(str(tmp_path / "b" / "depth" / "000000.png"), np.zeros((48, 64), np.uint8))
    with pytest.raises(rp.SourceError, match="expected a single-channel 16-bit depth PNG"):
        list(rp.RGBDSource(tmp_path / "b" / "rgb", tmp_path / "b" / "depth"))
    _write_rgbd(tmp_path / "c", 1, None)
    cv2.imwrite(str(tmp_path / "c" / "depth" / "000000.png"), np.zeros((24, 32), np.uint16))
    with pytest.raises(rp.SourceError, match="depth is 32x24, the colour frame 64x48"):
        list(rp.RGBDSource(tmp_path / "c" / "rgb", tmp_path / "c" / "depth"))
    with pytest.raises(rp.SourceError, match="no such depth folder"):
        rp.RGBDSource(tmp_path / "c" / "rgb", tmp_path / "nowhere")
    with pytest.raises(rp.InvalidInputError, match="depth_scale_mm"):
        rp.RGBDSource(tmp_path / "c" / "rgb", tmp_path / "c" / "depth", depth_scale_mm=0)


# -- DepthAligner --------------------------------------------------------------------------------
@pytest.mark.parametrize(("tilt", "azimuth"), [(35, 30), (50, 200), (25, 120)])
def test_refinement_fixes_the_colour_poses_depth_error(box, camera, tilt, azimuth):
    T_gt = _view(1.1, tilt, azimuth)
    depth = _sensed(camera, box, T_gt, seed=tilt)
    T_in = _off(T_gt, 0.015, 0.002, 1.5, seed=azimuth)
    alignment = rp.DepthAligner(box, camera).refine(T_in, depth)
    before, after = rp.pose_distance(T_in, T_gt), rp.pose_distance(alignment.T_cam_obj, T_gt)
    assert alignment.accepted, alignment.reason
    # the error along the view, which colour poses have most of, is gone; what the depth cannot
    # see (a face seen nearly face on slides in itself) stays as the colour pose had it
    assert abs(alignment.T_cam_obj.translation[2] - T_gt.translation[2]) < 0.002
    assert after.translation_m < before.translation_m / 2
    assert after.rotation_rad < before.rotation_rad
    assert alignment.fitness > 0.8 > alignment.fitness_before
    assert 0 < alignment.inlier_rmse_m < 0.01


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_good_pose_is_never_made_worse_by_more_than_1_mm(box, camera, seed):
    rng = np.random.default_rng(seed)
    T_gt = _view(rng.uniform(0.9, 1.5), rng.uniform(10, 55), rng.uniform(0, 360))
    depth = _sensed(camera, box, T_gt, seed=seed)
    alignment = rp.DepthAligner(box, camera).refine(T_gt, depth)
    moved = rp.pose_distance(alignment.T_cam_obj, T_gt)
    assert moved.translation_m < 0.001 and moved.rotation_rad < math.radians(0.2)


def test_a_face_on_plane_keeps_its_in_plane_position_from_the_colour_pose(camera):
    from rigidpose.targets.planar import planar_target

    sheet = planar_target(np.full((210, 297, 3), 128, np.uint8), 0.297, "sheet", features="orb")
    T_gt = rp.Pose.from_rvec_tvec(np.zeros(3), np.array([0.0, 0.0, 0.9]))  # face on, on a table
    depth = KinectNoise()(table_depth(camera.ray_image(), T_gt, 0.0), np.random.default_rng(0))
    T_in = rp.Pose(T_gt.rotation, T_gt.translation + [0.004, -0.003, 0.012])
    alignment = rp.DepthAligner(sheet, camera).refine(T_in, depth)
    assert alignment.accepted and alignment.degenerate == 3  # two slides and the spin in the plane
    shift = alignment.T_cam_obj.translation - T_gt.translation
    assert abs(shift[2]) < 0.002  # depth fixed what it sees
    assert shift[:2] == pytest.approx([0.004, -0.003], abs=5e-4)  # and left the rest alone


def test_hand_in_front_is_survived_and_a_wrong_scene_is_rejected(box, camera):
    T_gt = _view(1.2, 40, 60)
    hand = np.zeros((480, 640), np.float32)
    hand[150:330, 200:330] = 1.0  # a palm over part of the box
    depth = _sensed(camera, box, T_gt, seed=5, hand=hand)
    aligner = rp.DepthAligner(box, camera)
    alignment = aligner.refine(_off(T_gt, 0.012, 0.001, 1.0, seed=6), depth)
    assert alignment.accepted and rp.pose_distance(alignment.T_cam_obj, T_gt).translation_m < 0.004

    # the depth of the box somewhere else: nothing it sees supports the pose
    elsewhere = _sensed(
        camera, box, _view(1.2, 40, 60) @ rp.Pose.from_rvec_tvec(np.zeros(3), [0.35, 0, 0]), 7
    )
    T_in = _off(T_gt, 0.01, 0.0, 1.0, seed=8)
    rejected = aligner.refine(T_in, elsewhere)
    assert not rejected.accepted and rejected.reason and rejected.T_cam_obj is T_in
    empty = aligner.refine(T_in, np.zeros((480, 640), np.float32))
    assert not empty.accepted and "too few depth points" in empty.reason


def test_aligner_bad_inputs_and_point_clouds(box, camera, tmp_path):
    aligner = rp.DepthAligner(box, camera)
    with pytest.raises(rp.InvalidInputError, match=r"depth_m: expected \(480, 640\)"):
        aligner.refine(_view(1.0, 30, 0), np.zeros((240, 320), np.float32))
    with pytest.raises(rp.InvalidInputError, match="backend: expected one of 'legacy', 'tensor', got 'gpu'"):
        rp.AlignOptions(backend="gpu")
    behind = rp.Pose.from_rvec_tvec(np.zeros(3), np.array([0.0, 0.0, -1.0]))
    assert aligner.refine(behind, np.ones((480, 640), np.float32)).reason == "the object is not in the image"

    import open3d as o3d

    T_gt = _view(1.0, 30, 45)
    alignment = aligner.refine(_off(T_gt, 0.01, 0.0, 0.5, 9), _sensed(camera, box, T_gt, 9))
    scene_path, model_path = alignment.write_ply(tmp_path / "clouds", "f0_")
    scene, model = o3d.io.read_point_cloud(str(scene_path)), o3d.io.read_point_cloud(str(model_path))
    assert len(scene.points) == len(alignment.scene_cam) > 500 and len(model.points) == len(
        alignment.model_obj
    )
    # the model cloud sits on the object-segmented depth cloud: median gap a few millimetres
    gaps = np.asarray(scene.compute_point_cloud_distance(model))
    assert np.median(gaps) < 0.006
    assert sorted(p.name for p in (tmp_path / "clouds").iterdir()) == ["f0_model.ply", "f0_scene.ply"]


# -- the tracker and the command line -----------------------------------------------------------
@pytest.fixture(scope="module")
def rgbd_sequence(tmp_path_factory):
    from rigidpose.synth import SequenceOptions, TrajectoryOptions, render_sequence
    from rigidpose.synth.sheets import marker_sheet

    target, markers = marker_sheet("astronaut")
    options = SequenceOptions(
        frames=16,
        seed=4,
        background="photo",
        noise=True,
        depth=True,
        depth_noise=True,
        trajectory=TrajectoryOptions(distance=(2.0, 3.0), max_tilt_rad=math.radians(50)),
    )
    return render_sequence(target, tmp_path_factory.mktemp("rgbd") / "seq", options, markers, progress=False)


def _track_errors_mm(gt, sequence, target, camera: rp.Camera, depth: bool) -> np.ndarray:
    tracker = rp.Tracker([target], camera, rp.TrackerOptions(depth=rp.AlignOptions() if depth else None))
    mm = []
    for frame, T_gt in zip(rp.RGBDSource(gt.video, sequence / "depth"), gt.T_cam_obj):
        (result,) = tracker.update(frame)
        assert (result.depth_fitness is not None) == depth
        mm.append(1000 * rp.pose_distance(result.T_cam_obj, T_gt).translation_m)
    return np.array(mm)


def test_depth_never_spoils_a_good_colour_pose_and_fixes_a_miscalibrated_one(rgbd_sequence):
    from rigidpose.eval.bench import load_ground_truth
    from rigidpose.targets.planar import planar_target, sheet_image

    gt = load_ground_truth(rgbd_sequence)
    target = planar_target(*sheet_image(gt.target), gt.target.name, features="sift")
    # exact intrinsics: the colour poses of this clean sheet are already sub-millimetre, and the
    # refinement must not make any frame worse by more than 1 mm
    rgb = _track_errors_mm(gt, rgbd_sequence, target, gt.camera, depth=False)
    rgbd = _track_errors_mm(gt, rgbd_sequence, target, gt.camera, depth=True)
    assert np.median(rgb) < 1.0 and np.all(rgbd < rgb + 1.0)
    # a focal length 1 % too long puts colour poses 1 % too far; depth measures the distance
    K = gt.camera.K.copy()
    K[:2, :2] *= 1.01
    off = rp.Camera(K, gt.camera.width, gt.camera.height, gt.camera.dist_coeffs)
    rgb = _track_errors_mm(gt, rgbd_sequence, target, off, depth=False)
    rgbd = _track_errors_mm(gt, rgbd_sequence, target, off, depth=True)
    assert np.median(rgb) > 5.0 and np.median(rgbd) < np.median(rgb) / 2


def test_track_command_with_depth_base_frame_and_clouds(rgbd_sequence, tmp_path, capsys):
    from rigidpose.cli import main
    from rigidpose.targets.planar import planar_target, sheet_image

    sheet = rp.Target.load(rgbd_sequence / "target")
    planar_target(*sheet_image(sheet), sheet.name, features="sift").save(tmp_path / "target")
    T_base_cam = rp.Pose.from_rvec_tvec(np.array([2.2, 0.0, 0.1]), np.array([0.5, -0.1, 1.1]))
    rp.save_transform(tmp_path / "T_base_cam.json", T_base_cam)
    common = ["track", "--target", str(tmp_path / "target"), "--camera", str(rgbd_sequence / "camera.yaml")]
    source = ["--source", str(rgbd_sequence / "video.mp4")]
    args = [*common, *source, "--depth", str(rgbd_sequence / "depth"), "--depth-every", "2"]
    args += ["--T-base-cam", str(tmp_path / "T_base_cam.json"), "--ply", str(tmp_path / "ply"), "-q"]
    assert main([*args, "--poses", str(tmp_path / "poses.jsonl")]) == 0
    assert "refined with depth" in capsys.readouterr().out
    lines = rp.read_poses(tmp_path / "poses.jsonl")
    assert len(lines) == 16
    checked = [line.objects[0] for line in lines if line.objects[0].depth_fitness is not None]
    assert len(checked) == 8  # every second frame
    for line in lines:
        obj = line.objects[0]
        assert obj.T_base_obj.allclose(T_base_cam @ obj.T_cam_obj, atol_rad=1e-6, atol_m=1e-6)
    clouds = sorted(p.name for p in (tmp_path / "ply").iterdir())
    assert len(clouds) == 16 and clouds[0] == "000000_astronaut_model.ply"

    assert main([*common, *source, "--ply", str(tmp_path / "p2"), "--poses", str(tmp_path / "x.jsonl")]) == 1
    assert "--ply writes the depth point clouds: give --depth DIR too" in capsys.readouterr().err
    bad = [
        *common,
        "--source",
        "0",
        "--depth",
        str(rgbd_sequence / "depth"),
        "--poses",
        str(tmp_path / "y.jsonl"),
    ]
    assert main(bad) == 1
    assert "--source must be a video or folder" in capsys.readouterr().err

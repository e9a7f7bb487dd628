"""Rendered ground truth checked against the image: known 3D points are found where
Camera.project says they are."""

from __future__ import annotations

import itertools
import json
import math

import cv2
import numpy as np
import pytest
from conftest import REPO

import rigidpose as rp
from rigidpose.synth import SequenceOptions, TrajectoryOptions, render_sequence
from rigidpose.synth.scene import TargetRenderer
from rigidpose.synth.sheets import marker_sheet
from rigidpose.synth.trajectory import look_at_pose, random_trajectory
from rigidpose.targets import planar_target
from rigidpose.targets.planar import image_points_obj

SQUARE_PX, COLUMNS, ROWS = 60, 9, 7


@pytest.fixture(scope="module")
def board():
    """A printed checkerboard (9 x 7 squares, white margin) and its inner corners on the sheet."""
    image = np.full(((ROWS + 2) * SQUARE_PX, (COLUMNS + 2) * SQUARE_PX), 255, np.uint8)
    for j in range(ROWS):
        for i in range(COLUMNS):
            if (i + j) % 2 == 0:
                image[
                    (j + 1) * SQUARE_PX : (j + 2) * SQUARE_PX, (i + 1) * SQUARE_PX : (i + 2) * SQUARE_PX
                ] = 0
    # inner corners lie on pixel boundaries: half a pixel before the centre of pixel k * SQUARE_PX
    corners_px = np.array(
        [
            [(i + 2) * SQUARE_PX - 0.5, (j + 2) * SQUARE_PX - 0.5]
            for j in range(ROWS - 1)
            for i in range(COLUMNS - 1)
        ]
    )
    target = planar_target(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), 0.3, "board")
    return target, image_points_obj(corners_px, (image.shape[1], image.shape[0]), 0.3)


@pytest.mark.parametrize(
    "dist_coeffs", [[], [-0.25, 0.08, 0.001, -0.001, -0.01]], ids=["pinhole", "distorted"]
)
def test_rendered_corners_land_where_camera_projects_them(board, dist_coeffs):
    target, corners_obj = board
    # fx != fy and an off-centre principal point catch any half-pixel or axis mix-up
    camera = rp.Camera.from_intrinsics(610.3, 590.7, 331.2, 236.9, 640, 480, dist_coeffs)
    renderer = TargetRenderer(target, camera, supersample=2)
    try:
        for rvec, tvec in (
            ([0.35, -0.25, 0.1], [0.01, -0.005, 0.45]),
            ([-0.2, 0.4, -0.6], [-0.03, 0.02, 0.5]),
        ):
            T_cam_obj = rp.Pose.from_rvec_tvec(rvec, tvec)
            view = renderer.render(T_cam_obj)
            image = view.color * view.alpha[..., None] + 0.5 * (1 - view.alpha[..., None])
            gray = cv2.cvtColor((image * 255 + 0.5).astype(np.uint8), cv2.COLOR_BGR2GRAY)
            found, detected = cv2.findChessboardCornersSB(
                gray, (COLUMNS - 1, ROWS - 1), flags=cv2.CALIB_CB_ACCURACY
            )
            assert found
            expected = camera.project(T_cam_obj.apply(corners_obj))
            detected = detected.reshape(-1, 2)
            distances = np.linalg.norm(detected[:, None] - expected[None], axis=2)
            assert len(set(distances.argmin(1))) == len(expected)  # one detection per corner
            assert distances.min(1).max() < 0.5
            # depth: the sheet's centre is at the pose's z, metres
            centre = np.round(camera.project(T_cam_obj.apply(np.zeros((1, 3))))[0]).astype(int)
            assert view.depth_m[centre[1], centre[0]] == pytest.approx(T_cam_obj.translation[2], abs=2e-3)
    finally:
        renderer.close()


def test_look_at_pose_looks_at_the_point():
    T_cam_obj = look_at_pose(np.array([0.0, 0.0, -1.0]), np.zeros(3), np.array([0.0, 1.0, 0.0]))
    np.testing.assert_allclose(T_cam_obj.apply(np.zeros(3)), [0, 0, 1], atol=1e-12)  # straight ahead
    np.testing.assert_allclose(
        T_cam_obj.apply(np.array([0.0, 0.1, 0.0])), [0, 0.1, 1], atol=1e-12
    )  # rows down
    rolled = look_at_pose(np.array([0.0, 0.0, -1.0]), np.zeros(3), np.array([0.0, 1.0, 0.0]), math.pi / 2)
    np.testing.assert_allclose(rolled.apply(np.zeros(3)), [0, 0, 1], atol=1e-12)


def test_trajectory_is_smooth_reproducible_and_within_bounds():
    options = TrajectoryOptions(distance=(1.0, 2.0), max_tilt_rad=math.radians(75), still_frames=10)
    fov_x, fov_y = math.radians(60), math.radians(47)
    poses = random_trajectory(120, 30.0, 0.3, fov_x, fov_y, options, np.random.default_rng(5))
    again = random_trajectory(120, 30.0, 0.3, fov_x, fov_y, options, np.random.default_rng(5))
    assert all(a.allclose(b, atol_rad=0, atol_m=0) for a, b in zip(poses, again))
    steps = [rp.pose_distance(a, b) for a, b in itertools.pairwise(poses)]
    assert max(s.rotation_rad for s in steps) < math.radians(6)  # no jumps between frames
    assert max(s.translation_m for s in steps) < 0.05
    assert sum(s.rotation_rad == 0 and s.translation_m == 0 for s in steps) >= 9  # the still segment
    for T in poses:
        view_axis = T.rotation[:, 2]  # object's z in the camera frame: the sheet's inward normal
        assert view_axis[2] > math.cos(math.radians(75)) - 1e-6  # never tilted past 75 degrees
        eye_distance = np.linalg.norm(T.inv().translation)
        assert 0.3 - 0.05 <= eye_distance <= 0.6 + 0.05  # distance range, plus the look-at point's wander


def test_sequence_folder_and_bop_ground_truth(tmp_path):
    target, markers = marker_sheet("astronaut")
    options = SequenceOptions(
        frames=12,
        width=320,
        height=240,
        seed=3,
        background="procedural",
        noise=True,
        occlusion=True,
        lighting=True,
        depth=True,
        masks=True,
    )
    render_sequence(target, tmp_path / "seq", options, markers, progress=False)
    seq = tmp_path / "seq"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seq"]  # nothing half-written beside it
    with rp.FrameSource(seq / "video.mp4") as video:
        frames = list(video)
    assert len(frames) == 12 and frames[0].image.shape == (240, 320, 3)
    camera = rp.Camera.load(seq / "camera.yaml")
    gt_lines = rp.read_poses(seq / "gt.jsonl")
    scene_gt = json.loads((seq / "scene_gt.json").read_text())
    scene_camera = json.loads((seq / "scene_camera.json").read_text())
    info = json.loads((seq / "scene_gt_info.json").read_text())
    for i in range(12):
        T = gt_lines[i].objects[0].T_cam_obj
        entry = scene_gt[str(i)][0]
        np.testing.assert_allclose(np.reshape(entry["cam_R_m2c"], (3, 3)), T.rotation, atol=1e-12)
        np.testing.assert_allclose(entry["cam_t_m2c"], T.translation * 1000.0, atol=1e-9)  # BOP: millimetres
        np.testing.assert_allclose(np.reshape(scene_camera[str(i)]["cam_K"], (3, 3)), camera.K)
        mask = cv2.imread(str(seq / "mask" / f"{i:06d}_000000.png"), cv2.IMREAD_GRAYSCALE) > 0
        visible = cv2.imread(str(seq / "mask_visib" / f"{i:06d}_000000.png"), cv2.IMREAD_GRAYSCALE) > 0
        # depth PNG * depth_scale = mm; at the sheet's projected centre it equals the pose's z,
        # unless the hand is in front (nearer), and the table lies on the sheet's plane all round
        depth = (
            cv2.imread(str(seq / "depth" / f"{i:06d}.png"), cv2.IMREAD_UNCHANGED)
            * scene_camera[str(i)]["depth_scale"]
        )
        u, v = np.round(camera.project(T.apply(np.zeros((1, 3))))[0]).astype(int)
        if 0 <= u < 320 and 0 <= v < 240:
            expected = T.translation[2] * 1000
            assert (
                depth[v, u] == pytest.approx(expected, abs=1.5)  # half a pixel along the tilt
                if visible[v, u]
                else depth[v, u] < expected - 50
            )
        beside = camera.project(T.apply(np.array([[0.0, 0.3, 0.0]])))[0].round().astype(int)  # off the sheet
        if 0 <= beside[0] < 320 and 0 <= beside[1] < 240 and depth[beside[1], beside[0]] > 0:
            expected = T.apply(np.array([[0.0, 0.3, 0.0]]))[0, 2] * 1000
            assert depth[beside[1], beside[0]] == pytest.approx(expected, abs=2)
        assert not np.any(visible & ~mask)
        assert info[str(i)][0]["px_count_visib"] == int(visible.sum())
        assert 0.0 <= info[str(i)][0]["visib_fract"] <= 1.0
    meta = json.loads((seq / "sequence.json").read_text())
    assert meta["markers"][0]["id"] == 7 and meta["options"]["seed"] == 3
    assert rp.Target.load(seq / "target").name == "astronaut"


def test_fully_visible_sheet_has_visible_fraction_near_one(tmp_path):
    target, _ = marker_sheet("coffee")
    options = SequenceOptions(
        frames=3,
        width=320,
        height=240,
        seed=1,
        trajectory=TrajectoryOptions(distance=(1.4, 1.5), max_offset=0.05, max_tilt_rad=0.2),
    )
    render_sequence(target, tmp_path / "seq", options, progress=False)
    info = json.loads((tmp_path / "seq" / "scene_gt_info.json").read_text())
    assert all(abs(info[str(i)][0]["visib_fract"] - 1.0) < 0.02 for i in range(3))


def test_bad_options_are_clear():
    with pytest.raises(
        rp.InvalidInputError, match="background: expected one of 'plain', 'procedural', 'photo'"
    ):
        SequenceOptions(background="space")
    with pytest.raises(rp.InvalidInputError, match="max_tilt_rad"):
        SequenceOptions(trajectory=TrajectoryOptions(max_tilt_rad=math.radians(89)))


def test_a_photo_background_by_name_is_that_photo_with_the_draws_of_a_random_one():
    from rigidpose.synth.effects import PHOTOS, background

    size = (160, 120)
    named = {name: background(name, *size, np.random.default_rng(3)) for name in PHOTOS}
    random_rng, named_rng = np.random.default_rng(3), np.random.default_rng(3)
    random_pick = background("photo", *size, random_rng)
    assert sum(np.array_equal(random_pick, image) for image in named.values()) == 1
    background("rocket", *size, named_rng)
    assert random_rng.uniform() == named_rng.uniform()  # the rest of a sequence draws the same
    assert not np.array_equal(named["rocket"], named["coffee"])
    with pytest.raises(rp.InvalidInputError, match="'coffee' is excluded"):
        background("coffee", *size, np.random.default_rng(3), exclude=("coffee",))


def test_training_never_sees_the_benchmarks_photos():
    from rigidpose.synth.effects import PHOTOS
    from rigidpose.synth.training import TRAINING_PHOTOS

    assert set(TRAINING_PHOTOS).isdisjoint(PHOTOS)


def test_untextured_mesh_silhouette_matches_projection():
    target = rp.Target.from_mesh_file(REPO / "meshes" / "box.ply", units="cm", name="box")
    camera = rp.Camera.from_intrinsics(600.0, 580.0, 322.0, 236.0, 640, 480)
    T_cam_obj = rp.Pose.from_rvec_tvec([2.2, -0.3, 0.4], [-0.08, -0.05, 0.9])
    renderer = TargetRenderer(target, camera)
    try:
        view = renderer.render(T_cam_obj)
    finally:
        renderer.close()
    rendered = view.alpha > 0.5
    pixels = camera.project(T_cam_obj.apply(np.asarray(target.mesh.vertices)))
    projected = np.zeros((480, 640), np.uint8)
    for triangle in np.round(pixels[target.mesh.faces] * 16).astype(np.int32):
        cv2.fillConvexPoly(projected, triangle, 1, cv2.LINE_8, 4)
    projected = projected.astype(bool)
    assert rendered.sum() > 10_000  # the box covers a good part of the frame (about 14k px)
    # the rendered silhouette agrees with the projected triangles to within a pixel everywhere
    kernel = np.ones((3, 3), np.uint8)
    inner = cv2.erode(projected.astype(np.uint8), kernel).astype(bool)
    outer = cv2.dilate(projected.astype(np.uint8), kernel).astype(bool)
    assert np.all(rendered[inner]) and not np.any(rendered & ~outer)
    # lit faces differ in brightness, so the shape reads as a box
    assert np.ptp(view.color[rendered].mean(axis=1)) > 0.15


def test_a_larger_hand_covers_more_of_the_frame():
    from rigidpose.synth.effects import HandOccluder

    covered = []
    for scale in (1.0, 1.8):
        hand = HandOccluder(320, 240, 60, np.random.default_rng(4), scale)
        frame = np.zeros((240, 320, 3), np.float32)
        middle = hand.start + hand.length // 2  # the hand reaches farthest halfway through its sweep
        covered.append(float(hand.draw(frame, middle).sum()))
    assert covered[0] > 0 and covered[1] > 2.5 * covered[0]  # area grows with the square of the size


@pytest.mark.parametrize("object_px", [(80.0, 60.0), (250.0, 190.0)])
def test_a_reaching_hand_stops_over_the_object_wherever_it_is(object_px):
    from rigidpose.synth.effects import HandOccluder

    hand = HandOccluder(320, 240, 60, np.random.default_rng(4), hold=0.8, reach_for_object=True)
    x, y = object_px
    for index in range(hand.start + hand.length // 3, hand.start + 2 * hand.length // 3):  # the hold
        coverage = hand.draw(np.zeros((240, 320, 3), np.float32), index, object_px)
        rows, cols = np.nonzero(coverage > 0.5)
        assert abs(np.median(rows) - y) < 0.25 * hand.size  # at the object's height, not a fixed row
        near_edge = cols.max() if not hand.from_left else cols.min()  # the side it comes in from
        far_edge = cols.max() if hand.from_left else cols.min()
        assert (far_edge - x) * (1 if hand.from_left else -1) > 0  # it reaches past the centre
        assert (x - near_edge) * (1 if hand.from_left else -1) > 0  # and comes from its side
    # the object out of view: the hand keeps the height it had
    coverage = hand.draw(np.zeros((240, 320, 3), np.float32), hand.start + hand.length // 2, None)
    assert abs(np.median(np.nonzero(coverage > 0.5)[0]) - y) < 0.25 * hand.size

from __future__ import annotations

import math

import numpy as np
import pytest

import rigidpose as rp
from rigidpose.detect import FeatureDetector, FeatureOptions, Observations, extract_features
from rigidpose.solve import solve_pose
from rigidpose.synth.scene import TargetRenderer
from rigidpose.targets import planar_target


@pytest.fixture(scope="module")
def poster():
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


@pytest.fixture(scope="module")
def frame_and_truth(poster):
    """A 640x480 frame of the poster, 0.3 m wide, tilted 35 degrees, at a known pose."""
    camera = rp.Camera.from_intrinsics(580.0, 585.0, 322.0, 238.0, 640, 480)
    T_cam_obj = rp.Pose.from_rvec_tvec([math.radians(35), 0.2, 0.1], [0.01, -0.02, 0.55])
    renderer = TargetRenderer(planar_target(poster, 0.3, "poster"), camera)
    try:
        view = renderer.render(T_cam_obj)
    finally:
        renderer.close()
    image = (view.color * view.alpha[..., None] + 0.4 * (1 - view.alpha[..., None])) * 255
    return image.astype(np.uint8), camera, T_cam_obj


@pytest.mark.parametrize("kind", ["sift", "orb", "akaze"])
def test_features_find_the_poster_and_solve_its_pose(poster, frame_and_truth, kind):
    image, camera, T_true = frame_and_truth
    target = planar_target(poster, 0.3, "poster", features=kind)
    assert target.appearance.detector == kind and len(target.appearance) > 300
    observations = FeatureDetector(target, FeatureOptions(kind=kind)).detect(image)
    assert len(observations) >= 30 and observations.pixels.dtype == np.float32
    assert np.all((observations.scores >= 0) & (observations.scores <= 1))
    estimate = solve_pose(observations.points_obj, observations.pixels, camera)
    assert estimate is not None
    distance = rp.pose_distance(estimate.T_cam_obj, T_true)
    assert distance.rotation_rad < math.radians(1.0) and distance.translation_m < 0.005


def test_multi_scale_reference_keypoints_map_back_to_full_resolution(poster):
    pixels, descriptors = extract_features(poster, "orb", 500, scales=(1.0, 0.25))
    assert len(pixels) == len(descriptors) and len(pixels) > 500
    assert pixels.min() >= -0.5 and pixels[:, 0].max() <= poster.shape[1] - 0.5


def test_blank_frame_gives_empty_observations(poster):
    target = planar_target(poster, 0.3, "poster", features="sift")
    observations = FeatureDetector(target).detect(np.zeros((480, 640, 3), np.uint8))
    assert len(observations) == 0 and observations.points_obj.shape == (0, 3)


def test_errors(poster):
    with pytest.raises(rp.InvalidInputError, match="expected orb features in its appearance, has none"):
        FeatureDetector(planar_target(poster, 0.3), FeatureOptions(kind="orb"))
    with pytest.raises(
        rp.InvalidInputError, match="kind: expected one of 'sift', 'orb', 'akaze', got 'surf'"
    ):
        FeatureOptions(kind="surf")
    with pytest.raises(rp.InvalidInputError, match="expected as many pixels, points_obj and scores"):
        Observations("x", np.zeros((2, 2)), np.zeros((3, 3)), np.zeros(2))


def test_ratio_test_rejects_a_feature_near_one_point_seen_in_many_views(rng):
    """A sheet's point is in many reference views: a frame feature whose nearest neighbours are
    all views of that one point is kept only when it is clearly closer than all of them."""
    import trimesh

    from rigidpose.target import Appearance, Target

    bases = rng.uniform(0, 100, size=(30, 128)).astype(np.float32)
    views = 12  # more views of each point than the matcher's NEIGHBOURS
    descriptors = np.repeat(bases, views, axis=0) + rng.normal(0, 1.0, (30 * views, 128)).astype(np.float32)
    points = np.repeat(rng.uniform(-0.1, 0.1, size=(30, 3)), views, axis=0)
    target = Target(
        "synthetic", trimesh.creation.box((0.2, 0.2, 0.2)), appearance=Appearance("sift", descriptors, points)
    )
    detector = FeatureDetector(target)
    assert views > detector.NEIGHBOURS
    away = rng.normal(0, 1.0, (3, 128)).astype(np.float32)
    away *= 60.0 / np.linalg.norm(away, axis=1, keepdims=True)
    queries = np.vstack(
        [
            descriptors[[5 * views, 7 * views + 3]],  # exact copies of two views: kept
            bases[[1, 2, 3]] + away,  # nearest to one point each, but no closer to it than its views
        ]
    ).astype(np.float32)
    observations = detector.match(np.arange(10, dtype=np.float32).reshape(5, 2), queries)
    assert len(observations) == 2
    np.testing.assert_allclose(
        np.sort(observations.points_obj, axis=0), np.sort(points[[5 * views, 7 * views]], axis=0)
    )
    assert np.all(observations.scores > 0.9)


def test_observations_come_best_first(poster, frame_and_truth):
    target = planar_target(poster, 0.3, "poster", features="sift")
    observations = FeatureDetector(target).detect(frame_and_truth[0])
    assert len(observations) > 30 and np.all(np.diff(observations.scores) <= 0)

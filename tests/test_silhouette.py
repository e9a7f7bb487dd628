"""Silhouette refinement: a pose off by a few percent is pulled onto the object's outline."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from conftest import REPO

import rigidpose as rp
from rigidpose.eval import metrics
from rigidpose.silhouette import SilhouetteOptions, SilhouetteRefiner
from rigidpose.synth.effects import background
from rigidpose.synth.scene import TargetRenderer


@pytest.fixture(scope="module")
def drill_view():
    """The plain drill over a procedural background: (target, camera, truth, gray frame)."""
    drill = rp.Target.from_mesh_file(REPO / "meshes" / "drill.ply", "m", name="drill")
    camera = rp.Camera.from_intrinsics(560.0, 560.0, 320.0, 240.0, 640, 480)
    truth = rp.Pose.from_rvec_tvec([2.6, 0.4, -0.3], [0.02, -0.01, 0.55])
    renderer = TargetRenderer(drill, camera)
    try:
        view = renderer.render(truth)
    finally:
        renderer.close()
    backdrop = background("procedural", 640, 480, np.random.default_rng(5))
    image = view.color * view.alpha[..., None] + backdrop * (1.0 - view.alpha[..., None])
    gray = cv2.cvtColor((image * 255 + 0.5).astype(np.uint8), cv2.COLOR_BGR2GRAY)
    return drill, camera, truth, gray


def _add_over_d(drill, T, truth):
    return metrics.add(T, truth, drill.mesh.vertices) / drill.diameter_m


@pytest.mark.parametrize(
    "turn, shift",
    [
        ([0.0, 0.0, 0.0], [0.0, 0.0, 0.03]),  # 3 cm too far: too small in the image
        ([0.0, 0.0, 0.0], [0.006, -0.004, -0.02]),  # nearer and sideways
        ([0.1, -0.08, 0.06], [0.0, 0.0, 0.0]),  # turned by 8 degrees about its centre
    ],
)
def test_a_pose_a_little_off_is_pulled_onto_the_outline(drill_view, turn, shift):
    drill, camera, truth, gray = drill_view
    off = (
        rp.Pose.from_rvec_tvec([0.0, 0.0, 0.0], shift) @ truth @ rp.Pose.from_rvec_tvec(turn, [0.0, 0.0, 0.0])
    )
    refined = SilhouetteRefiner(drill).refine(gray, camera, off)
    assert refined is not None
    before, after = _add_over_d(drill, off, truth), _add_over_d(drill, refined, truth)
    assert before > 0.03 and after < 0.01  # measured 0.03-0.11 d before, 0.003-0.004 d after


def test_no_edges_or_a_far_off_pose_is_refused(drill_view):
    drill, camera, truth, gray = drill_view
    refiner = SilhouetteRefiner(drill)
    assert refiner.refine(np.full_like(gray, 128), camera, truth) is None  # a blank frame
    far_off = rp.Pose.from_rvec_tvec([0.0, 0.0, 0.0], [0.3, 0.0, 0.0]) @ truth  # beside the drill
    found = refiner.refine(gray, camera, far_off)
    # refused, or moved no more than the bound allows (it never jumps onto the drill)
    assert found is None or rp.geometry.pose_distance(found, far_off).translation_m <= 0.1 * 0.62
    behind = rp.Pose.from_rvec_tvec([0.0, 0.0, 0.0], [0.0, 0.0, -0.55]) @ truth  # at the camera
    assert refiner.refine(gray, camera, behind) is None


def test_a_frame_of_another_size_is_a_clear_error(drill_view):
    drill, camera, truth, gray = drill_view
    with pytest.raises(
        rp.InvalidInputError, match="gray: expected a uint8 image of the camera's size 640x480, got shape"
    ):
        SilhouetteRefiner(drill).refine(gray[:240], camera, truth)


def test_bad_options_are_clear():
    with pytest.raises(rp.InvalidInputError, match="search_px: expected an integer >= 2, got 1"):
        SilhouetteOptions(search_px=1)
    with pytest.raises(
        rp.InvalidInputError, match=r"max_points: expected an integer >= min_points \(50\), got 40"
    ):
        SilhouetteOptions(min_points=50, max_points=40)


def test_the_refinement_never_moves_the_pose_farther_than_its_bounds(drill_view):
    drill, camera, truth, gray = drill_view
    off = rp.Pose.from_rvec_tvec([0.0, 0.0, 0.0], [0.0, 0.0, 0.03]) @ truth
    tight = SilhouetteOptions(max_distance_share=0.01)  # 5.8 mm at 0.58 m: less than it must move
    assert SilhouetteRefiner(drill, tight).refine(gray, camera, off) is None
    assert math.isclose(tight.max_rotation_deg, 10.0)

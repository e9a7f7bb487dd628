"""A target from a textured mesh alone: rendered views, features cast onto the mesh, tracked."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import trimesh

import rigidpose as rp
from rigidpose.synth import SequenceOptions, render_sequence
from rigidpose.synth.effects import background
from rigidpose.synth.objects import textured_box
from rigidpose.targets.from_mesh import target_from_mesh, view_directions


@pytest.fixture(scope="module")
def crate() -> trimesh.Trimesh:
    """A 12 x 8 x 5 cm box with a different random picture on each face."""
    rng = np.random.default_rng(7)
    faces = [(background("procedural", 160, 160, rng) * 255).astype(np.uint8) for _ in range(6)]
    return textured_box((0.12, 0.08, 0.05), faces)


def test_view_directions_cover_the_sphere_evenly():
    directions = view_directions(20)
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0)
    assert np.abs(directions.mean(axis=0)).max() < 0.05  # balanced
    nearest = np.sort(directions @ directions.T, axis=1)[:, -2]
    assert np.degrees(np.arccos(nearest.max())) > 30  # no two views bunch together


def test_textured_box_faces_point_outward(crate):
    assert np.all((crate.face_normals * crate.triangles_center).sum(axis=1) > 0)
    assert crate.visual.kind == "texture"


def test_a_target_from_the_mesh_alone_is_tracked_in_a_rendered_sequence(crate, tmp_path):
    target, report = target_from_mesh(crate, "crate", views=12)
    assert report.views == 12 and report.features_on_mesh > 500
    # every feature lies on the box's surface
    points = target.appearance.points_obj
    on_surface = np.abs(np.abs(points) - [0.06, 0.04, 0.025]).min(axis=1)
    assert np.percentile(on_surface, 99) < 1e-4
    sequence = render_sequence(
        target, tmp_path / "seq", SequenceOptions(frames=30, seed=2, background="photo"), progress=False
    )
    truth = rp.read_poses(sequence / "gt.jsonl")
    tracker = rp.Tracker([target], rp.Camera.load(sequence / "camera.yaml"))
    errors_mm = []
    with rp.FrameSource(sequence / "video.mp4") as source:
        for frame, expected in zip(source, truth):
            (result,) = tracker.update(frame)
            if result.T_cam_obj is not None:
                delta = result.T_cam_obj.translation - expected.objects[0].T_cam_obj.translation
                errors_mm.append(1000 * np.linalg.norm(delta))
    assert len(errors_mm) >= 29 and np.median(errors_mm) < 3.0 and max(errors_mm) < 15.0


def test_untextured_mesh_is_refused(crate):
    with pytest.raises(rp.InvalidInputError, match="expected a texture"):
        target_from_mesh(trimesh.creation.box(extents=(0.1, 0.1, 0.1)), "plain")
    with pytest.raises(rp.InvalidInputError, match="views"):
        target_from_mesh(crate, "crate", views=2)


def test_cli_from_mesh_reads_a_glb(crate, tmp_path):
    path = tmp_path / "crate.glb"
    path.write_bytes(crate.export(file_type="glb"))
    command = [
        sys.executable,
        "-m",
        "rigidpose",
        "target",
        "from-mesh",
        str(path),
        "--out",
        str(tmp_path / "t"),
    ]
    result = subprocess.run([*command, "--views", "8", "-q"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    target = rp.Target.load(tmp_path / "t")
    assert target.name == "crate" and len(target.appearance) > 300
    plain = tmp_path / "plain.ply"
    plain.write_bytes(trimesh.creation.box().export(file_type="ply"))
    result = subprocess.run(
        [*command[:5], str(plain), "--out", str(tmp_path / "p")], capture_output=True, text=True, timeout=300
    )
    assert (
        result.returncode == 1
        and "expected a texture" in result.stderr
        and len(result.stderr.splitlines()) == 1
    )
    assert not (tmp_path / "p").exists()

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import trimesh
from conftest import REPO

import rigidpose as rp

BOX_PLY = REPO / "meshes" / "box.ply"


@pytest.fixture
def box() -> rp.Target:
    rng = np.random.default_rng(7)
    mesh = rp.load_mesh(BOX_PLY, units="cm")
    appearance = rp.Appearance(
        "orb", rng.integers(0, 256, size=(40, 32), dtype=np.uint8), rng.uniform(0, 0.2, size=(40, 3))
    )
    image = rng.integers(0, 256, size=(30, 40, 3), dtype=np.uint8)
    flip = rp.Pose.from_rvec_tvec([0.0, 0.0, math.pi], [0.189, 0.258, 0.0])
    return rp.Target("box", mesh, mesh.vertices.copy(), appearance, (image,), (flip,))


@pytest.mark.parametrize(("units", "scale"), [("m", 1.0), ("cm", 0.01), ("mm", 0.001)])
def test_mesh_units_are_explicit(units, scale):
    mesh = rp.load_mesh(BOX_PLY, units=units)
    np.testing.assert_allclose(mesh.extents, np.array([18.9, 25.8, 7.5]) * scale, rtol=1e-6)


def test_unknown_units_list_the_valid_ones():
    with pytest.raises(rp.InvalidInputError, match="units: expected one of 'm', 'cm', 'mm', got 'inch'"):
        rp.load_mesh(BOX_PLY, units="inch")


def test_diameter_is_the_box_diagonal(box):
    assert box.diameter_m == pytest.approx(math.sqrt(0.189**2 + 0.258**2 + 0.075**2), rel=1e-6)


def test_save_load_round_trip(tmp_path, box):
    box.save(tmp_path / "box")
    loaded = rp.Target.load(tmp_path / "box")
    assert loaded.name == "box"
    np.testing.assert_allclose(loaded.mesh.vertices, box.mesh.vertices, atol=1e-7)
    np.testing.assert_array_equal(loaded.mesh.faces, box.mesh.faces)
    np.testing.assert_array_equal(loaded.keypoints_obj, box.keypoints_obj)
    np.testing.assert_array_equal(loaded.appearance.descriptors, box.appearance.descriptors)
    np.testing.assert_array_equal(loaded.appearance.points_obj, box.appearance.points_obj)
    assert loaded.appearance.detector == "orb"
    np.testing.assert_array_equal(loaded.reference_images[0], box.reference_images[0])
    assert loaded.symmetries[0].allclose(box.symmetries[0], atol_rad=1e-12, atol_m=1e-12)
    assert loaded.diameter_m == pytest.approx(box.diameter_m)
    meta = json.loads((tmp_path / "box" / "target.json").read_text())
    assert meta["units"] == "m" and meta["version"] == 1


def test_textured_mesh_keeps_its_texture(tmp_path):
    mesh = trimesh.creation.box(extents=(0.1, 0.2, 0.05))
    texture = np.zeros((8, 8, 3), dtype=np.uint8)
    texture[:, :4] = (255, 0, 0)
    from PIL import Image

    uv = np.random.default_rng(0).uniform(size=(len(mesh.vertices), 2))
    mesh.visual = trimesh.visual.TextureVisuals(uv=uv, image=Image.fromarray(texture))
    rp.Target("tex", mesh).save(tmp_path / "tex")
    assert (tmp_path / "tex" / "mesh.glb").is_file()
    loaded = rp.Target.load(tmp_path / "tex")
    assert loaded.mesh.visual.kind == "texture"
    np.testing.assert_allclose(loaded.mesh.extents, [0.1, 0.2, 0.05], atol=1e-6)


def test_save_replaces_atomically_and_leaves_no_temp_folders(tmp_path, box):
    box.save(tmp_path / "t")
    smaller = rp.Target("box2", box.mesh)
    smaller.save(tmp_path / "t")
    assert rp.Target.load(tmp_path / "t").name == "box2"
    assert not (tmp_path / "t" / "images").exists()  # nothing left from the older folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]


def test_failed_save_keeps_the_old_folder(tmp_path, box, monkeypatch):
    box.save(tmp_path / "t")

    def broken_export(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(trimesh.Trimesh, "export", broken_export)
    with pytest.raises(OSError, match="disk full"):
        rp.Target("other", box.mesh).save(tmp_path / "t")
    monkeypatch.undo()
    assert rp.Target.load(tmp_path / "t").name == "box"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]


def _break(folder, what):
    meta_path = folder / "target.json"
    meta = json.loads(meta_path.read_text())
    if what == "no target.json":
        meta_path.unlink()
    elif what == "bad json":
        meta_path.write_text("{oops")
    elif what == "format":
        meta["format"] = "something"
        meta_path.write_text(json.dumps(meta))
    elif what == "version":
        meta["version"] = 99
        meta_path.write_text(json.dumps(meta))
    elif what == "no mesh":
        (folder / meta["mesh"]).unlink()
    elif what == "no arrays":
        (folder / "arrays.npz").unlink()
    elif what == "pickled arrays":
        np.savez(folder / "arrays.npz", keypoints_obj=np.array([object()], dtype=object))
    elif what == "keypoint shape":
        with np.load(folder / "arrays.npz") as npz:
            arrays = dict(npz)
        arrays["keypoints_obj"] = np.zeros((4, 2))
        np.savez(folder / "arrays.npz", **arrays)
    elif what == "no image":
        (folder / "images" / "000.png").unlink()
    elif what == "symmetry":
        meta["symmetries"] = [np.diag([2.0, 1, 1, 1]).tolist()]
        meta_path.write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("no target.json", "not a target folder"),
        ("bad json", "target.json: not valid JSON"),
        ("format", 'expected "format": "rigidpose.target"'),
        ("version", "format version 99 is not supported"),
        ("no mesh", "mesh.ply: no such mesh file"),
        ("no arrays", "arrays.npz: missing"),
        ("pickled arrays", "not a readable .npz without pickle"),
        ("keypoint shape", r"keypoints_obj: expected \(N, 3\), got \(4, 2\)"),
        ("no image", "000.png: missing or not an image"),
        ("symmetry", "expected a rotation matrix"),
    ],
)
def test_load_names_what_is_wrong(tmp_path, box, what, message):
    box.save(tmp_path / "t")
    _break(tmp_path / "t", what)
    with pytest.raises(rp.RigidPoseError, match=message) as info:
        rp.Target.load(tmp_path / "t")
    assert str(tmp_path / "t") in str(info.value) and "\n" not in str(info.value)


def test_load_of_a_missing_folder(tmp_path):
    with pytest.raises(rp.SourceError, match="no such target folder"):
        rp.Target.load(tmp_path / "nothing")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda m: rp.Target("", m), "name: expected a non-empty string"),
        (lambda m: rp.Target("x", "mesh.ply"), "mesh: expected a trimesh.Trimesh"),
        (lambda m: rp.Target("x", m, np.zeros((3, 2))), r"keypoints_obj: expected \(N, 3\), got \(3, 2\)"),
        (
            lambda m: rp.Target("x", m, reference_images=(np.zeros((4, 4)),)),
            r"reference_images\[0\]: expected \(H, W, 3\) uint8",
        ),
        (lambda m: rp.Target("x", m, symmetries=(np.eye(4),)), r"symmetries\[0\]: expected Pose"),
        (
            lambda m: rp.Appearance("orb", np.zeros((3, 32), np.uint8), np.zeros((4, 3))),
            "expected one per descriptor",
        ),
        (
            lambda m: rp.Appearance("orb", np.zeros((3, 32), np.int64), np.zeros((3, 3))),
            "expected uint8 or float32",
        ),
    ],
)
def test_constructor_errors(make, message):
    mesh = rp.load_mesh(BOX_PLY, units="cm")
    with pytest.raises(rp.InvalidInputError, match=message):
        make(mesh)


def test_bad_mesh_file(tmp_path):
    (tmp_path / "bad.ply").write_text("ply\nformat ascii 1.0\nelement vertex 3\nend_header\n1 2\n")
    with pytest.raises(rp.FileFormatError, match="bad.ply"):
        rp.load_mesh(tmp_path / "bad.ply", units="m")

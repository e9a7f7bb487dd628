from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import BOX_DATA, REPO

import rigidpose as rp
from rigidpose.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rigidpose", *args], capture_output=True, text=True, timeout=120
    )


def test_help_and_version():
    result = run_cli("--help")
    assert result.returncode == 0 and "info" in result.stdout
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"rigidpose {rp.__version__}"


def test_info_on_each_kind_of_input(tmp_path, capsys):
    assert main(["info", str(BOX_DATA / "box.camera.yaml")]) == 0
    assert "fx=720.00" in capsys.readouterr().out
    assert main(["info", str(BOX_DATA / "box.mp4")]) == 0
    assert "video" in (out := capsys.readouterr().out) and "640x480" in out and "456 frames" in out
    assert main(["info", str(REPO / "meshes" / "box.ply"), "--units", "cm"]) == 0
    assert "[0.189, 0.258, 0.075]" in capsys.readouterr().out
    rp.Target.from_mesh_file(REPO / "meshes" / "box.ply", units="cm").save(tmp_path / "box")
    assert main(["info", str(tmp_path / "box")]) == 0
    assert "Target('box'" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["info", "missing.yaml"], "rigidpose: error: missing.yaml: no such camera file"),
        (["info", "missing.mp4"], "rigidpose: error: missing.mp4: no such file, folder or webcam index"),
        (["info", str(REPO / "Makefile")], "Makefile: cannot open as a video"),
        (
            ["train", "--target", str(REPO / "Makefile"), "--out", "m.onnx"],
            "Makefile: expected a target folder or a mesh file",
        ),
        (
            [
                "train",
                "--target",
                str(REPO / "meshes" / "drill.ply"),
                "--out",
                "m.onnx",
                "--covered-peak",
                "0",
            ],
            "covered_peak: expected a number in (0, 1], got 0.0",
        ),
        (
            ["target", "from-mesh", str(REPO / "meshes" / "drill.ply"), "--out", "t", "--model", "nope.onnx"],
            "nope.onnx: no such keypoint model",
        ),
        (
            ["target", "from-mesh", str(REPO / "meshes" / "drill.ply"), "--out", "t"],
            "an untextured object needs learned keypoints: rigidpose train, then from-mesh --model",
        ),
    ],
)
def test_user_mistakes_print_one_line_and_exit_non_zero(args, message):
    result = run_cli(*args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_import_is_light_and_fast():
    code = (
        "import sys, time; t = time.perf_counter(); import rigidpose; dt = time.perf_counter() - t; "
        "heavy = [m for m in ('trimesh', 'pyrender', 'open3d', 'onnxruntime', 'torch') if m in sys.modules]; "
        "print(dt, heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    seconds, heavy = result.stdout.split(" ", 1)
    assert heavy.strip() == "[]"
    assert float(seconds) < 1.0


def test_target_from_image(tmp_path, capsys):
    image = BOX_DATA / "box_pose1.JPG"
    assert (
        main(
            [
                "target",
                "from-image",
                str(image),
                "--width-m",
                "0.3",
                "--out",
                str(tmp_path / "t"),
                "--features",
                "orb",
            ]
        )
        == 0
    )
    assert "orb features from a 718x480 image" in capsys.readouterr().out
    target = rp.Target.load(tmp_path / "t")
    assert target.appearance.detector == "orb" and target.name == "box_pose1"
    assert target.mesh.extents[0] == pytest.approx(0.3)
    # corners of the sheet in the object frame: origin at the centre, y down, on z = 0
    assert target.keypoints_obj[0].tolist() == pytest.approx([-0.15, -0.3 * 480 / 718 / 2, 0.0])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--width-m", "0.3"], "no such image file"),
        (["--width-m", "0"], "width_m: expected a positive number, got 0.0"),
    ],
)
def test_target_from_image_mistakes(tmp_path, args, message):
    image = "missing.png" if "no such" in message else str(BOX_DATA / "box_pose1.JPG")
    result = run_cli("target", "from-image", image, *args, "--out", str(tmp_path / "t"))
    assert result.returncode == 1 and message in result.stderr and not (tmp_path / "t").exists()

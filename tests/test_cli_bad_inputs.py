"""A user's mistakes on the command line, as one table: each row a command, the exit status and
message it must give, and the files that must not exist afterwards. Every row runs in a
workspace of the user's own files (a folder of notes, a YAML config, a JSON Lines log, a video,
a target), which must come out of every row exactly as it went in: nothing lost, nothing
half-written, no stray temporary file."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import BOX_DATA, REPO

import rigidpose as rp

SHEET = REPO / "demos" / "data" / "sheet" / "sheet.jpg"
OPENCV_SAMPLES = Path("/usr/share/doc/opencv-doc/examples/data")  # Debian's opencv-doc (make installs it)
NOT_UTF8 = os.fsdecode(b"clip-\xff.mp4")  # a name OpenCV would crash on (exit 139)


@pytest.fixture(scope="module")
def workspace() -> Path:
    """A user's folder: their own files beside what rigidpose wrote for them."""
    root = Path(tempfile.mkdtemp(prefix="rigidpose-bad-inputs-"))
    os.chmod(root, 0o755)  # the read-only row runs as another user
    (root / "mine").mkdir()
    (root / "mine" / "notes.txt").write_text("my notes\n")
    (root / "afile.txt").write_text("a user's file\n")
    (root / "config.yaml").write_text("learning_rate: 0.1\n")
    (root / "log.jsonl").write_text('{"event": "start"}\n')
    (root / "notes.json").write_text('{"todo": 1}\n')
    (root / "empty.jsonl").write_text("")
    (root / "ro").mkdir(mode=0o555)
    (root / "shots").mkdir()  # a calibration folder with one photo of another size
    for name in ("left01.jpg", "left02.jpg", "left03.jpg"):
        shutil.copy(OPENCV_SAMPLES / name, root / "shots" / name)
    image = cv2.imread(str(root / "shots" / "left02.jpg"))
    cv2.imwrite(str(root / "shots" / "left02.jpg"), cv2.resize(image, (320, 240)))
    shutil.copy(BOX_DATA / "box.camera.yaml", root / "cam.yaml")
    (root / "narrow.yaml").write_text((BOX_DATA / "box.camera.yaml").read_text().replace("720.", "100000."))
    with rp.FrameSource(BOX_DATA / "box.mp4") as source, rp.io.VideoWriter(root / "clip.mp4") as video:
        for frame in source:
            video.write(frame.image)
            if frame.index == 4:
                break
    shutil.copy(root / "clip.mp4", root / NOT_UTF8)
    sheet = rp.io.read_image(SHEET)
    from rigidpose.targets import planar_target

    planar_target(cv2.resize(sheet, (240, 320)), 0.18, name="sheet", features="sift").save(root / "tgt")
    shutil.copytree(root / "tgt", root / "trunc")
    data = (root / "trunc" / "arrays.npz").read_bytes()
    (root / "trunc" / "arrays.npz").write_bytes(data[: len(data) // 2])
    page = np.full((480, 640, 3), 90, np.uint8)  # the sheet in view, for a long run that tracks
    page[80:400, 200:440] = cv2.resize(sheet, (240, 320))
    cv2.imwrite(str(root / "page.png"), page)
    (root / "pages").mkdir()
    for k in range(400):
        (root / "pages" / f"{k:03d}.png").symlink_to(root / "page.png")
    yield root
    os.chmod(root / "ro", 0o755)
    shutil.rmtree(root)


def _snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` (hidden ones included) with a hash of its bytes."""
    found = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        found[key] = "dir" if path.is_dir() else hashlib.sha1(path.read_bytes()).hexdigest()
    return found


TRACK = ["track", "--target", "tgt", "--camera", "cam.yaml", "--source", "clip.mp4", "-q"]
RENDER = ["render", "--target", "tgt", "--camera", "cam.yaml", "--source", "clip.mp4", "-q"]
FROM_IMAGE = ["target", "from-image", str(SHEET), "--width-m", "0.18"]
BOX_REGISTER = [
    "target", "register", "--mesh", str(REPO / "meshes" / "box.ply"),
    "--image", str(BOX_DATA / "box_pose1.JPG"), "--camera", str(BOX_DATA / "box_pose1.camera.yaml"),
    "--correspondences", str(BOX_DATA / "box_pose1.corners.json"),
]  # fmt: skip

# (name, command, exit status, fragment of the one line it prints, paths that must not exist)
CASES = [
    # outputs never destroy a user's files
    ("target over a user's folder", [*FROM_IMAGE, "--out", "mine"], 1, "is a folder of other files", []),
    ("target over a user's file", [*FROM_IMAGE, "--out", "afile.txt"], 1, "is a file; expected a folder", []),
    ("target over the current folder", [*FROM_IMAGE, "--out", "."], 1, "the current folder", []),
    ("target over a target", [*FROM_IMAGE, "--out", "tgt"], 1, "add --force to replace it", []),
    ("poses over a user's log", [*TRACK, "--poses", "log.jsonl"], 1, "not a file rigidpose wrote", []),
    ("poses over a video", [*TRACK, "--poses", "clip.mp4"], 1, "expected a .jsonl file", []),
    ("poses into a folder", [*TRACK, "--poses", "mine"], 1, "mine is a folder", []),
    (
        "poses under a file",
        [*TRACK, "--poses", "afile.txt/p.jsonl"],
        1,
        "afile.txt is a file, not a folder",
        [],
    ),
    ("overlay over its own source", [*TRACK, "--out", "clip.mp4"], 1, "also an input", []),
    (
        "camera over a user's config",
        [
            "calibrate",
            "--source",
            "clip.mp4",
            "--chessboard",
            "9x6",
            "--square-m",
            "0.025",
            "--out",
            "config.yaml",
        ],
        1,
        "not a file rigidpose wrote",
        [],
    ),
    (
        "board JSON over a user's JSON",
        ["board", "--out", "notes.pdf"],
        1,
        "not a file rigidpose wrote",
        ["notes.pdf", "notes.png"],
    ),
    ("bench report into a user's folder", ["bench", "--out", "mine"], 1, "folder of other files", []),
    ("sequence over a target", ["synth", "--out", "tgt"], 1, "folder of other files", []),
    (
        "hand-eye over a user's JSON",
        ["handeye", "--robot", "r.json", "--poses", "p.jsonl", "--out", "notes.json"],
        1,
        "not a file rigidpose wrote",
        [],
    ),
    (
        "model over a user's file",
        ["train", "--target", str(REPO / "meshes" / "drill.ply"), "--out", "afile.txt"],
        1,
        "expected a .onnx file",
        [],
    ),
    (
        "a calibration photo of another size",
        [
            "calibrate",
            "--source",
            "shots",
            "--chessboard",
            "9x6",
            "--square-m",
            "0.025",
            "--out",
            "c.yaml",
            "-q",
        ],
        1,
        "left02.jpg: expected 640x480 like the first frame",
        ["c.yaml", "c.coverage.png"],
    ),
    # every failure is one line
    ("poses on a full disk", [*TRACK, "--poses", "/dev/full"], 1, "No space left on device", []),
    (
        "truncated arrays.npz",
        [*TRACK, "--target", "trunc", "--poses", "p.jsonl"],
        1,
        "arrays.npz: not a readable .npz",
        ["p.jsonl"],
    ),
    (
        "a video as the pose file",
        [*RENDER, "--poses", "clip.mp4", "--out", "o.mp4"],
        1,
        "not a pose file",
        ["o.mp4"],
    ),
    (
        "an empty pose file",
        [*RENDER, "--poses", "empty.jsonl", "--out", "o.mp4"],
        1,
        "no pose lines",
        ["o.mp4"],
    ),
    (
        "a JSON Lines file of other things",
        [*RENDER, "--poses", "log.jsonl", "--out", "o.mp4"],
        1,
        "not a pose line",
        ["o.mp4"],
    ),
    (
        "an output path that is not UTF-8",
        [*TRACK, "--poses", os.fsdecode(b"p-\xff.jsonl")],
        1,
        "not valid UTF-8",
        [],
    ),
    ("a video path that is not UTF-8 is read", ["info", NOT_UTF8], 0, "", []),
    ("a frame rate of zero", ["synth", "--out", "new", "--fps", "0"], 1, "fps: expected", ["new"]),
    (
        "near beyond far",
        ["synth", "--out", "new", "--near", "3", "--far", "1"],
        1,
        "near=3.0, far=1.0",
        ["new"],
    ),
    (
        "content turned inside out",
        [*TRACK, "--out", "o.mp4", "--overlay-scale", "-1"],
        1,
        "content_scale",
        ["o.mp4"],
    ),
    # absurd values
    ("a field of view under 1 degree", ["info", "narrow.yaml"], 1, "field of view", []),
    (
        "a sheet a billion km wide",
        [*FROM_IMAGE[:3], "--width-m", "1e12", "--out", "new"],
        1,
        "width_m",
        ["new"],
    ),
    (
        "a mesh in the wrong units",
        [*BOX_REGISTER, "--units", "mm", "--out", "new"],
        1,
        "--units cm",
        ["new"],
    ),
    (
        "a keypoint model of another object",
        [
            "target",
            "from-mesh",
            str(REPO / "meshes" / "box.ply"),
            "--units",
            "cm",
            "--model",
            str(REPO / "models" / "drill.onnx"),
            "--out",
            "new",
        ],
        1,
        "do not lie on the mesh",
        ["new"],
    ),
]


@pytest.mark.parametrize(
    ("command", "code", "message", "absent"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_mistake_is_one_line_and_leaves_the_users_files_as_they_were(
    workspace, command, code, message, absent
):
    before = _snapshot(workspace)
    result = subprocess.run(
        [sys.executable, "-m", "rigidpose", *command],
        cwd=workspace,
        capture_output=True,
        encoding="utf-8",
        errors="replace",  # a path that is not UTF-8 comes back in the messages
        timeout=300,
    )
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    if code:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert message in result.stderr and result.stderr.startswith("rigidpose: error: "), result.stderr
    assert _snapshot(workspace) == before  # nothing lost, nothing written, no temporary file left
    for path in absent:
        assert not (workspace / path).exists()


def test_a_folder_that_cannot_be_written_in_is_named(workspace):
    user = [] if os.geteuid() != 0 else ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    for option, path in (("--poses", "ro/p.jsonl"), ("--out", "ro/o.mp4")):
        result = subprocess.run(
            [*user, sys.executable, "-m", "rigidpose", *TRACK, option, str(workspace / path)],
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 1, result.stderr
        assert result.stderr.strip().endswith(f"no permission to write in {workspace / 'ro'}")
        assert len(result.stderr.strip().splitlines()) == 1 and not any((workspace / "ro").iterdir())


def test_a_closed_pipe_ends_tracking_quietly(workspace):
    long_run = [*TRACK[:-3], "--source", "pages", "-q"]  # 400 frames: the pipe closes long before the end
    process = subprocess.Popen(
        [sys.executable, "-m", "rigidpose", *long_run, "--poses", "-"],
        cwd=workspace,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = process.stdout.readline()
    process.stdout.close()  # `| head -1`
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0 and b'"frame":0' in first
    assert "Traceback" not in err and "Exception ignored" not in err
    assert "the pose reader closed the pipe" in err and not err.startswith("400 frames")

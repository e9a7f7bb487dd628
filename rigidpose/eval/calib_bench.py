"""How well calibration works: intrinsics recovered against ground truth and references.

``rigidpose bench --calibration`` runs, in one process:

- **board, OpenCV sample**: the 13 chessboard photos Debian's opencv-doc ships (left01..14,
  9x6 inner corners, 25 mm) against OpenCV's own ``left_intrinsics.yml``;
- **board, synthetic ChArUco**: 20 rendered views of the A4 board for three cameras with known
  intrinsics and lens distortion (photo backgrounds, sensor noise);
- **focal from a target, synthetic**: rendered sequences of a printed sheet (three fields of
  view) and of a textured 3D crate, against the sequences' exact focal length;
- **focal from a target, real**: the cookie box in ../shared/data/box against box.camera.yaml's
  720 px (itself an estimate, +-10 % by its README).

Errors are signed percentages (estimate / truth - 1); k1's is absolute.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .._files import atomic_write_text
from ..camera import Camera
from ..io import FrameSource

__all__ = ["OPENCV_SAMPLES", "run_calibration_bench"]

OPENCV_SAMPLES = Path("/usr/share/doc/opencv-doc/examples/data")
REPO = Path(__file__).resolve().parents[2]
BOX_DATA = REPO / "demos" / "data" / "box"
_SYNTHETIC_CAMERAS = (
    (610.0, 612.0, 330.5, 236.2, [-0.21, 0.06, 0.0, 0.0, 0.0]),
    (820.0, 818.0, 318.0, 245.0, [-0.08, 0.02, 0.0005, -0.0004, 0.0]),
    (455.0, 455.0, 322.0, 238.0, [-0.32, 0.11, 0.0, 0.0, 0.0]),
)


def _percent(estimate: float, truth: float) -> float:
    return 100.0 * (estimate / truth - 1.0)


def _board_rows() -> list[dict[str, Any]]:
    from ..calib import Board, CalibrationOptions, ViewCollector
    from ..synth.boards import board_views

    rows = []
    reference = OPENCV_SAMPLES / "left_intrinsics.yml"
    if not reference.is_file():
        raise FileNotFoundError(f"{reference}: install Debian's opencv-doc (scripts/install-system-deps.sh)")
    storage = cv2.FileStorage(str(reference), cv2.FILE_STORAGE_READ)
    fx_reference = float(storage.getNode("camera_matrix").mat()[0, 0])
    storage.release()
    options = CalibrationOptions(min_difference=0.0)  # every photo was taken on purpose
    collector = ViewCollector(Board.chessboard(9, 6, 0.025), options)
    start = time.perf_counter()
    for frame in FrameSource(str(OPENCV_SAMPLES / "left[0-9]*.jpg")):
        collector.add(frame.index, frame.image)
    calibration = collector.calibrate()
    rows.append(
        {
            "case": "board: OpenCV sample, 9x6 chessboard",
            "views": len(calibration.views),
            "rms_px": calibration.rms_px,
            "fx_error_pct": _percent(calibration.camera.fx, fx_reference),
            "reference": f"left_intrinsics.yml fx {fx_reference:.2f}",
            "seconds": time.perf_counter() - start,
        }
    )
    board = Board.charuco_for_paper("A4")
    for number, (fx, fy, cx, cy, dist) in enumerate(_SYNTHETIC_CAMERAS):
        truth = Camera.from_intrinsics(fx, fy, cx, cy, 640, 480, dist)
        rendered = board_views(board, truth, 20, seed=100 + number)
        start = time.perf_counter()
        collector = ViewCollector(board)
        for index, (image, _) in enumerate(rendered):
            collector.add(index, image)
        calibration = collector.calibrate()
        found = calibration.camera
        rows.append(
            {
                "case": f"board: synthetic ChArUco, camera {number + 1} (fx {fx:g}, k1 {dist[0]:g})",
                "views": len(calibration.views),
                "rms_px": calibration.rms_px,
                "fx_error_pct": _percent(found.fx, fx),
                "fy_error_pct": _percent(found.fy, fy),
                "cx_error_pct": _percent(found.cx, cx),
                "cy_error_pct": _percent(found.cy, cy),
                "k1_error": float(found.dist_coeffs[0] - dist[0]),
                "seconds": time.perf_counter() - start,
            }
        )
    return rows


def _focal_row(case: str, targets: list, video: Path, truth_px: float, every: int = 1) -> dict[str, Any]:
    from ..calib.focal import collect_matches, estimate_focal

    start = time.perf_counter()
    with FrameSource(video) as source:
        matches, size = collect_matches(targets, (f for f in source if f.index % every == 0))
    estimate = estimate_focal(matches, size)
    return {
        "case": case,
        "views": estimate.views,
        "rms_px": estimate.rms_px,
        "focal_px": estimate.focal_px,
        "std_focal_px": estimate.std_focal_px,
        "fx_error_pct": _percent(estimate.focal_px, truth_px),
        "seconds": time.perf_counter() - start,
    }


def _focal_rows(work: Path) -> list[dict[str, Any]]:
    from skimage import data

    from ..synth import SequenceOptions, render_sequence
    from ..synth.effects import background
    from ..synth.objects import textured_box
    from ..targets.from_mesh import target_from_mesh
    from ..targets.planar import planar_target
    from ..targets.register import load_correspondences, register_target

    rows = []
    sheet = planar_target(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), 0.2, features="sift")
    for fov in (45, 60, 75):
        options = SequenceOptions(
            frames=60, fov_x_rad=math.radians(fov), background="photo", noise=True, motion_blur=True, seed=fov
        )
        sequence = render_sequence(sheet, work / f"sheet-{fov}", options, progress=False)
        truth = Camera.load(sequence / "camera.yaml").fx
        rows.append(
            _focal_row(
                f"focal: synthetic sheet, {fov} deg field of view", [sheet], sequence / "video.mp4", truth, 2
            )
        )
    rng = np.random.default_rng(7)
    faces = [(background("procedural", 160, 160, rng) * 255).astype(np.uint8) for _ in range(6)]
    crate, _ = target_from_mesh(textured_box((0.12, 0.08, 0.05), faces), "crate", progress=False)
    options = SequenceOptions(frames=60, fov_x_rad=math.radians(55), background="photo", noise=True, seed=5)
    sequence = render_sequence(crate, work / "crate", options, progress=False)
    truth = Camera.load(sequence / "camera.yaml").fx
    rows.append(_focal_row("focal: synthetic 3D crate, 55 deg", [crate], sequence / "video.mp4", truth, 2))

    from ..target import load_mesh

    points_3d, points_2d = load_correspondences(BOX_DATA / "box_pose1.corners.json")
    photo = cv2.imread(str(BOX_DATA / "box_pose1.JPG"))
    box, _ = register_target(
        load_mesh(REPO / "meshes" / "box.ply", units="cm"),
        [(photo, Camera.load(BOX_DATA / "box_pose1.camera.yaml"), points_3d, points_2d)],
        "box",
    )
    reference = Camera.load(BOX_DATA / "box.camera.yaml").fx
    row = _focal_row("focal: real cookie box (box.mp4)", [box], BOX_DATA / "box.mp4", reference, 3)
    row["reference"] = f"box.camera.yaml fx {reference:g} (+-10 %)"
    rows.append(row)
    return rows


def _table(rows: list[dict[str, Any]]) -> str:
    def cell(row: dict[str, Any], key: str, digits: int = 2) -> str:
        return "" if key not in row else f"{row[key]:+.{digits}f}"

    lines = [
        "| case | views | RMS px | fx err % | fy err % | cx err % | cy err % | k1 err | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['case']} | {row['views']} | {row['rms_px']:.3f} | {cell(row, 'fx_error_pct')} | "
            f"{cell(row, 'fy_error_pct')} | {cell(row, 'cx_error_pct')} | {cell(row, 'cy_error_pct')} | "
            f"{cell(row, 'k1_error', 4)} | {row['seconds']:.1f} |"
        )
    return "\n".join(lines)


def run_calibration_bench(out: str | os.PathLike[str], focal: bool = True) -> dict[str, Any]:
    """Run the calibration cases (``focal=False`` skips the slower focal-length ones); write
    ``calibration.json`` in ``out`` and return it (rows and a markdown table)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = _board_rows()
    if focal:
        with tempfile.TemporaryDirectory() as work:
            rows += _focal_rows(Path(work))
    document = {"rows": rows, "table": _table(rows)}
    atomic_write_text(out / "calibration.json", json.dumps(document, indent=2) + "\n")
    return document

"""Camera calibration: boards, the printed sheet, board calibration, focal length from a target, the CLI."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from PIL import Image

import rigidpose as rp
from rigidpose.calib import PAPER_MM, Board, CalibrationError, ViewCollector, calibrate_camera
from rigidpose.calib.board import board_sheet, write_board_sheet
from rigidpose.calib.calibrate import edge_width_px
from rigidpose.calib.focal import collect_matches, estimate_focal
from rigidpose.cli import main
from rigidpose.synth import SequenceOptions, render_sequence
from rigidpose.synth.boards import board_views
from rigidpose.targets.planar import planar_target

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
PX_PER_MM = 20  # the printed sheet's resolution, 508 dpi


def truth_camera() -> rp.Camera:
    return rp.Camera.from_intrinsics(610.0, 612.0, 330.5, 236.2, 640, 480, [-0.21, 0.06, 0.0, 0.0, 0.0])


@pytest.fixture(scope="module")
def charuco() -> Board:
    return Board.charuco_for_paper("A4")


@pytest.fixture(scope="module")
def charuco_views(charuco) -> list[tuple[np.ndarray, rp.Pose]]:
    """20 sharp rendered views of the A4 ChArUco board seen by ``truth_camera``."""
    return board_views(charuco, truth_camera(), 20, seed=1)


@pytest.fixture(scope="module")
def blurred_chessboard_views() -> list[tuple[np.ndarray, rp.Pose]]:
    """8 views of a 9x6 chessboard smeared by 14 px of motion blur (5 of them show the board)."""
    return board_views(Board.chessboard(9, 6, 0.025), truth_camera(), 8, seed=1, motion_blur_px=14)


def write_images(folder: Path, images: list[np.ndarray]) -> Path:
    folder.mkdir()
    for number, image in enumerate(images):
        assert cv2.imwrite(str(folder / f"view{number:02d}.png"), image)
    return folder


def one_error_line(capsys) -> str:
    """The CLI's stderr: exactly one ``rigidpose: error:`` line."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rigidpose: error: "), lines
    return lines[0]


def black_runs(line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and lengths of the runs of black pixels along a row or column of the sheet."""
    black = np.concatenate([[0], (line < 128).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(black))
    return edges[::2], edges[1::2] - edges[::2]


# -- boards ------------------------------------------------------------------------------------


def test_a4_board_and_chessboard_geometry(charuco):
    """The A4 board is the documented one; a chessboard is named by its inner corners."""
    assert charuco == Board("charuco", 7, 10, 0.025, 0.0175, "DICT_5X5_100")
    assert charuco.inner_corners == (6, 9) and len(charuco.corners_obj) == 54
    chess = Board.chessboard(9, 6, 0.025)
    assert (chess.squares_x, chess.squares_y) == (10, 7) and chess.inner_corners == (9, 6)
    corners = chess.corners_obj
    assert corners.shape == (54, 3) and corners.dtype == np.float32
    # row-major over the inner corners, x fastest, the board the plane z = 0
    np.testing.assert_allclose(corners[0], [0.025, 0.025, 0.0], atol=1e-7)
    np.testing.assert_allclose(corners[1], [0.05, 0.025, 0.0], atol=1e-7)
    np.testing.assert_allclose(corners[9], [0.025, 0.05, 0.0], atol=1e-7)
    np.testing.assert_allclose(corners[-1], [0.225, 0.15, 0.0], atol=1e-7)


@pytest.mark.parametrize("paper", ["A4", "letter", "A3"])
def test_each_paper_gets_a_board_that_fits_it(paper):
    """Whole-millimetre squares, markers 70 % of a square, the board inside the margins."""
    board = Board.charuco_for_paper(paper)
    square_mm, marker_mm = board.square_m * 1000, board.marker_m * 1000
    assert square_mm == pytest.approx(round(square_mm)) and 0.6 < marker_mm / square_mm < 0.75
    width_mm, height_mm = PAPER_MM[paper]
    board_w_mm, board_h_mm = (v * 1000 for v in board.size_m)
    assert board_w_mm <= width_mm - 30 and board_h_mm <= height_mm - 30
    sheet = board_sheet(board, paper)
    assert sheet.shape == (round(height_mm * PX_PER_MM), round(width_mm * PX_PER_MM))
    assert {board.squares_x, board.squares_y} == {7, 10} and board.dictionary == "DICT_5X5_100"
    # a bigger paper gets bigger squares
    assert Board.charuco_for_paper("A3").square_m > Board.charuco_for_paper("A4").square_m


def test_board_too_big_for_its_paper_is_refused():
    # 259 x 370 mm fits A4 neither upright nor turned, portrait or landscape: the sizes are named
    message = (
        r"a 259 x 370 mm board does not fit on A4 \(210 x 297 mm\) either way round: .* at most "
        r"180 x 255 mm \(portrait\) or 267 x 168 mm \(landscape\)"
    )
    with pytest.raises(rp.InvalidInputError, match=message):
        board_sheet(Board.charuco_for_paper("A3"), "A4")


def test_board_save_and_load_round_trip(tmp_path, charuco):
    for board in (charuco, Board.chessboard(9, 6, 0.025)):
        board.save(tmp_path / "board.json")
        assert Board.load(tmp_path / "board.json") == board


def test_board_load_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.json"
    with pytest.raises(rp.SourceError, match=re.escape(str(missing)) + ".*rigidpose board"):
        Board.load(missing)
    garbage = tmp_path / "garbage.json"
    garbage.write_text("squares: 7\n")
    with pytest.raises(rp.FileFormatError, match=re.escape(str(garbage)) + ": not a board JSON file"):
        Board.load(garbage)
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"kind": "charuco", "squares_x": 7}))
    with pytest.raises(rp.FileFormatError, match=re.escape(str(partial)) + ": expected keys kind, squares_x"):
        Board.load(partial)
    bad_value = tmp_path / "bad_value.json"
    bad_value.write_text(json.dumps({"kind": "chessboard", "squares_x": 2, "squares_y": 7, "square_m": 0.02}))
    with pytest.raises(rp.FileFormatError, match=re.escape(str(bad_value)) + ": squares_x: expected"):
        Board.load(bad_value)


def test_invalid_board_arguments_are_refused():
    with pytest.raises(rp.InvalidInputError, match="squares_x: expected an integer from 3 to 100, got 2"):
        Board("charuco", 2, 10, 0.025, 0.0175, "DICT_5X5_100")
    with pytest.raises(rp.InvalidInputError, match=r"marker_m: expected less than square_m \(0.025\)"):
        Board("charuco", 7, 10, 0.025, 0.025, "DICT_5X5_100")
    with pytest.raises(rp.InvalidInputError, match="dictionary: expected one of .*DICT_5X5_100.*'DICT_9X9'"):
        Board("charuco", 7, 10, 0.025, 0.0175, "DICT_9X9")
    with pytest.raises(rp.InvalidInputError, match="DICT_4X4_100 holds 100 markers, a 20x20 board needs 200"):
        Board("charuco", 20, 20, 0.01, 0.007, "DICT_4X4_100")
    with pytest.raises(rp.InvalidInputError, match="kind: expected one of"):
        Board("circles", 7, 10, 0.025)


def test_with_square_m_scales_the_markers_too(charuco):
    measured = charuco.with_square_m(0.0245)
    assert measured.square_m == 0.0245 and measured.marker_m == pytest.approx(0.0175 * 0.98)
    assert (measured.squares_x, measured.squares_y, measured.dictionary) == (7, 10, "DICT_5X5_100")
    assert Board.chessboard(9, 6, 0.025).with_square_m(0.03).marker_m is None
    with pytest.raises(rp.InvalidInputError, match="measured_square_m"):
        charuco.with_square_m(0.0)


# -- the printed sheet ---------------------------------------------------------------------------


def test_printed_sheet_is_exact_size(tmp_path, capsys, charuco):
    """PDF, PNG and JSON, readable by others; every square exactly 25 mm at 508 dpi."""
    old_umask = os.umask(0o022)
    try:
        assert main(["board", "--out", str(tmp_path / "board.pdf")]) == 0
    finally:
        os.umask(old_umask)
    assert "ChArUco 7x10 squares of 25 mm" in capsys.readouterr().out
    for name in ("board.pdf", "board.png", "board.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["board.json", "board.pdf", "board.png"]
    assert Board.load(tmp_path / "board.json") == charuco
    # the PDF's page is A4 in points (1/72 inch)
    media_box = re.search(rb"/MediaBox \[ 0 0 ([\d.]+) ([\d.]+) \]", (tmp_path / "board.pdf").read_bytes())
    assert media_box, "no /MediaBox in the PDF"
    width_pt, height_pt = (float(v) for v in media_box.groups())
    assert width_pt == pytest.approx(210 / 25.4 * 72, abs=0.01)
    assert height_pt == pytest.approx(297 / 25.4 * 72, abs=0.01)

    with Image.open(tmp_path / "board.png") as png:
        assert png.info["dpi"] == pytest.approx((508, 508), abs=0.01)
        assert png.size == (4200, 5940)
        page = np.asarray(png.convert("L"))
    # the board is found, every corner, and 6 squares are 6 * 25 mm * 20 px/mm apart
    small = cv2.resize(page, (page.shape[1] // 4, page.shape[0] // 4), interpolation=cv2.INTER_AREA)
    view = charuco.find(small)
    assert view is not None and len(view) == 54
    where = {int(i): 4 * p + 1.5 for i, p in zip(view.ids, view.pixels)}  # full-resolution pixels
    assert np.linalg.norm(where[36] - where[0]) == pytest.approx(3000, abs=2)  # 6 rows
    assert np.linalg.norm(where[5] - where[0]) == pytest.approx(2500, abs=2)  # 5 columns
    # the first corner: the board centred across the page, 15 mm from the top
    np.testing.assert_allclose(where[0], [(210 - 175) / 2 * 20 + 500 - 0.5, 300 + 500 - 0.5], atol=2)
    # exact pixel runs: the black squares of the first row and the first column are 500 px
    starts, lengths = black_runs(page[300 + 250])
    squares = lengths >= 400
    assert lengths[squares].tolist() == [500] * 4 and starts[squares].tolist() == [350, 1350, 2350, 3350]
    starts, lengths = black_runs(page[:, 350 + 250])
    squares = lengths >= 400
    assert lengths[squares].tolist() == [500] * 5
    assert starts[squares].tolist() == [300, 1300, 2300, 3300, 4300]
    # the 100 mm scale bar below the board
    longest = max(black_runs(page[row])[1].max(initial=0) for row in range(5300, 5940))
    assert longest == 100 * PX_PER_MM


def test_letter_sheet_and_a_wrong_suffix(tmp_path, capsys):
    assert main(["board", "--paper", "letter", "--out", str(tmp_path / "letter.png")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["letter.json", "letter.png"]
    board = Board.load(tmp_path / "letter.json")
    assert board == Board.charuco_for_paper("letter") and board.square_m == 0.023
    with Image.open(tmp_path / "letter.png") as png:
        assert png.size == (4318, 5588)  # 215.9 x 279.4 mm
        page = np.asarray(png.convert("L"))
    starts, lengths = black_runs(page[300 + 230])
    squares = lengths >= 400
    assert lengths[squares].tolist() == [460] * 4
    assert starts[squares][0] == round((215.9 - 7 * 23) / 2 * PX_PER_MM)
    capsys.readouterr()

    assert main(["board", "--out", str(tmp_path / "board.jpg")]) == 1
    assert "--out: expected a .pdf or .png file, got 'board.jpg'" in one_error_line(capsys)
    assert not (tmp_path / "board.jpg").exists() and not (tmp_path / "board.json").exists()


def test_a_board_too_wide_for_the_page_upright_is_printed_turned(tmp_path, capsys):
    """OpenCV's 9x6 chessboard of 25 mm squares (250 x 175 mm) fits A4 only turned a quarter turn."""
    out = tmp_path / "board.pdf"
    assert main(["board", "--chessboard", "9x6", "--square-m", "0.025", "--out", str(out)]) == 0
    assert "chessboard 9x6 inner corners, 25 mm squares on A4" in capsys.readouterr().out
    assert Board.load(tmp_path / "board.json") == Board.chessboard(9, 6, 0.025)
    media_box = re.search(rb"/MediaBox \[ 0 0 ([\d.]+) ([\d.]+) \]", out.read_bytes())
    assert media_box, "no /MediaBox in the PDF"
    width_pt, height_pt = (float(v) for v in media_box.groups())  # A4 portrait, in points
    assert (width_pt, height_pt) == (pytest.approx(595.28, abs=0.01), pytest.approx(841.89, abs=0.01))
    with Image.open(tmp_path / "board.png") as png:
        assert png.size == (4200, 5940) and png.info["dpi"] == pytest.approx((508, 508), abs=0.01)
        page = np.asarray(png.convert("L"))
    # 7 squares of exactly 500 px across the page, 10 down it, centred across, 15 mm from the top
    left = round((210 - 175) / 2 * PX_PER_MM)
    starts, lengths = black_runs(page[300 + 250])
    squares = lengths >= 400
    assert starts[squares].min() in (left, left + 500) and lengths[squares].max() == 500
    assert (lengths[squares] % 500 == 0).all() and lengths[squares].sum() in (1500, 2000)
    column = page[:, left + 250]
    starts, lengths = black_runs(column[: 300 + 5000 + 10])
    squares = lengths >= 400
    assert lengths[squares].tolist() == [500] * 5 and starts[squares][0] in (300, 800)
    assert (page[:300] == 255).all() and (page[300 : 300 + 5000, :left] == 255).all()
    # the board is found, every corner, 25 mm apart
    small = cv2.resize(page, (page.shape[1] // 4, page.shape[0] // 4), interpolation=cv2.INTER_AREA)
    view = Board.chessboard(9, 6, 0.025).find(small)
    assert view is not None and len(view) == 54
    spacing = np.linalg.norm(np.diff(4 * view.pixels.reshape(6, 9, 2), axis=1), axis=2)
    np.testing.assert_allclose(spacing, 500, atol=2)
    # and the 100 mm scale bar below it
    longest = max(black_runs(page[row])[1].max(initial=0) for row in range(300 + 5000, 5940))
    assert longest == 100 * PX_PER_MM


def test_a_board_that_fits_only_landscape_gets_a_landscape_page(tmp_path):
    """13 x 8 squares of 20 mm (260 x 160 mm): too long for A4 portrait either way round."""
    board = Board.chessboard(12, 7, 0.02)
    sheet = board_sheet(board, "A4")
    assert sheet.shape == (210 * PX_PER_MM, 297 * PX_PER_MM)
    starts, lengths = black_runs(sheet[300 + 200])  # the first row of squares, 400 px each
    squares = lengths >= 300
    assert starts[squares][0] == round((297 - 260) / 2 * PX_PER_MM) and lengths[squares].tolist() == [400] * 7
    written = write_board_sheet(board, tmp_path / "board.png")
    with Image.open(written[0]) as png:
        assert png.size == (5940, 4200)


# -- calibration from a board ---------------------------------------------------------------------


def test_opencv_sample_chessboard_photos_calibrate_like_opencv(tmp_path, capsys):
    """OpenCV's own 13 chessboard photos: the focal length of OpenCV's reference calibration."""
    photos = sorted(OPENCV_DATA.glob("left[0-9]*.jpg"))
    reference_file = OPENCV_DATA / "left_intrinsics.yml"
    if len(photos) != 13 or not reference_file.is_file():
        pytest.fail(
            f"{OPENCV_DATA}: OpenCV's sample photos (left01..left14.jpg, left_intrinsics.yml) are "
            "missing; install them (Debian package opencv-doc) with scripts/install-system-deps.sh"
        )
    reference = cv2.FileStorage(str(reference_file), cv2.FILE_STORAGE_READ)
    reference_fx = reference.getNode("camera_matrix").mat()[0, 0]
    reference.release()
    out = tmp_path / "cam.yaml"
    args = ["calibrate", "--source", str(OPENCV_DATA / "left[0-9]*.jpg"), "--chessboard", "9x6"]
    assert main([*args, "--square-m", "0.025", "--out", str(out), "-q"]) == 0
    assert "frames: 13 kept" in capsys.readouterr().out
    camera = rp.Camera.load(out)
    assert camera.size == (640, 480)
    assert camera.fx == pytest.approx(reference_fx, rel=0.01)
    assert camera.fy == pytest.approx(reference_fx, rel=0.01)
    coverage = cv2.imread(str(tmp_path / "cam.coverage.png"))
    assert coverage is not None and coverage.shape == (480, 640, 3)
    written = cv2.FileStorage(str(out), cv2.FILE_STORAGE_READ)
    try:
        assert 0 < written.getNode("avg_reprojection_error").real() < 0.5
        assert written.getNode("nframes").real() == 13
    finally:
        written.release()


def test_charuco_views_give_the_true_intrinsics(charuco, charuco_views):
    truth = truth_camera()
    collector = ViewCollector(charuco)
    assert [collector.add(i, image) for i, (image, _) in enumerate(charuco_views)] == ["kept"] * 20
    views, indices = collector.chosen()
    calibration = calibrate_camera(views, collector.image_size, indices)
    camera = calibration.camera
    assert camera.size == truth.size
    for name in ("fx", "fy", "cx", "cy"):
        assert getattr(camera, name) == pytest.approx(getattr(truth, name), rel=0.005), name
    assert camera.dist_coeffs[0] == pytest.approx(-0.21, abs=0.02)
    assert calibration.rms_px < 0.5 and calibration.rejected == ()
    assert len(calibration.T_cam_board) == len(calibration.views) == len(calibration.per_view_rms_px) == 20
    # the board poses too: within 1 % of the distance
    for T, (_, T_true) in zip(calibration.T_cam_board, charuco_views):
        distance = np.linalg.norm(T_true.translation)
        assert np.linalg.norm(T.translation - T_true.translation) < 0.01 * distance


def test_calibrate_cli_on_a_folder_of_charuco_views(tmp_path, capsys, charuco, charuco_views):
    folder = write_images(tmp_path / "views", [image for image, _ in charuco_views])
    charuco.save(tmp_path / "board.json")
    out = tmp_path / "cam.yaml"
    args = ["calibrate", "--source", str(folder), "--board", str(tmp_path / "board.json")]
    assert main([*args, "--out", str(out), "-q"]) == 0
    assert "frames: 20 kept" in capsys.readouterr().out
    camera, truth = rp.Camera.load(out), truth_camera()
    for name in ("fx", "fy", "cx", "cy"):
        assert getattr(camera, name) == pytest.approx(getattr(truth, name), rel=0.005), name
    assert (tmp_path / "cam.coverage.png").is_file()


def test_calibrate_cli_tells_what_to_do_with_bad_views(
    tmp_path, capsys, charuco, charuco_views, blurred_chessboard_views
):
    charuco.save(board := tmp_path / "board.json")

    def calibrate(source: Path, *extra: str) -> str:
        args = ["calibrate", "--source", str(source), *extra, "--out", str(tmp_path / "cam.yaml"), "-q"]
        assert main(args) == 1
        return one_error_line(capsys)

    photo = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    gradient = np.repeat(np.linspace(0, 255, 512, dtype=np.uint8)[None, :, None], 512, axis=0).repeat(3, 2)
    no_board = write_images(tmp_path / "no_board", [photo, photo[:, ::-1], gradient])
    message = calibrate(no_board, "--board", str(board))
    assert "not found in any of 3 frames" in message and "check that the board file matches" in message

    few = write_images(tmp_path / "few", [image for image, _ in charuco_views[:3]])
    message = calibrate(few, "--board", str(board))
    assert "found 3 distinct sharp views (need 6)" in message and "more positions and tilts" in message

    blurred = write_images(tmp_path / "blurred", [image for image, _ in blurred_chessboard_views])
    message = calibrate(blurred, "--chessboard", "9x6", "--square-m", "0.025")
    assert "too blurred" in message and "hold the camera or the board still" in message

    (tmp_path / "empty").mkdir()
    assert "no images" in calibrate(tmp_path / "empty", "--board", str(board))
    assert "--chessboard needs --square-m" in calibrate(few, "--chessboard", "9x6")
    message = calibrate(few, "--chessboard", "9by6", "--square-m", "0.025")
    assert "expected inner corners as COLSxROWS, e.g. 9x6, got '9by6'" in message
    assert not (tmp_path / "cam.yaml").exists()


def test_edge_width_tells_sharp_from_blurred_views(charuco, charuco_views, blurred_chessboard_views):
    """Sharp views: edges 1-2 px wide; 14 px of motion blur: clearly wider."""
    sharp = []
    for image, _ in charuco_views:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        sharp.append(edge_width_px(gray, charuco.find(gray), charuco))
    assert np.median(sharp) < 3 and max(sharp) < 3
    chess = Board.chessboard(9, 6, 0.025)
    blurred = []
    for image, _ in blurred_chessboard_views:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        view = chess.find(gray)
        if view is not None:
            blurred.append(edge_width_px(gray, view, chess))
    assert len(blurred) >= 4 and np.median(blurred) > 4


# -- focal length from a known target ---------------------------------------------------------------


@pytest.fixture(scope="module")
def astronaut_sequence(tmp_path_factory):
    """A SIFT planar target of the astronaut, saved, and 24 rendered frames of it (50 degree lens)."""
    folder = tmp_path_factory.mktemp("focal")
    image = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    target = planar_target(image, 0.2, features="sift")
    target.save(folder / "target")
    options = SequenceOptions(frames=24, fov_x_rad=math.radians(50), background="photo", noise=True, seed=3)
    sequence = render_sequence(target, folder / "seq", options, progress=False)
    return target, folder / "target", sequence


def test_focal_length_from_a_known_target(astronaut_sequence):
    target, _, sequence = astronaut_sequence
    truth = rp.Camera.load(sequence / "camera.yaml")
    with rp.FrameSource(sequence / "video.mp4") as source:
        matches, size = collect_matches([target], source)
    assert size == (640, 480) and len(matches) >= 20
    estimate = estimate_focal(matches, size)
    assert estimate.focal_px == pytest.approx(truth.fx, rel=0.03)
    assert 0 < estimate.std_focal_px < 0.01 * estimate.focal_px
    camera = estimate.camera
    assert camera.fx == camera.fy == estimate.focal_px and (camera.cx, camera.cy) == (319.5, 239.5)
    assert estimate.rms_px < 2 and estimate.views >= 20

    with pytest.raises(CalibrationError, match=r"found in 4 frames \(need 5\)"):
        estimate_focal(matches[:4], size)


def test_calibrate_cli_from_a_target(tmp_path, capsys, astronaut_sequence):
    _, target_dir, sequence = astronaut_sequence
    out = tmp_path / "f.yaml"
    args = ["calibrate", "--target", str(target_dir), "--source", str(sequence / "video.mp4"), "--every", "2"]
    assert main([*args, "--out", str(out), "-q"]) == 0
    assert "focal length" in capsys.readouterr().out
    camera = rp.Camera.load(out)
    truth = rp.Camera.load(sequence / "camera.yaml")
    assert camera.size == (640, 480)
    assert camera.fx == pytest.approx(truth.fx, rel=0.03) and camera.fy == camera.fx


# -- camera files and frame sources ---------------------------------------------------------------


def test_camera_metadata_round_trip(tmp_path, distorted_camera):
    metadata = {"board": "chessboard 9x6 inner corners, 25 mm squares", "nframes": 13, "std_fx": 0.41}
    for name in ("cam.yaml", "cam.json"):
        distorted_camera.save(tmp_path / name, metadata=metadata)
        loaded = rp.Camera.load(tmp_path / name)
        assert loaded.size == distorted_camera.size
        np.testing.assert_array_equal(loaded.K, distorted_camera.K)
        np.testing.assert_array_equal(loaded.dist_coeffs, distorted_camera.dist_coeffs)
    storage = cv2.FileStorage(str(tmp_path / "cam.yaml"), cv2.FILE_STORAGE_READ)
    try:
        assert storage.getNode("board").string() == metadata["board"]
        assert storage.getNode("nframes").real() == 13 and storage.getNode("std_fx").real() == 0.41
    finally:
        storage.release()
    assert json.loads((tmp_path / "cam.json").read_text())["nframes"] == 13

    with pytest.raises(rp.InvalidInputError, match="ROS camera_info file has no place for it"):
        distorted_camera.save(tmp_path / "ros.yaml", format="ros", metadata=metadata)
    with pytest.raises(rp.InvalidInputError, match="not camera fields.*'image_width'"):
        distorted_camera.save(tmp_path / "clash.yaml", metadata={"image_width": 1})
    with pytest.raises(rp.InvalidInputError, match="metadata: expected identifiers"):
        distorted_camera.save(tmp_path / "list.yaml", metadata={"views": [1, 2]})
    assert not any((tmp_path / n).exists() for n in ("ros.yaml", "clash.yaml", "list.yaml"))


def test_frame_source_glob_pattern_in_natural_order(tmp_path):
    for name, value in (("a.png", 10), ("b10.png", 100), ("b2.png", 20)):
        cv2.imwrite(str(tmp_path / name), np.full((8, 12, 3), value, np.uint8))
    (tmp_path / "b3.txt").write_text("not an image")
    with rp.FrameSource(str(tmp_path / "b*.png")) as source:
        assert source.kind == "folder" and source.frame_count == 2
        frames = list(source)
    with rp.FrameSource(str(tmp_path / "b*")) as source:  # the text file is not a frame
        assert source.frame_count == 2
    assert [f.index for f in frames] == [0, 1]
    assert [int(f.image[0, 0, 0]) for f in frames] == [20, 100]  # b2 before b10
    assert frames[0].image.shape == (8, 12, 3)
    with pytest.raises(rp.SourceError, match="no images match"):
        rp.FrameSource(str(tmp_path / "c*.png"))

"""Calibration boards: a printable ChArUco board, or a plain chessboard, and finding one in an image.

A board's frame: origin at the outer corner of the first square (top-left as printed upright), x along
its columns, y along its rows, z = x × y (into the board), the board is the plane z = 0, metres
(OpenCV's ChArUco convention, and the same handedness as a planar target).

``Board.charuco_for_paper("A4")`` is the board ``rigidpose board`` prints; ``write_board_sheet``
draws it at exact size (PDF and PNG) with its parameters and a 100 mm scale bar on the sheet, and
``Board.save`` writes the small JSON that ``rigidpose calibrate --board`` reads.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .._files import atomic_file, atomic_write_text
from .._validate import check_choice, check_positive
from ..errors import FileFormatError, InvalidInputError, SourceError

__all__ = ["BOARD_KINDS", "PAPER_MM", "Board", "BoardView", "write_board_sheet"]

BOARD_KINDS = ("charuco", "chessboard")
PAPER_MM = {"A4": (210.0, 297.0), "letter": (215.9, 279.4), "A3": (297.0, 420.0)}
"""Paper sizes (width, height) in millimetres, portrait."""

_DICTIONARIES = ("DICT_4X4_100", "DICT_5X5_100", "DICT_6X6_250", "DICT_ARUCO_ORIGINAL")
_PX_PER_MM = 20  # 508 dpi: every square, marker cell and margin of the printed board is whole pixels
_MARGIN_MM = 15.0  # most printers cannot print closer than 5 mm to the edge; leave room for the text
_TEXT_MM = 12.0


@dataclass(frozen=True)
class BoardView:
    """The board's corners found in one image.

    Attributes:
        pixels: (N, 2) float32, pixels, sub-pixel corner positions.
        points_obj: (N, 3) float32, metres, the same corners in the board frame.
        ids: (N,) int32, corner indices (row-major over the inner corners).
    """

    pixels: np.ndarray
    points_obj: np.ndarray
    ids: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Board:
    """A planar calibration board.

    Attributes:
        kind: ``charuco`` or ``chessboard``.
        squares_x, squares_y: squares along the board's x (columns) and y (rows); a chessboard
            of 9x6 inner corners has 10x7 squares.
        square_m: side of one square, metres, as printed.
        marker_m: side of one ArUco marker, metres (ChArUco only).
        dictionary: the ArUco dictionary's OpenCV name, e.g. ``DICT_5X5_100`` (ChArUco only).
    """

    kind: str
    squares_x: int
    squares_y: int
    square_m: float
    marker_m: float | None = None
    dictionary: str | None = None

    def __post_init__(self) -> None:
        check_choice(self.kind, "kind", BOARD_KINDS)
        for name in ("squares_x", "squares_y"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 3 <= value <= 100:
                raise InvalidInputError(f"{name}: expected an integer from 3 to 100, got {value!r}")
        check_positive(self.square_m, "square_m")
        if self.kind == "charuco":
            check_positive(self.marker_m, "marker_m")
            if self.marker_m >= self.square_m:
                raise InvalidInputError(
                    f"marker_m: expected less than square_m ({self.square_m}), got {self.marker_m}"
                )
            check_choice(self.dictionary, "dictionary", _DICTIONARIES)
            needed = (self.squares_x * self.squares_y + 1) // 2
            available = _aruco_dictionary(self.dictionary).bytesList.shape[0]
            if needed > available:
                raise InvalidInputError(
                    f"dictionary: {self.dictionary} holds {available} markers, a {self.squares_x}x"
                    f"{self.squares_y} board needs {needed}"
                )

    # -- factories -----------------------------------------------------------------------------
    @classmethod
    def chessboard(cls, inner_x: int, inner_y: int, square_m: float) -> Board:
        """A plain chessboard named OpenCV's way, by its inner corners (``9x6``)."""
        return cls("chessboard", int(inner_x) + 1, int(inner_y) + 1, float(square_m))

    @classmethod
    def charuco_for_paper(cls, paper: str = "A4") -> Board:
        """The 7x10 ChArUco board that fits ``paper`` (``A4``, ``letter``, ``A3``) with margins:
        whole-millimetre squares, markers 70 % of a square, DICT_5X5_100."""
        check_choice(paper, "paper", tuple(PAPER_MM))
        width_mm, height_mm = PAPER_MM[paper]
        squares_x, squares_y = 7, 10
        square_mm = math.floor(
            min(
                (width_mm - 2 * _MARGIN_MM) / squares_x,
                (height_mm - 2 * _MARGIN_MM - _TEXT_MM) / squares_y,
            )
        )
        # the marker: 7 cells (5 bits + border) of a whole number of 0.1 mm, about 70 % of a square
        # with a margin around it of whole 0.05 mm (= one pixel at 508 dpi)
        cell_mm = round(0.7 * square_mm / 7, 1)
        return cls(
            "charuco", squares_x, squares_y, square_mm / 1000, round(7 * cell_mm, 1) / 1000, "DICT_5X5_100"
        )

    def with_square_m(self, measured_square_m: float) -> Board:
        """This board as printed with squares of ``measured_square_m`` (a scaled print): the
        markers scale with it."""
        check_positive(measured_square_m, "measured_square_m")
        scale = measured_square_m / self.square_m
        marker_m = None if self.marker_m is None else self.marker_m * scale
        return replace(self, square_m=float(measured_square_m), marker_m=marker_m)

    # -- geometry ------------------------------------------------------------------------------
    @property
    def inner_corners(self) -> tuple[int, int]:
        """Inner corners along x and y (what OpenCV's chessboard functions call the pattern size)."""
        return self.squares_x - 1, self.squares_y - 1

    @property
    def corners_obj(self) -> np.ndarray:
        """(N, 3) float32, metres, board frame: every inner corner, row-major (the ids' order)."""
        nx, ny = self.inner_corners
        grid = np.mgrid[1 : ny + 1, 1 : nx + 1].reshape(2, -1).T[:, ::-1].astype(np.float32)
        return np.column_stack([grid * np.float32(self.square_m), np.zeros(len(grid), np.float32)])

    @property
    def size_m(self) -> tuple[float, float]:
        """The board's printed (width, height) in metres."""
        return self.squares_x * self.square_m, self.squares_y * self.square_m

    def describe(self) -> str:
        """One line for people: what to expect on the sheet."""
        if self.kind == "chessboard":
            nx, ny = self.inner_corners
            return f"chessboard {nx}x{ny} inner corners, {self.square_m * 1000:g} mm squares"
        return (
            f"ChArUco {self.squares_x}x{self.squares_y} squares of {self.square_m * 1000:g} mm, "
            f"markers {self.marker_m * 1000:g} mm, {self.dictionary}"
        )

    # -- detection -----------------------------------------------------------------------------
    def find(self, image: np.ndarray) -> BoardView | None:
        """The board's corners in ``image`` (BGR or gray, uint8), or None when it is not seen.

        A ChArUco board may be partly visible (at least 6 corners, not all on one line); a
        chessboard must be whole (OpenCV cannot tell which corner is which otherwise).
        """
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if self.kind == "charuco":
            return self._find_charuco(gray)
        return self._find_chessboard(gray)

    def _find_charuco(self, gray: np.ndarray) -> BoardView | None:
        detector = self._charuco_detector()
        corners, ids, _, _ = detector.detectBoard(gray)
        if ids is None or len(ids) < 6:
            return None
        ids = ids.reshape(-1).astype(np.int32)
        pixels = corners.reshape(-1, 2).astype(np.float32)
        if self._cv_board().checkCharucoCornersCollinear(ids):
            return None
        return BoardView(pixels, self.corners_obj[ids], ids)

    def _find_chessboard(self, gray: np.ndarray) -> BoardView | None:
        pattern = self.inner_corners
        flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_FAST_CHECK
        found, corners = cv2.findChessboardCorners(gray, pattern, flags=flags)
        if found:
            # a window of a third of the smallest corner spacing, at most 11x11 pixels
            spacing = np.min(
                np.linalg.norm(np.diff(corners.reshape(pattern[1], pattern[0], 2), axis=1), axis=2)
            )
            half = int(np.clip(spacing / 3, 2, 5))
            criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 40, 0.001)
            corners = cv2.cornerSubPix(gray, corners, (half, half), (-1, -1), criteria)
        else:
            # the sector-based detector finds boards the classic one misses (blur, strong light)
            found, corners = cv2.findChessboardCornersSB(
                gray, pattern, flags=cv2.CALIB_CB_ACCURACY | cv2.CALIB_CB_NORMALIZE_IMAGE
            )
            if not found:
                return None
        pixels = corners.reshape(-1, 2).astype(np.float32)
        ids = np.arange(len(pixels), dtype=np.int32)
        return BoardView(pixels, self.corners_obj, ids)

    def _cv_board(self) -> cv2.aruco.CharucoBoard:
        board = cv2.aruco.CharucoBoard(
            (self.squares_x, self.squares_y), self.square_m, self.marker_m, _aruco_dictionary(self.dictionary)
        )
        return board

    def _charuco_detector(self) -> cv2.aruco.CharucoDetector:
        return cv2.aruco.CharucoDetector(self._cv_board())

    def image(self, px_per_square: int) -> np.ndarray:
        """(H, W) uint8 picture of the board alone, ``px_per_square`` pixels per square."""
        size = (self.squares_x * px_per_square, self.squares_y * px_per_square)
        if self.kind == "chessboard":
            rows, cols = np.indices((self.squares_y, self.squares_x))
            squares = np.where((rows + cols) % 2 == 0, 0, 255).astype(np.uint8)
            return cv2.resize(squares, size, interpolation=cv2.INTER_NEAREST)
        return self._cv_board().generateImage(size, marginSize=0, borderBits=1)

    # -- files ---------------------------------------------------------------------------------
    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "squares_x": self.squares_x,
            "squares_y": self.squares_y,
            "square_m": self.square_m,
        }
        if self.kind == "charuco":
            data.update(marker_m=self.marker_m, dictionary=self.dictionary)
        return data

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the board's parameters as JSON, atomically."""
        atomic_write_text(path, json.dumps(self.as_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Board:
        """Read a board JSON written by ``save`` (or by ``rigidpose board``)."""
        path = Path(path)
        if not path.is_file():
            raise SourceError(f"{path}: no such board file (make one with: rigidpose board --out board.pdf)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FileFormatError(f"{path}: not a board JSON file ({exc})") from exc
        if not isinstance(data, dict):
            raise FileFormatError(f"{path}: expected a JSON object with the board's parameters")
        fields = ("kind", "squares_x", "squares_y", "square_m", "marker_m", "dictionary")
        unknown = sorted(set(data) - set(fields) - {"paper", "note"})
        if unknown or not {"kind", "squares_x", "squares_y", "square_m"} <= set(data):
            raise FileFormatError(
                f"{path}: expected keys {', '.join(fields[:4])} (and marker_m, dictionary for ChArUco), "
                f"got {', '.join(sorted(data))}"
            )
        try:
            return cls(**{k: data[k] for k in fields if k in data})
        except (InvalidInputError, TypeError) as exc:
            raise FileFormatError(f"{path}: {exc}") from exc


def _aruco_dictionary(name: str) -> cv2.aruco.Dictionary:
    return cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, name))


def _put_text(page: np.ndarray, text: str, x_mm: float, y_mm: float, height_mm: float) -> None:
    scale = height_mm * _PX_PER_MM / 22.0  # Hershey simplex capitals are about 22 units tall
    org = (round(x_mm * _PX_PER_MM), round(y_mm * _PX_PER_MM))
    cv2.putText(page, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, 0, max(1, round(scale * 1.6)), cv2.LINE_AA)


def _layout(board: Board, paper: str) -> tuple[float, float, bool]:
    """The page (width, height) in mm and whether the board is turned a quarter turn on it: the
    first that fits of the portrait page with the board upright, then turned, then the landscape
    page (upright, turned). Refuses a board that fits none of them, with the sizes."""
    width_mm, height_mm = PAPER_MM[paper]
    board_w_mm, board_h_mm = (v * 1000 for v in board.size_m)
    for page_w_mm, page_h_mm in ((width_mm, height_mm), (height_mm, width_mm)):
        room_w_mm, room_h_mm = page_w_mm - 2 * _MARGIN_MM, page_h_mm - 2 * _MARGIN_MM - _TEXT_MM
        for turned in (False, True):
            w_mm, h_mm = (board_h_mm, board_w_mm) if turned else (board_w_mm, board_h_mm)
            if w_mm <= room_w_mm + 1e-9 and h_mm <= room_h_mm + 1e-9:
                return page_w_mm, page_h_mm, turned
    portrait = f"{width_mm - 2 * _MARGIN_MM:g} x {height_mm - 2 * _MARGIN_MM - _TEXT_MM:g}"
    landscape = f"{height_mm - 2 * _MARGIN_MM:g} x {width_mm - 2 * _MARGIN_MM - _TEXT_MM:g}"
    raise InvalidInputError(
        f"a {board_w_mm:g} x {board_h_mm:g} mm board does not fit on {paper} ({width_mm:g} x {height_mm:g} mm) "
        f"either way round: with {_MARGIN_MM:g} mm margins and room for the text it may be at most "
        f"{portrait} mm (portrait) or {landscape} mm (landscape), turned or not; choose larger paper or "
        "smaller squares"
    )


def board_sheet(board: Board, paper: str = "A4") -> np.ndarray:
    """(H, W) uint8 page at 508 dpi (20 pixels per millimetre): the board centred at the top,
    its parameters, a measuring note and a 100 mm scale bar below it.

    The page is ``paper`` portrait with the board upright (its first square at the top left) when
    that fits; otherwise the board is turned a quarter turn clockwise (first square at the top
    right, its x axis down the page), or the page is landscape, whichever fits first. A board
    that fits none of these is refused."""
    check_choice(paper, "paper", tuple(PAPER_MM))
    width_mm, height_mm, turned = _layout(board, paper)
    board_w_mm, board_h_mm = (v * 1000 for v in board.size_m)
    if turned:
        board_w_mm, board_h_mm = board_h_mm, board_w_mm
    square_px = board.square_m * 1000 * _PX_PER_MM
    if abs(square_px - round(square_px)) > 1e-6:
        raise InvalidInputError(
            f"square_m: a printed square must be a whole number of 0.05 mm, got {board.square_m * 1000:g} mm"
        )
    page = np.full((round(height_mm * _PX_PER_MM), round(width_mm * _PX_PER_MM)), 255, np.uint8)
    left_mm = (width_mm - board_w_mm) / 2
    top_mm = _MARGIN_MM
    picture = board.image(round(square_px))
    if turned:
        # clockwise: a rotation, not a mirror, so the board's frame stays right-handed
        picture = np.rot90(picture, k=-1)
    top, left = round(top_mm * _PX_PER_MM), round(left_mm * _PX_PER_MM)
    page[top : top + picture.shape[0], left : left + picture.shape[1]] = picture

    y_mm = top_mm + board_h_mm + 6
    _put_text(page, f"rigidpose calibration board: {board.describe()}", left_mm, y_mm, 2.6)
    _put_text(
        page,
        f"Print at 100 % (no fit-to-page). Measure one square: if it is not {board.square_m * 1000:g} mm,",
        left_mm,
        y_mm + 4.5,
        2.2,
    )
    _put_text(
        page, "pass the measurement: rigidpose calibrate ... --square-m <metres>", left_mm, y_mm + 8.5, 2.2
    )
    # a 100 mm bar to check the print's scale with a ruler
    bar_top = round((y_mm + 11) * _PX_PER_MM)
    bar_left = round(left_mm * _PX_PER_MM)
    page[bar_top : bar_top + _PX_PER_MM, bar_left : bar_left + 100 * _PX_PER_MM] = 0
    _put_text(page, "100 mm", left_mm + 103, y_mm + 12, 2.2)
    return page


def write_board_sheet(board: Board, out: str | os.PathLike[str], paper: str = "A4") -> list[Path]:
    """Write the printable sheet for ``board`` to ``out`` (``.pdf`` or ``.png``) plus the board's
    JSON beside it (same name, ``.json``), and for a PDF also the PNG; returns the paths written.
    Each file is written atomically. A board that fits the page only turned is printed turned (or
    on a landscape page), see ``board_sheet``."""
    from PIL import Image

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".pdf", ".png"):
        raise InvalidInputError(f"out: expected a .pdf or .png path, got {out.name!r}")
    if not out.parent.is_dir():
        raise SourceError(f"{out.parent}: no such folder")
    sheet = Image.fromarray(board_sheet(board, paper)).convert("1")
    dpi = _PX_PER_MM * 25.4
    written = []
    if suffix == ".pdf":
        with atomic_file(out) as tmp:
            sheet.save(tmp, "PDF", resolution=dpi, title=f"rigidpose board: {board.describe()}")
        written.append(out)
    png = out if suffix == ".png" else out.with_suffix(".png")
    with atomic_file(png) as tmp:
        sheet.save(tmp, "PNG", dpi=(dpi, dpi))
    written.append(png)
    json_path = out.with_suffix(".json")
    data = board.as_json() | {
        "paper": paper,
        "note": "measure a printed square; pass --square-m if it differs",
    }
    atomic_write_text(json_path, json.dumps(data, indent=2) + "\n")
    written.append(json_path)
    return written

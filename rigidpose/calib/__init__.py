"""Camera calibration: printable boards, calibration from board views, focal length from a known target."""

from .board import BOARD_KINDS, PAPER_MM, Board, BoardView, write_board_sheet
from .calibrate import (
    DISTORTION_MODELS,
    Calibration,
    CalibrationError,
    CalibrationOptions,
    ViewCollector,
    calibrate_camera,
    coverage_image,
    covered_share,
)

__all__ = [
    "BOARD_KINDS",
    "DISTORTION_MODELS",
    "PAPER_MM",
    "Board",
    "BoardView",
    "Calibration",
    "CalibrationError",
    "CalibrationOptions",
    "ViewCollector",
    "calibrate_camera",
    "coverage_image",
    "covered_share",
    "write_board_sheet",
]

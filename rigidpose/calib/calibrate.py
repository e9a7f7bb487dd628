"""Camera calibration from views of a board: collect sharp, diverse views, calibrate, drop outliers.

``ViewCollector`` takes frames one at a time (a video, a folder, a webcam) and keeps the views
worth calibrating with: the board found, sharp (edge width measured across the squares' edges),
and different enough from the views already kept. ``calibrate_camera`` runs OpenCV's
``calibrateCameraExtended`` on them, rejects views whose reprojection error stands out, and
calibrates again. ``coverage_image`` shows where in the image corners were seen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

from .._validate import check_choice, check_int
from ..camera import Camera
from ..errors import InvalidInputError
from ..geometry import Pose
from .board import Board, BoardView

__all__ = [
    "DISTORTION_MODELS",
    "Calibration",
    "CalibrationError",
    "CalibrationOptions",
    "ViewCollector",
    "calibrate_camera",
    "coverage_image",
    "covered_share",
    "edge_width_px",
    "same_size",
]

log = logging.getLogger(__name__)

_FIX_ALL_BUT_K1 = cv2.CALIB_FIX_K2 | cv2.CALIB_FIX_K3 | cv2.CALIB_ZERO_TANGENT_DIST
DISTORTION_MODELS = {
    "none": cv2.CALIB_FIX_K1 | _FIX_ALL_BUT_K1,
    "k1": _FIX_ALL_BUT_K1,
    "k1k2": cv2.CALIB_FIX_K3 | cv2.CALIB_ZERO_TANGENT_DIST,
    "k1k2p1p2": cv2.CALIB_FIX_K3,
    "k1k2p1p2k3": 0,
}
"""Lens models ``calibrate_camera`` fits, by the coefficients it frees (the others stay 0)."""


class CalibrationError(InvalidInputError):
    """The views cannot give a calibration; the message says what to do."""


@dataclass(frozen=True)
class CalibrationOptions:
    """How views are chosen and what is fitted.

    Attributes:
        distortion: the lens model, a key of ``DISTORTION_MODELS``.
        fix_aspect_ratio: fit one focal length (fx = fy); for square pixels and few views.
        max_views: calibrate with at most this many views (the most diverse of those kept).
        min_views: fewer views than this is an error.
        min_corners: a view with fewer board corners is ignored.
        max_edge_width_px: a view whose square edges are wider than this (10-90 % rise) is blurred.
        min_difference: a view whose board outline lies closer than this fraction of the image
            diagonal (mean corner distance) to a kept view's adds nothing and is skipped.
        outlier_factor: views with a reprojection error above this many times the median (and
            above 1 px) are dropped and the camera calibrated again.
    """

    distortion: str = "k1k2p1p2"
    fix_aspect_ratio: bool = False
    max_views: int = 40
    min_views: int = 6
    min_corners: int = 8
    max_edge_width_px: float = 4.0
    min_difference: float = 0.04
    outlier_factor: float = 3.0

    def __post_init__(self) -> None:
        check_choice(self.distortion, "distortion", tuple(DISTORTION_MODELS))
        check_int(self.min_views, "min_views", ge=3)
        check_int(
            self.max_views,
            "max_views",
            ge=self.min_views,
            expected=f"an integer >= min_views ({self.min_views})",
        )


@dataclass(frozen=True)
class Calibration:
    """A calibrated camera and how well it fits.

    Attributes:
        camera: the intrinsics and distortion, for the views' image size.
        rms_px: reprojection error over all corners of the views used, pixels.
        per_view_rms_px: (V,) float64, each used view's reprojection error, pixels.
        frame_indices: (V,) the frame each used view came from.
        rejected: frame indices of views dropped as outliers.
        std_fx_px, std_fy_px: standard deviations of fx and fy from the fit, pixels.
        T_cam_board: each used view's board pose.
        views: the used views' corners.
    """

    camera: Camera
    rms_px: float
    per_view_rms_px: np.ndarray
    frame_indices: tuple[int, ...]
    rejected: tuple[int, ...]
    std_fx_px: float
    std_fy_px: float
    T_cam_board: tuple[Pose, ...] = field(repr=False)
    views: tuple[BoardView, ...] = field(repr=False)


def edge_width_px(gray: np.ndarray, view: BoardView, board: Board) -> float:
    """10-90 % width, in pixels, of the square edges between neighbouring corners: the median
    over the edges along the board's rows and over those along its columns, whichever is wider
    (motion blur along one axis widens only the edges across it). A focused print gives 1-2 px.

    Profiles run across each edge's middle, over 80 % of the corner spacing on a chessboard and
    28 % on a ChArUco board (whose markers start 15 % of a square from the edge), so a board
    whose squares are under about 15 px cannot show blur wider than a few pixels. NaN when no
    two neighbouring corners were found."""
    nx, _ = board.inner_corners
    reach = 0.4 if board.kind == "chessboard" else 0.14
    where = {int(i): p for i, p in zip(view.ids, view.pixels)}
    along_rows = [(where[i], where[i + 1]) for i in where if i % nx != nx - 1 and i + 1 in where]
    along_columns = [(where[i], where[i + nx]) for i in where if i + nx in where]
    medians = [_median_edge_width(gray, pairs, reach) for pairs in (along_rows, along_columns)]
    medians = [m for m in medians if np.isfinite(m)]
    return max(medians) if medians else float("nan")


def _median_edge_width(gray: np.ndarray, pairs: list[tuple[np.ndarray, np.ndarray]], reach: float) -> float:
    """Median 10-90 % rise across the edges between corner ``pairs``, profiles reaching
    ``reach`` times the spacing to each side."""
    if not pairs:
        return float("nan")
    a, b = np.array([p[0] for p in pairs], np.float64), np.array([p[1] for p in pairs], np.float64)
    length = np.linalg.norm(b - a, axis=1)
    keep = length > 6.0
    if not keep.any():
        return float("nan")
    a, b, length = a[keep], b[keep], length[keep]
    middle = (a + b) / 2
    normal = np.column_stack([-(b - a)[:, 1], (b - a)[:, 0]]) / length[:, None]
    steps = np.linspace(-reach, reach, 81)[None, :] * length[:, None]
    xs = (middle[:, 0:1] + normal[:, 0:1] * steps).astype(np.float32)
    ys = (middle[:, 1:2] + normal[:, 1:2] * steps).astype(np.float32)
    profiles = cv2.remap(gray.astype(np.float32), xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    low, high = profiles.min(axis=1, keepdims=True), profiles.max(axis=1, keepdims=True)
    contrast = (high - low)[:, 0]
    levels = (profiles - low) / np.maximum(high - low, 1e-6)
    rising = levels[:, -1] > levels[:, 0]
    levels[~rising] = levels[~rising][:, ::-1]  # every profile goes from dark to light
    spacing = steps[:, 1] - steps[:, 0]
    widths = (np.argmax(levels >= 0.9, axis=1) - np.argmax(levels >= 0.1, axis=1)) * spacing
    widths = widths[contrast > 20]
    return float(np.median(widths)) if widths.size else float("nan")


def same_size(
    size: tuple[int, int] | None, image: np.ndarray, index: int, name: str | None = None, first: str = ""
) -> tuple[int, int]:
    """``(width, height)`` of ``image`` (frame ``index``, or the file ``name``); raises when it
    is not ``size``, that of the ``first`` frame (None for the first frame itself)."""
    found = (image.shape[1], image.shape[0])
    if size is not None and found != size:
        raise InvalidInputError(
            f"{name or f'frame {index}'}: expected {size[0]}x{size[1]} like the first frame"
            f"{f' ({first})' if first else ''}, got {found[0]}x{found[1]}; calibrate one image size at a time"
        )
    return found


def _outline(view: BoardView, diagonal_px: float) -> np.ndarray:
    """(4, 2) where the rectangle spanned by the view's corners on the board appears, as a
    fraction of the image diagonal: what makes two views of the board differ."""
    H, _ = cv2.findHomography(view.points_obj[:, :2].astype(np.float64), view.pixels.astype(np.float64), 0)
    low, high = view.points_obj[:, :2].min(axis=0), view.points_obj[:, :2].max(axis=0)
    rectangle = np.array([[low[0], low[1]], [high[0], low[1]], [high[0], high[1]], [low[0], high[1]]])
    projected = cv2.perspectiveTransform(rectangle[None], H)[0] if H is not None else rectangle * 0
    return projected / diagonal_px


class ViewCollector:
    """Keeps the sharp, diverse board views among the frames it is shown.

    ``add(index, image)`` returns what happened to the frame: ``kept``, ``no board``, ``few
    corners``, ``blurred`` or ``similar``; ``counts`` tallies them for the user.
    """

    def __init__(self, board: Board, options: CalibrationOptions = CalibrationOptions()) -> None:
        self.board, self.options = board, options
        self.image_size: tuple[int, int] | None = None
        self.views: list[BoardView] = []
        self.frame_indices: list[int] = []
        self._outlines: list[np.ndarray] = []
        self.counts = dict.fromkeys(("kept", "no board", "few corners", "blurred", "similar"), 0)
        self.edge_widths_px: list[float] = []
        self._first_name = ""

    def add(self, index: int, image: np.ndarray, name: str | None = None) -> str:
        """Look at frame ``index`` (BGR or gray uint8; ``name``: its file, for messages);
        returns what became of it."""
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if self.image_size is None:
            self._first_name = name or f"frame {index}"
        self.image_size = same_size(self.image_size, gray, index, name, self._first_name)
        status = self._judge(index, gray)
        self.counts[status] += 1
        return status

    def _judge(self, index: int, gray: np.ndarray) -> str:
        view = self.board.find(gray)
        if view is None:
            return "no board"
        if len(view) < self.options.min_corners:
            return "few corners"
        width = edge_width_px(gray, view, self.board)
        if np.isfinite(width):
            self.edge_widths_px.append(width)
        if not width <= self.options.max_edge_width_px:
            return "blurred"
        outline = _outline(view, float(np.hypot(*gray.shape)))
        for kept in self._outlines:
            if np.mean(np.linalg.norm(outline - kept, axis=1)) < self.options.min_difference:
                return "similar"
        self.views.append(view)
        self.frame_indices.append(index)
        self._outlines.append(outline)
        return "kept"

    def chosen(self) -> tuple[list[BoardView], list[int]]:
        """At most ``max_views`` kept views, the most different from each other
        (farthest-point order, starting from the view with the most corners)."""
        count = len(self.views)
        if count <= self.options.max_views:
            return list(self.views), list(self.frame_indices)
        outlines = np.array(self._outlines).reshape(count, -1)
        order = [int(np.argmax([len(v) for v in self.views]))]
        distance = np.linalg.norm(outlines - outlines[order[0]], axis=1)
        while len(order) < self.options.max_views:
            order.append(int(np.argmax(distance)))
            distance = np.minimum(distance, np.linalg.norm(outlines - outlines[order[-1]], axis=1))
        order.sort()
        return [self.views[i] for i in order], [self.frame_indices[i] for i in order]

    def calibrate(self) -> Calibration:
        """``calibrate_camera`` on the chosen views; ``CalibrationError`` with ``advice`` when
        there are fewer than ``min_views``."""
        if len(self.views) < self.options.min_views:
            raise CalibrationError(self.advice())
        views, indices = self.chosen()
        return calibrate_camera(views, self.image_size, indices, self.options)

    def advice(self) -> str:
        """What to do when there are too few views, from what the frames showed."""
        c = self.counts
        seen = sum(c.values())
        if seen == 0:
            return "no frames were read"
        if c["no board"] == seen:
            return (
                f"the board ({self.board.describe()}) was not found in any of {seen} frames: check that "
                "the board file matches the printed board, and that the board is in view, lit and sharp"
            )
        if c["blurred"] > c["kept"]:
            return (
                f"{c['blurred']} of the views with the board were too blurred (median edge width "
                f"{np.median(self.edge_widths_px):.1f} px > {self.options.max_edge_width_px:g}): hold the "
                "camera or the board still at each view, and add light"
            )
        return (
            f"found {c['kept']} distinct sharp views (need {self.options.min_views}): show the board at more "
            "positions and tilts (30-45 degrees), near the image corners as well as the centre"
        )


def calibrate_camera(
    views: list[BoardView],
    image_size: tuple[int, int],
    frame_indices: list[int] | None = None,
    options: CalibrationOptions = CalibrationOptions(),
) -> Calibration:
    """Calibrate from board views (all of one image size, ``(width, height)`` pixels).

    Views whose reprojection error is above ``outlier_factor`` times the median (and above 1 px)
    are dropped, twice at most, as long as ``min_views`` remain. Raises ``CalibrationError``
    when there are too few views or OpenCV cannot converge."""
    if frame_indices is None:
        frame_indices = list(range(len(views)))
    if len(views) < options.min_views:
        raise CalibrationError(f"{len(views)} usable views, need at least {options.min_views}")
    width, height = image_size
    flags = DISTORTION_MODELS[options.distortion]
    if options.fix_aspect_ratio:
        flags |= cv2.CALIB_FIX_ASPECT_RATIO
    keep = list(range(len(views)))
    rejected: list[int] = []
    for attempt in range(3):
        objects = [views[i].points_obj.astype(np.float32) for i in keep]
        images = [views[i].pixels.astype(np.float32).reshape(-1, 1, 2) for i in keep]
        K0 = np.array(
            [[max(width, height), 0, (width - 1) / 2], [0, max(width, height), (height - 1) / 2], [0, 0, 1]]
        )
        criteria = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 100, 1e-9)
        try:
            rms, K, dist, rvecs, tvecs, std_intrinsics, _, per_view = cv2.calibrateCameraExtended(
                objects, images, (width, height), K0, np.zeros(5), flags=flags, criteria=criteria
            )
        except cv2.error as exc:
            raise CalibrationError(
                f"OpenCV could not calibrate from these views: {str(exc).strip()}"
            ) from exc
        per_view = per_view.reshape(-1)
        limit = max(options.outlier_factor * float(np.median(per_view)), 1.0)
        outliers = [keep[j] for j in np.flatnonzero(per_view > limit)]
        if attempt == 2 or not outliers or len(keep) - len(outliers) < options.min_views:
            break
        log.info("dropping %d outlier views (error > %.2f px)", len(outliers), limit)
        rejected += [frame_indices[i] for i in outliers]
        keep = [i for i in keep if i not in outliers]
    if not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise CalibrationError("the calibration diverged: show the board at more tilts and positions")
    try:
        camera = Camera(K, width, height, dist.reshape(-1)[:5])
    except InvalidInputError as exc:  # an absurd focal length: diverged too
        raise CalibrationError(
            f"the calibration diverged ({exc}): show the board at more tilts and positions"
        ) from None
    poses = tuple(Pose.from_rvec_tvec(r.reshape(3), t.reshape(3)) for r, t in zip(rvecs, tvecs))
    std = std_intrinsics.reshape(-1)
    return Calibration(
        camera=camera,
        rms_px=float(rms),
        per_view_rms_px=per_view.astype(np.float64),
        frame_indices=tuple(frame_indices[i] for i in keep),
        rejected=tuple(rejected),
        std_fx_px=float(std[0]),
        std_fy_px=float(std[1]),
        T_cam_board=poses,
        views=tuple(views[i] for i in keep),
    )


_COVERAGE_CELLS = (4, 3)
_PALETTE = np.array(
    [
        [230, 159, 0],
        [86, 180, 233],
        [0, 158, 115],
        [240, 228, 66],
        [0, 114, 178],
        [213, 94, 0],
        [204, 121, 167],
    ],
    np.uint8,
)[:, ::-1]  # Okabe-Ito colours, BGR


def coverage_image(calibration: Calibration, background: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 3) uint8 BGR: every used view's corners (one colour per view) over a dimmed
    ``background`` (or grey), a 4x3 grid shaded where no corner fell, and the fit's numbers."""
    camera = calibration.camera
    width, height = camera.size
    if background is None:
        image = np.full((height, width, 3), 60, np.uint8)
    else:
        image = (cv2.resize(background, (width, height)).astype(np.float32) * 0.4).astype(np.uint8)
    cells_x, cells_y = _COVERAGE_CELLS
    hit = _covered_cells(calibration)
    for row in range(cells_y):
        for col in range(cells_x):
            x0, x1 = col * width // cells_x, (col + 1) * width // cells_x
            y0, y1 = row * height // cells_y, (row + 1) * height // cells_y
            if not hit[row, col]:
                image[y0:y1, x0:x1] = (image[y0:y1, x0:x1] * 0.5 + np.array([0, 0, 110])).astype(np.uint8)
            cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), (90, 90, 90), 1)
    radius = max(2, round(width / 320))
    for number, view in enumerate(calibration.views):
        colour = tuple(int(c) for c in _PALETTE[number % len(_PALETTE)])
        for u, v in view.pixels:
            cv2.circle(image, (round(u), round(v)), radius, colour, -1, cv2.LINE_AA)
    covered = 100.0 * covered_share(calibration)
    lines = [
        f"{len(calibration.views)} views, RMS {calibration.rms_px:.2f} px, {covered:.0f} % of cells covered",
        f"fx {camera.fx:.1f}  fy {camera.fy:.1f}  cx {camera.cx:.1f}  cy {camera.cy:.1f}",
    ]
    scale = width / 1100
    line_px = round(30 * scale * 1.4)
    cv2.rectangle(image, (0, 0), (width - 1, line_px * len(lines) + line_px // 2), (0, 0, 0), -1)
    for number, line in enumerate(lines):
        org = (10, line_px * (number + 1))
        cv2.putText(image, line, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return image


def _covered_cells(calibration: Calibration) -> np.ndarray:
    """(rows, columns) bool: the grid cells over the image in which some used corner fell."""
    cells_x, cells_y = _COVERAGE_CELLS
    width, height = calibration.camera.size
    pixels = np.vstack([view.pixels for view in calibration.views])
    hit = np.zeros((cells_y, cells_x), bool)
    cx = np.clip((pixels[:, 0] / width * cells_x).astype(int), 0, cells_x - 1)
    cy = np.clip((pixels[:, 1] / height * cells_y).astype(int), 0, cells_y - 1)
    hit[cy, cx] = True
    return hit


def covered_share(calibration: Calibration) -> float:
    """Share (0-1) of a 4x3 grid over the image in which some used corner fell."""
    return float(_covered_cells(calibration).mean())

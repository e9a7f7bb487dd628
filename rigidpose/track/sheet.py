"""A printed sheet, followed through its own image: its ``Follower`` (``SheetFollower``), the
sheet warper (its image warped into a predicted view, lens distortion included), re-anchoring (points followed from that warp into
the frame, the pose fitted, warped again when it moved), the choice between a detection's two
planar poses, and the gates on a sheet's pose (fits as usual, corners certain enough)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..camera import Camera
from ..geometry import Pose
from ..targets.planar import planar_corners_obj
from .flow import FLOW_CRITERIA, corner_uncertainty_px, fit, follow, median, project
from .mesh import detect_features

if TYPE_CHECKING:
    from ..solve import PoseEstimate
    from .options import TrackerOptions
    from .state import TrackState
    from .view import GrayFrame

__all__ = [
    "SheetFollower",
    "SheetWarper",
    "accept_detection",
    "certain_enough",
    "fits_as_usual",
    "flow_levels_for",
    "normalized_grid",
    "reanchor",
    "warp_and_fit",
]

log = logging.getLogger(__name__)


class SheetFollower:
    """The ``Follower`` of a printed sheet: features to find it, accepted only when its warped
    image lines up with the frame; followed through its own image warped into the predicted
    pose (plain flow from the last frame when that fails); a pose reported only when its
    points fit as usual and pin its corners down (``fits_as_usual``, ``certain_enough``)."""

    def __init__(self, options: TrackerOptions, camera: Camera) -> None:
        self.options, self.camera = options, camera
        self._grid: np.ndarray | None = None

    @property
    def grid(self) -> np.ndarray:
        """``normalized_grid(camera, SheetWarper.GRID_STEP)``, made on first use."""
        if self._grid is None:
            self._grid = normalized_grid(self.camera, SheetWarper.GRID_STEP)
        return self._grid

    def detect(self, track: TrackState, frame: GrayFrame) -> Pose | None:
        found = detect_features(self.options, self.camera, track, frame)
        if found is None:
            return None
        return accept_detection(
            track, found[1], lambda T: self.reanchor(track, frame, T, min_share=0.6, fresh=True)
        )

    def follow(self, track: TrackState, frame: GrayFrame) -> Pose | None:
        T_pred = track.predict()
        track.since_anchor += 1
        T = None if T_pred is None else self.reanchor(track, frame, T_pred)
        if T is None:
            T = follow(self.options, self.camera, track, frame)
        if T is not None and not fits_as_usual(self.options, track):
            log.debug(
                "%s: points fit to %.2f px, not %.2f: found afresh",
                track.target.name,
                track.residual_px,
                track.usual_residual_px,
            )
            return None
        return T

    def confirm(self, track: TrackState, T: Pose) -> Pose | None:
        """``T`` when the sheet's corners are certain enough at it (then the running mean of
        the fit's residual takes this frame's in); else None."""
        if not certain_enough(self.options, self.camera, track, T):
            return None
        usual = track.usual_residual_px
        track.usual_residual_px = (
            track.residual_px if usual is None else 0.9 * usual + 0.1 * track.residual_px
        )
        return T

    def reanchor(
        self, track: TrackState, frame: GrayFrame, T: Pose, min_share: float = 0.3, fresh: bool = False
    ) -> Pose | None:
        """``reanchor`` with this follower's options, camera and grid."""
        return reanchor(self.options, self.camera, self.grid, track, frame, T, min_share, fresh)


# -- per-frame geometry helpers ---------------------------------------------------------------
def normalized_grid(camera: Camera, step: int) -> np.ndarray:
    """(H', W', 2) float64: undistorted normalized coordinates (x/z, y/z) of the pixels
    ``g * step + (step - 1) / 2`` (rows then columns), covering the image and one step beyond.

    Sampled there, ``cv2.resize`` by ``step`` (linear, pixel-centre aligned) puts the grid's
    values exactly on every pixel: pixel ``i`` is resized index ``i``.
    """
    offset = (step - 1) / 2.0
    us = np.arange(camera.width // step + 2, dtype=np.float64) * step + offset
    vs = np.arange(camera.height // step + 2, dtype=np.float64) * step + offset
    grid = np.stack(np.meshgrid(us, vs), axis=-1).reshape(-1, 2)
    return camera.rays(grid)[:, :2].reshape(len(vs), len(us), 2)


class SheetWarper:
    """Warps a sheet's image into a predicted view (lens distortion included) and maps warped
    pixels back to points on the sheet."""

    GRID_STEP = 4  # pixels between exactly mapped grid points; bilinear in between

    def __init__(self, image: np.ndarray, width_m: float) -> None:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        h, w = gray.shape
        self.scale_m = width_m / w  # metres per pixel of the image
        self.size = (w, h)
        self.levels = [gray]
        while min(self.levels[-1].shape) > 64:
            self.levels.append(cv2.pyrDown(self.levels[-1]))
        self.corners_obj = planar_corners_obj(width_m, width_m * h / w)

    def roi(self, camera: Camera, T_cam_obj: Pose, margin_px: int) -> tuple[int, int, int, int] | None:
        """(x0, y0, x1, y1) of the sheet's projection plus a margin, clipped to the image; None
        when the sheet is behind the camera or outside the image."""
        if np.any(self.corners_obj @ T_cam_obj.rotation[2] + T_cam_obj.translation[2] <= 1e-3):
            return None
        pixels = project(camera, T_cam_obj, self.corners_obj)
        x0, y0 = np.floor(pixels.min(axis=0)).astype(int) - margin_px
        x1, y1 = np.ceil(pixels.max(axis=0)).astype(int) + margin_px + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, camera.width), min(y1, camera.height)
        if x1 - x0 < 16 or y1 - y0 < 16:
            return None
        return x0, y0, x1, y1

    def warp(
        self, grid: np.ndarray, camera: Camera, T_cam_obj: Pose, roi: tuple[int, int, int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The sheet as a camera at ``T_cam_obj`` would see it inside ``roi``.

        ``grid`` is ``normalized_grid(camera, GRID_STEP)``: with lens distortion the exact
        mapping is computed on it and interpolated in between; without, the map is one
        homography (``_warp_pinhole``). Returns warped (h, w) uint8 and valid (h, w) uint8, 1
        where the pixel shows the sheet.
        """
        x0, y0, x1, y1 = roi
        step = self.GRID_STEP
        g0x, g0y = x0 // step, y0 // step
        g1x, g1y = -(-x1 // step), -(-y1 // step)  # ceil
        coarse = grid[g0y:g1y, g0x:g1x]
        to_sheet = _ray_to_sheet(T_cam_obj)  # ray (x, y, 1) -> sheet (X, Y, W), up to scale

        def plane_w(rays: np.ndarray) -> np.ndarray:
            # W is linear in the ray: > 0 where the ray meets the sheet's plane in front of the camera
            return rays[..., 0] * to_sheet[2, 0] + rays[..., 1] * to_sheet[2, 1] + to_sheet[2, 2]

        # the image pyramid level whose pixels are about the size of a frame pixel: a projective
        # map's Jacobian determinant is det(H) / W^3, so metres per frame pixel are
        # sqrt(|det H| / W^3) / focal (at the median W of the rays that meet the sheet, every
        # 16th pixel each way)
        sampled_w = plane_w(coarse[::4, ::4])
        sampled_w = sampled_w[sampled_w > 1e-12]
        if sampled_w.size == 0:
            return np.zeros((y1 - y0, x1 - x0), np.uint8), np.zeros((y1 - y0, x1 - x0), np.uint8)
        median_w = median(sampled_w)
        m_per_px = math.sqrt(abs(np.linalg.det(to_sheet)) / median_w**3 / (camera.fx * camera.fy))
        level = min(math.floor(math.log2(max(m_per_px / self.scale_m, 1.0))), len(self.levels) - 1)
        # ray -> pixel of that level: cv2.pyrDown centres pixel i of a level on pixel 2i of the
        # level below, so level-0 pixel x (centre convention) is x / 2^level there
        factor = 2.0**level
        to_pixel = np.array(
            [
                [1.0 / (self.scale_m * factor), 0.0, (self.size[0] - 1.0) / (2.0 * factor)],
                [0.0, 1.0 / (self.scale_m * factor), (self.size[1] - 1.0) / (2.0 * factor)],
                [0.0, 0.0, 1.0],
            ]
        )
        source = self.levels[level]
        h, w = source.shape
        if not camera.has_distortion:
            return self._warp_pinhole(source, to_pixel @ to_sheet @ np.linalg.inv(camera.K), roi)
        coarse_map = cv2.perspectiveTransform(coarse.reshape(-1, 1, 2), to_pixel @ to_sheet)
        coarse_map = coarse_map.reshape(coarse.shape).astype(np.float32)
        coarse_map[plane_w(coarse) <= 1e-12] = -1e4  # no sheet there
        # how far inside the source image each grid point maps, source pixels: linear along an
        # edge (one term is the least), so resized like the map it says where the map is inside
        coarse_inside = np.minimum(
            np.minimum(coarse_map[..., 0], coarse_map[..., 1]),
            np.minimum(w - 1.0 - coarse_map[..., 0], h - 1.0 - coarse_map[..., 1]),
        )
        # every pixel of the roi (see normalized_grid), then the roi's part of it
        fine_size = (coarse_map.shape[1] * step, coarse_map.shape[0] * step)
        rows = slice(y0 - g0y * step, y1 - g0y * step)
        cols = slice(x0 - g0x * step, x1 - g0x * step)
        fine_map = cv2.resize(coarse_map, fine_size)[rows, cols]
        fine_inside = cv2.resize(coarse_inside, fine_size)[rows, cols]
        warped = cv2.remap(source, fine_map, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        return warped, (fine_inside >= 0.0).view(np.uint8)

    @staticmethod
    def _warp_pinhole(
        source: np.ndarray, frame_to_source: np.ndarray, roi: tuple[int, int, int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """``warp`` without lens distortion: one homography ``frame_to_source`` (3, 3) from frame
        pixels to ``source``'s pixels, about 2x faster than the map. The valid pixels are those
        inside the source's outline, filled as a polygon half a pixel in from its edge pixels'
        centres (a filled polygon includes the pixels its edges cross); what lies beyond the
        horizon maps back onto the sheet too, but the outline leaves it out."""
        x0, y0, x1, y1 = roi
        roi_to_source = frame_to_source @ np.array([[1.0, 0.0, x0], [0.0, 1.0, y0], [0.0, 0.0, 1.0]])
        size = (x1 - x0, y1 - y0)
        warped = cv2.warpPerspective(
            source,
            roi_to_source,
            size,
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
        )
        h, w = source.shape
        outline = np.array([[0.5, 0.5], [w - 1.5, 0.5], [w - 1.5, h - 1.5], [0.5, h - 1.5]]).reshape(-1, 1, 2)
        outline = cv2.perspectiveTransform(outline, np.linalg.inv(roi_to_source)).reshape(-1, 2)
        valid = np.zeros((size[1], size[0]), np.uint8)
        cv2.fillConvexPoly(valid, np.round(outline * 256).astype(np.int32), 1, lineType=cv2.LINE_8, shift=8)
        return warped, valid

    def sheet_points(self, camera: Camera, T_cam_obj: Pose, pixels: np.ndarray) -> np.ndarray:
        """(N, 3) metres, object frame: the points of the sheet's plane seen at ``pixels`` (N, 2)
        by ``camera`` at ``T_cam_obj``; NaN rows where the ray misses the plane."""
        plane = camera.rays(pixels) @ _ray_to_sheet(T_cam_obj).T
        with np.errstate(divide="ignore", invalid="ignore"):
            xy = np.where(plane[:, 2:] > 1e-12, plane[:, :2] / plane[:, 2:], np.nan)
        return np.column_stack([xy, np.zeros(len(xy))])


def _sampled_mean_std(image: np.ndarray, sampled_mask: np.ndarray, step: int = 4) -> tuple[float, float]:
    """Mean and standard deviation of ``image`` (H, W) from every ``step``-th pixel each way
    where ``sampled_mask`` (uint8, the mask's same pixels: ``mask[::step, ::step]``) is set:
    plenty for a brightness and contrast match, 16x cheaper."""
    mean, std = cv2.meanStdDev(np.ascontiguousarray(image[::step, ::step]), mask=sampled_mask)
    return float(mean[0, 0]), float(std[0, 0])


def _ray_to_sheet(T_cam_obj: Pose) -> np.ndarray:
    """3x3 map of a camera ray (x, y, 1) to the sheet point (x, y, 1) (object frame, plane z = 0)
    it meets, up to scale: the inverse of the plane's homography [r1 r2 t]."""
    homography = T_cam_obj.rotation.copy()
    homography[:, 2] = T_cam_obj.translation
    return np.linalg.inv(homography)


def reanchor(
    options: TrackerOptions,
    camera: Camera,
    grid: np.ndarray,
    track: TrackState,
    gray: GrayFrame,
    T: Pose,
    min_share: float = 0.3,
    fresh: bool = False,
) -> Pose | None:
    """Warp the sheet's image into pose ``T`` (a prediction or a detection), track points from
    the warp into the frame and fit the pose to them: no drift, and the warp already carries
    the motion's rotation, scale and perspective, which plain frame-to-frame flow does not.

    The points followed so far are reused unless ``fresh``, they thinned out, much more of
    the sheet is in view or ``reanchor_every`` frames passed; then new corners are picked in
    the warp. Replaces the tracked points on success; None when fewer than ``min_share`` of
    the points fit.

    When the fitted pose moved the sheet's corners more than ``rewarp_px`` away from ``T`` (a
    rough detection, a poor prediction), the warp showed the sheet a little rotated, scaled
    and sheared against the frame, and the flow's fixed windows leaned towards ``T``: the
    sheet is warped again into the fitted pose and the same points followed once more, until
    the pose stays within ``rewarp_px`` or ``max_warps`` warps were made.
    """
    levels = flow_levels_for(options, None if fresh else track.prediction_error_px)
    T_fit = warp_and_fit(options, camera, grid, track, gray, T, min_share, fresh, levels)
    track.prediction_error_px = None
    if T_fit is None:
        return None
    corners = track.sheet.corners_obj
    for warps in range(1, options.max_warps + 1):
        shift_px = float(np.abs(project(camera, T_fit, corners) - project(camera, T, corners)).max())
        if warps == 1 and not fresh and math.isfinite(shift_px):
            track.prediction_error_px = shift_px
        # NaN (a corner behind the camera) compares False: no further pass
        if warps == options.max_warps or not shift_px > options.rewarp_px:
            break
        T, T_fit = (
            T_fit,
            warp_and_fit(
                options,
                camera,
                grid,
                track,
                gray,
                T_fit,
                min_share,
                False,
                flow_levels_for(options, shift_px),
            ),
        )
        if T_fit is None:
            return T
    return T_fit


def flow_levels_for(options: TrackerOptions, expected_px: float | None) -> int:
    """Pyramid levels to follow a sheet's points from a warp that may be ``expected_px``
    off (None: unknown); see ``TrackerOptions.warp_flow_levels``."""
    if expected_px is None or not expected_px <= 2.0:
        return options.warp_flow_levels
    return min(options.warp_flow_levels, 0 if expected_px <= 1.0 else 1)


def warp_and_fit(
    options: TrackerOptions,
    camera: Camera,
    grid: np.ndarray,
    track: TrackState,
    gray: GrayFrame,
    T: Pose,
    min_share: float,
    fresh: bool,
    levels: int,
) -> Pose | None:
    """One pass of ``reanchor``: warp into ``T``, follow points, fit."""
    sheet = track.sheet
    assert sheet is not None and grid is not None
    roi = sheet.roi(camera, T, margin_px=options.flow_window_px)
    if roi is None:
        return None
    x0, y0, x1, y1 = roi
    origin = np.array([x0, y0], np.float32)
    warped, valid = sheet.warp(grid, camera, T, roi)
    frame_roi = gray.region(x0, y0, x1, y1)
    # points on the sheet, its outline included: the template shows the frame's own pixels
    # off the sheet, so a window across the outline still lines up
    inner = cv2.erode(valid, np.ones((3, 3), np.uint8))
    # match brightness and contrast to the frame, and show the frame where the sheet is not
    sampled = np.ascontiguousarray(valid[::4, ::4])
    mean_w, std_w = _sampled_mean_std(warped, sampled)
    mean_f, std_f = _sampled_mean_std(frame_roi, sampled)
    gain = (std_f + 1e-3) / (std_w + 1e-3)
    template = frame_roi.copy()
    cv2.copyTo(cv2.convertScaleAbs(warped, alpha=gain, beta=mean_f - gain * mean_w), valid, template)

    area_px = cv2.countNonZero(inner)
    refresh = (
        fresh
        or track.since_anchor >= options.reanchor_every
        or len(track.points_obj) < max(0.7 * track.anchored_points, options.min_points * 2)
        # much more of the sheet in view (entering the frame, coming closer, a hand moving
        # off): points from the old part alone would pin the pose down poorly
        or area_px > 1.5 * track.anchored_area_px
    )
    if refresh:
        spacing = max(5, int(math.sqrt(max(area_px, 1) / options.max_points) * 0.7))
        corners = cv2.goodFeaturesToTrack(
            template, options.max_points, qualityLevel=0.002, minDistance=spacing, mask=inner, blockSize=5
        )
        if corners is None or len(corners) < options.min_points:
            return None
        in_template = corners.reshape(-1, 2)
        points_obj = sheet.sheet_points(camera, T, in_template + origin)
    else:
        points_obj = track.points_obj
        in_template = (project(camera, T, points_obj) - origin).astype(np.float32)
        # the pixel each point falls on (NaN, behind the camera, compares False: outside)
        cells = np.rint(in_template)
        inside = (cells[:, 0] >= 0) & (cells[:, 1] >= 0) & (cells[:, 0] < x1 - x0) & (cells[:, 1] < y1 - y0)
        cols, rows = cells[inside].astype(np.int64).T
        inside[inside] = inner[rows, cols] > 0
        points_obj, in_template = points_obj[inside], in_template[inside]
    if len(points_obj) < options.min_points:
        return None
    moved, status, _ = cv2.calcOpticalFlowPyrLK(
        template,
        frame_roi,
        in_template.reshape(-1, 1, 2),
        in_template.reshape(-1, 1, 2).copy(),
        winSize=(options.flow_window_px, options.flow_window_px),
        maxLevel=levels,
        criteria=FLOW_CRITERIA,
        flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
        minEigThreshold=options.flow_min_eigen,
    )
    ok = (status.ravel() == 1) & np.all(np.isfinite(points_obj), axis=1)
    pixels = moved.reshape(-1, 2)[ok] + origin
    # the points are followed from the sheet's own image: their residuals are the flow's
    # noise alone, so a point a pixel off is an outlier (see min_residual_px)
    fitted = fit(
        options,
        camera,
        points_obj[ok],
        pixels,
        T,
        min_share=min_share * len(ok) / max(int(ok.sum()), 1),
        sheet=True,
    )
    if fitted is None:
        return None
    T_new, keep, residual = fitted
    track.points_obj, track.pixels = points_obj[ok][keep], pixels[keep]
    track.residual_px = residual
    track.found_in = (frame_roi, x0, y0)
    if refresh:
        track.since_anchor, track.anchored_points, track.anchored_area_px = 0, int(keep.sum()), area_px
    track.confidence = float(
        min(1.0, keep.sum() / len(ok)) * min(1.0, keep.sum() / (4.0 * options.min_points))
    )
    return T_new


def fits_as_usual(options: TrackerOptions, track: TrackState) -> bool:
    """Whether a sheet's points fit its new pose about as well as they have been fitting:
    followed from the sheet's own image they fit to a fraction of a pixel (the suite and
    its check set: 99.9 % under 0.6 px). Four times worse, and over ``min_residual_px``,
    means the flow caught something else: repeated print in a fast move, a letter for its
    neighbour, all points alike."""
    usual = track.usual_residual_px
    return usual is None or track.residual_px <= max(options.min_residual_px, 4.0 * usual)


def certain_enough(options: TrackerOptions, camera: Camera, track: TrackState, T: Pose) -> bool:
    """Whether a sheet's corners at pose ``T`` (fitted to ``track``'s points) are certain to
    ``max_uncertainty_px`` (see ``corner_uncertainty_px``)."""
    uncertainty_px = corner_uncertainty_px(camera, track, T, track.sheet.corners_obj)
    if not uncertainty_px <= options.max_uncertainty_px:
        log.debug("%s: corners uncertain by %.1f px: no pose", track.target.name, uncertainty_px)
        return False
    return True


def accept_detection(
    track: TrackState, estimate: PoseEstimate, reanchor_fresh: Callable[[Pose], Pose | None]
) -> Pose | None:
    """A sheet's detection is accepted only when its own image, warped into the pose
    (``reanchor_fresh``: ``reanchor`` with fresh points), lines up with the frame: this rules out
    poses from repeated patterns and planar flips."""
    T = reanchor_fresh(estimate.T_cam_obj)
    if estimate.alternative is None:
        return T
    # the flip is ambiguous on the matches (a far, nearly face-on sheet: the two poses
    # put its corners within a pixel or two): the warp of each tells them apart, as the
    # wrong one's perspective leaves every point a little off
    chosen, chosen_residual_px = track.followed(), track.residual_px
    T_other = reanchor_fresh(estimate.alternative)
    if T_other is not None and (T is None or track.residual_px < chosen_residual_px):
        return T_other
    track.restore(chosen)
    return T

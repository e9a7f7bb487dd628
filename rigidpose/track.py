"""``Tracker``: find known targets in a video and follow them from frame to frame.

Per target and frame::

    searching / lost ──detect──► tracking ──KLT + pose fit──► tracking
         ▲                           │ too few points survive / pose fit fails
         └───────────────────────────┘

- **Detect** (when searching or lost): local features of the frame matched to the target's
  appearance, robust PnP (``solve_pose``). A sheet's detection is accepted only when its own
  image, warped into the detected pose, lines up with the frame (see Follow), so repetitive
  prints and planar flips do not produce wrong poses.
- **Follow** (every frame while tracking). A sheet: its image is warped into the pose a
  constant-velocity model predicts (lens distortion included) and points whose 3D coordinates
  are exact are tracked by pyramidal Lucas-Kanade from that warp into the frame: nothing drifts,
  and the warp already carries the motion's rotation, scale and perspective (when the fitted pose
  lands more than a pixel from the prediction, the sheet is warped again into it and followed
  once more, so a poor prediction does not lean the flow towards itself); fresh points are
  picked every ``reanchor_every`` frames, when many were dropped or when 1.5 times more of the
  sheet is in view than when they were picked (it enters the frame). Any other target: its
  matched points are moved by Lucas-Kanade from the previous frame, and it is detected again
  around its predicted place every ``redetect_every`` frames. Either way the pose is refined
  (Levenberg-Marquardt) from the prediction, and points that no longer fit it (an occluding
  hand, a slipped track) are dropped; too few left means lost.
- **Smooth**: a one-euro filter on the pose: strong at rest (no jitter), weak in fast motion
  (no lag). Smoothing only changes what is reported; tracking uses the raw pose.

Five lines for the common case::

    tracker = rigidpose.Tracker([rigidpose.Target.load("sheet")], rigidpose.Camera.load("cam.yaml"))
    for frame in rigidpose.FrameSource("clip.mp4"):
        for result in tracker.update(frame):
            if result.T_cam_obj is not None:
                print(frame.index, result.name, result.T_cam_obj.translation)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from ._validate import check_type
from .align import Alignment, AlignOptions, DepthAligner, MeshCaster
from .camera import Camera
from .detect.features import FeatureDetector, FeatureOptions, extract_features
from .detect.learned import LearnedDetector, LearnedOptions
from .detect.observations import Observations
from .errors import BackendMissingError, InvalidInputError
from .geometry import Pose, _rotation_log, poses_agree
from .io import Frame, ObjectPose, as_bgr8
from .silhouette import SilhouetteOptions, SilhouetteRefiner
from .solve import PoseEstimate, SolveOptions, refine_weighted, solve_pose, solve_weighted_pose
from .target import Target, as_targets
from .targets.planar import planar_corners_obj, sheet_image

__all__ = ["PoseSmoother", "Tracker", "TrackerOptions"]

log = logging.getLogger(__name__)

_FLOW_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 20, 0.03)
"""Lucas-Kanade stops after 20 iterations or a step under 0.03 px."""

_SEARCH_INLIERS = 6
"""Keypoint inliers a learned target's whole-frame search needs (and its confirming crop look):
with five, the drill model posed the drill 13 times in 455 frames of real footage without it."""

_TRACKING_INLIERS = 5
"""Keypoint inliers a crop look needs while the target is tracked (the crop is where the last
pose puts it): a hand over half of the drill leaves five or six of its nine keypoints."""


@dataclass(frozen=True)
class TrackerOptions:
    """How ``Tracker`` works.

    Attributes:
        features: local features used to detect targets (their appearance must be of this kind).
        solve: robust PnP for detections.
        max_points: points followed per target.
        min_points: fewer surviving points than this means the target is lost.
        reanchor_every: frames between picking fresh points on a sheet's warped image.
        redetect_every: frames between detections around a non-sheet target's predicted place.
        flow_window_px: Lucas-Kanade window side, pixels.
        flow_levels: Lucas-Kanade pyramid levels above full resolution.
        warp_flow_levels: the most pyramid levels a sheet's points are followed with from its
            warped image. The warp sits where the sheet is predicted, so the points move no
            farther than the prediction's error: fewer levels are used when the last frame's
            prediction was good (none within 1 px, one within 2 px). Coarse levels cost time
            and, on repeated print, can lock a window onto a neighbouring letter.
        flow_min_eigen: a sheet's point is not followed from its warped image when the smaller
            eigenvalue of its window's gradient matrix, per pixel, is below this (OpenCV's
            ``minEigThreshold``; the template is matched to the frame's contrast first). Faint
            texture is followed poorly under noise, and a window on a straight edge slides
            along it, staying where the prediction put it: both pull the pose towards the
            prediction, which shows as jitter, most where little of the sheet is in view.
        rewarp_px, max_warps: a sheet whose fitted pose moved its corners farther than
            ``rewarp_px`` (pixels) from the pose its image was warped into is warped and
            followed again from the fitted pose, up to ``max_warps`` warps per frame. A poor
            prediction (the sheet speeding up as it leaves the view) takes two or three.
        max_residual_px: a followed point farther than this (pixels) from the refined pose's
            projection is dropped.
        min_residual_px: a sheet's point is also dropped when farther than three times the
            median point's distance, down to this (pixels). Points on a plane known exactly
            have the flow's noise alone for residuals; one that the flow put a pixel or two
            off (a window caught on a neighbouring letter of repeated print, a stale
            prediction) pulls the pose by as much as a good point holds it, most where few
            points are left. Points on a mesh carry the mesh's and the registration's errors
            as well: for them only ``max_residual_px``.
        max_uncertainty_px: a sheet's pose is not reported when its corners' 1-sigma
            uncertainty (pixels, RMS over the corners) is larger, as the followed points'
            residuals and spread give it: a sliver of the sheet left in view, a few points
            beside a hand. The estimate assumes independent flow errors; near an edge or a hand
            they are not, and it can be low by half: 1.5 px keeps even such a pose's corners
            within 5 px most of the time.
        smooth_min_cutoff_hz: one-euro filter cutoff at rest, Hz; lower is steadier. 0 disables
            smoothing.
        smooth_beta: how fast the cutoff rises with the object's speed in the image (Hz per px/s);
            higher lags less.
        depth: how frames with a depth image (``Frame.depth_m``) refine poses (``align``); None
            ignores depth.
        depth_every: refine with depth every this many frames; between them the last
            refinement's correction (camera frame) is carried over the colour pose.
        learned: how targets with a keypoint model are looked for (``detect.learned``).
        learned_every: while tracking such a target, its network runs on a crop around it every
            this many frames; in between, points on its surface are followed by optical flow.
        learned_patience: a network pose that disagrees with the followed points replaces them
            once the next network run confirms it (the two agree), or after this many runs in a
            row disagree; and the object is given up after this many runs in a row find no
            pose. Until then the points are followed. A hand over the object makes the network
            guess its hidden keypoints, differently each time, or find too few, while the points
            on the visible part keep moving with it. 1: the network always wins at once.
        silhouette: how a learned target's pose is refined every frame by lining its outline up
            with the image's edges (``silhouette``); None leaves the pose as the keypoints and
            the followed points give it.
    """

    features: FeatureOptions = field(default_factory=FeatureOptions)
    solve: SolveOptions = field(default_factory=SolveOptions)
    max_points: int = 150
    min_points: int = 12
    reanchor_every: int = 15
    redetect_every: int = 10
    flow_window_px: int = 21
    flow_levels: int = 3
    flow_min_eigen: float = 3e-3
    warp_flow_levels: int = 2
    rewarp_px: float = 1.0
    max_warps: int = 3
    max_residual_px: float = 3.0
    min_residual_px: float = 0.5
    max_uncertainty_px: float = 1.5
    smooth_min_cutoff_hz: float = 1.0
    smooth_beta: float = 0.5
    depth: AlignOptions | None = field(default_factory=AlignOptions)
    depth_every: int = 1
    learned: LearnedOptions = field(default_factory=LearnedOptions)
    learned_every: int = 2
    learned_patience: int = 5
    silhouette: SilhouetteOptions | None = field(default_factory=SilhouetteOptions)

    @classmethod
    def for_targets(cls, targets: Sequence[Target]) -> TrackerOptions:
        """The defaults, with the features the targets were made with (SIFT when they disagree
        or have none): what ``Tracker`` uses without ``options``."""
        kinds = {t.appearance.detector for t in targets if t.appearance is not None}
        return cls(features=FeatureOptions(kind=kinds.pop() if len(kinds) == 1 else "sift"))

    def __post_init__(self) -> None:
        if self.min_points < 6 or self.max_points < 2 * self.min_points:
            raise InvalidInputError(
                f"expected min_points >= 6 and max_points >= 2 * min_points, got {self.min_points}, {self.max_points}"
            )
        if (
            self.reanchor_every < 1
            or self.redetect_every < 1
            or self.flow_window_px < 5
            or self.flow_levels < 0
            or self.warp_flow_levels < 0
            or self.max_warps < 1
            or self.depth_every < 1
            or self.learned_every < 1
            or self.learned_patience < 1
        ):
            raise InvalidInputError(
                "expected reanchor_every >= 1, redetect_every >= 1, flow_window_px >= 5, flow_levels >= 0, "
                "warp_flow_levels >= 0, max_warps >= 1, depth_every >= 1, learned_every >= 1 and learned_patience >= 1"
            )
        if (
            self.min_residual_px <= 0
            or self.max_residual_px < self.min_residual_px
            or self.rewarp_px <= 0
            or self.flow_min_eigen < 0
            or self.max_uncertainty_px <= 0
            or self.smooth_min_cutoff_hz < 0
            or self.smooth_beta < 0
        ):
            raise InvalidInputError(
                "expected 0 < min_residual_px <= max_residual_px, rewarp_px > 0, flow_min_eigen >= 0, "
                "max_uncertainty_px > 0, smooth_min_cutoff_hz >= 0 and smooth_beta >= 0"
            )


# -- smoothing --------------------------------------------------------------------------------
class PoseSmoother:
    """One-euro filter (Casiez et al., CHI 2012) on a pose.

    The cutoff frequency grows with the pose's speed, ``min_cutoff_hz + beta * speed``, where
    speed approximates how fast the object moves in the image, pixels per second: ``focal_px``
    times the rotation rate (rad/s) plus the translation rate relative to the distance (1/s).
    At rest the filter is strong and removes jitter; in fast motion it lets the pose through.
    """

    def __init__(
        self,
        min_cutoff_hz: float = 1.0,
        beta: float = 0.5,
        focal_px: float = 600.0,
        derivative_cutoff_hz: float = 1.0,
    ) -> None:
        self.min_cutoff_hz, self.beta, self.derivative_cutoff_hz = min_cutoff_hz, beta, derivative_cutoff_hz
        self.focal_px = focal_px
        self.reset()

    def reset(self) -> None:
        """Forget the past (after the object was lost)."""
        self._smoothed: Pose | None = None
        self._last_raw: Pose | None = None
        self._velocity: np.ndarray | None = None  # none until a second pose gives one

    @staticmethod
    def _alpha(cutoff_hz: float, dt_s: float) -> float:
        tau = 1.0 / (2.0 * math.pi * cutoff_hz)
        return 1.0 / (1.0 + tau / dt_s)

    def __call__(self, T_raw: Pose, dt_s: float) -> Pose:
        """The smoothed pose after a new raw pose ``dt_s`` seconds after the previous one."""
        if self._smoothed is None or self._last_raw is None or self.min_cutoff_hz <= 0 or dt_s <= 0:
            self._smoothed = self._last_raw = T_raw
            self._velocity = None
            return T_raw
        # velocity (rotation rate, translation rate relative to the distance), filtered as a
        # vector so that noise averages out instead of adding up; raw matrices, one Pose at the end
        R_raw, t_raw = T_raw.rotation, T_raw.translation
        R_smooth, t_smooth = self._smoothed.rotation, self._smoothed.translation
        step_rvec = _rotation_log(R_raw @ self._last_raw.rotation.T)
        distance = max(math.sqrt(float(t_raw @ t_raw)), 1e-3)
        velocity = np.concatenate([step_rvec, (t_raw - self._last_raw.translation) / distance]) / dt_s
        # the first velocity is taken as it is: starting from rest would smooth hard, and lag,
        # while an object found in motion (entering the view, found again) keeps moving
        if self._velocity is None:
            self._velocity = velocity
        else:
            self._velocity += self._alpha(self.derivative_cutoff_hz, dt_s) * (velocity - self._velocity)
        rate, shift = self._velocity[:3], self._velocity[3:]
        speed_px_s = self.focal_px * (math.sqrt(float(rate @ rate)) + math.sqrt(float(shift @ shift)))
        alpha = self._alpha(self.min_cutoff_hz + self.beta * float(speed_px_s), dt_s)
        towards = _rotation_log(R_raw @ R_smooth.T)
        rotation = cv2.Rodrigues(alpha * towards)[0] @ R_smooth
        self._smoothed = Pose._of(rotation, t_smooth + alpha * (t_raw - t_smooth))
        self._last_raw = T_raw
        return self._smoothed


# -- per-frame geometry helpers ---------------------------------------------------------------
def _normalized_grid(camera: Camera, step: int) -> np.ndarray:
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


class _SheetWarper:
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
        pixels = _project(camera, T_cam_obj, self.corners_obj)
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

        ``grid`` is ``_normalized_grid(camera, GRID_STEP)``: with lens distortion the exact
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
        median_w = _median(sampled_w)
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
        # every pixel of the roi (see _normalized_grid), then the roi's part of it
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


def _median(values: np.ndarray) -> float:
    """``np.median`` of a small 1-D array, without its overhead (8x faster for 100 values)."""
    ordered = np.sort(values)
    half = len(ordered) // 2
    return (
        float(ordered[half]) if len(ordered) % 2 else 0.5 * (float(ordered[half - 1]) + float(ordered[half]))
    )


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


def _project(camera: Camera, T_cam_obj: Pose, points_obj: np.ndarray) -> np.ndarray:
    """``camera.project(T_cam_obj.apply(points_obj))`` without the input checks, for the
    per-frame path (3x faster for a few points): (N, 3) finite float64 metres -> (N, 2) pixels,
    NaN rows behind the camera."""
    return camera._project_unchecked(points_obj @ T_cam_obj.rotation.T + T_cam_obj.translation)


class _GrayFrame:
    """One frame's gray pixels, converted from its BGR image only where they are asked for: a
    sheet followed through its own warp needs only the region around it, and converting a
    whole VGA frame costs a tenth of such a sheet's time per frame."""

    MARGIN_PX = 8  # converted around a region asked for, so that a rewarp's region is inside

    def __init__(self, image: np.ndarray) -> None:
        """``image``: (H, W) uint8 gray or (H, W, 3) uint8 BGR."""
        self.height, self.width = image.shape[:2]
        self._bgr = image if image.ndim == 3 else None
        self._full = image if image.ndim == 2 else None
        self._regions: list[tuple[int, int, int, int, np.ndarray]] = []  # x0, y0, x1, y1, gray

    def full(self) -> np.ndarray:
        """(H, W) uint8, the whole frame."""
        if self._full is None:
            self._full = cv2.cvtColor(self._bgr, cv2.COLOR_BGR2GRAY)
        return self._full

    def region(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """(y1 - y0, x1 - x0) uint8: the pixels of columns x0..x1-1 and rows y0..y1-1, which
        must lie inside the frame."""
        if self._full is not None or 2 * (x1 - x0) * (y1 - y0) > self.width * self.height:
            return self.full()[y0:y1, x0:x1]
        for rx0, ry0, rx1, ry1, gray in self._regions:
            if rx0 <= x0 and ry0 <= y0 and x1 <= rx1 and y1 <= ry1:
                return gray[y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0]
        m = self.MARGIN_PX
        rx0, ry0 = max(x0 - m, 0), max(y0 - m, 0)
        rx1, ry1 = min(x1 + m, self.width), min(y1 + m, self.height)
        gray = cv2.cvtColor(self._bgr[ry0:ry1, rx0:rx1], cv2.COLOR_BGR2GRAY)
        self._regions.append((rx0, ry0, rx1, ry1, gray))
        return gray[y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0]


def _surface_caster(target: Target) -> MeshCaster | None:
    """Ray casting onto ``target``'s mesh for the surface points a learned target's flow follows;
    None without open3d (the network then runs on every frame)."""
    try:
        return MeshCaster(target.mesh)
    except BackendMissingError:
        log.info("%s: open3d is missing: the keypoint network runs on every frame", target.name)
        return None


# -- the tracker ------------------------------------------------------------------------------
@dataclass
class _Track:
    """What the tracker knows of one target between frames."""

    target: Target
    detector: FeatureDetector | None  # None for a target found by its keypoint model
    sheet: _SheetWarper | None
    smoother: PoseSmoother
    learned: LearnedDetector | None = None
    since_learned: int = 0  # frames since the keypoint network last ran
    learned_misses: int = 0  # network runs in a row that found no pose
    disputed: Pose | None = None  # the network's last pose that the followed points disagreed with
    disputes: int = 0  # network runs in a row whose pose the followed points disagreed with
    caster: MeshCaster | None = None  # rays onto a learned target's mesh (None without open3d)
    outline: SilhouetteRefiner | None = None  # a learned target's silhouette refinement
    state: str = "searching"
    T_raw: Pose | None = None
    T_before: Pose | None = None  # the raw pose one frame earlier, for the motion model
    points_obj: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    pixels: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    since_anchor: int = 0  # frames since fresh points were picked
    anchored_points: int = 0  # how many were picked
    anchored_area_px: int = 0  # a sheet's pixels in the frame when they were picked
    residual_px: float = 0.0
    usual_residual_px: float | None = None  # a sheet's fit residual, running mean while tracking
    prediction_error_px: float | None = None  # how far a sheet's fit moved its predicted corners
    # the gray pixels around the followed points in the last frame (the whole frame, or a sheet's
    # region) and their top-left corner (x, y): what plain flow follows them from
    follow_from: tuple[np.ndarray, int, int] | None = None
    found_in: tuple[np.ndarray, int, int] | None = None  # a sheet's region this frame, once found
    confidence: float = 0.0
    aligner: DepthAligner | None = None  # made on the first frame with depth
    depth_correction: Pose | None = None  # camera frame: refined = correction @ raw
    since_depth: int = 0  # frames since the last depth refinement

    def predict(self) -> Pose | None:
        if self.T_raw is None:
            return None
        if self.T_before is None:
            return self.T_raw
        return (self.T_raw @ self.T_before.inv()) @ self.T_raw  # constant velocity, camera frame

    _FOLLOWED = (
        "points_obj",
        "pixels",
        "residual_px",
        "confidence",
        "since_anchor",
        "anchored_points",
        "anchored_area_px",
        "found_in",
    )

    def followed(self) -> tuple:
        """What a sheet's warp and fit write: to try a second pose and keep the first."""
        return tuple(getattr(self, name) for name in self._FOLLOWED)

    def restore(self, followed: tuple) -> None:
        for name, value in zip(self._FOLLOWED, followed, strict=True):
            setattr(self, name, value)

    def drop(self, state: str) -> None:
        self.state, self.T_raw, self.T_before = state, None, None
        self.usual_residual_px = self.prediction_error_px = None
        self.follow_from = self.found_in = None
        self.points_obj, self.pixels = np.zeros((0, 3)), np.zeros((0, 2), np.float32)
        self.smoother.reset()
        self.depth_correction, self.since_depth = None, 0
        self.since_learned, self.learned_misses = 0, 0
        self.disputed, self.disputes = None, 0


class Tracker:
    """Tracks several targets in one camera's frames.

    Args:
        targets: the objects to track; each needs an appearance of ``options.features.kind``
            (``rigidpose target from-image`` / ``register`` make one) or a keypoint model
            (``rigidpose train``; used when present). Names must be unique.
        camera: intrinsics and distortion. Frames of another size with the same aspect ratio
            are handled by scaling the camera (the stream was resized).
        options: see ``TrackerOptions``; by default, the feature kind of the targets' appearance.
        T_base_cam: the camera in a robot's base frame (``robot.load_transform``); results then
            carry ``T_base_obj`` too.
    """

    def __init__(
        self,
        targets: Sequence[Target],
        camera: Camera,
        options: TrackerOptions | None = None,
        *,
        T_base_cam: Pose | None = None,
    ) -> None:
        targets = as_targets(targets)
        if not targets:
            raise InvalidInputError("targets: expected at least one target")
        check_type(camera, "camera", Camera, how="rp.Camera.load(path)")
        if options is not None:
            check_type(options, "options", TrackerOptions, how="rp.TrackerOptions(...)")
        self.options = TrackerOptions.for_targets(targets) if options is None else options
        names = [t.name for t in targets]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"targets: expected unique names, got {names}")
        self.camera = camera
        if T_base_cam is not None and not isinstance(T_base_cam, Pose):
            raise InvalidInputError(f"T_base_cam: expected a Pose, got {type(T_base_cam).__name__}")
        self.T_base_cam = T_base_cam
        self.alignments: dict[str, Alignment] = {}
        """The latest depth refinement of each target in the last frame (point clouds included)."""
        self._tracks = []
        for target in targets:
            sheet = sheet_image(target)
            learned = None if target.keypoint_model is None else LearnedDetector(target, self.options.learned)
            caster = None if learned is None else _surface_caster(target)
            self._tracks.append(
                _Track(
                    target,
                    FeatureDetector(target, self.options.features) if learned is None else None,
                    None if sheet is None or learned is not None else _SheetWarper(*sheet),
                    PoseSmoother(self.options.smooth_min_cutoff_hz, self.options.smooth_beta, camera.fx),
                    learned,
                    caster=caster,
                    outline=None
                    if caster is None or self.options.silhouette is None
                    else SilhouetteRefiner(target, self.options.silhouette, caster),
                )
            )
        self._bgr: np.ndarray | None = None
        self._grid: np.ndarray | None = None
        self._previous_ms: float | None = None
        self._frame_features: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def targets(self) -> list[Target]:
        return [track.target for track in self._tracks]

    def reset(self) -> None:
        """Forget every target's state (a new video)."""
        for track in self._tracks:
            track.drop("searching")
        self._previous_ms = None

    # -- the public step ----------------------------------------------------------------------
    def update(self, frame: Frame | np.ndarray, depth_m: np.ndarray | None = None) -> list[ObjectPose]:
        """Process the next frame; one ``ObjectPose`` per target, in the targets' order.

        Args:
            frame: a ``Frame`` or an image (BGR, gray, BGRA or 16-bit; converted).
            depth_m: (H, W) metres registered to the frame, 0 = no reading; a ``Frame`` from
                ``RGBDSource`` carries its own. With it, poses are refined (``options.depth``).
        """
        if isinstance(frame, Frame):
            image, timestamp_ms = frame.image, frame.timestamp_ms
            depth_m = frame.depth_m if depth_m is None else depth_m
        else:
            image, timestamp_ms = frame, None
        if not isinstance(image, np.ndarray) or image.size == 0:
            raise InvalidInputError("frame: expected a non-empty image")
        bgr = None if image.ndim == 2 and image.dtype == np.uint8 else as_bgr8(image)
        gray = _GrayFrame(image if bgr is None else bgr)
        self._use_camera_for(gray.width, gray.height)
        dt_s = 1.0 / 30.0
        if timestamp_ms is not None and self._previous_ms is not None and timestamp_ms > self._previous_ms:
            dt_s = (timestamp_ms - self._previous_ms) / 1000.0
        self._previous_ms = timestamp_ms

        self._frame_features = None
        if bgr is None and any(t.learned is not None for t in self._tracks):
            bgr = as_bgr8(image)  # a gray frame, for the keypoint networks
        self._bgr = bgr
        self.alignments = {}
        results = []
        for track in self._tracks:
            track.found_in = None
            T_raw = self._step(track, gray)
            track.follow_from = None if T_raw is None else (track.found_in or (gray.full(), 0, 0))
            if T_raw is None:
                results.append(ObjectPose(track.target.name, track.state))
                continue
            refined, fitness = False, None
            if depth_m is not None and self.options.depth is not None:
                T_raw, refined, fitness = self._with_depth(track, T_raw, depth_m, self.options.depth)
            T_out = track.smoother(T_raw, dt_s)
            results.append(
                ObjectPose(
                    track.target.name,
                    "tracking",
                    T_out,
                    len(track.points_obj),
                    track.residual_px,
                    track.confidence,
                    None if self.T_base_cam is None else self.T_base_cam @ T_out,
                    refined,
                    fitness,
                )
            )
        return results

    def _with_depth(
        self, track: _Track, T_raw: Pose, depth_m: np.ndarray, options: AlignOptions
    ) -> tuple[Pose, bool, float | None]:
        """The colour pose refined with depth (every ``depth_every`` frames; the last correction in
        between); whether it was refined now, and the depth's fitness when checked."""
        if track.since_depth > 0 and track.since_depth < self.options.depth_every:
            track.since_depth += 1
            corrected = T_raw if track.depth_correction is None else track.depth_correction @ T_raw
            return corrected, False, None
        if track.aligner is None or track.aligner.camera is not self.camera:
            track.aligner = DepthAligner(track.target, self.camera, options)
        alignment = track.aligner.refine(T_raw, depth_m)
        self.alignments[track.target.name] = alignment
        track.since_depth = 1
        if not alignment.accepted:
            log.debug("%s: depth refinement rejected: %s", track.target.name, alignment.reason)
            track.depth_correction = None
            return T_raw, False, alignment.fitness
        track.depth_correction = alignment.T_cam_obj @ T_raw.inv()
        return alignment.T_cam_obj, True, alignment.fitness

    def _use_camera_for(self, width: int, height: int) -> None:
        if (width, height) == self.camera.size:
            if self._grid is None and any(t.sheet is not None for t in self._tracks):
                self._grid = _normalized_grid(self.camera, _SheetWarper.GRID_STEP)
            return
        # a resized stream: scale the camera once (raises for a different aspect ratio)
        log.info("frames are %dx%d, camera is %dx%d: scaling the camera", width, height, *self.camera.size)
        self.camera = self.camera.scaled(width, height)
        self._grid = None
        self.reset()
        self._use_camera_for(width, height)

    # -- one target in one frame --------------------------------------------------------------
    def _step(self, track: _Track, gray: _GrayFrame) -> Pose | None:
        """Advance ``track`` by one frame; its raw pose, or None (its state says why)."""
        T = None
        if track.state == "tracking" and track.follow_from is not None:
            if track.sheet is not None:
                # a sheet follows its own image warped to the predicted pose; plain flow only
                # when that fails (e.g. much of the sheet is covered)
                T_pred = track.predict()
                track.since_anchor += 1
                T = None if T_pred is None else self._reanchor_sheet(track, gray, T_pred)
                if T is None:
                    T = self._follow(track, gray)
                if T is not None and not self._fits_as_usual(track):
                    log.debug(
                        "%s: points fit to %.2f px, not %.2f: found afresh",
                        track.target.name,
                        track.residual_px,
                        track.usual_residual_px,
                    )
                    T = None
            elif track.learned is not None:
                T = self._follow_learned(track, gray)
            else:
                T = self._follow(track, gray)
                if T is not None:
                    track.since_anchor += 1
                    if track.since_anchor >= self.options.redetect_every:
                        T = self._redetect_nearby(track, gray.full(), T) or T
        if T is None:
            T = self._detect(track, gray)
        if T is not None and track.sheet is not None:
            uncertainty_px = self._corner_uncertainty_px(track, T, track.sheet.corners_obj)
            if not uncertainty_px <= self.options.max_uncertainty_px:
                log.debug("%s: corners uncertain by %.1f px: no pose", track.target.name, uncertainty_px)
                T = None
        if T is None:
            track.drop("lost" if track.state in ("tracking", "lost") else "searching")
            return None
        track.T_before, track.T_raw = (track.T_raw if track.state == "tracking" else None), T
        track.state = "tracking"
        if track.sheet is not None:
            usual = track.usual_residual_px
            track.usual_residual_px = (
                track.residual_px if usual is None else 0.9 * usual + 0.1 * track.residual_px
            )
        return T

    def _fits_as_usual(self, track: _Track) -> bool:
        """Whether a sheet's points fit its new pose about as well as they have been fitting:
        followed from the sheet's own image they fit to a fraction of a pixel (the suite and
        its check set: 99.9 % under 0.6 px). Four times worse, and over ``min_residual_px``,
        means the flow caught something else: repeated print in a fast move, a letter for its
        neighbour, all points alike."""
        usual = track.usual_residual_px
        return usual is None or track.residual_px <= max(self.options.min_residual_px, 4.0 * usual)

    def _follow(self, track: _Track, gray: _GrayFrame) -> Pose | None:
        """Move the tracked points by optical flow from ``track.follow_from`` (the same region
        of this frame) and fit the pose to them."""
        options = self.options
        T_pred = track.predict()
        if T_pred is None or len(track.points_obj) < options.min_points or track.follow_from is None:
            return None
        previous, x0, y0 = track.follow_from
        height, width = previous.shape
        current = gray.region(x0, y0, x0 + width, y0 + height)
        origin = np.array([x0, y0], np.float32)
        guess = _project(self.camera, T_pred, track.points_obj)
        usable = np.all(np.isfinite(guess), axis=1)
        guess = np.where(usable[:, None], guess, track.pixels).astype(np.float32) - origin
        moved, status, _ = cv2.calcOpticalFlowPyrLK(
            previous,
            current,
            (track.pixels - origin).reshape(-1, 1, 2),
            guess.reshape(-1, 1, 2),
            winSize=(options.flow_window_px, options.flow_window_px),
            maxLevel=options.flow_levels,
            criteria=_FLOW_CRITERIA,
            flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
        )
        moved = moved.reshape(-1, 2) + origin
        w, h = self.camera.size
        ok = (
            (status.ravel() == 1)
            & (moved[:, 0] >= 0)
            & (moved[:, 1] >= 0)
            & (moved[:, 0] <= w - 1)
            & (moved[:, 1] <= h - 1)
        )
        fitted = self._fit(
            track.points_obj[ok], moved[ok], T_pred, min_share=0.5, sheet=track.sheet is not None
        )
        if fitted is None:
            return None
        T, keep, residual = fitted
        track.points_obj, track.pixels = track.points_obj[ok][keep], moved[ok][keep]
        track.residual_px = residual
        track.confidence = float(min(1.0, len(track.points_obj) / (4.0 * options.min_points)))
        return T

    def _fit(
        self,
        points_obj: np.ndarray,
        pixels: np.ndarray,
        T_start: Pose,
        min_share: float,
        sheet: bool = False,
    ) -> tuple[Pose, np.ndarray, float] | None:
        """Pose from 2D-3D pairs starting at ``T_start``: gate by the residual at the start,
        Levenberg-Marquardt, drop points beyond ``max_residual_px`` (a mesh's points: a fixed
        bound), and refine again on the points kept.

        Points on a ``sheet`` lie exactly on it, so their residuals are the flow's alone: they
        are dropped beyond three median residuals too, down to ``min_residual_px``. And their
        second refinement is skipped when it would run on the same points: one run converges
        (on the suite's sheets and the drill's sequences alike, its squared residuals are within
        1e-6 px^2 of six runs'). Mesh targets keep both runs: on the learned bench skipping it
        flips occlusion decisions both ways, up to 30 points of a sequence's hidden frames, for
        no time that matters next to the network's.

        Returns (pose, kept mask, RMS residual px) or None when fewer than ``min_points`` or
        less than ``min_share`` of the pairs fit.
        """
        options = self.options
        count = len(points_obj)
        if count < options.min_points:
            return None
        camera = self.camera
        pixels = pixels.astype(np.float64)
        minimum = max(options.min_points, min_share * count)
        floor_px = options.min_residual_px if sheet else options.max_residual_px

        def residuals(rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
            projected, _ = cv2.projectPoints(points_obj, rvec, tvec, camera.K, camera.dist_coeffs)
            offsets = projected.reshape(-1, 2) - pixels
            return np.sqrt(np.einsum("ij,ij->i", offsets, offsets))

        def refine(rvec: np.ndarray, tvec: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # rvec, tvec must be (3, 1): (3,) vectors are silently returned unrefined
            return cv2.solvePnPRefineLM(
                points_obj[keep], pixels[keep], camera.K, camera.dist_coeffs, rvec, tvec
            )

        rvec, tvec = (v.reshape(3, 1).copy() for v in T_start.as_rvec_tvec())
        start = residuals(rvec, tvec)
        keep = start < max(3.0 * _median(start), 2.0 * options.max_residual_px)
        if keep.sum() < options.min_points:
            return None
        for _ in range(2):
            rvec, tvec = refine(rvec, tvec, keep)
            errors = residuals(rvec, tvec)
            # three times the median residual (a robust spread: 3.5 sigma of Gaussian noise)
            bound = min(options.max_residual_px, max(floor_px, 3.0 * _median(errors)))
            kept = errors < bound
            if kept.sum() < minimum:
                return None
            settled = sheet and bool(np.array_equal(kept, keep))
            keep = kept
            if settled:
                break
        if not (np.all(np.isfinite(rvec)) and np.all(np.isfinite(tvec))):
            return None
        rotation, translation = cv2.Rodrigues(rvec)[0], tvec.ravel().copy()
        if np.any(points_obj[keep] @ rotation[2] + translation[2] <= 0):  # behind the camera
            return None
        kept_errors = errors[keep]
        rms_px = math.sqrt(float(kept_errors @ kept_errors) / len(kept_errors))
        return Pose._of(rotation, translation), keep, rms_px

    def _corner_uncertainty_px(self, track: _Track, T: Pose, corners_obj: np.ndarray) -> float:
        """How far ``corners_obj`` (K, 3) may be from where pose ``T`` (fitted to the followed
        points) projects them: the RMS over the corners of their 1-sigma reprojection error,
        pixels, from the points' residuals (at least 0.1 px each way: a perfect fit of a few
        points is not a certain one) through the fit's Jacobian. Large when few points remain
        or they all sit in a sliver of the target (a sheet leaving the view); inf when the
        points do not pin the pose down at all."""
        points_obj, pixels = track.points_obj, track.pixels
        count = len(points_obj)
        if count < 4:
            return math.inf
        camera, origin = self.camera, np.zeros(3)
        # rotations about the object's origin (camera axes) and translations: 6 parameters
        projected, jacobian = cv2.projectPoints(
            points_obj @ T.rotation.T, origin, T.translation, camera.K, camera.dist_coeffs
        )
        residuals = projected.reshape(-1, 2) - pixels
        variance_px2 = max(float(np.sum(residuals**2)) / max(2 * count - 6, 1), 0.1**2)
        information = jacobian[:, :6].T @ jacobian[:, :6]
        _, eigenvalues, eigenvectors = cv2.eigen(information)  # descending; vectors are rows
        if not eigenvalues[-1, 0] > 1e-12 * eigenvalues[0, 0]:
            return math.inf
        covariance = (eigenvectors.T / eigenvalues.T) @ eigenvectors * variance_px2
        _, corner_jacobian = cv2.projectPoints(
            corners_obj @ T.rotation.T, origin, T.translation, camera.K, camera.dist_coeffs
        )
        corner_jacobian = corner_jacobian[:, :6]
        return math.sqrt(float(np.trace(corner_jacobian @ covariance @ corner_jacobian.T)) / len(corners_obj))

    def _reanchor_sheet(
        self, track: _Track, gray: _GrayFrame, T: Pose, min_share: float = 0.3, fresh: bool = False
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
        levels = self._flow_levels_for(None if fresh else track.prediction_error_px)
        T_fit = self._warp_and_fit(track, gray, T, min_share, fresh, levels)
        track.prediction_error_px = None
        if T_fit is None:
            return None
        corners = track.sheet.corners_obj
        for warps in range(1, self.options.max_warps + 1):
            shift_px = float(
                np.abs(_project(self.camera, T_fit, corners) - _project(self.camera, T, corners)).max()
            )
            if warps == 1 and not fresh and math.isfinite(shift_px):
                track.prediction_error_px = shift_px
            # NaN (a corner behind the camera) compares False: no further pass
            if warps == self.options.max_warps or not shift_px > self.options.rewarp_px:
                break
            T, T_fit = (
                T_fit,
                self._warp_and_fit(track, gray, T_fit, min_share, False, self._flow_levels_for(shift_px)),
            )
            if T_fit is None:
                return T
        return T_fit

    def _flow_levels_for(self, expected_px: float | None) -> int:
        """Pyramid levels to follow a sheet's points from a warp that may be ``expected_px``
        off (None: unknown); see ``TrackerOptions.warp_flow_levels``."""
        if expected_px is None or not expected_px <= 2.0:
            return self.options.warp_flow_levels
        return min(self.options.warp_flow_levels, 0 if expected_px <= 1.0 else 1)

    def _warp_and_fit(
        self, track: _Track, gray: _GrayFrame, T: Pose, min_share: float, fresh: bool, levels: int
    ) -> Pose | None:
        """One pass of ``_reanchor_sheet``: warp into ``T``, follow points, fit."""
        options = self.options
        sheet = track.sheet
        assert sheet is not None and self._grid is not None
        roi = sheet.roi(self.camera, T, margin_px=options.flow_window_px)
        if roi is None:
            return None
        x0, y0, x1, y1 = roi
        origin = np.array([x0, y0], np.float32)
        warped, valid = sheet.warp(self._grid, self.camera, T, roi)
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
            points_obj = sheet.sheet_points(self.camera, T, in_template + origin)
        else:
            points_obj = track.points_obj
            in_template = (_project(self.camera, T, points_obj) - origin).astype(np.float32)
            # the pixel each point falls on (NaN, behind the camera, compares False: outside)
            cells = np.rint(in_template)
            inside = (
                (cells[:, 0] >= 0) & (cells[:, 1] >= 0) & (cells[:, 0] < x1 - x0) & (cells[:, 1] < y1 - y0)
            )
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
            criteria=_FLOW_CRITERIA,
            flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
            minEigThreshold=options.flow_min_eigen,
        )
        ok = (status.ravel() == 1) & np.all(np.isfinite(points_obj), axis=1)
        pixels = moved.reshape(-1, 2)[ok] + origin
        # the points are followed from the sheet's own image: their residuals are the flow's
        # noise alone, so a point a pixel off is an outlier (see min_residual_px)
        fitted = self._fit(
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

    def _features(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The whole frame's local features, extracted once per frame for every target."""
        if self._frame_features is None:
            features = self.options.features
            self._frame_features = extract_features(gray, features.kind, features.max_features)
        return self._frame_features

    def _accept_detection(self, track: _Track, gray: _GrayFrame, observations: Observations) -> Pose | None:
        """Solve a detection; on success the track follows its inliers (a sheet: its warp)."""
        estimate = solve_pose(observations.points_obj, observations.pixels, self.camera, self.options.solve)
        if estimate is None:
            return None
        if track.sheet is not None:
            # a sheet is accepted only when its own image, warped into the pose, lines up with
            # the frame: this rules out poses from repeated patterns and planar flips
            T = self._reanchor_sheet(track, gray, estimate.T_cam_obj, min_share=0.6, fresh=True)
            if estimate.alternative is None:
                return T
            # the flip is ambiguous on the matches (a far, nearly face-on sheet: the two poses
            # put its corners within a pixel or two): the warp of each tells them apart, as the
            # wrong one's perspective leaves every point a little off
            chosen, chosen_residual_px = track.followed(), track.residual_px
            T_other = self._reanchor_sheet(track, gray, estimate.alternative, min_share=0.6, fresh=True)
            if T_other is not None and (T is None or track.residual_px < chosen_residual_px):
                return T_other
            track.restore(chosen)
            return T
        inliers = estimate.inliers
        track.points_obj = observations.points_obj[inliers]
        track.pixels = observations.pixels[inliers].astype(np.float32)
        track.residual_px, track.since_anchor = estimate.reproj_error_px, 0
        track.confidence = estimate.confidence
        return estimate.T_cam_obj

    def _detect(self, track: _Track, gray: _GrayFrame) -> Pose | None:
        if track.learned is not None:
            return self._search_learned(track, gray.full())
        pixels, descriptors = self._features(gray.full())
        observations = track.detector.match(pixels, descriptors)
        if len(observations) < self.options.solve.min_inliers:
            return None
        return self._accept_detection(track, gray, observations)

    def _redetect_nearby(self, track: _Track, gray: np.ndarray, T: Pose) -> Pose | None:
        """Detect a non-sheet target again inside its predicted bounding box; the new points
        replace the followed ones when the detected pose agrees with the followed one."""
        track.since_anchor = 0  # one attempt per redetect_every frames, found or not
        pixels = self.camera.project(T.apply(np.asarray(track.target.mesh.vertices)))
        pixels = pixels[np.all(np.isfinite(pixels), axis=1)]
        if len(pixels) == 0:
            return None
        margin = 16
        w, h = self.camera.size
        x0, y0 = np.maximum(np.floor(pixels.min(axis=0)).astype(int) - margin, 0)
        x1, y1 = np.minimum(np.ceil(pixels.max(axis=0)).astype(int) + margin, [w, h])
        if x1 - x0 < 32 or y1 - y0 < 32:
            return None
        features = self.options.features
        found, descriptors = extract_features(gray[y0:y1, x0:x1], features.kind, features.max_features)
        observations = track.detector.match(found + np.array([x0, y0]), descriptors)
        if len(observations) < self.options.solve.min_inliers:
            return None
        estimate = solve_pose(
            observations.points_obj, observations.pixels, self.camera, self.options.solve, T
        )
        if estimate is None:
            return None
        if not poses_agree(estimate.T_cam_obj, T, 10.0, 0.1):
            return None  # disagrees with what is being followed: keep following
        inliers = estimate.inliers
        track.points_obj = observations.points_obj[inliers]
        track.pixels = observations.pixels[inliers].astype(np.float32)
        track.residual_px, track.confidence = estimate.reproj_error_px, estimate.confidence
        return estimate.T_cam_obj

    # -- targets found by a keypoint network ----------------------------------------------------
    def _learned_pose(
        self, observations: Observations, threshold_px: float, min_inliers: int
    ) -> PoseEstimate | None:
        return solve_weighted_pose(
            observations.points_obj,
            observations.pixels,
            observations.scores,
            self.camera,
            threshold_px,
            min_inliers,
        )

    def _crop_threshold_px(self, track: _Track, T: Pose) -> float:
        """RANSAC's threshold for keypoints found on a crop: 4 % of the object's size in the frame."""
        return max(2.0, 0.04 * track.learned.size_px(self.camera, T))

    def _observe_learned(
        self, track: _Track, T_guess: Pose, min_inliers: int
    ) -> tuple[PoseEstimate | None, Observations]:
        """The network's keypoints on a crop around ``T_guess``, and the pose they give."""
        track.since_learned = 0
        observations = track.learned.observe(self._bgr, self.camera, T_guess)
        threshold_px = self._crop_threshold_px(track, T_guess)
        return self._learned_pose(observations, threshold_px, min_inliers), observations

    def _search_learned(self, track: _Track, gray: np.ndarray) -> Pose | None:
        """The network on the whole frame, coarse to fine; a pose found is confirmed by a second
        look on a crop around it (so a single spurious peak pattern is not reported)."""
        for side in self.options.learned.search_sides_px:
            scale = min(1.0, side / max(self.camera.size))
            rough = self._learned_pose(track.learned.search(self._bgr, side), 3.0 / scale, _SEARCH_INLIERS)
            if rough is None:
                continue
            estimate, _ = self._observe_learned(track, rough.T_cam_obj, _SEARCH_INLIERS)
            if estimate is None:
                continue
            if not poses_agree(estimate.T_cam_obj, rough.T_cam_obj, 20.0, 0.2):
                continue
            return self._accept_learned(track, gray, estimate)
        return None

    def _accept_learned(self, track: _Track, gray: np.ndarray, estimate: PoseEstimate) -> Pose:
        """The network's pose, refined on the outline; the surface points are picked at it."""
        track.learned_misses = 0
        track.disputed, track.disputes = None, 0
        track.confidence, track.residual_px = estimate.confidence, estimate.reproj_error_px
        T = self._outline(track, gray, estimate.T_cam_obj)
        self._seed_surface_points(track, gray, T)
        return T

    def _outline(self, track: _Track, gray: np.ndarray, T: Pose | None) -> Pose | None:
        """``T`` refined by lining the target's silhouette up with the frame's edges, when the
        refinement is on and accepts (None stays None)."""
        if T is None or track.outline is None:
            return T
        return track.outline.refine(gray, self.camera, T) or T

    def _follow_learned(self, track: _Track, frame: _GrayFrame) -> Pose | None:
        """Surface points followed by optical flow, the network on a crop every
        ``learned_every`` frames (or whenever the flow fails); on those frames the pose is fitted
        to both, so the network's keypoints anchor it (no drift) and the flow keeps it steady.
        Where the two disagree, the network wins once a second run confirms its pose (or after
        ``learned_patience`` runs): one run's guesses under a hand do not throw the points away.
        Runs that find no pose leave the points in charge for up to ``learned_patience`` runs."""
        gray = frame.full()
        T_flow = self._follow(track, frame) if len(track.points_obj) >= self.options.min_points else None
        track.since_learned += 1
        if T_flow is not None and track.since_learned < self.options.learned_every:
            return self._outline(track, gray, T_flow)
        T_guess = T_flow if T_flow is not None else track.predict()
        if T_guess is None:
            return None
        estimate, found = self._observe_learned(track, T_guess, _TRACKING_INLIERS)
        if estimate is None:
            track.learned_misses += 1
            return (
                self._outline(track, gray, T_flow)
                if track.learned_misses < self.options.learned_patience
                else None
            )
        if T_flow is not None:
            if not poses_agree(estimate.T_cam_obj, T_flow, 10.0, 0.1):
                confirmed = track.disputed is not None and poses_agree(
                    estimate.T_cam_obj, track.disputed, 10.0, 0.1
                )
                track.disputed, track.disputes = estimate.T_cam_obj, track.disputes + 1
                if not confirmed and track.disputes < self.options.learned_patience:
                    track.learned_misses = 0
                    return self._outline(track, gray, T_flow)
            else:
                # one fit to both: the keypoints weigh as much in all as the followed points
                inliers = estimate.inliers
                weights = np.concatenate(
                    [
                        np.ones(len(track.points_obj)),
                        found.scores[inliers] * len(track.points_obj) / len(inliers),
                    ]
                )
                fused = refine_weighted(
                    np.vstack([track.points_obj, found.points_obj[inliers]]),
                    np.vstack([track.pixels.astype(np.float64), found.pixels[inliers].astype(np.float64)]),
                    weights,
                    self.camera,
                    T_flow,
                )
                if fused is not None:
                    estimate = PoseEstimate(fused, inliers, estimate.reproj_error_px, estimate.confidence)
        return self._accept_learned(track, gray, estimate)

    def _seed_surface_points(self, track: _Track, gray: np.ndarray, T: Pose) -> None:
        """Corners inside the object's image at pose ``T``, with their 3D points on its surface
        (rays cast onto the mesh); a corner whose neighbourhood is not all object is left out
        (half of its patch would be background, which moves differently)."""
        caster = track.caster
        track.points_obj, track.pixels = np.zeros((0, 3)), np.zeros((0, 2), np.float32)
        box = track.learned.crop_box(self.camera, T)
        if caster is None or box is None:
            return
        x0, y0, side = box
        h, w = gray.shape
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x0 + side), min(h, y0 + side)
        if x1 - x0 < 16 or y1 - y0 < 16:
            return
        corners = cv2.goodFeaturesToTrack(
            gray[y0:y1, x0:x1], self.options.max_points * 2, qualityLevel=0.01, minDistance=5, blockSize=5
        )
        if corners is None:
            return
        pixels = corners.reshape(-1, 2) + np.array([x0, y0], np.float32)
        ring = np.array([[0, 0], [4, 0], [-4, 0], [0, 4], [0, -4]], np.float32)
        probes = (pixels[:, None, :] + ring[None]).reshape(-1, 2)
        rays = self.camera.rays(probes.astype(np.float64)).reshape(len(pixels), len(ring), 3)
        depth, _ = caster.cast(T, rays)  # (corners, ring): column 0 is the corner itself
        with np.errstate(invalid="ignore"):  # a ray that misses is inf; NaN compares as False
            same_surface = np.abs(depth - depth[:, :1]) < 0.05 * track.target.diameter_m
        # on the object, and each neighbour on the same surface, not across a depth step
        inside = np.all(np.isfinite(depth), axis=1) & np.all(same_surface, axis=1)
        pixels = pixels[inside][: self.options.max_points]
        points_cam = (rays[inside, 0] * depth[inside, :1])[: self.options.max_points]
        track.points_obj = T.inv().apply(points_cam)
        track.pixels = pixels.astype(np.float32)

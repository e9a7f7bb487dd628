"""``Tracker``: the orchestrator. Per target and frame: follow it if tracking (a sheet through its
own warp, a learned target with its network and surface points, any other by plain flow with a
detection nearby now and then), else detect it, then update its state and smooth the pose."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from .._validate import check_type
from ..align import Alignment, AlignOptions, DepthAligner
from ..camera import Camera
from ..detect.features import FeatureDetector, extract_features
from ..detect.learned import LearnedDetector
from ..detect.observations import Observations
from ..errors import InvalidInputError
from ..geometry import Pose, poses_agree
from ..io import Frame, ObjectPose, as_bgr8
from ..silhouette import SilhouetteRefiner
from ..solve import solve_pose
from ..target import Target, as_targets
from ..targets.planar import sheet_image
from . import sheet as sheets
from .flow import follow
from .learned import follow_learned, search_learned, surface_caster
from .options import TrackerOptions
from .smoother import PoseSmoother
from .state import LOST, SEARCHING, TRACKING, TrackState
from .view import GrayFrame

__all__ = ["Tracker"]

log = logging.getLogger(__name__)


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
            caster = None if learned is None else surface_caster(target)
            self._tracks.append(
                TrackState(
                    target,
                    FeatureDetector(target, self.options.features) if learned is None else None,
                    None if sheet is None or learned is not None else sheets.SheetWarper(*sheet),
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

    @property
    def targets(self) -> list[Target]:
        return [track.target for track in self._tracks]

    def reset(self) -> None:
        """Forget every target's state (a new video)."""
        for track in self._tracks:
            track.drop(SEARCHING)
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
        gray = GrayFrame(image if bgr is None else bgr)
        self._use_camera_for(gray.width, gray.height)
        dt_s = 1.0 / 30.0
        if timestamp_ms is not None and self._previous_ms is not None and timestamp_ms > self._previous_ms:
            dt_s = (timestamp_ms - self._previous_ms) / 1000.0
        self._previous_ms = timestamp_ms

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
                    TRACKING,
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
        self, track: TrackState, T_raw: Pose, depth_m: np.ndarray, options: AlignOptions
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
                self._grid = sheets.normalized_grid(self.camera, sheets.SheetWarper.GRID_STEP)
            return
        # a resized stream: scale the camera once (raises for a different aspect ratio)
        log.info("frames are %dx%d, camera is %dx%d: scaling the camera", width, height, *self.camera.size)
        self.camera = self.camera.scaled(width, height)
        self._grid = None
        self.reset()
        self._use_camera_for(width, height)

    # -- one target in one frame --------------------------------------------------------------
    def _step(self, track: TrackState, gray: GrayFrame) -> Pose | None:
        """Advance ``track`` by one frame; its raw pose, or None (its state says why)."""
        T = None
        if track.state == TRACKING and track.follow_from is not None:
            if track.sheet is not None:
                # a sheet follows its own image warped to the predicted pose; plain flow only
                # when that fails (e.g. much of the sheet is covered)
                T_pred = track.predict()
                track.since_anchor += 1
                T = None if T_pred is None else self._reanchor_sheet(track, gray, T_pred)
                if T is None:
                    T = follow(self.options, self.camera, track, gray)
                if T is not None and not sheets.fits_as_usual(self.options, track):
                    log.debug(
                        "%s: points fit to %.2f px, not %.2f: found afresh",
                        track.target.name,
                        track.residual_px,
                        track.usual_residual_px,
                    )
                    T = None
            elif track.learned is not None:
                T = follow_learned(self.options, self.camera, self._bgr, track, gray)
            else:
                T = follow(self.options, self.camera, track, gray)
                if T is not None:
                    track.since_anchor += 1
                    if track.since_anchor >= self.options.redetect_every:
                        T = self._redetect_nearby(track, gray.full(), T) or T
        if T is None:
            T = self._detect(track, gray)
        if (
            T is not None
            and track.sheet is not None
            and not sheets.certain_enough(self.options, self.camera, track, T)
        ):
            T = None
        if T is None:
            track.drop(LOST if track.state in (TRACKING, LOST) else SEARCHING)
            return None
        track.T_before, track.T_raw = (track.T_raw if track.state == TRACKING else None), T
        track.state = TRACKING
        if track.sheet is not None:
            usual = track.usual_residual_px
            track.usual_residual_px = (
                track.residual_px if usual is None else 0.9 * usual + 0.1 * track.residual_px
            )
        return T

    def _reanchor_sheet(
        self, track: TrackState, gray: GrayFrame, T: Pose, min_share: float = 0.3, fresh: bool = False
    ) -> Pose | None:
        """``sheet.reanchor`` with this tracker's options, camera and grid."""
        return sheets.reanchor(self.options, self.camera, self._grid, track, gray, T, min_share, fresh)

    def _accept_detection(
        self, track: TrackState, gray: GrayFrame, observations: Observations
    ) -> Pose | None:
        """Solve a detection; on success the track follows its inliers (a sheet: its warp)."""
        estimate = solve_pose(observations.points_obj, observations.pixels, self.camera, self.options.solve)
        if estimate is None:
            return None
        if track.sheet is not None:
            return sheets.accept_detection(
                track, estimate, lambda T: self._reanchor_sheet(track, gray, T, min_share=0.6, fresh=True)
            )
        inliers = estimate.inliers
        track.points_obj = observations.points_obj[inliers]
        track.pixels = observations.pixels[inliers].astype(np.float32)
        track.residual_px, track.since_anchor = estimate.reproj_error_px, 0
        track.confidence = estimate.confidence
        return estimate.T_cam_obj

    def _detect(self, track: TrackState, gray: GrayFrame) -> Pose | None:
        if track.learned is not None:
            return search_learned(self.options, self.camera, self._bgr, track, gray.full())
        pixels, descriptors = gray.features(self.options.features)
        observations = track.detector.match(pixels, descriptors)
        if len(observations) < self.options.solve.min_inliers:
            return None
        return self._accept_detection(track, gray, observations)

    def _redetect_nearby(self, track: TrackState, gray: np.ndarray, T: Pose) -> Pose | None:
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

"""``Tracker``: the orchestrator. Per target and frame: follow it if tracking, else detect it
(through the target's ``Follower``: a sheet's, a textured mesh's or a learned target's), then
update its state, refine the pose with depth when there is depth and smooth it."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from .._validate import check_type
from ..align import Alignment, AlignOptions, DepthAligner
from ..camera import Camera
from ..detect.features import FeatureDetector
from ..detect.learned import LearnedDetector
from ..errors import InvalidInputError
from ..geometry import Pose
from ..io import Frame, ObjectPose, as_bgr8
from ..silhouette import SilhouetteRefiner
from ..target import Target, as_targets
from ..targets.planar import sheet_image
from .follower import Follower
from .learned import LearnedFollower, surface_caster
from .mesh import MeshFollower
from .options import TrackerOptions
from .sheet import SheetFollower, SheetWarper
from .smoother import PoseSmoother
from .state import State, TrackState
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
                    None if sheet is None or learned is not None else SheetWarper(*sheet),
                    PoseSmoother(self.options.smooth_min_cutoff_hz, self.options.smooth_beta, camera.fx),
                    learned,
                    caster=caster,
                    outline=None
                    if caster is None or self.options.silhouette is None
                    else SilhouetteRefiner(target, self.options.silhouette, caster),
                )
            )
        self._followers_for: tuple[Camera, TrackerOptions]
        self._followers = self._make_followers()  # one per target, as _tracks
        self._previous_ms: float | None = None

    @property
    def targets(self) -> list[Target]:
        return [track.target for track in self._tracks]

    def reset(self) -> None:
        """Forget every target's state (a new video)."""
        for track in self._tracks:
            track.drop(State.SEARCHING)
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

        self.alignments = {}
        results = []
        for track, follower in zip(self._tracks, self._followers, strict=True):
            track.found_in = None
            T_raw = self._step(track, follower, gray)
            track.follow_from = None if T_raw is None else (track.found_in or (gray.full(), 0, 0))
            if T_raw is None:
                results.append(ObjectPose(track.target.name, track.state.value))
                continue
            refined, fitness = False, None
            if depth_m is not None and self.options.depth is not None:
                T_raw, refined, fitness = self._with_depth(track, T_raw, depth_m, self.options.depth)
            T_out = track.smoother(T_raw, dt_s)
            results.append(
                ObjectPose(
                    track.target.name,
                    State.TRACKING.value,
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
        """The camera scaled to frames of this size; followers for the camera and options."""
        if (width, height) != self.camera.size:
            # a resized stream: scale the camera once (raises for a different aspect ratio)
            log.info(
                "frames are %dx%d, camera is %dx%d: scaling the camera", width, height, *self.camera.size
            )
            self.camera = self.camera.scaled(width, height)
            self.reset()
        made_for = self._followers_for
        if made_for[0] is not self.camera or made_for[1] is not self.options:
            self._followers = self._make_followers()  # camera or options set anew (public attributes)

    # -- one target in one frame --------------------------------------------------------------
    def _step(self, track: TrackState, follower: Follower, frame: GrayFrame) -> Pose | None:
        """Advance ``track`` by one frame: follow it if tracking, else (or when that fails)
        detect it, then update its state; its raw pose, or None (its state says why)."""
        T = None
        if track.state == State.TRACKING and track.follow_from is not None:
            T = follower.follow(track, frame)
        if T is None:
            T = follower.detect(track, frame)
        if T is not None:
            T = follower.confirm(track, T)
        if T is None:
            track.lost()
            return None
        track.found(T)
        return T

    def _make_followers(self) -> list[Follower]:
        """Each target's follower, by its kind, for the current camera and options (one per
        kind: they keep no per-target state)."""
        self._followers_for = (self.camera, self.options)
        made: dict[type, Follower] = {}
        followers = []
        for track in self._tracks:
            kind = (
                LearnedFollower
                if track.learned is not None
                else SheetFollower
                if track.sheet is not None
                else MeshFollower
            )
            if kind not in made:
                made[kind] = kind(self.options, self.camera)
            followers.append(made[kind])
        return followers

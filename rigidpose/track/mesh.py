"""A textured mesh (any target with a feature appearance but no sheet image or keypoint model):
found by the frame's local features matched to its appearance and robust PnP, followed by plain
flow from the last frame, and detected again around its predicted place every
``redetect_every`` frames so the followed points do not drift."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..detect.features import extract_features
from ..geometry import Pose, poses_agree
from ..solve import PoseEstimate, solve_pose
from .flow import follow

if TYPE_CHECKING:
    from ..camera import Camera
    from ..detect.observations import Observations
    from .options import TrackerOptions
    from .state import TrackState
    from .view import GrayFrame

__all__ = ["MeshFollower", "detect_features"]


def detect_features(
    options: TrackerOptions, camera: Camera, track: TrackState, frame: GrayFrame
) -> tuple[Observations, PoseEstimate] | None:
    """The whole frame's local features matched to the target's appearance and solved by
    robust PnP (a mesh's or a sheet's detection, before either accepts it): the matches and
    the estimate (its inliers index the matches); None when too few match or the solve fails."""
    pixels, descriptors = frame.features(options.features)
    observations = track.detector.match(pixels, descriptors)
    if len(observations) < options.solve.min_inliers:
        return None
    estimate = solve_pose(observations.points_obj, observations.pixels, camera, options.solve)
    return None if estimate is None else (observations, estimate)


class MeshFollower:
    """The ``Follower`` of a textured mesh: features to find it, flow to follow it, features
    again near its predicted place every ``options.redetect_every`` frames."""

    def __init__(self, options: TrackerOptions, camera: Camera) -> None:
        self.options, self.camera = options, camera

    def detect(self, track: TrackState, frame: GrayFrame) -> Pose | None:
        found = detect_features(self.options, self.camera, track, frame)
        if found is None:
            return None
        observations, estimate = found
        _take_inliers(track, observations, estimate)
        track.since_anchor = 0
        return estimate.T_cam_obj

    def follow(self, track: TrackState, frame: GrayFrame) -> Pose | None:
        T = follow(self.options, self.camera, track, frame)
        if T is not None:
            track.since_anchor += 1
            if track.since_anchor >= self.options.redetect_every:
                T = self.redetect_nearby(track, frame.full(), T) or T
        return T

    def confirm(self, track: TrackState, T: Pose) -> Pose | None:
        return T

    def redetect_nearby(self, track: TrackState, gray: np.ndarray, T: Pose) -> Pose | None:
        """Detect the target again inside its bounding box at pose ``T`` in ``gray`` (H, W)
        uint8; the new points replace the followed ones when the detected pose agrees with
        ``T``, the followed one."""
        track.since_anchor = 0  # one attempt per redetect_every frames, found or not
        camera, options = self.camera, self.options
        pixels = camera.project(T.apply(np.asarray(track.target.mesh.vertices)))
        pixels = pixels[np.all(np.isfinite(pixels), axis=1)]
        if len(pixels) == 0:
            return None
        margin = 16
        w, h = camera.size
        x0, y0 = np.maximum(np.floor(pixels.min(axis=0)).astype(int) - margin, 0)
        x1, y1 = np.minimum(np.ceil(pixels.max(axis=0)).astype(int) + margin, [w, h])
        if x1 - x0 < 32 or y1 - y0 < 32:
            return None
        features = options.features
        found, descriptors = extract_features(gray[y0:y1, x0:x1], features.kind, features.max_features)
        observations = track.detector.match(found + np.array([x0, y0]), descriptors)
        if len(observations) < options.solve.min_inliers:
            return None
        estimate = solve_pose(observations.points_obj, observations.pixels, camera, options.solve, T)
        if estimate is None:
            return None
        if not poses_agree(estimate.T_cam_obj, T, 10.0, 0.1):
            return None  # disagrees with what is being followed: keep following
        _take_inliers(track, observations, estimate)
        return estimate.T_cam_obj


def _take_inliers(track: TrackState, observations: Observations, estimate: PoseEstimate) -> None:
    """The estimate's inliers become the followed points, with its residual and confidence."""
    inliers = estimate.inliers
    track.points_obj = observations.points_obj[inliers]
    track.pixels = observations.pixels[inliers].astype(np.float32)
    track.residual_px, track.confidence = estimate.reproj_error_px, estimate.confidence

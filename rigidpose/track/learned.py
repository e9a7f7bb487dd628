"""A target found by its keypoint network (its ``Follower``: ``LearnedFollower``): the network
on the whole frame to find it, then surface points followed by flow with the network on a crop every few frames to anchor them,
and the outline lined up with the frame's edges."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..align import MeshCaster
from ..camera import Camera
from ..detect.observations import Observations
from ..errors import BackendMissingError
from ..geometry import Pose, poses_agree
from ..solve import PoseEstimate, refine_weighted, solve_weighted_pose
from ..target import Target
from .flow import follow

if TYPE_CHECKING:
    from .options import TrackerOptions
    from .state import TrackState
    from .view import GrayFrame

__all__ = [
    "SEARCH_INLIERS",
    "TRACKING_INLIERS",
    "LearnedFollower",
    "follow_learned",
    "search_learned",
    "surface_caster",
]

log = logging.getLogger(__name__)

SEARCH_INLIERS = 6
"""Keypoint inliers a learned target's whole-frame search needs (and its confirming crop look):
with five, the drill model posed the drill 13 times in 455 frames of real footage without it."""

TRACKING_INLIERS = 5
"""Keypoint inliers a crop look needs while the target is tracked (the crop is where the last
pose puts it): a hand over half of the drill leaves five or six of its nine keypoints."""


class LearnedFollower:
    """The ``Follower`` of a target with a keypoint model: ``search_learned`` to find it,
    ``follow_learned`` to follow it (both on the frame's BGR image, ``GrayFrame.bgr``)."""

    def __init__(self, options: TrackerOptions, camera: Camera) -> None:
        self.options, self.camera = options, camera

    def detect(self, track: TrackState, frame: GrayFrame) -> Pose | None:
        return search_learned(self.options, self.camera, frame.bgr(), track, frame.full())

    def follow(self, track: TrackState, frame: GrayFrame) -> Pose | None:
        return follow_learned(self.options, self.camera, frame.bgr(), track, frame)

    def confirm(self, track: TrackState, T: Pose) -> Pose | None:
        return T


def surface_caster(target: Target) -> MeshCaster | None:
    """Ray casting onto ``target``'s mesh for the surface points a learned target's flow follows;
    None without open3d (the network then runs on every frame)."""
    try:
        return MeshCaster(target.mesh)
    except BackendMissingError:
        log.info("%s: open3d is missing: the keypoint network runs on every frame", target.name)
        return None


def _learned_pose(
    camera: Camera, observations: Observations, threshold_px: float, min_inliers: int
) -> PoseEstimate | None:
    return solve_weighted_pose(
        observations.points_obj,
        observations.pixels,
        observations.scores,
        camera,
        threshold_px,
        min_inliers,
    )


def _crop_threshold_px(camera: Camera, track: TrackState, T: Pose) -> float:
    """RANSAC's threshold for keypoints found on a crop: 4 % of the object's size in the frame."""
    return max(2.0, 0.04 * track.learned.size_px(camera, T))


def _observe_learned(
    camera: Camera, bgr: np.ndarray, track: TrackState, T_guess: Pose, min_inliers: int
) -> tuple[PoseEstimate | None, Observations]:
    """The network's keypoints on a crop around ``T_guess``, and the pose they give."""
    track.since_learned = 0
    observations = track.learned.observe(bgr, camera, T_guess)
    threshold_px = _crop_threshold_px(camera, track, T_guess)
    return _learned_pose(camera, observations, threshold_px, min_inliers), observations


def search_learned(
    options: TrackerOptions, camera: Camera, bgr: np.ndarray, track: TrackState, gray: np.ndarray
) -> Pose | None:
    """The network on the whole frame, coarse to fine; a pose found is confirmed by a second
    look on a crop around it (so a single spurious peak pattern is not reported)."""
    for side in options.learned.search_sides_px:
        scale = min(1.0, side / max(camera.size))
        rough = _learned_pose(camera, track.learned.search(bgr, side), 3.0 / scale, SEARCH_INLIERS)
        if rough is None:
            continue
        estimate, _ = _observe_learned(camera, bgr, track, rough.T_cam_obj, SEARCH_INLIERS)
        if estimate is None:
            continue
        if not poses_agree(estimate.T_cam_obj, rough.T_cam_obj, 20.0, 0.2):
            continue
        return _accept_learned(options, camera, track, gray, estimate)
    return None


def _accept_learned(
    options: TrackerOptions, camera: Camera, track: TrackState, gray: np.ndarray, estimate: PoseEstimate
) -> Pose:
    """The network's pose, refined on the outline; the surface points are picked at it."""
    track.learned_misses = 0
    track.disputed, track.disputes = None, 0
    track.confidence, track.residual_px = estimate.confidence, estimate.reproj_error_px
    T = _outline(camera, track, gray, estimate.T_cam_obj)
    _seed_surface_points(options, camera, track, gray, T)
    return T


def _outline(camera: Camera, track: TrackState, gray: np.ndarray, T: Pose | None) -> Pose | None:
    """``T`` refined by lining the target's silhouette up with the frame's edges, when the
    refinement is on and accepts (None stays None)."""
    if T is None or track.outline is None:
        return T
    return track.outline.refine(gray, camera, T) or T


def follow_learned(
    options: TrackerOptions, camera: Camera, bgr: np.ndarray, track: TrackState, frame: GrayFrame
) -> Pose | None:
    """Surface points followed by optical flow, the network on a crop every
    ``learned_every`` frames (or whenever the flow fails); on those frames the pose is fitted
    to both, so the network's keypoints anchor it (no drift) and the flow keeps it steady.
    Where the two disagree, the network wins once a second run confirms its pose (or after
    ``learned_patience`` runs): one run's guesses under a hand do not throw the points away.
    Runs that find no pose leave the points in charge for up to ``learned_patience`` runs."""
    gray = frame.full()
    T_flow = follow(options, camera, track, frame) if len(track.points_obj) >= options.min_points else None
    track.since_learned += 1
    if T_flow is not None and track.since_learned < options.learned_every:
        return _outline(camera, track, gray, T_flow)
    T_guess = T_flow if T_flow is not None else track.predict()
    if T_guess is None:
        return None
    estimate, found = _observe_learned(camera, bgr, track, T_guess, TRACKING_INLIERS)
    if estimate is None:
        track.learned_misses += 1
        return (
            _outline(camera, track, gray, T_flow) if track.learned_misses < options.learned_patience else None
        )
    if T_flow is not None:
        if not poses_agree(estimate.T_cam_obj, T_flow, 10.0, 0.1):
            confirmed = track.disputed is not None and poses_agree(
                estimate.T_cam_obj, track.disputed, 10.0, 0.1
            )
            track.disputed, track.disputes = estimate.T_cam_obj, track.disputes + 1
            if not confirmed and track.disputes < options.learned_patience:
                track.learned_misses = 0
                return _outline(camera, track, gray, T_flow)
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
                camera,
                T_flow,
            )
            if fused is not None:
                estimate = PoseEstimate(fused, inliers, estimate.reproj_error_px, estimate.confidence)
    return _accept_learned(options, camera, track, gray, estimate)


def _seed_surface_points(
    options: TrackerOptions, camera: Camera, track: TrackState, gray: np.ndarray, T: Pose
) -> None:
    """Corners inside the object's image at pose ``T``, with their 3D points on its surface
    (rays cast onto the mesh); a corner whose neighbourhood is not all object is left out
    (half of its patch would be background, which moves differently)."""
    caster = track.caster
    track.points_obj, track.pixels = np.zeros((0, 3)), np.zeros((0, 2), np.float32)
    box = track.learned.crop_box(camera, T)
    if caster is None or box is None:
        return
    x0, y0, side = box
    h, w = gray.shape
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x0 + side), min(h, y0 + side)
    if x1 - x0 < 16 or y1 - y0 < 16:
        return
    corners = cv2.goodFeaturesToTrack(
        gray[y0:y1, x0:x1], options.max_points * 2, qualityLevel=0.01, minDistance=5, blockSize=5
    )
    if corners is None:
        return
    pixels = corners.reshape(-1, 2) + np.array([x0, y0], np.float32)
    ring = np.array([[0, 0], [4, 0], [-4, 0], [0, 4], [0, -4]], np.float32)
    probes = (pixels[:, None, :] + ring[None]).reshape(-1, 2)
    rays = camera.rays(probes.astype(np.float64)).reshape(len(pixels), len(ring), 3)
    depth, _ = caster.cast(T, rays)  # (corners, ring): column 0 is the corner itself
    with np.errstate(invalid="ignore"):  # a ray that misses is inf; NaN compares as False
        same_surface = np.abs(depth - depth[:, :1]) < 0.05 * track.target.diameter_m
    # on the object, and each neighbour on the same surface, not across a depth step
    inside = np.all(np.isfinite(depth), axis=1) & np.all(same_surface, axis=1)
    pixels = pixels[inside][: options.max_points]
    points_cam = (rays[inside, 0] * depth[inside, :1])[: options.max_points]
    track.points_obj = T.inv().apply(points_cam)
    track.pixels = pixels.astype(np.float32)

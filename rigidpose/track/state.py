"""``TrackState``: what the tracker knows of one target between frames, and ``State``, the
states a target is in (their values are ``io.STATES``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..align import DepthAligner, MeshCaster
    from ..detect.features import FeatureDetector
    from ..detect.learned import LearnedDetector
    from ..geometry import Pose
    from ..silhouette import SilhouetteRefiner
    from ..target import Target
    from .sheet import SheetWarper
    from .smoother import PoseSmoother

__all__ = ["State", "TrackState"]


class State(str, enum.Enum):
    """A target's state; each equals its value, the string ``ObjectPose.state`` reports
    (``io.STATES``, in this order)."""

    SEARCHING = "searching"  # not found yet (or since ``Tracker.reset``)
    TRACKING = "tracking"  # found and followed
    LOST = "lost"  # lost after being followed


@dataclass
class TrackState:
    """What the tracker knows of one target between frames."""

    target: Target
    detector: FeatureDetector | None  # None for a target found by its keypoint model
    sheet: SheetWarper | None
    smoother: PoseSmoother
    learned: LearnedDetector | None = None
    since_learned: int = 0  # frames since the keypoint network last ran
    learned_misses: int = 0  # network runs in a row that found no pose
    disputed: Pose | None = None  # the network's last pose that the followed points disagreed with
    disputes: int = 0  # network runs in a row whose pose the followed points disagreed with
    caster: MeshCaster | None = None  # rays onto a learned target's mesh (None without open3d)
    outline: SilhouetteRefiner | None = None  # a learned target's silhouette refinement
    state: State = State.SEARCHING
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

    def found(self, T: Pose) -> None:
        """Found (detected or followed) at raw pose ``T`` this frame: now tracking."""
        self.T_before, self.T_raw = (self.T_raw if self.state == State.TRACKING else None), T
        self.state = State.TRACKING

    def lost(self) -> None:
        """Not found this frame: lost when it was followed (or lost) before, else still
        searching; what was followed is forgotten."""
        self.drop(State.LOST if self.state in (State.TRACKING, State.LOST) else State.SEARCHING)

    def drop(self, state: State) -> None:
        """Forget what was followed and go to ``state``."""
        self.state, self.T_raw, self.T_before = state, None, None
        self.usual_residual_px = self.prediction_error_px = None
        self.follow_from = self.found_in = None
        self.points_obj, self.pixels = np.zeros((0, 3)), np.zeros((0, 2), np.float32)
        self.smoother.reset()
        self.depth_correction, self.since_depth = None, 0
        self.since_learned, self.learned_misses = 0, 0
        self.disputed, self.disputes = None, 0

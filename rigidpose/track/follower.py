"""``Follower``: how one kind of target is found and followed, the one interface the tracker
orders per target and frame (follow if tracking, else detect, then confirm). Three kinds:
``SheetFollower`` (sheet.py), ``MeshFollower`` (mesh.py), ``LearnedFollower`` (learned.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..geometry import Pose
    from .state import TrackState
    from .view import GrayFrame

__all__ = ["Follower"]


class Follower(Protocol):
    """Finds and follows targets of one kind in one camera's frames.

    A follower keeps no per-target state: what it knows of a target between frames is in its
    ``TrackState`` (the followed points: ``points_obj`` (N, 3) metres, object frame, and
    ``pixels`` (N, 2) float32, this frame's pixels; ``residual_px``, ``confidence`` ...), which
    ``detect`` and ``follow`` replace on success. It is made for one camera (the tracker makes
    new ones when the frames are rescaled) and may serve every target of its kind. Poses are
    ``T_cam_obj``: object frame -> camera frame, metres, unsmoothed.
    """

    def detect(self, track: TrackState, frame: GrayFrame) -> Pose | None:
        """Find ``track``'s target in the whole frame (searching, lost, or when following
        failed); its pose, with the points to follow from now on, or None."""
        ...

    def follow(self, track: TrackState, frame: GrayFrame) -> Pose | None:
        """Follow ``track``'s target from the last frame (it was tracked there); its pose, or
        None when it is lost (the tracker then tries ``detect``)."""
        ...

    def confirm(self, track: TrackState, T: Pose) -> Pose | None:
        """The last word on pose ``T``, found this frame by ``detect`` or ``follow``: the pose
        to report, or None to report the target lost (no detection follows). Keeps any running
        statistics of the kind."""
        ...

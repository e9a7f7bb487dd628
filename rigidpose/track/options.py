"""``TrackerOptions``: how ``Tracker`` works, and the checks on it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .._validate import check_int, check_number
from ..align import AlignOptions
from ..detect.features import FeatureOptions
from ..detect.learned import LearnedOptions
from ..silhouette import SilhouetteOptions
from ..solve import SolveOptions
from ..target import Target

__all__ = ["TrackerOptions"]


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
        check_int(self.min_points, "min_points", ge=6)
        check_int(
            self.max_points,
            "max_points",
            ge=2 * self.min_points,
            expected=f"an integer >= 2 * min_points ({2 * self.min_points})",
        )
        check_int(self.reanchor_every, "reanchor_every", ge=1)
        check_int(self.redetect_every, "redetect_every", ge=1)
        check_int(self.flow_window_px, "flow_window_px", ge=5)
        check_int(self.flow_levels, "flow_levels", ge=0)
        check_number(self.flow_min_eigen, "flow_min_eigen", ge=0)
        check_int(self.warp_flow_levels, "warp_flow_levels", ge=0)
        check_number(self.rewarp_px, "rewarp_px", gt=0)
        check_int(self.max_warps, "max_warps", ge=1)
        check_number(self.max_residual_px, "max_residual_px", gt=0)
        check_number(
            self.min_residual_px,
            "min_residual_px",
            gt=0,
            le=self.max_residual_px,
            expected=f"a number > 0 and <= max_residual_px ({self.max_residual_px:g})",
        )
        check_number(self.max_uncertainty_px, "max_uncertainty_px", gt=0)
        check_number(self.smooth_min_cutoff_hz, "smooth_min_cutoff_hz", ge=0)
        check_number(self.smooth_beta, "smooth_beta", ge=0)
        check_int(self.depth_every, "depth_every", ge=1)
        check_int(self.learned_every, "learned_every", ge=1)
        check_int(self.learned_patience, "learned_patience", ge=1)

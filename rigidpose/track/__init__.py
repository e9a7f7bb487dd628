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

from .options import TrackerOptions
from .smoother import PoseSmoother
from .tracker import Tracker

__all__ = ["PoseSmoother", "Tracker", "TrackerOptions"]

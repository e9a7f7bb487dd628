"""rigidpose: track the 6-DoF pose of known rigid objects in video and draw on them.

The names most programs need::

    import rigidpose as rp
    camera = rp.Camera.load("camera.yaml")
    target = rp.Target.load("targets/box")
    tracker = rp.Tracker([target], camera)
    for frame in rp.FrameSource("clip.mp4"):
        for result in tracker.update(frame):   # one ObjectPose per target
            print(result.name, result.state, result.T_cam_obj)

Conventions (OpenCV camera frame, metres, ``T_cam_obj``) are in ``rigidpose.geometry``.
Heavy backends (trimesh, pyrender, open3d, onnxruntime) load only when first used.
"""

from .camera import Camera
from .errors import (
    BackendMissingError,
    FileFormatError,
    InvalidInputError,
    RigidPoseError,
    SourceError,
)
from .geometry import Pose, PoseDistance, pose_distance
from .io import STATES, Frame, FramePoses, FrameSource, ObjectPose, PoseWriter, read_poses
from .target import MESH_UNITS, Appearance, Target, load_mesh
from .track import PoseSmoother, Tracker, TrackerOptions

__version__ = "0.1.0"

__all__ = [
    "MESH_UNITS",
    "STATES",
    "Appearance",
    "BackendMissingError",
    "Camera",
    "FileFormatError",
    "Frame",
    "FramePoses",
    "FrameSource",
    "InvalidInputError",
    "ObjectPose",
    "Pose",
    "PoseDistance",
    "PoseSmoother",
    "PoseWriter",
    "RigidPoseError",
    "SourceError",
    "Target",
    "Tracker",
    "TrackerOptions",
    "__version__",
    "load_mesh",
    "pose_distance",
    "read_poses",
]

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
With a depth camera, ``rp.RGBDSource("rgb/", "depth/")`` frames refine each pose by ICP
(``DepthAligner``); ``Tracker(..., T_base_cam=rp.load_transform("T_base_cam.json"))`` adds the pose
in a robot's base frame (``rp.calibrate_hand_eye`` finds it).

Heavy backends (trimesh, pyrender, open3d, onnxruntime) load only when first used.
"""

from .align import Alignment, AlignOptions, DepthAligner, MeshCaster
from .camera import Camera
from .detect.learned import KeypointModel, LearnedDetector, LearnedOptions
from .errors import (
    BackendMissingError,
    FileFormatError,
    InvalidInputError,
    InvalidTypeError,
    RigidPoseError,
    SourceError,
)
from .geometry import Pose, PoseDistance, pose_distance
from .io import STATES, Frame, FramePoses, FrameSource, ObjectPose, PoseWriter, RGBDSource, read_poses
from .robot import HandEyeResult, calibrate_hand_eye, load_transform, read_robot_poses, save_transform
from .silhouette import SilhouetteOptions, SilhouetteRefiner
from .target import MESH_UNITS, Appearance, Target, load_mesh
from .track import PoseSmoother, Tracker, TrackerOptions

__version__ = "0.1.0"

__all__ = [
    "MESH_UNITS",
    "STATES",
    "AlignOptions",
    "Alignment",
    "Appearance",
    "BackendMissingError",
    "Camera",
    "DepthAligner",
    "FileFormatError",
    "Frame",
    "FramePoses",
    "FrameSource",
    "HandEyeResult",
    "MeshCaster",
    "InvalidInputError",
    "InvalidTypeError",
    "KeypointModel",
    "LearnedDetector",
    "LearnedOptions",
    "ObjectPose",
    "Pose",
    "PoseDistance",
    "PoseSmoother",
    "PoseWriter",
    "RGBDSource",
    "RigidPoseError",
    "SilhouetteOptions",
    "SilhouetteRefiner",
    "SourceError",
    "Target",
    "Tracker",
    "TrackerOptions",
    "__version__",
    "calibrate_hand_eye",
    "load_mesh",
    "load_transform",
    "pose_distance",
    "read_poses",
    "read_robot_poses",
    "save_transform",
]

"""The public surface, pinned: the names ``import rigidpose`` offers and every command line option.

A rename, a removal or an addition anywhere here fails this test on purpose: users' code and
scripts depend on these names. If the change is meant, update the literal below in the same commit
(and say so in its message).
"""

from __future__ import annotations

import argparse

import rigidpose as rp
import rigidpose.cli
from rigidpose.cli import build_parser

PUBLIC_NAMES = [
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
    "InvalidInputError",
    "InvalidTypeError",
    "KeypointModel",
    "LearnedDetector",
    "LearnedOptions",
    "MESH_UNITS",
    "MeshCaster",
    "ObjectPose",
    "Pose",
    "PoseDistance",
    "PoseSmoother",
    "PoseWriter",
    "RGBDSource",
    "RigidPoseError",
    "STATES",
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

# "command [subcommand]" -> its sorted option strings; a positional argument appears as <dest>
COMMAND_LINE = {
    "": ["--help", "--verbose", "--version", "-h", "-v"],
    "info": ["--help", "--units", "-h", "<path>"],
    "target": ["--help", "-h"],
    "target from-image": ["--features", "--force", "--help", "--name", "--out", "--width-m", "-h", "<image>"],
    "target register": [
        "--camera",
        "--correspondences",
        "--features",
        "--force",
        "--help",
        "--image",
        "--mesh",
        "--name",
        "--out",
        "--units",
        "-h",
    ],
    "target from-mesh": [
        "--features",
        "--force",
        "--help",
        "--model",
        "--name",
        "--out",
        "--quiet",
        "--units",
        "--views",
        "-h",
        "-q",
        "<mesh>",
    ],
    "train": [
        "--config",
        "--covered-peak",
        "--hand-share",
        "--help",
        "--images",
        "--int8",
        "--name",
        "--no-int8",
        "--occluder-share",
        "--out",
        "--precision",
        "--quiet",
        "--seed",
        "--steps",
        "--target",
        "--units",
        "--width",
        "-h",
        "-q",
    ],
    "board": ["--chessboard", "--help", "--out", "--paper", "--square-m", "-h"],
    "calibrate": [
        "--board",
        "--chessboard",
        "--distortion",
        "--every",
        "--fix-aspect-ratio",
        "--help",
        "--k1",
        "--out",
        "--quiet",
        "--source",
        "--square-m",
        "--target",
        "-h",
        "-q",
    ],
    "track": [
        "--T-base-cam",
        "--camera",
        "--depth",
        "--depth-every",
        "--depth-scale-mm",
        "--help",
        "--out",
        "--overlay",
        "--overlay-pose",
        "--overlay-scale",
        "--ply",
        "--poses",
        "--quiet",
        "--show",
        "--size",
        "--source",
        "--stills",
        "--target",
        "-h",
        "-q",
    ],
    "handeye": ["--eye-in-hand", "--help", "--name", "--out", "--poses", "--robot", "-h"],
    "render": [
        "--camera",
        "--help",
        "--out",
        "--overlay",
        "--overlay-pose",
        "--overlay-scale",
        "--poses",
        "--quiet",
        "--show",
        "--source",
        "--target",
        "-h",
        "-q",
    ],
    "synth": [
        "--background",
        "--blur",
        "--depth",
        "--depth-noise",
        "--distortion",
        "--exit",
        "--far",
        "--force",
        "--fov-deg",
        "--fps",
        "--frames",
        "--height",
        "--help",
        "--image",
        "--lighting",
        "--masks",
        "--near",
        "--noise",
        "--occlusion",
        "--out",
        "--quiet",
        "--roll-deg",
        "--sample",
        "--seed",
        "--still",
        "--target",
        "--tilt-deg",
        "--width",
        "--width-m",
        "-h",
        "-q",
    ],
    "bench": [
        "--calibration",
        "--check",
        "--depth",
        "--frames",
        "--help",
        "--learned",
        "--model",
        "--out",
        "--overlay",
        "--quiet",
        "--suite",
        "--tracker",
        "-h",
        "-q",
        "<sequences>",
    ],
}


def _walk(parser: argparse.ArgumentParser, path: str, found: dict[str, list[str]]) -> None:
    """``found[path]``: the sorted option strings of ``parser``; its subcommands under ``path name``."""
    found[path] = options = []  # a command before its subcommands, as in --help
    for action in parser._actions:  # argparse has no public way to list a parser's arguments
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                _walk(command, f"{path} {name}".strip(), found)
        elif action.option_strings:
            options += action.option_strings
        else:
            options.append(f"<{action.dest}>")
    options.sort()


def test_public_names_are_pinned():
    assert sorted(rp.__all__) == PUBLIC_NAMES
    assert all(hasattr(rp, name) for name in rp.__all__)


def test_command_line_is_pinned():
    found: dict[str, list[str]] = {}
    _walk(build_parser(), "", found)
    assert found == COMMAND_LINE
    assert list(found) == list(COMMAND_LINE)  # the order of the commands in --help


def test_cli_package_exports():
    assert sorted(rigidpose.cli.__all__) == ["MESH_SUFFIXES", "build_parser", "main"]

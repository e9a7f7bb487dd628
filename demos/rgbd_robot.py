"""Track an object with an RGB-D camera, refine each pose with depth, report it in the robot's base.

    python demos/rgbd_robot.py --out out/rgbd          # makes a synthetic RGB-D recording first
    python demos/rgbd_robot.py --rgb rec/color --depth rec/depth --camera cam.yaml \\
        --target targets/part --T-base-cam T_base_cam.json --out out/rgbd

Without ``--rgb`` it renders a short recording of a printed sheet lying on a table, seen by a
Kinect-like sensor about a metre away (``rigidpose synth --depth-noise``), with a made-up
``T_base_cam``; that camera is hand-held, so the object's place in the base wanders with it
(a fixed camera's would hold still). It prints each frame's ``T_base_obj`` translation (what a robot would grasp at) and
whether depth refined it, and writes the point clouds of the last refinement to look at
(``scene.ply``: the object's depth points; ``model.ply``: the model where the pose puts it).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

import rigidpose as rp


def synthetic_recording(out: Path) -> tuple[Path, Path, Path, rp.Target, Path]:
    """A 60-frame RGB-D recording of a sheet on a table; its colour, depth, camera, target and T_base_cam."""
    from rigidpose.synth import SequenceOptions, TrajectoryOptions, render_sequence
    from rigidpose.synth.sheets import marker_sheet
    from rigidpose.targets.planar import planar_target, sheet_image

    sheet, _ = marker_sheet("astronaut")
    options = SequenceOptions(
        frames=60, seed=2, background="photo", noise=True, depth=True, depth_noise=True,
        trajectory=TrajectoryOptions(distance=(2.0, 3.0), max_tilt_rad=math.radians(45)),
    )  # fmt: skip
    recording = render_sequence(sheet, out / "recording", options)
    target = planar_target(*sheet_image(sheet), sheet.name, features="sift")
    # a camera 1.2 m above the robot's base, looking down at the table
    T_base_cam = rp.Pose.from_rvec_tvec(np.array([math.pi, 0.0, 0.0]), np.array([0.6, 0.0, 1.2]))
    rp.save_transform(out / "T_base_cam.json", T_base_cam)
    return (
        recording / "video.mp4",
        recording / "depth",
        recording / "camera.yaml",
        target,
        out / "T_base_cam.json",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rgb", help="colour frames: a video or a folder of images")
    parser.add_argument("--depth", help="16-bit depth PNGs registered to the colour frames")
    parser.add_argument("--camera", help="the colour camera's calibration")
    parser.add_argument("--target", help="target folder")
    parser.add_argument("--T-base-cam", dest="T_base_cam", help="the camera in the robot's base (JSON)")
    parser.add_argument("--out", default="out/rgbd", help="folder for the recording and the point clouds")
    args = parser.parse_args()
    out = Path(args.out)
    try:
        if args.rgb:
            if not (args.depth and args.camera and args.target and args.T_base_cam):
                raise rp.InvalidInputError("with --rgb give --depth, --camera, --target and --T-base-cam too")
            rgb, depth, camera_file, target = args.rgb, args.depth, args.camera, rp.Target.load(args.target)
            T_base_cam_file = args.T_base_cam
        else:
            rgb, depth, camera_file, target, T_base_cam_file = synthetic_recording(out)

        # the five lines that matter
        camera = rp.Camera.load(camera_file)
        tracker = rp.Tracker([target], camera, T_base_cam=rp.load_transform(T_base_cam_file))
        last = None
        for frame in rp.RGBDSource(rgb, depth):
            (result,) = tracker.update(frame)  # refined with frame.depth_m
            if result.T_base_obj is not None:
                x, y, z = 1000 * result.T_base_obj.translation
                refined = "refined with depth" if result.depth_refined else "colour only"
                print(
                    f"frame {frame.index:3d}: object at ({x:7.1f}, {y:7.1f}, {z:7.1f}) mm in the base, {refined}"
                )
            alignment = tracker.alignments.get(target.name)
            if alignment is not None:
                last = alignment
        if last is None:
            print("the object was never found: no point clouds to write")
            return 1
        scene, model = last.write_ply(out)
        print(f"wrote {scene} and {model}: open them together (MeshLab, open3d) to see the fit")
    except rp.RigidPoseError as exc:
        print(f"rgbd_robot: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

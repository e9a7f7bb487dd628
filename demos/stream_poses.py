"""Stream object poses as JSON lines, one per frame, for a robot or another program to read.

Each line: {"frame", "timestamp_ms", "objects": [{"name", "state", "position_m", "quaternion_xyzw",
"T_cam_obj", "confidence"}]}; camera frame (OpenCV: x right, y down, z forward), metres. Lines are
flushed as they are made, so a pipe delivers them at once:

    python demos/stream_poses.py --target out/demo/box-target --camera demos/data/box/box.camera.yaml \\
        --source demos/data/box/box.mp4 | your_robot_program
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import rigidpose as rp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", action="append", required=True, help="target folder (repeatable)")
    parser.add_argument("--camera", required=True, help="camera file")
    parser.add_argument("--source", default="0", help="webcam index, video, or folder of images")
    args = parser.parse_args()

    tracker = rp.Tracker([rp.Target.load(path) for path in args.target], rp.Camera.load(args.camera))
    with rp.FrameSource(args.source) as source:
        for frame in source:
            objects = []
            for result in tracker.update(frame):
                entry = {
                    "name": result.name,
                    "state": result.state,
                    "confidence": round(result.confidence, 3),
                }
                if result.T_cam_obj is not None:
                    T = result.T_cam_obj
                    entry["position_m"] = [round(float(v), 5) for v in T.translation]
                    entry["quaternion_xyzw"] = [round(float(v), 6) for v in T.as_quat()]
                    entry["T_cam_obj"] = [[round(float(v), 6) for v in row] for row in T.as_matrix()]
                objects.append(entry)
            line = {"frame": frame.index, "timestamp_ms": round(frame.timestamp_ms, 2), "objects": objects}
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    try:
        main()
    except rp.RigidPoseError as exc:
        raise SystemExit(f"stream_poses: {exc}") from None
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # the reader went away: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

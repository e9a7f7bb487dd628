"""Track a plain, low-texture object (a cordless drill) with its learned keypoint model.

    python demos/learned_drill.py --out out/drill                  # renders a held-out clip first
    python demos/learned_drill.py --video clip.mp4 --camera cam.yaml --out out/drill

The drill (meshes/drill.ply) has no print for local features to find; models/drill.onnx, trained
from its mesh alone (``rigidpose train``), finds its keypoints. Without ``--video`` it renders a
clip the model never saw (a photo background, moving light, a hand passing over the drill). It
writes the overlay video, the poses and a contact sheet of frames, and prints, for the rendered
clip, how many poses are within 10 % of the drill's size of the truth (ADD).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import cv2

import rigidpose as rp
from rigidpose.eval.metrics import add
from rigidpose.render.opencv import Painter, contact_sheet

REPO = Path(__file__).resolve().parents[1]


def held_out_clip(target: rp.Target, out: Path) -> Path:
    """A 90-frame clip of the drill the model was not trained on; its folder (video, camera, truth)."""
    from rigidpose.synth import SequenceOptions, TrajectoryOptions, render_sequence

    options = SequenceOptions(
        frames=90, seed=11, background="photo", lighting=True, noise=True, occlusion=True,
        trajectory=TrajectoryOptions(distance=(1.1, 2.2), max_tilt_rad=math.radians(50)),
    )  # fmt: skip
    return render_sequence(target, out / "clip", options)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", help="a video of the drill (default: render a held-out clip)")
    parser.add_argument("--camera", help="the video's camera calibration (with --video)")
    parser.add_argument("--out", default="out/drill", help="folder for the overlay, poses and contact sheet")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        drill = rp.Target.from_mesh_file(REPO / "meshes" / "drill.ply", "m", name="drill")
        truth = None
        if args.video:
            if not args.camera:
                raise rp.InvalidInputError("with --video give --camera too")
            video, camera_file = args.video, args.camera
        else:
            clip = held_out_clip(drill, out)
            video, camera_file = clip / "video.mp4", clip / "camera.yaml"
            truth = [o.T_cam_obj for record in rp.read_poses(clip / "gt.jsonl") for o in record.objects]

        # the lines that matter: a target with a keypoint model is found by it
        target = drill.with_keypoint_model((REPO / "models" / "drill.onnx").read_bytes())
        camera = rp.Camera.load(camera_file)
        tracker = rp.Tracker([target], camera)
        painter = Painter(target, camera, draw=("outline", "axes"))
        frames, good, posed = [], 0, 0
        with rp.FrameSource(video) as source, rp.PoseWriter(out / "poses.jsonl") as poses:
            writer = None
            for frame in source:
                results = tracker.update(frame)
                poses.write(rp.FramePoses(frame.index, frame.timestamp_ms, tuple(results)))
                image = painter.annotate(frame.image.copy(), results)
                if writer is None:
                    size = (image.shape[1], image.shape[0])
                    writer = cv2.VideoWriter(
                        str(out / "overlay.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, size
                    )
                writer.write(image)
                frames.append(image)
                T = results[0].T_cam_obj
                if T is not None:
                    posed += 1
                    if truth is not None and frame.index < len(truth):
                        good += add(T, truth[frame.index], drill.mesh.vertices) < 0.1 * drill.diameter_m
            if writer is not None:
                writer.release()
    except rp.RigidPoseError as exc:
        print(f"learned_drill: error: {exc}", file=sys.stderr)
        return 1
    if not frames:
        print("learned_drill: error: the video has no frames", file=sys.stderr)
        return 1
    picks = [round(i * (len(frames) - 1) / 11) for i in range(12)]
    cv2.imwrite(str(out / "contact_sheet.png"), contact_sheet([frames[i] for i in picks], columns=4))
    print(f"pose in {posed} of {len(frames)} frames")
    if truth is not None:
        print(f"within 0.1 d of the truth (ADD): {good} of {len(frames)} frames")
    print(f"wrote {out / 'overlay.mp4'}, {out / 'poses.jsonl'} and {out / 'contact_sheet.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

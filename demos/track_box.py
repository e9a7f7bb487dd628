"""Track a real cookie box in video: register it from one photo, track it, draw its outline.

1. Register: the box's mesh (centimetres), one photo of it, and the seven corners a user
   clicked in the photo give a textured 3D target (features cast onto the mesh).
2. Track: every frame of the sample video; poses as JSON Lines.
3. Look: an overlay video with the box's outline and a contact sheet of twelve frames.

    python demos/track_box.py --out out/demo
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

import rigidpose as rp
from rigidpose.render.opencv import Painter, contact_sheet
from rigidpose.targets.register import load_correspondences, register_target

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "demos" / "data" / "box"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/demo", help="folder for the target, poses, video and picture")
    parser.add_argument("--video", default=str(DATA / "box.mp4"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # 1. register the box from its mesh and one photo with clicked corners
    mesh = rp.load_mesh(ROOT / "meshes" / "box.ply", units="cm")
    points_3d, points_2d = load_correspondences(DATA / "box_pose1.corners.json")
    photo_camera = rp.Camera.load(DATA / "box_pose1.camera.yaml")
    photo = rp.io.read_image(DATA / "box_pose1.JPG")
    target, (report,) = register_target(mesh, [(photo, photo_camera, points_3d, points_2d)], "box")
    target.save(out / "box-target")
    print(
        f"registered: clicks fit to {report.click_error_px:.2f} px, {report.features_on_mesh} features on the box"
    )

    # 2. track it in the video, 3. draw it
    camera = rp.Camera.load(DATA / "box.camera.yaml")
    tracker = rp.Tracker([target], camera)
    painter = Painter(target, camera)
    posed, times_ms, frames = 0, [], []
    with (
        rp.FrameSource(args.video) as source,
        rp.PoseWriter(out / "poses.jsonl") as poses,
        rp.io.VideoWriter(out / "overlay.mp4", source.fps or 30.0) as video,
    ):
        for frame in source:
            start = time.perf_counter()
            (result,) = tracker.update(frame)
            times_ms.append((time.perf_counter() - start) * 1000.0)
            poses.write(rp.FramePoses(frame.index, frame.timestamp_ms, (result,)))
            posed += result.T_cam_obj is not None
            image = painter.annotate(frame.image.copy(), result)
            video.write(image)
            frames.append(image)
    picks = np.linspace(0, len(frames) - 1, 12).round().astype(int)
    cv2.imwrite(
        str(out / "contact_sheet.png"), contact_sheet([frames[i] for i in picks], columns=4, width_px=1280)
    )
    print(
        f"tracked: pose in {posed} of {len(frames)} frames ({100.0 * posed / max(len(frames), 1):.1f} %), "
        f"median {np.median(times_ms):.1f} ms per frame"
    )
    print(f"wrote {out}/poses.jsonl, {out}/overlay.mp4 and {out}/contact_sheet.png")


if __name__ == "__main__":
    main()

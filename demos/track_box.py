"""Track a real cookie box in video and stand a virtual rocket on it (AR).

1. Register: the box's mesh (centimetres), one photo of it, and the seven corners a user
   clicked in the photo give a textured 3D target (features cast onto the mesh).
2. Track: every frame of the sample video; poses as JSON Lines.
3. Draw: a rocket (meshes/rocket.glb) on the box's picture face, hidden where the box
   covers it, into an overlay video and a contact sheet of twelve frames.

    python demos/track_box.py --out out/demo
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

import rigidpose as rp
from rigidpose.render.ar import ARRenderer
from rigidpose.render.opencv import contact_sheet
from rigidpose.targets.register import load_correspondences, register_target

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "demos" / "data" / "box"
# The rocket's base (+Y up in its file) on the centre of the box's picture face (z = 7.5 cm, +z out).
ROCKET_ON_BOX = rp.Pose.from_rvec_tvec([np.pi / 2, 0.0, 0.0], [0.0945, 0.129, 0.075])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/demo", help="folder for the target, poses, video and picture")
    parser.add_argument("--video", default=str(DATA / "box.mp4"))
    parser.add_argument(
        "--content", default=str(ROOT / "meshes" / "rocket.glb"), help="virtual content (metres)"
    )
    parser.add_argument("--scale", type=float, default=1.1, help="content size factor")
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

    # 2. track it in the video, 3. draw the rocket on it
    camera = rp.Camera.load(DATA / "box.camera.yaml")
    tracker = rp.Tracker([target], camera)
    posed, track_ms, draw_ms, frames = 0, [], [], []
    with (
        ARRenderer(camera) as renderer,
        rp.FrameSource(args.video) as source,
        rp.PoseWriter(out / "poses.jsonl") as poses,
        rp.io.VideoWriter(out / "overlay.mp4", source.fps or 30.0) as video,
    ):
        renderer.attach(target, args.content, T_obj_content=ROCKET_ON_BOX, scale=args.scale)
        for frame in source:
            start = time.perf_counter()
            results = tracker.update(frame)
            track_ms.append((time.perf_counter() - start) * 1000.0)
            poses.write(rp.FramePoses(frame.index, frame.timestamp_ms, tuple(results)))
            posed += results[0].T_cam_obj is not None
            start = time.perf_counter()
            image = renderer.annotate(frame.image.copy(), results)
            draw_ms.append((time.perf_counter() - start) * 1000.0)
            video.write(image)
            frames.append(image)
    picks = np.linspace(0, len(frames) - 1, 12).round().astype(int)
    sheet = contact_sheet([frames[i] for i in picks], columns=4, width_px=1280)
    cv2.imwrite(str(out / "contact_sheet.png"), sheet)
    print(f"wrote {out / 'poses.jsonl'}, {out / 'overlay.mp4'} and {out / 'contact_sheet.png'}")
    print(
        f"{len(frames)} frames, box tracked in {100.0 * posed / max(len(frames), 1):.1f} %, "
        f"median {np.median(track_ms):.1f} ms tracking + {np.median(draw_ms):.1f} ms drawing per frame"
    )


if __name__ == "__main__":
    main()

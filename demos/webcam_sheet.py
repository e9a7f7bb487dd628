"""Live AR on a printed sheet: point a webcam at demos/data/sheet/sheet-a4.pdf, printed at 100 %.

A rocket stands on the sheet wherever you move it; the window closes with Esc, q or Ctrl-C (a
recording plays at its own speed and its last frame stays up until you close the window or press
a key).

    python demos/webcam_sheet.py                       # webcam 0, a guessed 60 degree lens
    python demos/webcam_sheet.py --camera cam.yaml     # your calibrated camera: better poses
    python demos/webcam_sheet.py --source clip.mp4 --no-show --out ar.mp4   # a recording instead
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import sys
from pathlib import Path

import rigidpose as rp
from rigidpose.render.ar import ARRenderer, default_content_pose
from rigidpose.render.window import Window, has_display
from rigidpose.targets import planar_target

ROOT = Path(__file__).resolve().parent.parent
SHEET = ROOT / "demos" / "data" / "sheet" / "sheet.jpg"
NO_WINDOW = "run without a window and write the AR video instead: --source clip.mp4 --no-show --out ar.mp4"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="0", help="webcam index, video, or folder of images")
    parser.add_argument(
        "--camera", help="camera file; without it a 60 degree horizontal field of view is assumed"
    )
    parser.add_argument("--width-m", type=float, default=0.180, help="the printed picture's measured width")
    parser.add_argument(
        "--content", default=str(ROOT / "meshes" / "rocket.glb"), help="what stands on the sheet"
    )
    parser.add_argument("--out", help="also write the AR video here (.mp4)")
    parser.add_argument("--no-show", action="store_true", help="no window (with --out)")
    args = parser.parse_args()
    if not args.no_show and not has_display():  # before the slow part: say at once what to do
        print(f"webcam_sheet: no display for the window (DISPLAY is not set); {NO_WINDOW}", file=sys.stderr)
        return 1

    target = planar_target(rp.io.read_image(SHEET), args.width_m, name="sheet", features="sift")
    window = None if args.no_show else Window("rigidpose: point the camera at the printed sheet")
    with rp.FrameSource(args.source) as source:
        frames = iter(source)
        first = next(frames, None)
        if first is None:
            print(f"webcam_sheet: no frames from {args.source}", file=sys.stderr)
            return 1
        height, width = first.image.shape[:2]
        if args.camera:
            camera = rp.Camera.load(args.camera)
        else:
            camera = rp.Camera.from_fov(width, height, math.radians(60))
            print("no --camera: assuming a 60 degree horizontal field of view (poses are only approximate)")
        tracker = rp.Tracker([target], camera)
        if window is not None:
            window.fps = source.fps  # a recording at its own speed; a webcam's fps is None: as frames come
        posed = seen = 0
        with (
            ARRenderer(camera.scaled(width, height)) as renderer,
            rp.io.VideoWriter(args.out, source.fps or 30.0)
            if args.out
            else contextlib.nullcontext() as video,
        ):
            renderer.attach(target, args.content, T_obj_content=default_content_pose(target))
            try:
                for frame in itertools.chain([first], frames):
                    results = tracker.update(frame)
                    image = renderer.annotate(rp.io.as_bgr8(frame.image).copy(), results)
                    seen += 1
                    posed += results[0].T_cam_obj is not None
                    if video is not None:
                        video.write(image)
                    if window is not None and not show(window, image):
                        break
                else:
                    if window is not None:
                        window.hold()  # the last frame stays up until the window is closed or a key pressed
            except KeyboardInterrupt:
                pass
    print(f"{seen} frames, sheet found in {posed}" + (f"; wrote {args.out}" if args.out else ""))
    return 0


def show(window: Window, image) -> bool:
    """``window.show``, and when no window can open at all, the flags that do without one."""
    try:
        return window.show(image)
    except rp.InvalidInputError as exc:
        raise SystemExit(f"webcam_sheet: no window could open ({exc}); {NO_WINDOW}") from None


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except rp.RigidPoseError as exc:  # no webcam, no display, a bad camera file: one line
        raise SystemExit(f"webcam_sheet: {exc}") from None

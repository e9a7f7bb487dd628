"""``rigidpose track`` and ``rigidpose render``: track targets and draw the overlay, or draw it at
the poses of a pose file; both share the overlay arguments and the window."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys

import numpy as np

import rigidpose as rp
from rigidpose.outputs import check_output_file, check_output_folder, holds_only, is_pose_file

from .common import Terminated, two_ints

_SIZE = "WIDTHxHEIGHT in pixels, e.g. 1280x720"
_VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov")


def add_track_parser(commands: argparse._SubParsersAction) -> None:
    track = commands.add_parser("track", help="track targets in video", description=_cmd_track.__doc__)
    track.add_argument("--target", action="append", required=True, help="target folder (repeatable)")
    track.add_argument("--camera", required=True, help="camera file (OpenCV YAML/XML, ROS, JSON)")
    track.add_argument("--source", required=True, help="video, image, folder of images, or webcam index")
    track.add_argument("--poses", help="pose JSONL to write ('-' for standard output)")
    track.add_argument("--size", metavar="WxH", help="resolution to ask a webcam for, e.g. 1280x720")
    track.add_argument("--out", help="overlay video to write (.mp4)")
    track.add_argument(
        "--depth",
        metavar="DIR",
        help="16-bit depth PNGs registered to --source, one per frame: refine with ICP",
    )
    track.add_argument(
        "--depth-scale-mm",
        type=float,
        help="millimetres per depth unit (default: BOP's scene_camera.json beside DIR, else 1)",
    )
    track.add_argument("--depth-every", type=int, default=1, metavar="N", help="refine every N-th frame")
    track.add_argument("--ply", metavar="DIR", help="write each refinement's depth and model clouds (PLY)")
    track.add_argument(
        "--T-base-cam", dest="T_base_cam", metavar="FILE", help="camera in the robot base (JSON or 4x4 text)"
    )
    track.add_argument(
        "--stills",
        action="store_true",
        help="frames are separate photos: detect each on its own, no smoothing",
    )
    _add_overlay_arguments(track)
    track.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    track.set_defaults(run=_cmd_track)


def _cmd_track(args: argparse.Namespace) -> int:
    """Track targets in a video, image, folder or webcam; write poses (JSONL) and an overlay video.

    With a webcam (``--source 0``) it runs until Ctrl-C, Esc or q in the window; a camera that
    stalls or is unplugged is reopened for a while, with the state shown in the window."""
    import time

    from tqdm import tqdm

    if not (args.poses or args.out or args.show):
        raise rp.InvalidInputError("nothing to do: give --poses P.jsonl, --out OVERLAY.mp4 and/or --show")
    width, height = (None, None) if args.size is None else two_ints(args.size, "--size", _SIZE)
    if args.depth and str(args.source).isdigit():
        raise rp.InvalidInputError(
            "--depth pairs recorded frames with depth PNGs: --source must be a video or folder"
        )
    if args.ply and not args.depth:
        raise rp.InvalidInputError("--ply writes the depth point clouds: give --depth DIR too")
    inputs = [args.source, args.camera, args.depth, args.T_base_cam, *args.target]
    if args.poses and args.poses != "-":
        check_output_file(args.poses, "--poses", suffixes=(".jsonl",), ours=is_pose_file, inputs=inputs)
    if args.out:
        check_output_file(args.out, "--out", suffixes=_VIDEO_SUFFIXES, inputs=inputs)
    if args.ply:
        check_output_folder(
            args.ply, "--ply", ours=holds_only("*.ply"), kind="point clouds", replace=False, inputs=inputs
        )
    targets = [rp.Target.load(path) for path in args.target]
    camera = rp.Camera.load(args.camera)
    T_base_cam = None if args.T_base_cam is None else rp.load_transform(args.T_base_cam)
    options = rp.TrackerOptions.for_targets(targets)
    options = dataclasses.replace(
        options,
        depth_every=args.depth_every,
        smooth_min_cutoff_hz=0.0 if args.stills else options.smooth_min_cutoff_hz,
    )
    tracker = rp.Tracker(targets, camera, options, T_base_cam=T_base_cam)
    overlay, window = _overlay_and_window(args, targets, camera)
    posed = dict.fromkeys((t.name for t in targets), 0)
    refined = 0
    times_ms: list[float] = []
    last_image = [None]

    def show_status(text: str) -> None:
        if text != "live":
            print(f"rigidpose: camera {args.source}: {text}", file=sys.stderr)
        if window is not None and last_image[0] is not None and text != "live":
            window.show(_banner(last_image[0], f"camera {text}"))

    to_stdout = args.poses == "-"
    stopped = ""  # why the run ended early: Ctrl-C, SIGTERM, or the pose reader went away
    if args.depth:
        frames_in = rp.RGBDSource(args.source, args.depth, depth_scale_mm=args.depth_scale_mm)
    else:
        frames_in = rp.FrameSource(args.source, width=width, height=height, on_status=show_status)
    with (
        frames_in as source,
        rp.PoseWriter(args.poses) if args.poses else contextlib.nullcontext() as writer,
        rp.io.VideoWriter(args.out, source.fps or 30.0) if args.out else contextlib.nullcontext() as video,
        overlay or contextlib.nullcontext(),
        window or contextlib.nullcontext(),
    ):
        progress = tqdm(source, total=source.frame_count, unit="frame", disable=args.quiet or to_stdout)
        if window is not None:
            # a recording plays at its own rate; a webcam (fps None) as its frames come
            window.fps = getattr(source, "fps", None)
        try:
            for frame in progress:
                if not times_ms and (frame.image.shape[1], frame.image.shape[0]) != camera.size:
                    print(
                        f"rigidpose: frames are {frame.image.shape[1]}x{frame.image.shape[0]}, the camera file "
                        f"is for {camera.width}x{camera.height}: scaling the intrinsics",
                        file=sys.stderr,
                    )
                if args.stills:
                    tracker.reset()  # every image on its own: no motion model, no smoothing
                start = time.perf_counter()
                results = tracker.update(frame)
                times_ms.append((time.perf_counter() - start) * 1000.0)
                for name, alignment in tracker.alignments.items() if args.ply else ():
                    alignment.write_ply(args.ply, f"{frame.index:06d}_{name}_")
                refined += sum(r.depth_refined for r in results)
                if writer is not None:
                    writer.write(rp.FramePoses(frame.index, frame.timestamp_ms, tuple(results)))
                for result in results:
                    posed[result.name] += result.T_cam_obj is not None
                if overlay is not None:
                    image = overlay.annotate(rp.io.as_bgr8(frame.image).copy(), results)
                    last_image[0] = image
                    if video is not None:
                        video.write(image)
                    if window is not None and not window.show(image):
                        break  # the user closed the window
            if window is not None and not window.closed:
                progress.close()
                print("rigidpose: the last frame stays up: close the window or press a key", file=sys.stderr)
                window.hold()
        except KeyboardInterrupt as exc:  # finish the files written so far, then report
            stopped = "stopped by SIGTERM" if isinstance(exc, Terminated) else "stopped by Ctrl-C"
        except BrokenPipeError:
            stopped = "stopped: the pose reader closed the pipe"
        finally:
            progress.close()
        if not times_ms and not stopped:
            raise rp.SourceError(f"{args.source}: no readable frame")
    # Ctrl-C may land between tracking a frame and writing it: count what the file holds
    frames = writer.lines_written if writer is not None else len(times_ms)
    summary = ", ".join(f"{name} in {count}" for name, count in posed.items())
    median = float(np.median(times_ms)) if times_ms else float("nan")
    print(
        f"{frames} frames: pose of {summary}; median {median:.1f} ms per frame"
        + (f"; refined with depth {refined} times" if args.depth else "")
        + (f"; overlay {args.out}" if args.out else "")
        + (f"; {stopped}" if stopped else ""),
        file=sys.stderr if to_stdout else sys.stdout,
    )
    if stopped.startswith("stopped by") and getattr(source, "kind", "") != "webcam":
        return 143 if "SIGTERM" in stopped else 130
    return 0


def _banner(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` darkened with ``text`` across its middle (a stalled camera's last frame)."""
    import cv2

    shown = (image * 0.45).astype(np.uint8)
    scale = image.shape[1] / 900
    (width, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    org = ((image.shape[1] - width) // 2, image.shape[0] // 2)
    cv2.putText(shown, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 200, 255), 2, cv2.LINE_AA)
    return shown


def add_render_parser(commands: argparse._SubParsersAction) -> None:
    render = commands.add_parser(
        "render", help="draw an overlay at poses from a JSONL file", description=_cmd_render.__doc__
    )
    render.add_argument("--poses", required=True, help="pose JSONL (from rigidpose track)")
    render.add_argument("--source", required=True, help="the video, image or folder the poses belong to")
    render.add_argument("--camera", required=True, help="camera file (OpenCV YAML/XML, ROS, JSON)")
    render.add_argument(
        "--target", action="append", required=True, help="target folder of each object (repeatable)"
    )
    render.add_argument("--out", help="overlay video to write (.mp4)")
    _add_overlay_arguments(render)
    render.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    render.set_defaults(run=_cmd_render)


def _cmd_render(args: argparse.Namespace) -> int:
    """Draw an overlay at the poses of a pose JSONL file over the video they came from."""
    from tqdm import tqdm

    if not (args.out or args.show):
        raise rp.InvalidInputError("nothing to do: give --out OVERLAY.mp4 and/or --show")
    if args.out:
        inputs = [args.poses, args.source, args.camera, *args.target]
        check_output_file(args.out, "--out", suffixes=_VIDEO_SUFFIXES, inputs=inputs)
    targets = [rp.Target.load(path) for path in args.target]
    records = rp.read_poses(args.poses)
    if not records:
        raise rp.FileFormatError(
            f"{args.poses}: no pose lines (an empty file: did the tracking run end early?)"
        )
    by_frame = {record.frame: record.objects for record in records}
    names = {o.name for objects in by_frame.values() for o in objects}
    unknown = sorted(names - {t.name for t in targets})
    if unknown:
        raise rp.InvalidInputError(
            f"{args.poses}: objects {', '.join(unknown)} have no --target; add their folders"
        )
    overlay, window = _overlay_and_window(args, targets, rp.Camera.load(args.camera))
    drawn = 0
    with (
        rp.FrameSource(args.source) as source,
        rp.io.VideoWriter(args.out, source.fps or 30.0) if args.out else contextlib.nullcontext() as video,
        overlay,
        window or contextlib.nullcontext(),
    ):
        if window is not None:
            window.fps = source.fps  # the video at its own rate
        for frame in tqdm(source, total=source.frame_count, unit="frame", disable=args.quiet):
            image = overlay.annotate(rp.io.as_bgr8(frame.image).copy(), by_frame.get(frame.index, ()))
            drawn += frame.index in by_frame
            if video is not None:
                video.write(image)
            if window is not None and not window.show(image):
                break
        if window is not None and not window.closed:
            print("rigidpose: the last frame stays up: close the window or press a key", file=sys.stderr)
            window.hold()
    print(f"drew {drawn} frames with poses" + (f"; wrote {args.out}" if args.out else ""))
    return 0


def _add_overlay_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--overlay",
        default="outline,axes",
        metavar="WHAT",
        help="what to draw: outline, axes, box, wireframe (comma-separated), or a 3D content file "
        "(.glb, .gltf, .obj, .ply; metres) drawn on each object, e.g. meshes/rocket.glb",
    )
    command.add_argument(
        "--overlay-pose",
        metavar="X,Y,Z[,RX,RY,RZ]",
        help="where content stands in the object frame: metres, then a rotation vector in degrees "
        "(default: upright on the printed side of a sheet; the object frame otherwise)",
    )
    command.add_argument("--overlay-scale", type=float, default=1.0, help="content size factor (> 0)")
    command.add_argument("--show", action="store_true", help="show the overlay in a window (needs a display)")


def _overlay_and_window(args: argparse.Namespace, targets: list, camera: rp.Camera) -> tuple:
    """The overlay (None without --out or --show) and the window (None without --show)."""
    from rigidpose.render.overlay import Overlay
    from rigidpose.render.window import Window

    window = Window(f"rigidpose {args.source}") if args.show else None
    overlay = None
    if args.out or args.show:
        overlay = Overlay(targets, camera, args.overlay, _content_pose(args.overlay_pose), args.overlay_scale)
    return overlay, window


def _content_pose(text: str | None) -> rp.Pose | None:
    """``x,y,z[,rx,ry,rz]``: metres, then a rotation vector in degrees; None for the default."""
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (3, 6) or not np.all(np.isfinite(values)):
        raise rp.InvalidInputError(
            f"--overlay-pose: expected x,y,z or x,y,z,rx,ry,rz (metres, degrees), got {text!r}"
        )
    rotation = np.radians(values[3:]) if len(values) == 6 else np.zeros(3)
    return rp.Pose.from_rvec_tvec(rotation, values[:3])

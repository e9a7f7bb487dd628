"""The ``rigidpose`` command line. It only calls the public API.

A user's mistake (a missing file, a bad camera file, a wrong choice) prints one line,
``rigidpose: error: ...``, and exits with status 1 (2 for a malformed command line); no traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import rigidpose as rp
from rigidpose.outputs import (
    check_output_file,
    check_output_folder,
    has_json_key,
    holds_only,
    is_camera_file,
    is_pose_file,
    is_sequence_folder,
    is_target_folder,
)
from rigidpose.synth.effects import BACKGROUNDS

MESH_SUFFIXES = (".ply", ".obj", ".stl", ".off", ".glb", ".gltf")
_SIZE = "WIDTHxHEIGHT in pixels, e.g. 1280x720"
_PATTERN = "inner corners as COLSxROWS, e.g. 9x6"
_VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov")


def _check_target_out(args: argparse.Namespace, *inputs: str | None) -> Path:
    """``--out`` of a ``target`` command: a new or empty folder, or a target with ``--force``."""
    return check_output_folder(
        args.out, "--out", ours=is_target_folder, kind="a target", force=args.force, inputs=inputs
    )


def _cmd_info(args: argparse.Namespace) -> int:
    """Describe a camera file, target folder, mesh, pose JSONL file or frame source."""
    path = Path(args.path)
    suffix = path.suffix.lower()
    if path.is_dir() and (path / "target.json").is_file():
        target = rp.Target.load(path)
        print(f"target folder {path}")
        print(f"  {target!r}")
        low, high = target.mesh.bounds
        print(f"  bounds (m, object frame): {np.round(low, 4).tolist()} .. {np.round(high, 4).tolist()}")
    elif suffix in (".yaml", ".yml", ".xml", ".json"):
        camera = rp.Camera.load(path)
        print(f"camera file {path}")
        print(f"  {camera!r}")
    elif suffix == ".jsonl":
        records = rp.read_poses(path)
        names = sorted({o.name for r in records for o in r.objects})
        print(f"pose file {path}: {len(records)} frames, objects: {', '.join(names) or 'none'}")
        for name in names:
            found = [o for r in records for o in r.objects if o.name == name]
            posed = sum(o.T_cam_obj is not None for o in found)
            print(f"  {name}: pose in {posed} of {len(records)} frames")
    elif suffix in MESH_SUFFIXES:
        mesh = rp.load_mesh(path, units=args.units)
        low, high = mesh.bounds
        print(f"mesh {path}: {len(mesh.vertices)} vertices, {len(mesh.faces)} faces")
        print(f"  size (m, read as {args.units}): {np.round(high - low, 4).tolist()}")
    else:
        with rp.FrameSource(args.path) as source:
            first = next(iter(source), None)
            size = "no readable frame" if first is None else f"{first.image.shape[1]}x{first.image.shape[0]}"
            count = "unknown" if source.frame_count is None else source.frame_count
            print(f"{source.kind} {args.path}: {size}, {count} frames, fps {source.fps}")
    return 0


def _cmd_target_from_image(args: argparse.Namespace) -> int:
    """Make a planar target (paper sheet, poster, book cover) from a scan or photo and its printed width."""
    from rigidpose.targets import planar_target, sheet_trackability

    _check_target_out(args, args.image)
    image = rp.io.read_image(args.image)
    name = args.name or Path(args.image).stem
    target = planar_target(image, args.width_m, name=name, features=args.features)
    target.save(args.out)
    height_m = target.mesh.extents[1]
    reference = target.reference_images[0]
    used = (
        ""
        if reference.shape == image.shape
        else f" (downscaled to {reference.shape[1]}x{reference.shape[0]})"
    )
    print(
        f"wrote {args.out}: target {name!r}, {args.width_m:.3f} x {height_m:.3f} m, "
        f"{len(target.appearance)} {args.features} features from a {image.shape[1]}x{image.shape[0]} image{used}"
    )
    print(sheet_trackability(target))
    return 0


def _cmd_target_register(args: argparse.Namespace) -> int:
    """Make a textured 3D target from its mesh and photos with a few clicked correspondences."""
    from rigidpose.targets.register import load_correspondences, register_target

    if len(args.correspondences) != len(args.image):
        raise rp.InvalidInputError(
            f"expected one --correspondences per --image, got {len(args.correspondences)} for {len(args.image)}"
        )
    mesh = rp.load_mesh(args.mesh, units=args.units)
    cameras = args.camera if len(args.camera) == len(args.image) else args.camera * len(args.image)
    if len(args.camera) not in (1, len(args.image)):
        raise rp.InvalidInputError("expected one --camera for all images or one per --image")
    _check_target_out(args, args.mesh, *args.image, *args.camera, *args.correspondences)
    photos = []
    for image_path, camera_path, corr_path in zip(args.image, cameras, args.correspondences):
        points_3d, points_2d = load_correspondences(corr_path)
        photos.append((rp.io.read_image(image_path), rp.Camera.load(camera_path), points_3d, points_2d))
    name = args.name or Path(args.mesh).stem
    target, reports = register_target(mesh, photos, name, features=args.features, mesh_units=args.units)
    target.save(args.out)
    for image_path, report in zip(args.image, reports):
        print(
            f"{image_path}: clicks fit to {report.click_error_px:.2f} px RMS; "
            f"{report.features_on_mesh} of {report.features_found} {args.features} features on the mesh"
        )
    print(f"wrote {args.out}: target {name!r}, {len(target.appearance)} features")
    return 0


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


def _overlay_and_window(args: argparse.Namespace, targets: list, camera: rp.Camera) -> tuple:
    """The overlay (None without --out or --show) and the window (None without --show)."""
    from rigidpose.render.overlay import Overlay
    from rigidpose.render.window import Window

    window = Window(f"rigidpose {args.source}") if args.show else None
    overlay = None
    if args.out or args.show:
        overlay = Overlay(targets, camera, args.overlay, _content_pose(args.overlay_pose), args.overlay_scale)
    return overlay, window


def _cmd_target_from_mesh(args: argparse.Namespace) -> int:
    """Make a 3D target from a mesh alone: a textured mesh registers its features by rendering
    itself from all around; with --model, the target also carries a learned keypoint model
    (`rigidpose train`), which is all an untextured mesh needs."""
    from rigidpose.targets.from_mesh import target_from_mesh

    _check_target_out(args, args.mesh, args.model)
    mesh = rp.load_mesh(args.mesh, units=args.units)
    name = args.name or Path(args.mesh).stem
    model = rp.KeypointModel(args.model).data if args.model else None  # checked before rendering
    textured = getattr(mesh.visual, "kind", None) == "texture"
    if textured or model is None:
        target, report = target_from_mesh(
            mesh, name, features=args.features, views=args.views, progress=not args.quiet
        )
        found = f"{report.features_on_mesh} {args.features} features from {report.views} rendered views"
    else:
        target, found = rp.Target(name, mesh), "no texture: no features"
    if model is not None:
        target = target.with_keypoint_model(model)
        found += f", keypoint model {args.model} ({len(target.keypoints_obj)} keypoints)"
    target.save(args.out)
    print(f"wrote {args.out}: target {name!r}, {found}")
    return 0


def _two_ints(text: str, option: str, expected: str) -> tuple[int, int]:
    """``1280x720`` -> (1280, 720): two positive integers joined by an x, for ``option``."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise rp.InvalidInputError(f"{option}: expected {expected}, got {text!r}")
    return int(parts[0]), int(parts[1])


def _banner(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` darkened with ``text`` across its middle (a stalled camera's last frame)."""
    import cv2

    shown = (image * 0.45).astype(np.uint8)
    scale = image.shape[1] / 900
    (width, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    org = ((image.shape[1] - width) // 2, image.shape[0] // 2)
    cv2.putText(shown, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 200, 255), 2, cv2.LINE_AA)
    return shown


def _cmd_track(args: argparse.Namespace) -> int:
    """Track targets in a video, image, folder or webcam; write poses (JSONL) and an overlay video.

    With a webcam (``--source 0``) it runs until Ctrl-C, Esc or q in the window; a camera that
    stalls or is unplugged is reopened for a while, with the state shown in the window."""
    import time

    from tqdm import tqdm

    if not (args.poses or args.out or args.show):
        raise rp.InvalidInputError("nothing to do: give --poses P.jsonl, --out OVERLAY.mp4 and/or --show")
    width, height = (None, None) if args.size is None else _two_ints(args.size, "--size", _SIZE)
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
    times_ms = []
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
            stopped = "stopped by SIGTERM" if isinstance(exc, _Terminated) else "stopped by Ctrl-C"
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


def _cmd_handeye(args: argparse.Namespace) -> int:
    """Hand-eye calibration: the camera in the robot's base frame (a fixed camera watching a
    target the gripper holds) or on the gripper (--eye-in-hand), from the robot's gripper poses
    and the target's poses tracked at the same stops (``rigidpose track --stills``)."""
    check_output_file(
        args.out,
        "--out",
        suffixes=(".json",),
        ours=has_json_key("T_base_cam", "T_gripper_cam"),
        inputs=[args.robot, args.poses],
    )
    robot = rp.read_robot_poses(args.robot)
    lines = rp.read_poses(args.poses)
    if len(lines) != len(robot):
        raise rp.InvalidInputError(
            f"{args.poses} has {len(lines)} frames, {args.robot} {len(robot)} robot poses: expected one per stop"
        )
    names = sorted({o.name for line in lines for o in line.objects})
    name = args.name or (names[0] if len(names) == 1 else None)
    if name not in names:
        raise rp.InvalidInputError(
            f"--name: expected one of {', '.join(names) or '(no objects)'}, got {args.name!r}"
        )
    stops = []
    for line, T_base_gripper in zip(lines, robot):
        found = [o.T_cam_obj for o in line.objects if o.name == name and o.T_cam_obj is not None]
        if found:
            stops.append((line.frame, T_base_gripper, found[0]))
    if len(stops) < 3:
        raise rp.InvalidInputError(
            f"{name!r} has a pose at {len(stops)} stops: hand-eye calibration needs 3 or more"
        )
    result = rp.calibrate_hand_eye([s[1] for s in stops], [s[2] for s in stops], eye_in_hand=args.eye_in_hand)
    median_mm, median_deg = float(np.median(result.residual_mm)), float(np.median(result.residual_deg))
    for (frame, _, _), mm, deg in zip(stops, result.residual_mm, result.residual_deg):
        flag = (
            "  <- check this stop" if mm > 3 * max(median_mm, 0.1) or deg > 3 * max(median_deg, 0.01) else ""
        )
        print(f"stop {frame:4d}: {mm:6.2f} mm {deg:6.3f} deg{flag}")
    key = "T_gripper_cam" if args.eye_in_hand else "T_base_cam"
    other = "T_base_obj" if args.eye_in_hand else "T_gripper_obj"
    rp.save_transform(
        args.out,
        result.T_robot_cam,
        key,
        {
            other: result.T_other.as_matrix().tolist(),
            "stops": len(stops),
            "median_residual_mm": round(median_mm, 3),
            "median_residual_deg": round(median_deg, 4),
        },
    )
    print(
        f"wrote {args.out}: {key} from {len(stops)} of {len(lines)} stops; the target is off its predicted "
        f"pose by {median_mm:.2f} mm and {median_deg:.3f} deg (median)"
    )
    return 0


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


def _cmd_synth(args: argparse.Namespace) -> int:
    """Render a ground-truth sequence of a target along a smooth random camera trajectory."""
    import math

    from rigidpose.synth import SequenceOptions, TrajectoryOptions, render_sequence
    from rigidpose.synth.sheets import marker_sheet
    from rigidpose.targets import planar_target

    check_output_folder(
        args.out,
        "--out",
        ours=is_sequence_folder,
        kind="a sequence",
        force=args.force,
        inputs=[args.target, args.image],
    )
    markers: list = []
    if args.target:
        target = rp.Target.load(args.target)
    elif args.image:
        target = planar_target(rp.io.read_image(args.image), args.width_m, name=Path(args.image).stem)
    else:
        target, markers = marker_sheet(args.sample)
    if not 0 < args.tilt_deg <= 85:
        raise rp.InvalidInputError(f"--tilt-deg: expected a value in (0, 85], got {args.tilt_deg}")
    trajectory = TrajectoryOptions(
        max_tilt_rad=math.radians(args.tilt_deg),
        max_roll_rad=math.radians(args.roll_deg),
        exit=args.exit,
        still_frames=args.still,
        distance=(args.near, args.far),
    )
    options = SequenceOptions(
        frames=args.frames,
        width=args.width,
        height=args.height,
        fps=args.fps,
        seed=args.seed,
        fov_x_rad=math.radians(args.fov_deg),
        trajectory=trajectory,
        background=args.background,
        motion_blur=args.blur,
        lighting=args.lighting,
        noise=args.noise,
        distortion=args.distortion,
        occlusion=args.occlusion,
        depth=args.depth or args.depth_noise,
        depth_noise=args.depth_noise,
        masks=args.masks,
    )
    out = render_sequence(target, args.out, options, markers, progress=not args.quiet)
    print(
        f"wrote {out}: {args.frames} frames of {target.name!r} ({args.width}x{args.height}, seed {args.seed})"
    )
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    """Run trackers over ground-truth sequences; print a table, write bench.json and plots."""
    from rigidpose.eval.bench import (
        DEFAULT_SUITE,
        DEFAULT_TRACKERS,
        check_suite,
        check_trackers,
        default_suite,
        run_bench,
    )

    check_output_folder(
        args.out,
        "--out",
        ours=holds_only("*.json", "*.png"),
        kind="a benchmark report",
        replace=False,
        inputs=args.sequences,
    )
    if args.calibration:
        from rigidpose.eval.calib_bench import run_calibration_bench

        document = run_calibration_bench(args.out)
        print(document["table"])
        print(f"wrote {Path(args.out) / 'calibration.json'}")
        return 0
    if args.depth:
        from rigidpose.eval.depth_bench import run_depth_bench

        document = run_depth_bench(args.out, progress=not args.quiet)
        print(document["table"])
        print(f"wrote {Path(args.out) / 'depth.json'}")
        return 0
    if args.learned:
        from rigidpose.eval.learned_bench import DEFAULT_MODEL, run_learned_bench

        document = run_learned_bench(
            args.out, args.model or DEFAULT_MODEL, frames=args.frames, progress=not args.quiet
        )
        print(document["table"])
        print(f"wrote {Path(args.out) / 'learned.json'}")
        return 0
    if args.overlay:
        from rigidpose.eval.overlay_bench import run_overlay_bench

        document = run_overlay_bench(args.out, frames=args.frames or 100, progress=not args.quiet)
        print(document["table"])
        print(f"wrote {Path(args.out) / 'overlay.json'}")
        return 0
    trackers = args.tracker or list(DEFAULT_TRACKERS)
    check_trackers(trackers)  # before the default suite is rendered
    sequences = list(args.sequences)
    if args.check:
        print("check suite: the default suite's kinds with other seeds and photos (rendered on first use)")
        sequences = check_suite(frames=args.frames, progress=not args.quiet) + sequences
    if not (sequences or args.check) or args.suite:
        print(f"default suite: {', '.join(DEFAULT_SUITE)} (rendered on first use, then cached)")
        sequences = default_suite(frames=args.frames, progress=not args.quiet) + sequences
    document = run_bench(trackers, sequences, args.out, progress=not args.quiet)
    print(document["table"])
    print(f"wrote {Path(args.out) / 'bench.json'} and {len(document['plots'])} plots in {args.out}")
    return 0


def _board_from_args(args: argparse.Namespace) -> object:
    """The board of --chessboard/--square-m, of --board FILE [--square-m measured], or (``rigidpose
    board`` without either) the ChArUco board for --paper."""
    from rigidpose.calib import Board

    if args.chessboard:
        if args.square_m is None:
            raise rp.InvalidInputError("--chessboard needs --square-m (the side of one square, in metres)")
        return Board.chessboard(*_two_ints(args.chessboard, "--chessboard", _PATTERN), args.square_m)
    board = Board.load(args.board) if getattr(args, "board", None) else Board.charuco_for_paper(args.paper)
    return board.with_square_m(args.square_m) if args.square_m is not None else board


def _cmd_train(args: argparse.Namespace) -> int:
    """Train a keypoint network for a low-texture target from its mesh alone and export it to
    ONNX with a model card. A target folder also gets the model attached (rewritten atomically);
    for a mesh file, `rigidpose target from-mesh MESH --model OUT` makes a target that uses it."""
    try:
        from rigidpose.train import TRAIN_CONFIGS, export_onnx, train_keypoints, write_card
    except ImportError as exc:  # BackendMissingError is an ImportError too
        raise rp.BackendMissingError(str(exc)) from None

    source = Path(args.target)
    if source.is_dir():
        target = rp.Target.load(source)
    elif source.suffix.lower() in MESH_SUFFIXES:
        target = rp.Target.from_mesh_file(source, args.units, name=args.name)
    else:
        raise rp.SourceError(
            f"{source}: expected a target folder or a mesh file ({', '.join(MESH_SUFFIXES)})"
        )
    out = check_output_file(args.out, "--out", suffixes=(".onnx",), ours=_is_keypoint_model, inputs=[source])
    check_output_file(out.with_suffix(".md"), "--out's model card", ours=_is_model_card)
    config = dataclasses.replace(
        TRAIN_CONFIGS[args.config],
        **{
            k: v
            for k, v in (
                ("seed", args.seed),
                ("steps", args.steps),
                ("images", args.images),
                ("covered_peak", args.covered_peak),
                ("occluder_share", args.occluder_share),
                ("hand_share", args.hand_share),
                ("width", args.width),
                ("precision", args.precision),
                ("int8", args.int8),
            )
            if v is not None
        },
    )
    result = train_keypoints(target, config, progress=not args.quiet)
    export_onnx(result, target, out)
    command = (
        "rigidpose train " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["train"] else "rigidpose train ..."
    )
    card = write_card(result, target, out, command)
    scores = result.scores
    print(
        f"wrote {out} and {card}: {len(result.keypoints_obj)} keypoints, validation median error "
        f"{scores['keypoint_error_px_median']:.2f} px, {scores['keypoints_within_4px']:.1%} within 4 px"
    )
    if source.is_dir():
        target.with_keypoint_model(out.read_bytes()).save(source)
        print(f"attached the model to the target folder {source}")
    return 0


def _is_keypoint_model(path: Path) -> bool:
    try:
        rp.KeypointModel(path)
    except (rp.RigidPoseError, OSError, ValueError):
        return False
    return True


def _is_model_card(path: Path) -> bool:
    with contextlib.suppress(OSError, UnicodeDecodeError), open(path, encoding="utf-8") as stream:
        return ": learned keypoints of `" in stream.readline(1000)
    return False


def _cmd_board(args: argparse.Namespace) -> int:
    """Write a printable calibration board (PDF and PNG at exact size) and its parameters (JSON)."""
    from rigidpose.calib import write_board_sheet

    out = check_output_file(args.out, "--out", suffixes=(".pdf", ".png"))
    check_output_file(out.with_suffix(".png"), "--out's PNG")
    check_output_file(out.with_suffix(".json"), "--out's board JSON", ours=has_json_key("squares_x"))
    board = _board_from_args(args)
    written = write_board_sheet(board, args.out, args.paper)
    print(f"wrote {', '.join(str(p) for p in written)}: {board.describe()} on {args.paper}")
    print(
        "print at 100 % (no fit-to-page), then measure one square; if it differs, pass --square-m to calibrate"
    )
    return 0


def _frames(source: rp.FrameSource, every: int, quiet: bool, what: str, limit: int | None = None):
    """Every ``every``-th frame of ``source`` (at most ``limit`` of them), with a progress bar."""
    from tqdm import tqdm

    total = None if source.frame_count is None else -(-source.frame_count // every)
    progress = tqdm(total=limit or total, unit="frame", desc=what, disable=quiet)
    given = 0
    try:
        for frame in source:
            if frame.index % every == 0:
                yield frame
                progress.update()
                given += 1
                if given == limit:
                    return
    finally:
        progress.close()


def _cmd_calibrate(args: argparse.Namespace) -> int:
    """Calibrate a camera from views of a board, or estimate its focal length from a known target."""
    inputs = [args.source, args.board, *(args.target or [])]
    suffixes = (".yaml", ".yml", ".xml", ".json")
    out = check_output_file(args.out, "--out", suffixes=suffixes, ours=is_camera_file, inputs=inputs)
    check_output_file(out.with_suffix(".coverage.png"), "--out's coverage picture", inputs=inputs)
    if args.every < 1:
        raise rp.InvalidInputError(f"--every: expected a positive frame step, got {args.every}")
    if args.target:
        return _calibrate_from_target(args, out)
    if not (args.board or args.chessboard):
        raise rp.InvalidInputError(
            "give --board BOARD.json, --chessboard COLSxROWS --square-m M, or --target DIR"
        )
    return _calibrate_from_board(args, out)


def _calibrate_from_board(args: argparse.Namespace, out: Path) -> int:
    from rigidpose.calib import CalibrationOptions, ViewCollector, coverage_image
    from rigidpose.io import write_image

    board = _board_from_args(args)
    first_view_image = None
    with rp.FrameSource(args.source) as source:
        # every photo in a folder was taken on purpose; frames of a video repeat themselves
        options = CalibrationOptions(
            distortion=args.distortion,
            fix_aspect_ratio=args.fix_aspect_ratio,
            min_difference=0.0 if source.kind in ("folder", "image") else CalibrationOptions.min_difference,
        )
        collector = ViewCollector(board, options)
        if source.kind == "webcam":
            print(
                f"show the board at many positions and tilts; Ctrl-C when done (stops at {options.max_views} views)"
            )
        frames = _frames(source, args.every, args.quiet, "looking for the board")
        try:
            for frame in frames:
                name = None if frame.path is None else str(frame.path)
                if collector.add(frame.index, frame.image, name) == "kept" and first_view_image is None:
                    first_view_image = frame.image
                if source.kind == "webcam" and len(collector.views) >= options.max_views:
                    break  # a live camera stops once it has enough views
        except KeyboardInterrupt:
            if source.kind != "webcam":
                raise
        finally:
            frames.close()
    counts = ", ".join(f"{n} {what}" for what, n in collector.counts.items() if n)
    print(f"frames: {counts or 'none'}")
    calibration = collector.calibrate()
    camera = calibration.camera
    coverage = out.with_suffix(".coverage.png")
    write_image(coverage, coverage_image(calibration, first_view_image))
    camera.save(
        out,
        metadata={
            "board": board.describe(),
            "nframes": len(calibration.views),
            "avg_reprojection_error": round(calibration.rms_px, 4),
            "std_fx": round(calibration.std_fx_px, 3),
            "std_fy": round(calibration.std_fy_px, 3),
        },
    )
    print("view  frame  corners  error px")
    for number, (index, view, error) in enumerate(
        zip(calibration.frame_indices, calibration.views, calibration.per_view_rms_px)
    ):
        print(f"{number:4d}  {index:5d}  {len(view):7d}  {error:8.3f}")
    if calibration.rejected:
        print(f"dropped as outliers: frames {', '.join(map(str, calibration.rejected))}")
    print(
        f"RMS {calibration.rms_px:.3f} px over {len(calibration.views)} views; fx {camera.fx:.2f} +- "
        f"{calibration.std_fx_px:.2f}, fy {camera.fy:.2f} +- {calibration.std_fy_px:.2f}, cx {camera.cx:.2f}, "
        f"cy {camera.cy:.2f}, distortion {np.round(camera.dist_coeffs, 4).tolist()}"
    )
    print(f"wrote {out} and {coverage}")
    return 0


def _calibrate_from_target(args: argparse.Namespace, out: Path) -> int:
    from rigidpose.calib.focal import FocalOptions, collect_matches, estimate_focal

    targets = [rp.Target.load(path) for path in args.target]
    with rp.FrameSource(args.source) as source:
        every = args.every
        if every == 1 and source.frame_count is not None and source.frame_count > 150:
            every = -(-source.frame_count // 150)  # about 150 frames are plenty
        limit = None
        if source.kind == "webcam":
            limit = 120
            print(f"move the target around, tilted, until {limit} frames are read")
        frames = _frames(source, every, args.quiet, "matching the target", limit)
        try:
            matches, size = collect_matches(targets, frames)
        finally:
            frames.close()
    if size is None:
        raise rp.SourceError(f"{args.source}: no readable frame")
    estimate = estimate_focal(matches, size, FocalOptions(estimate_k1=args.k1))
    estimate.camera.save(
        out,
        metadata={
            "method": "focal length from a known target",
            "targets": ", ".join(t.name for t in targets),
            "nframes": estimate.views,
            "avg_reprojection_error": round(estimate.rms_px, 4),
            "std_fx": round(estimate.std_focal_px, 3),
        },
    )
    fov = np.degrees(2 * np.arctan(size[0] / 2 / estimate.focal_px))
    print(
        f"focal length {estimate.focal_px:.1f} +- {estimate.std_focal_px:.1f} px (horizontal field of view "
        f"{fov:.1f} deg)"
        + (f", k1 {estimate.camera.dist_coeffs[0]:.4f}" if args.k1 else "")
        + f"; {estimate.views} frames, {estimate.inliers} matches, RMS {estimate.rms_px:.2f} px"
    )
    print(f"wrote {out} (principal point at the image centre, square pixels)")
    return 0


def _add_target_output_arguments(command: argparse.ArgumentParser, made_from: str) -> None:
    command.add_argument("--out", required=True, help="target folder to write (a new or empty folder)")
    command.add_argument("--force", action="store_true", help="replace a target folder already at --out")
    command.add_argument("--name", help=f"target name (default: the {made_from}'s file name)")
    command.add_argument(
        "--features", default="sift", choices=("sift", "orb", "akaze"), help="local feature kind"
    )


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


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help, with each option's default where it has one worth saying."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" not in text
            and default not in (None, False, argparse.SUPPRESS)
            and action.option_strings
            and action.nargs != 0
        ):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """An argument parser whose help (and its subcommands' help) shows the defaults."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rigidpose",
        description="Track the 6-DoF pose of known rigid objects in video and draw on them.",
    )
    parser.add_argument("--version", action="version", version=f"rigidpose {rp.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    info = commands.add_parser(
        "info",
        help="describe a camera file, target folder, mesh, pose file or video",
        description=_cmd_info.__doc__,
    )
    info.add_argument("path", help="file, folder, or webcam index")
    info.add_argument("--units", default="m", choices=tuple(rp.MESH_UNITS), help="length unit of a mesh file")
    info.set_defaults(run=_cmd_info)

    target = commands.add_parser("target", help="make targets", description="Make targets.")
    target_commands = target.add_subparsers(dest="target_command", metavar="KIND", required=True)
    from_image = target_commands.add_parser(
        "from-image", help="a planar target from an image", description=_cmd_target_from_image.__doc__
    )
    from_image.add_argument("image", help="scan or photo of the printed sheet, cropped to its edges")
    from_image.add_argument("--width-m", type=float, required=True, help="printed width in metres")
    _add_target_output_arguments(from_image, "image")
    from_image.set_defaults(run=_cmd_target_from_image)
    register = target_commands.add_parser(
        "register",
        help="a textured 3D target from a mesh and photos",
        description=_cmd_target_register.__doc__,
    )
    register.add_argument("--mesh", required=True, help="the object's mesh (ply, obj, stl, glb, ...)")
    register.add_argument(
        "--units", required=True, choices=tuple(rp.MESH_UNITS), help="length unit of the mesh"
    )
    register.add_argument(
        "--image", action="append", required=True, help="a photo of the object (repeatable)"
    )
    register.add_argument(
        "--camera", action="append", required=True, help="camera file of the photos (one, or one per --image)"
    )
    register.add_argument(
        "--correspondences",
        action="append",
        required=True,
        help='JSON {"units", "points_3d", "points_2d"}: mesh points and their pixels (one per --image)',
    )
    _add_target_output_arguments(register, "mesh")
    register.set_defaults(run=_cmd_target_register)

    from_mesh = target_commands.add_parser(
        "from-mesh",
        help="a 3D target from a mesh alone (textured, or with a keypoint model)",
        description=_cmd_target_from_mesh.__doc__,
    )
    from_mesh.add_argument("mesh", help="textured mesh: glTF/GLB, or OBJ with its material and texture")
    from_mesh.add_argument(
        "--units", default="m", choices=tuple(rp.MESH_UNITS), help="length unit of the mesh"
    )
    _add_target_output_arguments(from_mesh, "mesh")
    from_mesh.add_argument("--views", type=int, default=20, help="renders around the object")
    from_mesh.add_argument("--model", help="a keypoint model for this object (.onnx, from rigidpose train)")
    from_mesh.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    from_mesh.set_defaults(run=_cmd_target_from_mesh)

    train = commands.add_parser(
        "train", help="train learned keypoints for a low-texture target", description=_cmd_train.__doc__
    )
    train.add_argument("--target", required=True, help="target folder, or a mesh file (with --units)")
    train.add_argument(
        "--units", default="m", choices=tuple(rp.MESH_UNITS), help="length unit of a mesh file"
    )
    train.add_argument("--name", help="the target's name when --target is a mesh file (default: its stem)")
    train.add_argument(
        "--out", required=True, help="the model to write, e.g. models/NAME.onnx (card: NAME.md)"
    )
    train.add_argument(
        "--config",
        default="full",
        choices=("full", "tiny"),
        help="full: the shipped recipe; tiny: seconds, a smoke test",
    )
    train.add_argument("--seed", type=int, help="override the recipe's seed")
    train.add_argument("--steps", type=int, help="override the recipe's optimiser steps")
    train.add_argument("--images", type=int, help="override the recipe's training images")
    train.add_argument(
        "--covered-peak",
        type=float,
        help="override the heatmap height of keypoints with something in front of them (0-1]",
    )
    train.add_argument(
        "--occluder-share",
        type=float,
        help="override the share of images with something painted over the object",
    )
    train.add_argument(
        "--hand-share", type=float, help="override the share of those occluders that are hands"
    )
    train.add_argument("--width", type=int, help="override the network's channel multiplier")
    train.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp32"),
        help="training arithmetic (auto: bf16 where the CPU has it natively)",
    )
    train.add_argument(
        "--int8",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="export quantized to int8 (the full recipe does; --no-int8 for float weights)",
    )
    train.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    train.set_defaults(run=_cmd_train)

    board = commands.add_parser("board", help="print a calibration board", description=_cmd_board.__doc__)
    board.add_argument("--paper", default="A4", choices=("A4", "letter", "A3"), help="paper size")
    board.add_argument(
        "--chessboard", metavar="COLSxROWS", help="a plain chessboard of this many inner corners"
    )
    board.add_argument(
        "--square-m", type=float, help="square side in metres (default: the largest that fits)"
    )
    board.add_argument("--out", required=True, help="board.pdf or board.png (the JSON and PNG go beside it)")
    board.set_defaults(run=_cmd_board)

    calibrate = commands.add_parser(
        "calibrate",
        help="calibrate a camera (board, or focal length from a target)",
        description=_cmd_calibrate.__doc__,
    )
    calibrate.add_argument("--source", required=True, help="video, folder of images, or webcam index")
    which = calibrate.add_mutually_exclusive_group()
    which.add_argument("--board", help="board JSON written by `rigidpose board`")
    which.add_argument(
        "--chessboard", metavar="COLSxROWS", help="a plain chessboard's inner corners, e.g. 9x6"
    )
    which.add_argument(
        "--target", action="append", help="estimate the focal length from this target (repeatable)"
    )
    calibrate.add_argument("--square-m", type=float, help="the printed square side, measured, in metres")
    calibrate.add_argument(
        "--out", required=True, help="camera file to write (.yaml OpenCV format, or .json)"
    )
    calibrate.add_argument(
        "--distortion",
        default="k1k2p1p2",
        choices=("none", "k1", "k1k2", "k1k2p1p2", "k1k2p1p2k3"),
        help="lens model of a board calibration",
    )
    calibrate.add_argument("--fix-aspect-ratio", action="store_true", help="fit fx = fy (board)")
    calibrate.add_argument("--k1", action="store_true", help="also estimate k1 (with --target)")
    calibrate.add_argument("--every", type=int, default=1, help="use every N-th frame")
    calibrate.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    calibrate.set_defaults(run=_cmd_calibrate)

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

    handeye = commands.add_parser(
        "handeye", help="hand-eye calibration for a robot", description=_cmd_handeye.__doc__
    )
    handeye.add_argument(
        "--robot", required=True, help='robot log: {"units": "mm", "T_base_gripper": [4x4 per stop]}'
    )
    handeye.add_argument("--poses", required=True, help="pose JSONL from rigidpose track, one line per stop")
    handeye.add_argument("--name", help="the target's name (default: the only one)")
    handeye.add_argument("--eye-in-hand", action="store_true", help="the camera rides on the gripper")
    handeye.add_argument("--out", required=True, help="JSON to write (T_base_cam, or T_gripper_cam)")
    handeye.set_defaults(run=_cmd_handeye)

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

    synth = commands.add_parser(
        "synth", help="render a ground-truth sequence", description=_cmd_synth.__doc__
    )
    what = synth.add_mutually_exclusive_group()
    what.add_argument("--target", help="a target folder to render")
    what.add_argument("--image", help="an image to render as a printed sheet (with --width-m)")
    what.add_argument("--sample", default="astronaut", help="scikit-image photo for the default marker sheet")
    synth.add_argument("--width-m", type=float, default=0.297, help="printed width of --image in metres")
    synth.add_argument("--out", required=True, help="sequence folder to write (a new or empty folder)")
    synth.add_argument("--force", action="store_true", help="replace a sequence folder already at --out")
    synth.add_argument("--frames", type=int, default=150, help="frames to render")
    synth.add_argument("--width", type=int, default=640, help="image width in pixels")
    synth.add_argument("--height", type=int, default=480, help="image height in pixels")
    synth.add_argument("--fps", type=float, default=30.0, help="frames per second")
    synth.add_argument("--fov-deg", type=float, default=60.0, help="horizontal field of view")
    synth.add_argument("--seed", type=int, default=0, help="seeds the trajectory and every effect")
    synth.add_argument(
        "--tilt-deg", type=float, default=40.0, help="largest tilt from the front view (<= 85)"
    )
    synth.add_argument("--roll-deg", type=float, default=30.0, help="largest in-plane rotation")
    synth.add_argument("--near", type=float, default=0.9, help="nearest distance, in object diameters")
    synth.add_argument("--far", type=float, default=2.2, help="farthest distance, in object diameters")
    synth.add_argument(
        "--background",
        default="plain",
        choices=BACKGROUNDS,
        help="photo: one of the named photos, picked by --seed",
    )
    for flag, text in (
        ("--blur", "motion blur"),
        ("--lighting", "lighting changes"),
        ("--noise", "sensor noise"),
        ("--distortion", "lens distortion"),
        ("--occlusion", "a hand-like occluder"),
        ("--exit", "the object leaves the frame and comes back"),
        ("--depth", "write BOP depth PNGs (the object on a table), exact"),
        ("--depth-noise", "write depth as a Kinect-like sensor measures it (noise, holes)"),
        ("--masks", "write BOP mask PNGs"),
    ):
        synth.add_argument(flag, action="store_true", help=text)
    synth.add_argument(
        "--still", type=int, default=0, metavar="N", help="frames of still camera in the middle"
    )
    synth.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(run=_cmd_synth)

    bench = commands.add_parser(
        "bench", help="benchmark trackers against ground truth", description=_cmd_bench.__doc__
    )
    bench.add_argument("sequences", nargs="*", help="sequence folders (default: the default suite)")
    bench.add_argument(
        "--tracker", action="append", help="tracker to run (repeatable; default: rigidpose and the baselines)"
    )
    bench.add_argument(
        "--suite", action="store_true", help="run the default suite as well as the given folders"
    )
    bench.add_argument(
        "--check",
        action="store_true",
        help="run the check suite: the default suite's six kinds, each with two other seeds and one "
        "with another photo, 12 sequences beside the suite (with --suite: both)",
    )
    bench.add_argument(
        "--frames", type=int, help="shorten the default (and check) suite's sequences to this many frames"
    )
    bench.add_argument(
        "--overlay",
        action="store_true",
        help="time the overlays (painter and OpenGL) instead of the trackers",
    )
    bench.add_argument(
        "--calibration",
        action="store_true",
        help="measure calibration and focal-length estimation against ground truth instead",
    )
    bench.add_argument(
        "--depth",
        action="store_true",
        help="measure depth refinement (RGB-D sequences, ICP cost) and hand-eye calibration instead",
    )
    bench.add_argument(
        "--learned",
        action="store_true",
        help="measure a learned keypoint model on held-out sequences of its object instead",
    )
    bench.add_argument("--model", help="with --learned: the .onnx model (default: models/drill.onnx)")
    bench.add_argument("--out", default="out/bench", help="folder for bench.json and the plots")
    bench.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    bench.set_defaults(run=_cmd_bench)
    return parser


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that it ends as on Ctrl-C: files finished or
    removed, never half-written."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def _one_line(exc: BaseException) -> str:
    """An unexpected OS or memory error as one line: the file, then what went wrong."""
    if isinstance(exc, MemoryError):
        return "out of memory (a smaller input, or fewer at once?)"
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        return f"{os.fsdecode(where)}: {exc.strerror}" if where else exc.strerror
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _silence_stdout() -> None:
    """After the reader of standard output went away: send the rest to /dev/null, so that
    Python's final flush does not fail again."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    try:
        return _run(parser, args)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="rigidpose: %(levelname)s: %(message)s",
    )
    import cv2

    # OpenCV's own log lines would repeat our one-line errors; keep them for --verbose
    cv2.utils.logging.setLogLevel(
        cv2.utils.logging.LOG_LEVEL_INFO if args.verbose else cv2.utils.logging.LOG_LEVEL_ERROR
    )
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    try:
        code = int(args.run(args) or 0)
        sys.stdout.flush()
        return code
    except rp.RigidPoseError as exc:
        print(f"rigidpose: error: {exc}", file=sys.stderr)
        return 1
    except _Terminated:
        print("rigidpose: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("rigidpose: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()  # `rigidpose ... | head`: the reader has what it wanted
        return 0
    except (OSError, MemoryError) as exc:  # a full disk, a vanished folder...: one line, no traceback
        if args.verbose:
            logging.getLogger(__name__).exception("details")
        print(f"rigidpose: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug of ours: still one line, the details with -v
        if args.verbose:
            logging.getLogger(__name__).exception("details")
        print(
            f"rigidpose: error: unexpected {type(exc).__name__}: {_one_line(exc)} "
            "(a bug: run again with -v for the details, and please report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())

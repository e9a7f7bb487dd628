"""``rigidpose board`` and ``rigidpose calibrate``: print a calibration board, calibrate a camera
from views of it, or estimate the focal length from a known target."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import rigidpose as rp
from rigidpose.outputs import check_output_file, has_json_key, is_camera_file

from .common import two_ints

if TYPE_CHECKING:
    from rigidpose.calib import Board

_PATTERN = "inner corners as COLSxROWS, e.g. 9x6"


def add_board_parser(commands: argparse._SubParsersAction) -> None:
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


def _board_from_args(args: argparse.Namespace) -> Board:
    """The board of --chessboard/--square-m, of --board FILE [--square-m measured], or (``rigidpose
    board`` without either) the ChArUco board for --paper."""
    from rigidpose.calib import Board

    if args.chessboard:
        if args.square_m is None:
            raise rp.InvalidInputError("--chessboard needs --square-m (the side of one square, in metres)")
        return Board.chessboard(*two_ints(args.chessboard, "--chessboard", _PATTERN), args.square_m)
    board = Board.load(args.board) if getattr(args, "board", None) else Board.charuco_for_paper(args.paper)
    return board.with_square_m(args.square_m) if args.square_m is not None else board


def add_calibrate_parser(commands: argparse._SubParsersAction) -> None:
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

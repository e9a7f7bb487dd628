"""``rigidpose synth`` and ``rigidpose bench``: render ground-truth sequences and measure trackers
(and calibration, depth, learned keypoints, overlays) against them."""

from __future__ import annotations

import argparse
from pathlib import Path

import rigidpose as rp
from rigidpose.outputs import check_output_folder, holds_only, is_sequence_folder
from rigidpose.synth.effects import BACKGROUNDS


def add_synth_parser(commands: argparse._SubParsersAction) -> None:
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


def add_bench_parser(commands: argparse._SubParsersAction) -> None:
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

"""``rigidpose train``: learned keypoints for a low-texture target, exported to ONNX with a card."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from pathlib import Path

import rigidpose as rp
from rigidpose.outputs import check_output_file

from .common import MESH_SUFFIXES


def add_parser(commands: argparse._SubParsersAction) -> None:
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

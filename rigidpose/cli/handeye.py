"""``rigidpose handeye``: hand-eye calibration from a robot's log and the tracked poses at its stops."""

from __future__ import annotations

import argparse

import numpy as np

import rigidpose as rp
from rigidpose.outputs import check_output_file, has_json_key


def add_parser(commands: argparse._SubParsersAction) -> None:
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

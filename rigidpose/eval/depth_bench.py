"""``rigidpose bench --depth``: what depth refinement and hand-eye calibration are worth.

- **RGB-D sequences** (rendered once and cached): a textured crate subdivided to 12k triangles
  standing on a table, plain and with a hand sweeping over it, and a printed sheet lying on the
  table; Kinect-like depth (``synth.depth``), photo backgrounds, sensor noise. The tracker runs
  on each twice in one process, colour only and with depth refinement every frame, first with
  the exact intrinsics, then with a focal length 1 % too long, as a good calibration leaves it
  (colour poses then err by 1 % of the distance along the view; depth does not). The row gives
  median and 90th-percentile translation and rotation errors against the exact poses,
  how often a refinement was kept, frames where the refined pose is worse than the colour one
  by more than 1 mm, and the median time per frame of both.
- **Refinement cost**: ``DepthAligner.refine`` alone on the crate's frames (12k triangles,
  640x480), from the exact pose moved by a typical colour error, for open3d's legacy and tensor
  ICP pipelines.
- **Hand-eye**: 50 random cells of 15 noisy stops each (``synth.handeye``), both setups: the
  median and 90th-percentile error of the recovered transform and the share within 1 mm and
  0.1 degree.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_write_text
from ..align import AlignOptions, DepthAligner
from ..camera import Camera
from ..detect.features import FeatureOptions
from ..geometry import Pose, pose_distance
from ..io import RGBDSource
from ..target import Target
from .bench import cache_dir, load_ground_truth, trackable

__all__ = ["run_depth_bench"]

DEPTH_SUITE_VERSION = 1


def _crate_mesh(seed: int) -> Any:
    from ..synth.effects import background
    from ..synth.objects import textured_box

    rng = np.random.default_rng(seed)
    faces = [(background("procedural", 256, 256, rng) * 255).astype(np.uint8) for _ in range(6)]
    mesh = textured_box((0.30, 0.20, 0.15), faces)
    while len(mesh.faces) < 10_000:  # the same box, with a realistic triangle count for the cost
        mesh = mesh.subdivide()
    return mesh


def _sequences(progress: bool) -> list[Path]:
    """Render (once) and return the RGB-D sequence folders."""
    from ..synth import SequenceOptions, TrajectoryOptions, render_sequence
    from ..synth.sheets import marker_sheet
    from ..targets.from_mesh import target_from_mesh

    root = cache_dir() / f"depth-suite-v{DEPTH_SUITE_VERSION}"
    base = SequenceOptions(
        frames=120,
        seed=31,
        background="photo",
        noise=True,
        depth=True,
        depth_noise=True,
        trajectory=TrajectoryOptions(distance=(2.2, 4.0), max_tilt_rad=math.radians(55)),
    )
    specs = [
        ("crate-rgbd", "crate", base),
        ("crate-rgbd-hand", "crate", replace(base, seed=32, occlusion=True, motion_blur=True)),
        ("sheet-rgbd", "sheet", replace(base, seed=33, trajectory=TrajectoryOptions(distance=(2.0, 3.5)))),
    ]
    paths = []
    for name, what, options in specs:
        path = root / name
        if not (path / "sequence.json").is_file():
            if what == "crate":
                target, _ = target_from_mesh(_crate_mesh(5), "crate", progress=progress)
                markers = None
            else:
                target, markers = marker_sheet("coffee")
            render_sequence(target, path, options, markers, progress=progress)
        paths.append(path)
    return paths


FOCAL_ERROR = 0.01
"""The second pass's calibration error: fx and fy this much too large."""


def _tracker(gt: Any, target: Target, depth: bool, focal_error: float) -> Any:
    from ..track import Tracker, TrackerOptions

    K = gt.camera.K.copy()
    K[0, 0] *= 1.0 + focal_error
    K[1, 1] *= 1.0 + focal_error
    camera = Camera(K, gt.camera.width, gt.camera.height, gt.camera.dist_coeffs)
    return Tracker([target], camera, TrackerOptions(depth=AlignOptions() if depth else None))


def _errors(estimates: list[Pose | None], truth: list[Pose]) -> tuple[np.ndarray, np.ndarray]:
    """Translation (mm) and rotation (deg) errors per frame, NaN without an estimate."""
    t = np.full(len(truth), np.nan)
    r = np.full(len(truth), np.nan)
    for i, (T_est, T_gt) in enumerate(zip(estimates, truth)):
        if T_est is not None:
            d = pose_distance(T_est, T_gt)
            t[i], r[i] = 1000.0 * d.translation_m, math.degrees(d.rotation_rad)
    return t, r


def _run(gt: Any, target: Target, depth: bool, focal_error: float, progress: bool) -> dict[str, Any]:
    from tqdm import tqdm

    tracker = _tracker(gt, target, depth, focal_error)
    estimates: list[Pose | None] = []
    refined, times_ms = 0, []
    with RGBDSource(gt.video, gt.path / "depth") as source:
        for frame in tqdm(
            source, desc=f"{'rgb+depth' if depth else 'rgb'} on {gt.name}", disable=not progress
        ):
            start = time.perf_counter()
            (result,) = tracker.update(frame)  # the colour-only tracker has options.depth None
            times_ms.append((time.perf_counter() - start) * 1000.0)
            estimates.append(result.T_cam_obj)
            refined += result.depth_refined
    t, r = _errors(estimates, gt.T_cam_obj)
    return {"t_mm": t, "r_deg": r, "refined": refined, "ms": float(np.median(times_ms))}


def _sequence_row(path: Path, focal_error: float, progress: bool) -> dict[str, Any]:
    gt = load_ground_truth(path)
    target = trackable(gt.target, FeatureOptions().kind)
    rgb = _run(gt, target, False, focal_error, progress)
    rgbd = _run(gt, target, True, focal_error, progress)
    both = np.isfinite(rgb["t_mm"]) & np.isfinite(rgbd["t_mm"])

    def stats(values: np.ndarray) -> tuple[float, float]:
        values = values[np.isfinite(values)]
        return (
            (float(np.median(values)), float(np.percentile(values, 90))) if len(values) else (math.nan,) * 2
        )

    row: dict[str, Any] = {
        "sequence": gt.name,
        "focal_error_pct": 100 * focal_error,
        "frames": len(gt.T_cam_obj),
    }
    for key, run in (("rgb", rgb), ("rgbd", rgbd)):
        row[f"{key}_posed"] = int(np.isfinite(run["t_mm"]).sum())
        row[f"{key}_t_mm"], row[f"{key}_t90_mm"] = stats(run["t_mm"])
        row[f"{key}_r_deg"], row[f"{key}_r90_deg"] = stats(run["r_deg"])
        row[f"{key}_ms"] = run["ms"]
    row["refined"] = rgbd["refined"]
    row["worse_by_1mm"] = int((rgbd["t_mm"][both] > rgb["t_mm"][both] + 1.0).sum())
    row["t_ratio"] = row["rgb_t_mm"] / row["rgbd_t_mm"] if row["rgbd_t_mm"] > 0 else math.nan
    return row


def _cost_rows(path: Path, frames: int = 60) -> list[dict[str, Any]]:
    """``refine`` alone, legacy against tensor ICP, from the exact pose moved by a colour-like error."""
    gt = load_ground_truth(path)
    rng = np.random.default_rng(0)
    rows = []
    for backend in ("legacy", "tensor"):
        aligner = DepthAligner(gt.target, gt.camera, AlignOptions(backend=backend))
        times_ms: list[float] = []
        errors_mm, kept = [], 0
        with RGBDSource(gt.video, gt.path / "depth") as source:
            for frame, T_gt, visible in zip(source, gt.T_cam_obj, gt.visib_fract):
                if len(times_ms) >= frames:
                    break
                if visible < 0.5:
                    continue
                wobble = Pose.from_rvec_tvec(rng.normal(0, math.radians(1.0), 3), np.zeros(3)).rotation
                shift = rng.normal(0, 1, 3) * [0.002, 0.002, 0.015]  # colour poses err along the view
                T_in = Pose(T_gt.rotation @ wobble, T_gt.translation + shift)
                start = time.perf_counter()
                alignment = aligner.refine(T_in, frame.depth_m)
                times_ms.append((time.perf_counter() - start) * 1000.0)
                kept += alignment.accepted
                errors_mm.append(1000.0 * pose_distance(alignment.T_cam_obj, T_gt).translation_m)
        rows.append(
            {
                "backend": backend,
                "triangles": len(gt.target.mesh.faces),
                "frames": len(times_ms),
                "ms_median": float(np.median(times_ms)),
                "ms_p90": float(np.percentile(times_ms, 90)),
                "kept": kept,
                "t_mm_after": float(np.median(errors_mm)),
            }
        )
    return rows


def _hand_eye_rows(trials: int = 50, stops: int = 15) -> list[dict[str, Any]]:
    from ..robot import calibrate_hand_eye
    from ..synth.handeye import hand_eye_stops

    rows = []
    for eye_in_hand in (False, True):
        mm, deg = [], []
        for seed in range(trials):
            cell = hand_eye_stops(stops, np.random.default_rng(seed), eye_in_hand=eye_in_hand)
            result = calibrate_hand_eye(cell.T_base_gripper, cell.T_cam_obj, eye_in_hand=eye_in_hand)
            d = pose_distance(result.T_robot_cam, cell.T_truth)
            mm.append(1000.0 * d.translation_m)
            deg.append(math.degrees(d.rotation_rad))
        mm_a, deg_a = np.array(mm), np.array(deg)
        rows.append(
            {
                "setup": "eye-in-hand" if eye_in_hand else "eye-to-hand",
                "trials": trials,
                "stops": stops,
                "mm_median": float(np.median(mm_a)),
                "mm_p90": float(np.percentile(mm_a, 90)),
                "deg_median": float(np.median(deg_a)),
                "deg_p90": float(np.percentile(deg_a, 90)),
                "within_1mm_01deg": float(np.mean((mm_a < 1.0) & (deg_a < 0.1))),
            }
        )
    return rows


def _tables(document: dict[str, Any]) -> str:
    lines = [
        "| sequence | focal err | posed rgb / rgbd | t mm rgb | t mm rgbd | ratio | t90 mm rgb / rgbd | rot deg rgb / rgbd "
        "| kept | worse >1 mm | ms rgb / rgbd |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in document["sequences"]:
        lines.append(
            f"| {r['sequence']} | {r['focal_error_pct']:+.0f} % | {r['rgb_posed']} / {r['rgbd_posed']} of {r['frames']} | {r['rgb_t_mm']:.1f} | "
            f"{r['rgbd_t_mm']:.1f} | {r['t_ratio']:.1f}x | {r['rgb_t90_mm']:.1f} / {r['rgbd_t90_mm']:.1f} | "
            f"{r['rgb_r_deg']:.2f} / {r['rgbd_r_deg']:.2f} | {r['refined']} | {r['worse_by_1mm']} | "
            f"{r['rgb_ms']:.1f} / {r['rgbd_ms']:.1f} |"
        )
    lines += [
        "",
        "| ICP backend | triangles | refinements | ms median | ms p90 | kept | t mm after |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in document["cost"]:
        lines.append(
            f"| {r['backend']} | {r['triangles']} | {r['frames']} | {r['ms_median']:.1f} | {r['ms_p90']:.1f} | "
            f"{r['kept']} | {r['t_mm_after']:.1f} |"
        )
    lines += [
        "",
        "| hand-eye | trials x stops | mm median / p90 | deg median / p90 | within 1 mm, 0.1 deg |",
        "|---|---|---|---|---|",
    ]
    for r in document["hand_eye"]:
        lines.append(
            f"| {r['setup']} | {r['trials']} x {r['stops']} | {r['mm_median']:.2f} / {r['mm_p90']:.2f} | "
            f"{r['deg_median']:.3f} / {r['deg_p90']:.3f} | {100 * r['within_1mm_01deg']:.0f} % |"
        )
    return "\n".join(lines)


def run_depth_bench(out: str | os.PathLike[str], progress: bool = True) -> dict[str, Any]:
    """Run the depth and hand-eye cases; write ``depth.json`` in ``out`` and return it (with a
    markdown ``table``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = _sequences(progress)
    document: dict[str, Any] = {
        "sequences": [_sequence_row(path, error, progress) for error in (0.0, FOCAL_ERROR) for path in paths],
        "cost": _cost_rows(paths[0]),
        "hand_eye": _hand_eye_rows(),
    }
    document["table"] = _tables(document)
    atomic_write_text(out / "depth.json", json.dumps(document, indent=2) + "\n")
    return document

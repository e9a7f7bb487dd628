"""``rigidpose bench``: trackers run over ground-truth sequences, side by side, with one table.

For each (sequence, tracker) pair the runner feeds the sequence's video to the tracker frame by
frame, times each ``update``, compares the poses with the ground truth and reports:

- tracked %: frames with a pose among those where the object is at least 30 % visible;
- p@5px: share of those frames whose alignment error is at most 5 px (no pose = miss); the
  alignment error is the corner error for a planar target, the mean projection error of the mesh
  vertices otherwise;
- median rotation (deg) and translation (mm) error over frames with a pose;
- jitter: RMS of the estimate's frame-to-frame motion minus the truth's (mm, deg);
- gross: poses with rotation error above 30 degrees; false: poses while the object is not
  visible at all;
- ms per frame: median and 95th percentile of ``update``.

The default suite is rendered on first use and cached (``$RIGIDPOSE_CACHE`` or
``~/.cache/rigidpose``); any sequence folders written by ``rigidpose synth`` can be added.
``default_suite_specs`` and ``check_suite_specs`` list what ``default_suite`` and ``check_suite``
render, without rendering.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_write_text
from ..camera import Camera
from ..errors import FileFormatError, InvalidInputError, SourceError
from ..geometry import Pose
from ..io import FrameSource
from ..target import Target
from . import metrics
from .baselines import ArucoBaseline, OrbBaseline

__all__ = [
    "DEFAULT_SUITE",
    "DEFAULT_TRACKERS",
    "TRACKERS",
    "GroundTruth",
    "check_suite",
    "check_suite_specs",
    "check_trackers",
    "default_suite",
    "default_suite_specs",
    "evaluate",
    "load_ground_truth",
    "run_bench",
]

VISIBLE_FRACTION = 0.3
"""An object at least this visible should be tracked; one at 0 must have no pose."""
SUITE_VERSION = 2


@dataclass(frozen=True)
class GroundTruth:
    """A sequence folder read back: what a tracker gets and what it is judged against."""

    path: Path
    camera: Camera
    target: Target
    markers: list[dict[str, Any]]
    T_cam_obj: list[Pose]
    visib_fract: np.ndarray  # (frames,) float64 in [0, 1]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def video(self) -> Path:
        return self.path / "video.mp4"


def load_ground_truth(path: str | os.PathLike[str]) -> GroundTruth:
    """Read a sequence folder written by ``rigidpose.synth.render_sequence`` (BOP ground truth)."""
    path = Path(path)
    meta_path = path / "sequence.json"
    if not meta_path.is_file():
        raise SourceError(
            f"{path}: not a sequence folder (no sequence.json); make one with `rigidpose synth`"
        )
    try:
        meta = json.loads(meta_path.read_text())
        scene_gt = json.loads((path / "scene_gt.json").read_text())
        scene_info = json.loads((path / "scene_gt_info.json").read_text())
        frames = int(meta["frames"])
        poses = []
        for i in range(frames):
            entry = scene_gt[str(i)][0]
            rotation = np.asarray(entry["cam_R_m2c"], dtype=np.float64).reshape(3, 3)
            poses.append(Pose(rotation, np.asarray(entry["cam_t_m2c"], dtype=np.float64) / 1000.0))
        visib = np.array([scene_info[str(i)][0]["visib_fract"] for i in range(frames)], dtype=np.float64)
    except (OSError, json.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
        raise FileFormatError(f"{path}: broken sequence ground truth ({type(exc).__name__}: {exc})") from None
    return GroundTruth(
        path,
        Camera.load(path / "camera.yaml"),
        Target.load(path / meta.get("target", "target")),
        list(meta.get("markers", [])),
        poses,
        visib,
    )


# -- trackers ----------------------------------------------------------------------------------
TrackerFactory = Callable[[GroundTruth], Any]


def trackable(target: Target, kind: str) -> Target:
    """``target`` with an appearance of feature ``kind``: a sequence's sheet is rebuilt from its
    printed image when it has none or another kind (a sequence folder keeps the mesh only)."""
    from ..targets.planar import planar_target, sheet_image

    sheet = sheet_image(target)
    if (target.appearance is None or target.appearance.detector != kind) and sheet:
        return planar_target(sheet[0], sheet[1], target.name, features=kind)
    return target


def _rigidpose(kind: str | None = None) -> TrackerFactory:
    def factory(gt: GroundTruth) -> Any:
        from ..detect.features import FeatureOptions
        from ..track import Tracker, TrackerOptions

        options = TrackerOptions()
        if kind is not None:
            options = replace(options, features=FeatureOptions(kind=kind))
        tracker = Tracker([trackable(gt.target, options.features.kind)], gt.camera, options)
        tracker.name = "rigidpose" if kind is None else f"rigidpose-{kind}"
        return tracker

    return factory


TRACKERS: dict[str, TrackerFactory] = {
    "baseline-aruco": lambda gt: ArucoBaseline(gt.target, gt.camera, gt.markers),
    "baseline-orb": lambda gt: OrbBaseline(gt.target, gt.camera),
    "rigidpose": _rigidpose(),
    "rigidpose-sift": _rigidpose("sift"),
    "rigidpose-orb": _rigidpose("orb"),
    "rigidpose-akaze": _rigidpose("akaze"),
}
"""Tracker name -> factory taking the sequence (its target, camera and printed markers).
``rigidpose`` uses the default feature kind; ``rigidpose-KIND`` picks one."""
DEFAULT_TRACKERS = ("baseline-aruco", "baseline-orb", "rigidpose")


def check_trackers(names: Sequence[str]) -> None:
    """``InvalidInputError`` listing the valid names unless every name is a known tracker."""
    for name in names:
        if name not in TRACKERS:
            raise InvalidInputError(f"tracker: expected one of {', '.join(TRACKERS)}, got {name!r}")


# -- the default suite -------------------------------------------------------------------------
def default_suite_specs() -> list[tuple[str, dict[str, Any]]]:
    """The default suite's sequences, unrendered: (name, {"options": SequenceOptions, "photo":
    background photo's name}) each; ``default_suite`` renders them."""
    from ..synth import SequenceOptions, TrajectoryOptions

    base = SequenceOptions(frames=150, seed=11)
    return [
        ("sheet-basic", {"options": base, "photo": "astronaut"}),
        (
            "sheet-tilt-roll",
            {
                "photo": "coffee",
                "options": replace(
                    base,
                    seed=12,
                    background="procedural",
                    trajectory=TrajectoryOptions(
                        distance=(0.8, 2.6), max_tilt_rad=math.radians(75), max_roll_rad=math.pi
                    ),
                ),
            },
        ),
        (
            "sheet-blur-light-noise",
            {
                "photo": "chelsea",
                "options": replace(
                    base,
                    seed=13,
                    background="photo",
                    motion_blur=True,
                    lighting=True,
                    noise=True,
                    trajectory=TrajectoryOptions(
                        distance=(0.9, 2.0), max_tilt_rad=math.radians(45), keyframe_s=0.7
                    ),
                ),
            },
        ),
        (
            "sheet-occlusion-exit",
            {
                "photo": "rocket",
                "options": replace(
                    base,
                    seed=14,
                    background="photo",
                    occlusion=True,
                    distortion=True,
                    noise=True,
                    trajectory=TrajectoryOptions(distance=(0.9, 2.0), exit=True, still_frames=30),
                ),
            },
        ),
        (
            "sheet-far",
            {
                "photo": "camera",
                "options": replace(
                    base,
                    seed=15,
                    background="photo",
                    distortion=True,
                    noise=True,
                    motion_blur=True,
                    trajectory=TrajectoryOptions(
                        distance=(3.5, 7.0), max_tilt_rad=math.radians(50), max_offset=0.6
                    ),
                ),
            },
        ),
        (
            "sheet-repetitive-text",
            {
                "photo": "text-page",
                "options": replace(
                    base,
                    seed=16,
                    background="procedural",
                    noise=True,
                    trajectory=TrajectoryOptions(
                        distance=(0.8, 1.8),
                        max_tilt_rad=math.radians(70),
                        max_roll_rad=math.radians(90),
                        exit=True,
                    ),
                ),
            },
        ),
    ]


DEFAULT_SUITE = (
    "sheet-basic",
    "sheet-tilt-roll",
    "sheet-blur-light-noise",
    "sheet-occlusion-exit",
    "sheet-far",
    "sheet-repetitive-text",
)


CHECK_PHOTOS = {
    "astronaut": "immunohistochemistry",
    "coffee": "rocket",
    "chelsea": "astronaut",
    "rocket": "coffee",
    "camera": "chelsea",
    "text-page": "text-page",
}
"""The check suite's second variant of each sequence shows another photo: sequence's -> this."""


def cache_dir() -> Path:
    return Path(os.environ.get("RIGIDPOSE_CACHE", Path.home() / ".cache" / "rigidpose"))


def _rendered(specs: Sequence[tuple[str, str, Any]], root: Path, progress: bool) -> list[Path]:
    """(name, photo, SequenceOptions) rendered into ``root``/name unless already there."""
    from ..synth import render_sequence
    from ..synth.sheets import marker_sheet

    paths = []
    for name, photo, options in specs:
        path = root / name
        if not (path / "sequence.json").is_file():
            target, markers = marker_sheet(photo)
            render_sequence(target, path, options, markers, progress=progress)
        paths.append(path)
    return paths


def default_suite(frames: int | None = None, progress: bool = True) -> list[Path]:
    """The default suite's sequence folders, rendered on first use and cached.

    ``frames`` shortens every sequence (for quick checks); it is part of the cache key.
    """
    root = cache_dir() / f"suite-v{SUITE_VERSION}" / (f"frames-{frames}" if frames else "full")
    specs = [
        (name, spec["photo"], spec["options"] if frames is None else replace(spec["options"], frames=frames))
        for name, spec in default_suite_specs()
    ]
    return _rendered(specs, root, progress)


def check_suite_specs() -> list[tuple[str, str, Any]]:
    """The check suite's sequences, unrendered: (name, background photo's name, SequenceOptions)
    each; ``check_suite`` renders them."""
    specs = []
    for name, spec in default_suite_specs():
        options = spec["options"]
        specs.append((f"{name}-check1", spec["photo"], replace(options, seed=options.seed + 100)))
        specs.append(
            (f"{name}-check2", CHECK_PHOTOS[spec["photo"]], replace(options, seed=options.seed + 200))
        )
    return specs


def check_suite(frames: int | None = None, progress: bool = True) -> list[Path]:
    """Twelve sequences of the default suite's six kinds beside the suite itself: each kind with
    two other seeds (seed + 100 and + 200), the second also with another photo
    (``CHECK_PHOTOS``). Rendered on first use (about 6 minutes on 2 cores) and cached.
    ``max_warps`` and ``max_uncertainty_px`` were chosen with them in view: a second set, not an
    untouched one. ``frames`` shortens every sequence, as in ``default_suite``."""
    root = cache_dir() / f"suite-v{SUITE_VERSION}" / (f"check-frames-{frames}" if frames else "check")
    specs = [
        (name, photo, options if frames is None else replace(options, frames=frames))
        for name, photo, options in check_suite_specs()
    ]
    return _rendered(specs, root, progress)


# -- evaluation --------------------------------------------------------------------------------
def _alignment_error_px(gt: GroundTruth, T_est: Pose, T_gt: Pose) -> float:
    keypoints = gt.target.keypoints_obj
    if len(keypoints) == 4 and np.allclose(keypoints[:, 2], 0.0):
        return metrics.corner_error_px(T_est, T_gt, keypoints, gt.camera)
    return metrics.mean_projection_error_px(T_est, T_gt, np.asarray(gt.target.mesh.vertices), gt.camera)


def evaluate(tracker_name: str, gt: GroundTruth, progress: bool = True) -> dict[str, Any]:
    """Run one tracker over one sequence; the row of the table plus per-frame series."""
    from tqdm import tqdm

    check_trackers([tracker_name])
    tracker = TRACKERS[tracker_name](gt)
    frames = len(gt.T_cam_obj)
    estimates: list[Pose | None] = [None] * frames
    times_ms = []
    with FrameSource(gt.video) as source:
        for frame in tqdm(
            source,
            total=frames,
            desc=f"{tracker_name} on {gt.name}",
            unit="frame",
            disable=not progress,
            leave=False,
        ):
            if frame.index >= frames:
                break
            start = time.perf_counter()
            results = tracker.update(frame)
            times_ms.append((time.perf_counter() - start) * 1000.0)
            estimates[frame.index] = results[0].T_cam_obj

    rotation_rad = np.full(frames, np.nan)
    translation_m = np.full(frames, np.nan)
    alignment_px = np.full(frames, np.nan)
    for i, (T_est, T_gt) in enumerate(zip(estimates, gt.T_cam_obj)):
        if T_est is not None:
            rotation_rad[i] = metrics.rotation_error_rad(T_est, T_gt)
            translation_m[i] = metrics.translation_error_m(T_est, T_gt)
            alignment_px[i] = _alignment_error_px(gt, T_est, T_gt)
    has_pose = np.array([T is not None for T in estimates])
    visible = gt.visib_fract >= VISIBLE_FRACTION
    absent = gt.visib_fract <= 0.0
    posed_and_seen = has_pose & ~absent
    motion_m, motion_rad = metrics.motion_errors(estimates, gt.T_cam_obj)
    ms_median, ms_p95 = metrics.latency_ms(times_ms)

    def median(values: np.ndarray) -> float:
        return float(np.median(values)) if values.size else float("nan")

    row = {
        "sequence": gt.name,
        "tracker": tracker_name,
        "frames": frames,
        "tracked_pct": 100.0 * metrics.tracked_share(has_pose, visible),
        "p_at_5px_pct": 100.0 * metrics.precision_at(alignment_px[visible], 5.0),
        "median_rotation_deg": math.degrees(median(rotation_rad[posed_and_seen])),
        "median_translation_mm": 1000.0 * median(translation_m[posed_and_seen]),
        "jitter_mm": 1000.0 * metrics.rms(motion_m),
        "jitter_deg": math.degrees(metrics.rms(motion_rad)),
        "gross_errors": metrics.gross_errors(rotation_rad[~absent]),
        "false_poses": metrics.false_poses(has_pose, ~absent),
        "ms_median": ms_median,
        "ms_p95": ms_p95,
    }
    series = {
        "alignment_px": alignment_px.tolist(),
        "rotation_deg": np.degrees(rotation_rad).tolist(),
        "has_pose": has_pose.tolist(),
        "visib_fract": gt.visib_fract.tolist(),
        "motion_error_mm": (1000.0 * motion_m).tolist(),  # per frame pair; NaN without both poses
        "motion_error_deg": np.degrees(motion_rad).tolist(),
        "ms": times_ms,
    }
    return {"row": row, "series": series}


# -- against a baseline -----------------------------------------------------------------------
def versus_baseline(
    results: Sequence[dict[str, Any]], tracker: str = "rigidpose", baseline: str = "baseline-orb"
) -> list[dict[str, Any]]:
    """``tracker``'s jitter and time per frame as ratios of ``baseline``'s, per sequence and over
    all sequences together (``sequence`` "all"): the form the tracker's targets are set in.

    Jitter is compared twice: over each tracker's own frame pairs (the table's columns; a baseline
    that loses the hard frames is measured on the easy ones) and over the pairs both posed.
    Ratios are NaN where the baseline has no pose pair. ``results`` are ``evaluate``'s.
    """
    by_key = {(r["row"]["sequence"], r["row"]["tracker"]): r for r in results}
    sequences = list(dict.fromkeys(r["row"]["sequence"] for r in results))
    parts = []  # per sequence: (ours, theirs, ms_ours, ms_theirs)
    out = []

    def ratio(a: float, b: float) -> float:
        return a / b if np.isfinite(a) and np.isfinite(b) and b > 0 else float("nan")

    def row(
        name: str, ours: np.ndarray, theirs: np.ndarray, ms_ours: np.ndarray, ms_theirs: np.ndarray
    ) -> dict:
        both = np.isfinite(ours[:, 0]) & np.isfinite(theirs[:, 0])
        return {
            "sequence": name,
            "jitter_ratio_mm": ratio(metrics.rms(ours[:, 0]), metrics.rms(theirs[:, 0])),
            "jitter_ratio_deg": ratio(metrics.rms(ours[:, 1]), metrics.rms(theirs[:, 1])),
            "common_pairs": int(both.sum()),
            "common_jitter_ratio_mm": ratio(metrics.rms(ours[both, 0]), metrics.rms(theirs[both, 0])),
            "common_jitter_ratio_deg": ratio(metrics.rms(ours[both, 1]), metrics.rms(theirs[both, 1])),
            "ms_ratio": ratio(float(np.median(ms_ours)), float(np.median(ms_theirs))),
        }

    for sequence in sequences:
        mine, base = by_key.get((sequence, tracker)), by_key.get((sequence, baseline))
        if mine is None or base is None:
            continue
        ours, theirs = (
            np.column_stack([r["series"]["motion_error_mm"], r["series"]["motion_error_deg"]])
            for r in (mine, base)
        )
        ms_ours, ms_theirs = (np.asarray(r["series"]["ms"]) for r in (mine, base))
        parts.append((ours, theirs, ms_ours, ms_theirs))
        out.append(row(sequence, *parts[-1]))
    if len(parts) > 1:
        out.append(row("all", *(np.concatenate(column) for column in zip(*parts))))
    return out


def format_versus(rows: Sequence[dict[str, Any]], tracker: str, baseline: str) -> str:
    """``versus_baseline``'s rows as a table: ratios of ``tracker`` to ``baseline``."""
    lines = [
        f"{tracker} / {baseline} (lower is better)",
        f"{'sequence':24s} {'jitter mm':>9s} {'jitter deg':>10s} {'pairs both':>10s} "
        f"{'jit mm both':>11s} {'jit deg both':>12s} {'ms median':>9s}",
    ]
    for r in rows:
        cells = [
            r["jitter_ratio_mm"],
            r["jitter_ratio_deg"],
            r["common_pairs"],
            r["common_jitter_ratio_mm"],
            r["common_jitter_ratio_deg"],
            r["ms_ratio"],
        ]
        text = [
            f"{c:d}" if isinstance(c, int) else ("-" if not np.isfinite(c) else f"{c:.2f}") for c in cells
        ]
        lines.append(
            f"{r['sequence']:24s} {text[0]:>9s} {text[1]:>10s} {text[2]:>10s} {text[3]:>11s} {text[4]:>12s} {text[5]:>9s}"
        )
    return "\n".join(lines)


# -- output ------------------------------------------------------------------------------------
COLUMNS = (  # key, title, width, decimals (None: text)
    ("sequence", "sequence", 24, None),
    ("tracker", "tracker", 15, None),
    ("tracked_pct", "tracked%", 8, 1),
    ("p_at_5px_pct", "p@5px%", 7, 1),
    ("median_rotation_deg", "rot deg", 7, 2),
    ("median_translation_mm", "trans mm", 8, 1),
    ("jitter_mm", "jit mm", 7, 2),
    ("jitter_deg", "jit deg", 7, 3),
    ("gross_errors", "gross", 5, 0),
    ("false_poses", "false", 5, 0),
    ("ms_median", "ms med", 7, 1),
    ("ms_p95", "ms p95", 7, 1),
)


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a fixed-width text table (NaN shown as '-')."""

    def cell(value: Any, width: int, decimals: int | None) -> str:
        if decimals is None:
            return f"{value:<{width}}"
        if isinstance(value, float) and math.isnan(value):
            return f"{'-':>{width}}"
        return f"{value:>{width}.{decimals}f}"

    header = " ".join(
        f"{title:<{width}}" if decimals is None else f"{title:>{width}}"
        for _, title, width, decimals in COLUMNS
    )
    lines = [header, "-" * len(header)]
    lines += [
        " ".join(cell(row[key], width, decimals) for key, _, width, decimals in COLUMNS) for row in rows
    ]
    return "\n".join(lines)


def _plots(results: Sequence[dict[str, Any]], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    sequences = list(dict.fromkeys(r["row"]["sequence"] for r in results))
    trackers = list(dict.fromkeys(r["row"]["tracker"] for r in results))
    colors = {name: f"C{i}" for i, name in enumerate(trackers)}
    for sequence in sequences:
        mine = [r for r in results if r["row"]["sequence"] == sequence]
        fig, (top, bottom) = plt.subplots(
            2, 1, figsize=(10, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.4]}
        )
        for r in mine:
            errors = np.array(r["series"]["alignment_px"], dtype=float)
            top.semilogy(
                np.arange(len(errors)),
                np.clip(errors, 0.05, None),
                ".-",
                ms=3,
                lw=0.8,
                color=colors[r["row"]["tracker"]],
                label=r["row"]["tracker"],
            )
        top.axhline(5.0, color="0.5", ls="--", lw=0.8)
        top.set_ylabel("alignment error (px)")
        top.set_title(f"{sequence}: error over time (gaps: no pose)")
        top.legend(loc="upper right", fontsize=8)
        visib = np.array(mine[0]["series"]["visib_fract"])
        bottom.fill_between(
            np.arange(len(visib)), 0, visib * len(mine), color="0.85", label="visible fraction"
        )
        for k, r in enumerate(mine):
            posed = np.array(r["series"]["has_pose"], bool)
            bottom.plot(
                np.nonzero(posed)[0],
                np.full(posed.sum(), k + 0.5),
                "|",
                ms=8,
                color=colors[r["row"]["tracker"]],
            )
        bottom.set_yticks(
            [k + 0.5 for k in range(len(mine))], [r["row"]["tracker"] for r in mine], fontsize=8
        )
        bottom.set_xlabel("frame")
        fig.tight_layout()
        path = out / f"{sequence}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for tracker in trackers:
        errors = np.concatenate(
            [np.array(r["series"]["alignment_px"], float) for r in results if r["row"]["tracker"] == tracker]
        )
        errors = np.sort(np.nan_to_num(errors, nan=np.inf))
        share = np.arange(1, len(errors) + 1) / max(len(errors), 1)
        ax.semilogx(np.clip(errors, 0.05, 1e4), share, color=colors[tracker], label=tracker)
    ax.axvline(5.0, color="0.5", ls="--", lw=0.8)
    ax.set_xlabel("alignment error (px); frames without a pose never arrive")
    ax.set_ylabel("share of frames")
    ax.set_ylim(0, 1)
    ax.set_title("error CDF over all sequences")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path = out / "error_cdf.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def run_bench(
    trackers: Sequence[str],
    sequences: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate every tracker on every sequence; print the table, write bench.json and plots.

    Returns the JSON document (``rows``, ``series``, ``environment``).
    """
    import platform

    import cv2

    check_trackers(trackers)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for path in sequences:
        gt = load_ground_truth(path)
        for name in trackers:
            results.append(evaluate(name, gt, progress))
    rows = [r["row"] for r in results]
    versus = versus_baseline(results)
    document = {
        "rows": rows,
        "versus_baseline_orb": versus,
        "series": [
            {"sequence": r["row"]["sequence"], "tracker": r["row"]["tracker"], **r["series"]} for r in results
        ],
        "environment": {
            "python": platform.python_version(),
            "opencv": cv2.__version__,
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "opencv_threads": cv2.getNumThreads(),
        },
    }
    atomic_write_text(out / "bench.json", json.dumps(document, indent=1) + "\n")
    document["plots"] = [str(p) for p in _plots(results, out)]
    document["table"] = format_table(rows)
    if versus:
        document["table"] += "\n\n" + format_versus(versus, "rigidpose", "baseline-orb")
    return document

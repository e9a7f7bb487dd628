"""Baselines and the benchmark runner on a short rendered sequence."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

import rigidpose as rp
from rigidpose.eval.bench import format_table, load_ground_truth, run_bench
from rigidpose.synth import SequenceOptions, TrajectoryOptions, render_sequence
from rigidpose.synth.sheets import marker_sheet


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    target, markers = marker_sheet("astronaut")
    options = SequenceOptions(
        frames=24,
        seed=21,
        background="procedural",
        trajectory=TrajectoryOptions(distance=(0.9, 1.3), max_tilt_rad=math.radians(35)),
    )
    return render_sequence(
        target, tmp_path_factory.mktemp("bench") / "sheet", options, markers, progress=False
    )


def test_baselines_recover_the_rendered_poses(sequence, tmp_path):
    document = run_bench(["baseline-aruco", "baseline-orb"], [sequence], tmp_path, progress=False)
    rows = {row["tracker"]: row for row in document["rows"]}
    aruco, orb = rows["baseline-aruco"], rows["baseline-orb"]
    # an unoccluded, sharp, close sheet: both find it in every frame, accurately
    assert aruco["tracked_pct"] == 100.0 and orb["tracked_pct"] == 100.0
    assert aruco["median_rotation_deg"] < 2.0 and orb["median_rotation_deg"] < 1.0
    assert aruco["median_translation_mm"] < 10.0 and orb["median_translation_mm"] < 5.0
    assert orb["p_at_5px_pct"] >= 90.0
    assert aruco["gross_errors"] == 0 and orb["gross_errors"] == 0 and aruco["false_poses"] == 0
    assert aruco["ms_median"] > 0 and orb["ms_p95"] >= orb["ms_median"]


def test_rigidpose_beats_the_orb_baseline_on_the_same_sequence(sequence, tmp_path):
    document = run_bench(["baseline-orb", "rigidpose"], [sequence], tmp_path, progress=False)
    orb, ours = document["rows"]
    assert ours["tracker"] == "rigidpose" and ours["tracked_pct"] == 100.0 and ours["p_at_5px_pct"] == 100.0
    assert ours["gross_errors"] == 0 and ours["false_poses"] == 0
    assert ours["median_rotation_deg"] < 0.5 and ours["median_translation_mm"] < 2.0
    assert ours["jitter_mm"] < orb["jitter_mm"] and ours["jitter_deg"] < orb["jitter_deg"]


def test_bench_writes_json_table_and_plots(sequence, tmp_path):
    document = run_bench(["baseline-aruco"], [sequence], tmp_path, progress=False)
    saved = json.loads((tmp_path / "bench.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(document["rows"]))
    assert len(saved["series"][0]["alignment_px"]) == 24
    for plot in document["plots"]:
        assert (tmp_path / plot.split("/")[-1]).stat().st_size > 10_000  # a real picture
    lines = document["table"].splitlines()
    assert lines[0].split()[:3] == ["sequence", "tracker", "tracked%"] and len(lines) == 3
    assert "sheet" in lines[2] and "baseline-aruco" in lines[2]


def test_ground_truth_round_trip(sequence):
    gt = load_ground_truth(sequence)
    assert len(gt.T_cam_obj) == 24 and gt.visib_fract.shape == (24,)
    first = rp.read_poses(sequence / "gt.jsonl")[0].objects[0].T_cam_obj
    assert gt.T_cam_obj[0].allclose(first, atol_rad=1e-9, atol_m=1e-9)


def test_versus_baseline_compares_jitter_on_all_and_on_shared_pairs_and_time():
    from rigidpose.eval.bench import format_versus, versus_baseline

    def result(sequence, tracker, motion_mm, ms):
        motion = np.asarray(motion_mm, float)
        return {
            "row": {"sequence": sequence, "tracker": tracker},
            "series": {"motion_error_mm": motion, "motion_error_deg": motion / 10, "ms": ms},
        }

    nan = math.nan
    results = [
        # the baseline loses frames 3-4, where ours jumps: its own pairs are the easy ones
        result("a", "baseline-orb", [nan, 1.0, 1.0, nan, nan], [10.0, 10.0, 20.0]),
        result("a", "rigidpose", [nan, 0.1, 0.1, 2.0, 2.0], [2.0, 2.0, 2.0]),
        result("b", "baseline-orb", [nan, nan, nan], [8.0]),  # never a pose pair
        result("b", "rigidpose", [nan, 0.5, 0.5], [1.0]),
    ]
    a, b, pooled = versus_baseline(results)
    assert a["sequence"] == "a" and a["common_pairs"] == 2
    assert a["jitter_ratio_mm"] == pytest.approx(math.sqrt((0.02 + 8.0) / 4))
    assert a["common_jitter_ratio_mm"] == pytest.approx(0.1) and a[
        "common_jitter_ratio_deg"
    ] == pytest.approx(0.1)
    assert a["ms_ratio"] == pytest.approx(0.2)
    assert (
        math.isnan(b["jitter_ratio_mm"]) and b["common_pairs"] == 0 and b["ms_ratio"] == pytest.approx(0.125)
    )
    assert pooled["sequence"] == "all" and pooled["common_pairs"] == 2
    assert pooled["ms_ratio"] == pytest.approx(2.0 / 10.0)
    table = format_versus([a, b, pooled], "rigidpose", "baseline-orb").splitlines()
    assert table[0].startswith("rigidpose / baseline-orb") and table[3].split()[:2] == ["b", "-"]


def test_table_shows_missing_values_as_dashes():
    row = {
        "sequence": "s",
        "tracker": "t",
        "tracked_pct": 0.0,
        "p_at_5px_pct": 0.0,
        "median_rotation_deg": math.nan,
        "median_translation_mm": math.nan,
        "jitter_mm": math.nan,
        "jitter_deg": math.nan,
        "gross_errors": 0,
        "false_poses": 0,
        "ms_median": 1.0,
        "ms_p95": 2.0,
    }
    assert format_table([row]).splitlines()[2].split()[4:8] == ["-", "-", "-", "-"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["bench", "--tracker", "magic", "x"],
            "tracker: expected one of baseline-aruco, baseline-orb, rigidpose, rigidpose-sift, rigidpose-orb, rigidpose-akaze, got 'magic'",
        ),
        (["bench", "--tracker", "baseline-orb", "nowhere"], "nowhere: not a sequence folder"),
        (["synth", "--out", "o", "--tilt-deg", "89"], "--tilt-deg: expected a value in (0, 85], got 89.0"),
        (["synth", "--out", "o", "--image", "missing.png"], "missing.png: no such image file"),
    ],
)
def test_cli_mistakes_are_one_line(tmp_path, args, message):
    result = subprocess.run(
        [sys.executable, "-m", "rigidpose", *args], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert result.returncode == 1 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_cli_synth_then_bench(tmp_path):
    run = [sys.executable, "-m", "rigidpose"]
    synth = subprocess.run(
        [
            *run,
            "synth",
            "--out",
            str(tmp_path / "s"),
            "--frames",
            "6",
            "--width",
            "320",
            "--height",
            "240",
            "--seed",
            "4",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert synth.returncode == 0, synth.stderr
    bench = subprocess.run(
        [
            *run,
            "bench",
            str(tmp_path / "s"),
            "--tracker",
            "baseline-aruco",
            "--out",
            str(tmp_path / "b"),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bench.returncode == 0, bench.stderr
    assert "baseline-aruco" in bench.stdout and (tmp_path / "b" / "bench.json").is_file()
    rows = json.loads((tmp_path / "b" / "bench.json").read_text())["rows"]
    assert rows[0]["frames"] == 6 and not np.isnan(rows[0]["tracked_pct"])


def test_overlay_bench_times_every_overlay_and_writes_json(tmp_path):
    from rigidpose.eval.overlay_bench import run_overlay_bench

    document = run_overlay_bench(tmp_path, frames=3, progress=False)
    written = json.loads((tmp_path / "overlay.json").read_text())
    assert written["rows"] == document["rows"]
    kinds = {row["renderer"] for row in document["rows"]}
    assert kinds == {"opencv", "gl"} and all(row["frames"] == 3 for row in document["rows"])
    assert all(0 < row["ms_median"] <= row["ms_p95"] for row in document["rows"])
    assert "gl 10k-tri content + occluder" in document["table"]


def test_check_suite_is_the_default_suites_kinds_with_other_seeds_and_photos():
    from rigidpose.eval.bench import CHECK_PHOTOS, check_suite_specs, default_suite_specs

    suite = {name: spec for name, spec in default_suite_specs()}
    specs = check_suite_specs()
    assert len(specs) == 2 * len(suite) and len({name for name, _, _ in specs}) == len(specs)
    suite_seeds = {spec["options"].seed for spec in suite.values()}
    for name, photo, options in specs:
        kind = suite[name.rsplit("-check", 1)[0]]
        assert options.seed not in suite_seeds
        assert replace(options, seed=kind["options"].seed) == kind["options"]  # only the seed differs
        assert photo == (kind["photo"] if name.endswith("1") else CHECK_PHOTOS[kind["photo"]])


def test_check_suite_frames_shortens_every_sequence_in_its_own_cache(monkeypatch, tmp_path):
    from rigidpose.eval import bench

    captured = {}
    monkeypatch.setenv("RIGIDPOSE_CACHE", str(tmp_path))
    monkeypatch.setattr(
        bench, "_rendered", lambda specs, root, progress: captured.update(specs=specs, root=root)
    )
    bench.check_suite(frames=20, progress=False)
    assert captured["root"].name == "check-frames-20"
    assert len(captured["specs"]) == 12 and all(options.frames == 20 for _, _, options in captured["specs"])

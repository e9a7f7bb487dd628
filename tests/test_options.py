"""Every options dataclass names the first invalid field in its error, with what it expected and
the value that came: ``depth_every: expected an integer >= 1, got 0``."""

from __future__ import annotations

import re

import pytest

import rigidpose as rp
from rigidpose.calib import CalibrationOptions
from rigidpose.calib.focal import FocalOptions
from rigidpose.render.ar import RenderOptions
from rigidpose.solve import SolveOptions
from rigidpose.synth import SequenceOptions
from rigidpose.synth.training import TrainingSetOptions

CASES = {
    rp.TrackerOptions: [
        ({"min_points": 3}, "min_points: expected an integer >= 6, got 3"),
        ({"max_points": 20}, "max_points: expected an integer >= 2 * min_points (24), got 20"),
        ({"reanchor_every": 0}, "reanchor_every: expected an integer >= 1, got 0"),
        ({"redetect_every": 0}, "redetect_every: expected an integer >= 1, got 0"),
        ({"flow_window_px": 4}, "flow_window_px: expected an integer >= 5, got 4"),
        ({"flow_window_px": 21.0}, "flow_window_px: expected an integer >= 5, got 21.0"),
        ({"flow_levels": -1}, "flow_levels: expected an integer >= 0, got -1"),
        ({"flow_min_eigen": -0.1}, "flow_min_eigen: expected a number >= 0, got -0.1"),
        ({"warp_flow_levels": -1}, "warp_flow_levels: expected an integer >= 0, got -1"),
        ({"rewarp_px": 0.0}, "rewarp_px: expected a number > 0, got 0.0"),
        ({"max_warps": 0}, "max_warps: expected an integer >= 1, got 0"),
        ({"max_residual_px": 0.0}, "max_residual_px: expected a number > 0, got 0.0"),
        (
            {"min_residual_px": 4.0},
            "min_residual_px: expected a number > 0 and <= max_residual_px (3), got 4.0",
        ),
        ({"max_uncertainty_px": 0.0}, "max_uncertainty_px: expected a number > 0, got 0.0"),
        ({"smooth_min_cutoff_hz": -1.0}, "smooth_min_cutoff_hz: expected a number >= 0, got -1.0"),
        ({"smooth_beta": float("nan")}, "smooth_beta: expected a number >= 0, got nan"),
        ({"depth_every": 0}, "depth_every: expected an integer >= 1, got 0"),
        ({"learned_every": 0}, "learned_every: expected an integer >= 1, got 0"),
        ({"learned_patience": 0}, "learned_patience: expected an integer >= 1, got 0"),
        # the first invalid field is the one named
        ({"reanchor_every": 0, "depth_every": 0}, "reanchor_every: expected an integer >= 1, got 0"),
    ],
    SolveOptions: [
        ({"threshold_px": 0.0}, "threshold_px: expected a number > 0, got 0.0"),
        ({"confidence": 1.0}, "confidence: expected a number in (0, 1), got 1.0"),
        ({"min_inliers": 3}, "min_inliers: expected an integer >= 4, got 3"),
    ],
    rp.LearnedOptions: [
        ({"fill": 2.0}, "fill: expected a number in [0.1, 1.5], got 2.0"),
        ({"search_sides_px": ()}, "search_sides_px: expected one or more sides in pixels, got ()"),
        ({"search_sides_px": (160, 0)}, "search_sides_px[1]: expected an integer >= 1, got 0"),
        ({"min_confidence": 0.0}, "min_confidence: expected a number in (0, 1), got 0.0"),
    ],
    rp.AlignOptions: [
        ({"model_points": 0}, "model_points: expected an integer >= 1, got 0"),
        ({"margin_px": -1}, "margin_px: expected an integer >= 0, got -1"),
        ({"max_distance_m": 0.0}, "max_distance_m: expected a number > 0, got 0.0"),
        ({"min_distance_m": -1.0}, "min_distance_m: expected a number > 0, got -1.0"),
        ({"iterations": 0}, "iterations: expected an integer >= 1, got 0"),
        ({"min_points": 0}, "min_points: expected an integer >= 1, got 0"),
        ({"min_fitness": 1.5}, "min_fitness: expected a number in [0, 1], got 1.5"),
        ({"max_shift_m": 0.0}, "max_shift_m: expected a number > 0, got 0.0"),
        ({"max_rotation_rad": 0.0}, "max_rotation_rad: expected a number > 0, got 0.0"),
        ({"degenerate_ratio": 1.0}, "degenerate_ratio: expected a number in [0, 1), got 1.0"),
    ],
    rp.SilhouetteOptions: [
        ({"search_px": 1}, "search_px: expected an integer >= 2, got 1"),
        ({"min_points": 5}, "min_points: expected an integer >= 6, got 5"),
        ({"min_points": 50, "max_points": 40}, "max_points: expected an integer >= min_points (50), got 40"),
        ({"min_gradient": 0.0}, "min_gradient: expected a number > 0, got 0.0"),
        ({"min_inlier_share": 0.0}, "min_inlier_share: expected a number in (0, 1], got 0.0"),
        ({"rounds": 0}, "rounds: expected an integer >= 1, got 0"),
        ({"max_rotation_deg": 0.0}, "max_rotation_deg: expected a number > 0, got 0.0"),
        ({"max_distance_share": 0.0}, "max_distance_share: expected a number > 0, got 0.0"),
    ],
    RenderOptions: [
        ({"supersample": 0}, "supersample: expected an integer >= 1, got 0"),
        ({"znear_m": 0.0}, "znear_m: expected a number > 0, got 0.0"),
        ({"znear_m": 2.0, "zfar_m": 1.0}, "zfar_m: expected a number > znear_m (2), got 1.0"),
    ],
    SequenceOptions: [
        ({"frames": 0}, "frames: expected an integer >= 1, got 0"),
        ({"fps": 0.0}, "fps: expected frames per second > 0, got 0.0"),
        ({"width": 8}, "width: expected an integer >= 16, got 8"),
        ({"height": 8}, "height: expected an integer >= 16, got 8"),
        ({"hand_scale": 0.0}, "hand_scale: expected a number > 0, got 0.0"),
        ({"supersample": 0}, "supersample: expected an integer >= 1, got 0"),
    ],
    TrainingSetOptions: [
        ({"count": 0}, "count: expected an integer >= 1, got 0"),
        ({"size_px": 16}, "size_px: expected an integer >= 32, got 16"),
        ({"size_px": 100}, "size_px: expected a multiple of 32, got 100"),
        ({"empty_share": 1.0}, "empty_share: expected a number in [0, 1), got 1.0"),
        ({"front_share": 1.5}, "front_share: expected a number in [0, 1], got 1.5"),
        ({"scale": (1.2, 0.3)}, "scale: expected (low, high) with 0 < low < high, got (1.2, 0.3)"),
        ({"occluder_share": -0.1}, "occluder_share: expected a number in [0, 1], got -0.1"),
        ({"hand_share": 2.0}, "hand_share: expected a number in [0, 1], got 2.0"),
    ],
    FocalOptions: [
        ({"min_matches": 5}, "min_matches: expected an integer >= 6, got 5"),
        ({"min_views": 1}, "min_views: expected an integer >= 2, got 1"),
        ({"sweep_views": 0}, "sweep_views: expected an integer >= 1, got 0"),
        ({"threshold_px": 0.0}, "threshold_px: expected a number > 0, got 0.0"),
    ],
    CalibrationOptions: [
        ({"min_views": 2}, "min_views: expected an integer >= 3, got 2"),
        ({"min_views": 10, "max_views": 8}, "max_views: expected an integer >= min_views (10), got 8"),
    ],
}


@pytest.mark.parametrize(
    ("options_class", "kwargs", "message"),
    [(cls, kwargs, message) for cls, cases in CASES.items() for kwargs, message in cases],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
def test_an_invalid_option_is_named_with_its_value(options_class, kwargs, message):
    options_class()  # the defaults are valid
    with pytest.raises(rp.InvalidInputError, match=f"^{re.escape(message)}$"):
        options_class(**kwargs)


TRAIN_CASES = [
    ({"images": 0}, "images: expected an integer >= 1, got 0"),
    ({"size_px": 100}, "size_px: expected a multiple of 32, got 100"),
    ({"validation_images": 0}, "validation_images: expected an integer >= 1, got 0"),
    ({"width": 0}, "width: expected an integer >= 1, got 0"),
    ({"steps": 0}, "steps: expected an integer >= 1, got 0"),
    ({"batch": 0}, "batch: expected an integer >= 1, got 0"),
    ({"covered_peak": 0.0}, "covered_peak: expected a number in (0, 1], got 0.0"),
    ({"occluder_share": 1.5}, "occluder_share: expected a number in [0, 1], got 1.5"),
    ({"hand_share": -1.0}, "hand_share: expected a number in [0, 1], got -1.0"),
    ({"threads": 0}, "threads: expected an integer >= 1, got 0"),
]


@pytest.mark.parametrize(("kwargs", "message"), TRAIN_CASES)
def test_an_invalid_train_config_field_is_named_with_its_value(kwargs, message):
    pytest.importorskip("torch")
    from rigidpose.train import TrainConfig

    with pytest.raises(rp.InvalidInputError, match=f"^{re.escape(message)}$"):
        TrainConfig(**kwargs)

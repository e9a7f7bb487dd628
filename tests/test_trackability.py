"""How well an image will track as a planar target, and planar_target's checks of its inputs."""

from __future__ import annotations

import dataclasses
import logging
import re

import cv2
import numpy as np
import pytest
from conftest import BOX_DATA, REPO

import rigidpose as rp
from rigidpose.targets import TrackabilityReport, planar_target, sheet_trackability, trackability
from rigidpose.targets.planar import MAX_SIDE_PX
from rigidpose.targets.trackability import POOR_SCORE

SHEET = REPO / "demos" / "data" / "sheet" / "sheet.jpg"


def _text_page(seed: int = 0) -> np.ndarray:
    """A page of words from an 8-word vocabulary, over and over: repeated print."""
    rng = np.random.default_rng(seed)
    words = ["track", "the", "sheet", "pose", "of", "a", "rigid", "page"]
    page = np.full((1100, 850, 3), 255, np.uint8)
    for y in range(60, 1060, 40):
        x = 40
        while True:
            word = words[rng.integers(len(words))]
            (width, _), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_SIMPLEX, 0.9, 2)
            if x + width > 810:
                break
            cv2.putText(page, word, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 0, 0), 2, cv2.LINE_AA)
            x += width + 16
    return page


def _tiled_word() -> np.ndarray:
    tile = np.full((50, 110, 3), 255, np.uint8)
    cv2.putText(tile, "rigid", (8, 35), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2, cv2.LINE_AA)
    return np.tile(tile, (22, 8, 1))


def _gradient() -> np.ndarray:
    ramp = np.tile(np.linspace(0, 255, 800).astype(np.uint8), (600, 1))
    return cv2.merge([ramp, ramp, ramp])


@pytest.fixture(scope="module")
def reports() -> dict[str, TrackabilityReport]:
    from skimage import data

    images = {
        "sheet": rp.io.read_image(SHEET),
        "box photo": rp.io.read_image(BOX_DATA / "box_pose1.JPG"),
        "astronaut": cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR),
        "text page": _text_page(),
        "tiled word": _tiled_word(),
        "flat gray": np.full((600, 800, 3), 128, np.uint8),
        "gradient": _gradient(),
    }
    return {name: trackability(image) for name, image in images.items()}


def test_textured_images_score_above_repeated_print_above_flat_ones(reports):
    # measured: 100, 77, 100; 26, 25; 0, 0
    for textured in ("sheet", "box photo", "astronaut"):
        assert reports[textured].score >= 60, textured
    assert reports["sheet"].score >= 85 and reports["sheet"].distinctive > 0.6
    for repeated in ("text page", "tiled word"):
        report = reports[repeated]
        assert 10 <= report.score <= reports["sheet"].score - 40, repeated
        assert report.score < POOR_SCORE and report.distinctive < 0.2 and report.coverage > 0.6
        assert "repeats" in report.advice
    for flat in ("flat gray", "gradient"):
        report = reports[flat]
        assert report.score <= 5 and report.features <= 20, flat
        assert report.advice.startswith("no texture")
    assert reports["sheet"].advice.startswith("good")


def test_advice_names_the_half_without_texture():
    image = rp.io.read_image(SHEET)
    image[:, image.shape[1] // 2 :] = 200
    report = trackability(image)
    assert 0.3 < report.coverage < 0.7 and "empty right half" in report.advice


def test_report_is_frozen_and_reads_as_one_line(reports):
    report = reports["text page"]
    text = str(report)
    assert text.startswith(f"trackability {report.score}/100 (") and "\n" not in text
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.score = 100
    with pytest.raises(rp.InvalidInputError, match="image: expected"):
        trackability(np.zeros((0, 4, 3), np.uint8))


def test_planar_target_warns_about_a_flat_image_only(caplog):
    with caplog.at_level(logging.WARNING, logger="rigidpose.targets.planar"):
        planar_target(np.full((300, 400, 3), 128, np.uint8), 0.2, "blank", features="orb")
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and "'blank': trackability 0/100" in record.getMessage()
    assert "no texture" in record.getMessage()
    caplog.clear()
    image = rp.io.read_image(SHEET)
    with caplog.at_level(logging.WARNING, logger="rigidpose.targets.planar"):
        target = planar_target(image, 0.18, "sheet", features="orb")
    assert caplog.records == []
    assert sheet_trackability(target) == trackability(image)


@pytest.mark.parametrize("width_m", [1e12, 297.0, 0.0005])
def test_implausible_printed_width_is_refused(width_m):
    message = f"width_m: expected a printed width of 0.001 to 100 metres, got {width_m:g}"
    with pytest.raises(rp.InvalidInputError, match=re.escape(message)):
        planar_target(np.zeros((10, 10, 3), np.uint8), width_m)


def test_printed_width_limits_are_accepted():
    for width_m in (0.001, 100.0):
        assert planar_target(np.zeros((10, 20, 3), np.uint8), width_m).mesh.extents[0] == pytest.approx(
            width_m
        )


def test_large_image_is_downscaled_to_what_tracking_uses_and_logged(caplog):
    big = cv2.resize(rp.io.read_image(SHEET), (3000, 4000), interpolation=cv2.INTER_CUBIC)
    with caplog.at_level(logging.INFO, logger="rigidpose.targets.planar"):
        target = planar_target(big, 0.3)
    assert "downscaled from 3000x4000 to 1536x2048 px" in caplog.text
    (reference,) = target.reference_images
    np.testing.assert_array_equal(reference, cv2.resize(big, (1536, 2048), interpolation=cv2.INTER_AREA))
    assert target.mesh.extents[:2] == pytest.approx([0.3, 0.4])
    # with features: the same target as from the downscaled image
    wide = big[:400, :2600]
    made = planar_target(wide, 0.3, features="orb")
    expected = planar_target(cv2.resize(wide, (2048, 315), interpolation=cv2.INTER_AREA), 0.3, features="orb")
    np.testing.assert_array_equal(made.appearance.descriptors, expected.appearance.descriptors)
    np.testing.assert_array_equal(made.appearance.points_obj, expected.appearance.points_obj)


def test_image_at_the_size_limit_is_kept_as_it_is(caplog):
    image = np.random.default_rng(0).integers(0, 256, (MAX_SIDE_PX, 100, 3), dtype=np.uint8)
    with caplog.at_level(logging.INFO, logger="rigidpose.targets.planar"):
        target = planar_target(image, 0.05)
    np.testing.assert_array_equal(target.reference_images[0], image)
    assert "downscaled" not in caplog.text

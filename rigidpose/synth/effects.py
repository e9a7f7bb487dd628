"""Image-space realism for synthetic frames: backgrounds, lighting, a hand-like occluder, noise.

All functions take and return float32 BGR images in [0, 1] of shape (H, W, 3) and draw their
randomness from the ``numpy.random.Generator`` they are given, so a seed reproduces a sequence.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..errors import InvalidInputError

__all__ = ["BACKGROUNDS", "PHOTOS", "HandOccluder", "background", "lighting_gain", "sensor_noise"]

PHOTOS = ("coffee", "chelsea", "rocket", "astronaut", "immunohistochemistry", "hubble_deep_field")
"""Photos that ship inside scikit-image (no download); each a plausible cluttered scene."""

BACKGROUNDS = ("plain", "procedural", "photo", *PHOTOS)
"""``photo``: one of ``PHOTOS`` at random; a photo's name: that one."""


def _photo(name: str) -> np.ndarray:
    from skimage import data

    rgb = getattr(data, name)()
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def background(
    kind: str, width: int, height: int, rng: np.random.Generator, exclude: tuple[str, ...] = ()
) -> np.ndarray:
    """A still background (H, W, 3) float32 BGR in [0, 1].

    ``plain``: a grey gradient. ``procedural``: blurred random blobs and lines (texture without
    a photo). ``photo``: a photo shipped with scikit-image, cropped and scaled to fill the frame;
    ``exclude`` names photos not to use (e.g. the one printed on the target). A photo's name
    (``PHOTOS``): that photo, with the same random draws as ``photo`` makes.
    """
    if kind == "plain":
        ramp = np.linspace(0.35, 0.6, height, dtype=np.float32)[:, None, None]
        return np.broadcast_to(ramp, (height, width, 3)).copy()
    if kind == "procedural":
        image = np.full((height, width, 3), rng.uniform(0.3, 0.6, 3), np.float32)
        for _ in range(60):
            color = tuple(float(c) for c in rng.uniform(0, 1, 3))
            center = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
            if rng.uniform() < 0.5:
                axes = (int(rng.uniform(5, width / 6)), int(rng.uniform(5, height / 6)))
                cv2.ellipse(image, center, axes, float(rng.uniform(0, 180)), 0, 360, color, -1, cv2.LINE_AA)
            else:
                end = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
                cv2.line(image, center, end, color, int(rng.uniform(1, 8)), cv2.LINE_AA)
        return cv2.GaussianBlur(image, (0, 0), 1.2)
    if kind == "photo" or kind in PHOTOS:
        if kind in exclude:
            raise InvalidInputError(f"background: {kind!r} is excluded here (the target's own image)")
        names = [n for n in PHOTOS if n not in exclude]
        drawn = names[int(rng.integers(len(names)))]  # drawn for a named photo too
        photo = _photo(drawn if kind == "photo" else kind).astype(np.float32) / 255.0
        scale = max(width / photo.shape[1], height / photo.shape[0]) * rng.uniform(1.0, 1.4)
        photo = cv2.resize(
            photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        )
        y = int(rng.integers(0, photo.shape[0] - height + 1))
        x = int(rng.integers(0, photo.shape[1] - width + 1))
        return np.ascontiguousarray(photo[y : y + height, x : x + width])
    raise InvalidInputError(f"background: expected one of {', '.join(BACKGROUNDS)}, got {kind!r}")


def lighting_gain(width: int, height: int, t: float, seed_phase: np.ndarray) -> np.ndarray:
    """(H, W, 1) float32 multiplicative light at time ``t`` seconds: overall brightness drifting
    between about 0.55 and 1.25 and a moving gradient, as when a lamp or the sun changes."""
    a, b, c = seed_phase
    overall = 0.9 + 0.35 * math.sin(0.9 * t + a)
    direction = 1.2 * t + b
    gx, gy = math.cos(direction), math.sin(direction)
    xs = np.linspace(-1, 1, width, dtype=np.float32)[None, :]
    ys = np.linspace(-1, 1, height, dtype=np.float32)[:, None]
    gradient = 0.25 * (0.6 + 0.4 * math.sin(0.7 * t + c)) * (gx * xs + gy * ys)
    return np.clip(overall * (1.0 + gradient), 0.2, 2.0)[..., None].astype(np.float32)


class HandOccluder:
    """A skin-coloured palm with four fingers that sweeps across the frame and back; ``scale``
    makes it larger (a hand nearer the camera), ``hold`` (0 to 0.95) makes it rest at its
    farthest reach for longer (a hand holding the object down). With ``reach_for_object`` it
    comes in at the object's height and stops with its palm over part of the object (how far in
    is drawn once per hand), instead of crossing a fixed row: a hand picking the object up.

    ``draw`` paints it over the frame and returns its coverage (H, W) float32 in [0, 1].
    """

    def __init__(
        self,
        width: int,
        height: int,
        frames: int,
        rng: np.random.Generator,
        scale: float = 1.0,
        hold: float = 0.0,
        reach_for_object: bool = False,
    ) -> None:
        self.width, self.height, self.frames = width, height, frames
        self.color = np.array([0.55, 0.65, 0.85], np.float32) * rng.uniform(0.8, 1.1)  # BGR skin tone
        self.size = rng.uniform(0.22, 0.3) * min(width, height) * scale
        self.start = int(frames * rng.uniform(0.15, 0.3))
        self.length = max(10, int(frames * rng.uniform(0.3, 0.45)))
        self.from_left = bool(rng.uniform() < 0.5)
        self.row = rng.uniform(0.35, 0.65) * height
        self.hold = float(np.clip(hold, 0.0, 0.95))
        # drawn only when used, so the hands of existing sequences stay as they were
        self.overlap = float(rng.uniform(-0.2, 0.5)) if reach_for_object else None

    def draw(self, image: np.ndarray, index: int, object_px: tuple[float, float] | None = None) -> np.ndarray:
        """Paint frame ``index``'s hand over ``image`` (H, W, 3) float32 in place; ``object_px``
        is the object's centre in the image, (x, y) pixels, which a hand reaching for the object
        needs (None: it is out of view, and the hand comes in at its last height)."""
        coverage = np.zeros(image.shape[:2], np.float32)
        phase = (index - self.start) / self.length
        if not 0.0 <= phase <= 1.0:
            return coverage
        reach = min(1.0, math.sin(math.pi * phase) / (1.0 - self.hold))  # in, (rest,) then out again
        s = self.size
        direction = 1.0 if self.from_left else -1.0
        if self.overlap is not None and object_px is not None:
            self.row = float(object_px[1])
            # at full reach the palm's leading edge is ``overlap`` hand sizes past the object's centre
            stop = object_px[0] + direction * (self.overlap - 0.55) * s
            start = -1.2 * s if self.from_left else self.width + 1.2 * s
            x = start + reach * (stop - start)
        else:
            x = -1.2 * s + reach * (0.62 * self.width + 1.2 * s)
            if not self.from_left:
                x = self.width - x
        center = (x, self.row + 0.1 * s * math.sin(6 * phase))
        scale = 16  # draw with 4 bits of sub-pixel precision for smooth edges
        cx, cy = int(center[0] * scale), int(center[1] * scale)
        cv2.ellipse(
            coverage,
            (cx, cy),
            (int(0.55 * s * scale), int(0.45 * s * scale)),
            0,
            0,
            360,
            1.0,
            -1,
            cv2.LINE_AA,
            4,
        )
        for k, spread in enumerate((-0.33, -0.11, 0.11, 0.33)):
            length = s * (0.85 if k in (1, 2) else 0.7)
            tip = (cx + int(direction * length * scale), cy + int(spread * s * 1.3 * scale))
            cv2.line(
                coverage, (cx, cy + int(spread * s * scale)), tip, 1.0, max(1, int(0.16 * s)), cv2.LINE_AA, 4
            )
        coverage = np.clip(coverage, 0.0, 1.0)
        image *= 1.0 - coverage[..., None]
        image += coverage[..., None] * self.color
        return coverage


def sensor_noise(
    image: np.ndarray, rng: np.random.Generator, read_sigma: float = 0.012, shot: float = 0.02
) -> np.ndarray:
    """Signal-dependent Gaussian noise (shot noise ~ sqrt(signal) plus read noise), clipped."""
    sigma = np.sqrt(read_sigma**2 + shot**2 * np.clip(image, 0.0, 1.0))
    noisy = image + rng.standard_normal(image.shape, dtype=np.float32) * sigma
    return np.clip(noisy, 0.0, 1.0)

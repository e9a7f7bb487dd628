"""Train ``KeypointNet`` for one target on rendered images (``synth.training``).

``train_keypoints(target, TRAIN_CONFIGS["full"])`` renders the training set, trains with AdamW
and a cosine learning rate on heatmap targets (a binary cross-entropy against Gaussians, the
cells near a keypoint weighted up), augments every batch (rotation, scale and shift, contrast,
brightness, colour balance, grey, noise, erased patches), and scores the network on a validation
set rendered with another seed. Everything is seeded, and training runs with torch's
deterministic kernels (``_reproducible``; the caller's torch settings are restored afterwards), so
the same config and the same training images give the same weights on one machine.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace

import cv2
import numpy as np
import torch

from .._validate import check_int, check_number
from ..detect.learned import decode_heatmaps
from ..errors import InvalidInputError
from ..synth.training import TrainingSet, TrainingSetOptions, render_training_set
from ..target import Target
from ..targets.keypoints import farthest_point_keypoints
from .net import HEATMAP_SIGMA, STRIDE, KeypointNet

__all__ = [
    "TRAIN_CONFIGS",
    "TrainConfig",
    "TrainResult",
    "heatmap_targets",
    "score",
    "score_heatmaps",
    "train_keypoints",
]

_CALIBRATION_IMAGES = 128
"""Training images kept to calibrate an int8 export's activation ranges."""


PRECISIONS = ("auto", "bf16", "fp32")


def cpu_has_bf16() -> bool:
    """Whether this CPU runs bfloat16 natively (AMX or AVX-512 BF16); torch's own checks."""
    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except AttributeError:  # an older or newer torch without these checks
        return False


@dataclass(frozen=True)
class TrainConfig:
    """A training recipe.

    Attributes:
        name: the preset's name, recorded in the model card.
        images, size_px: training images rendered, and their side in pixels.
        validation_images: images rendered with another seed to score the network.
        width: the network's channel multiplier. The full recipe's 64 (5.7 M parameters): with
            hands in training, the drill's model tracked 55.3 % of the partly hidden frames of
            46 held-out sequences within 0.1 d at width 32 (on this CPU), 58.1 % at 48 and
            67.2 % at 64 (on a GPU).
        steps, batch: optimiser steps and images per step.
        learning_rate, weight_decay: AdamW's; the rate follows a cosine to zero after a warm-up.
        keypoints: surface keypoints picked when the target has none (plus its centre).
        covered_peak: the height of a covered keypoint's training heatmap (something else in
            front of the object where it projects), 1 for the others; below 1 the network's
            confidence tells a keypoint it sees (or places from the object's visible surface)
            from one it can only guess, and the pose solver weighs them accordingly. The full
            recipe keeps 1: 0.4 alone gave the drill's model that split (median confidence 0.66
            clear, 0.39 covered) at the same keypoint error (3.48 px) but tracked no better
            (56 % of 295 partly hidden frames within 0.1 d, against 58 %; 94 % of visible ones
            either way).
        occluder_share: share of the training images with a blob or a hand over part of the
            object.
        hand_share: share of those occluders that are hands (``synth.training``). At width 32
            hands alone did not help the drill's model (on the ten sequences rendered to check
            it, 43.0 % of the partly hidden frames within 0.1 d, against 42.6 % without); at
            width 64 they did (docs/learned-keypoints.md).
        seed: seeds rendering, initialisation, batches and augmentation.
        threads: torch's CPU threads.
        int8: export the model quantized (``export.quantize_int8``: int8 weights, uint8
            activations, calibrated on training images): a quarter of the size and 3-4 times
            faster with onnxruntime on a CPU with VNNI or AMX; the card scores it as well.
        precision: ``bf16`` (the network's forward pass under bfloat16 autocast, channels-last:
            about 3.5 times faster on a CPU with AMX or AVX-512 BF16), ``fp32``, or ``auto``
            (bf16 where the CPU has it natively, else fp32). The model card records which ran.
    """

    name: str = "full"
    images: int = 24000
    size_px: int = 128
    validation_images: int = 400
    width: int = 64
    steps: int = 15000
    batch: int = 32
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    keypoints: int = 8
    covered_peak: float = 1.0
    occluder_share: float = 0.5
    hand_share: float = 0.5
    seed: int = 0
    threads: int = 2
    int8: bool = True
    precision: str = "auto"

    def __post_init__(self) -> None:
        check_int(self.images, "images", ge=1)
        if check_int(self.size_px, "size_px", ge=32) % 32:
            raise InvalidInputError(f"size_px: expected a multiple of 32, got {self.size_px}")
        for name in ("validation_images", "width", "steps", "batch"):
            check_int(getattr(self, name), name, ge=1)
        check_number(self.covered_peak, "covered_peak", gt=0, le=1)
        check_number(self.occluder_share, "occluder_share", ge=0, le=1)
        check_number(self.hand_share, "hand_share", ge=0, le=1)
        check_int(self.threads, "threads", ge=1)
        if self.precision not in PRECISIONS:
            raise InvalidInputError(
                f"precision: expected one of {', '.join(PRECISIONS)}, got {self.precision!r}"
            )


TRAIN_CONFIGS = {
    "full": TrainConfig(),
    "tiny": TrainConfig(
        name="tiny",
        images=48,
        size_px=64,
        validation_images=16,
        width=4,
        steps=60,
        batch=8,
        learning_rate=1e-2,
        covered_peak=0.4,  # the tests run the covered keypoints' lower targets too
    ),
}
"""Presets: ``full`` (the shipped models; 89 minutes on 2 CPU cores with native bf16, about four
times as long in float32) and ``tiny`` (seconds, for tests)."""


@dataclass
class TrainResult:
    """What ``train_keypoints`` made.

    Attributes:
        net: the trained network (eval mode).
        keypoints_obj: (K, 3) metres, object frame: what each heatmap finds.
        config: the recipe.
        losses: the training loss at every step.
        calibration: (N, S, S, 3) uint8 BGR training images to calibrate an int8 export with.
        validation: the validation renders (scoring an exported model too).
        scores: validation scores: ``keypoint_error_px_median``, ``keypoints_within_4px``
            (share of labelled keypoints), ``false_peaks`` (share of keypoints reported above 0.5
            in images without the object), ``confidence_clear_median`` and
            ``confidence_covered_median`` (the network's confidence in labelled keypoints with
            nothing in front of them, and in covered ones), ``train_seconds``.
    """

    net: KeypointNet
    keypoints_obj: np.ndarray
    config: TrainConfig
    losses: list[float] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    calibration: np.ndarray | None = None
    validation: TrainingSet | None = None

    def recipe(self) -> dict[str, object]:
        return asdict(self.config)


def heatmap_targets(keypoints_px: torch.Tensor, peaks: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, K, H/4, W/4) Gaussians of ``HEATMAP_SIGMA`` cells around each keypoint (B, K, 2
    pixels), each as high as its peak (B, K): 1 for a keypoint to find, 0 for one not to (a
    bool tensor says which), between for a covered one. Cell j's centre is at pixel 4j + 1.5."""
    cells = (keypoints_px - (STRIDE - 1) / 2.0) / STRIDE
    ys = torch.arange(height // STRIDE, dtype=torch.float32)
    xs = torch.arange(width // STRIDE, dtype=torch.float32)
    gx = torch.exp(-((xs[None, None, :] - cells[..., 0:1]) ** 2) / (2 * HEATMAP_SIGMA**2))
    gy = torch.exp(-((ys[None, None, :] - cells[..., 1:2]) ** 2) / (2 * HEATMAP_SIGMA**2))
    return gy[..., :, None] * gx[..., None, :] * peaks[..., None, None].float()


def _augment(
    images: np.ndarray,
    keypoints: np.ndarray,
    peaks: np.ndarray,
    covered_peak: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A randomly transformed copy of a batch: images (B, S, S, 3) uint8, keypoints (B, K, 2)
    pixels and their heatmap peaks (B, K): 0 once outside, at most ``covered_peak`` once erased."""
    size = images.shape[1]
    out = np.empty(images.shape, np.float32)
    keypoints, peaks = keypoints.copy(), peaks.copy()
    for i in range(len(images)):
        image = images[i].astype(np.float32)
        if rng.uniform() < 0.5:  # rotate, scale and shift about the centre
            centre = ((size - 1) / 2.0, (size - 1) / 2.0)
            A = cv2.getRotationMatrix2D(centre, rng.uniform(-180, 180), 2 ** rng.uniform(-0.4, 0.4))
            A[:, 2] += rng.uniform(-0.15, 0.15, 2) * size
            fill = tuple(float(v) for v in image.reshape(-1, 3).mean(axis=0))
            image = cv2.warpAffine(image, A, (size, size), flags=cv2.INTER_LINEAR, borderValue=fill)
            keypoints[i] = keypoints[i] @ A[:, :2].T + A[:, 2]
            peaks[i] *= np.all((keypoints[i] > -0.5) & (keypoints[i] < size - 0.5), axis=1)
        mean = image.mean()
        image = (image - mean) * rng.uniform(0.7, 1.3) + mean + rng.uniform(-25, 25)
        image *= rng.uniform(0.9, 1.1, 3).astype(np.float32)
        if rng.uniform() < 0.1:
            image[:] = image.mean(axis=2, keepdims=True)
        if rng.uniform() < 0.2:  # an erased patch
            h, w = (rng.uniform(0.1, 0.35, 2) * size).astype(int)
            y, x = rng.integers(0, size - h), rng.integers(0, size - w)
            image[y : y + h, x : x + w] = rng.uniform(0, 255, 3)
            u, v = keypoints[i, :, 0], keypoints[i, :, 1]
            erased = (u >= x - 0.5) & (u < x + w - 0.5) & (v >= y - 0.5) & (v < y + h - 0.5)
            peaks[i, erased] = np.minimum(peaks[i, erased], covered_peak)
        image += rng.normal(0, rng.uniform(0, 6), image.shape).astype(np.float32)
        out[i] = np.clip(image, 0, 255)
    return out, keypoints, peaks


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32))


def _loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    weights = 1.0 + 10.0 * targets
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, weight=weights)


def score(net: KeypointNet, data: TrainingSet) -> dict[str, float]:
    """Validation scores of ``net`` on ``data`` (see ``TrainResult.scores``)."""
    net.eval()
    with torch.no_grad():
        return score_heatmaps(lambda images: torch.sigmoid(net(_to_tensor(images))).numpy(), data)


def score_heatmaps(heatmaps_of: Callable[[np.ndarray], np.ndarray], data: TrainingSet) -> dict[str, float]:
    """Validation scores (see ``TrainResult.scores``) of a model given as ``heatmaps_of``: (B, S,
    S, 3) uint8 BGR images to (B, K, S/4, S/4) probabilities."""
    errors, false_peaks, absent_keypoints = [], 0, 0
    confidence_clear: list[float] = []
    confidence_covered: list[float] = []
    for start in range(0, len(data), 64):
        probabilities = heatmaps_of(data.images[start : start + 64])
        for j, heatmaps in enumerate(probabilities):
            i = start + j
            pixels, confidence = decode_heatmaps(heatmaps, STRIDE)
            labelled = data.labelled[i]
            errors += list(np.linalg.norm(pixels - data.keypoints_px[i], axis=1)[labelled])
            confidence_clear += list(confidence[labelled & ~data.covered[i]])
            confidence_covered += list(confidence[data.covered[i]])
            if not labelled.any():
                false_peaks += int((confidence > 0.5).sum())
                absent_keypoints += len(confidence)
    errors = np.asarray(errors)
    return {
        "keypoint_error_px_median": _median(errors),
        "keypoints_within_4px": float(np.mean(errors < 4.0)) if len(errors) else float("nan"),
        "false_peaks": false_peaks / max(absent_keypoints, 1),
        "confidence_clear_median": _median(confidence_clear),
        "confidence_covered_median": _median(confidence_covered),
    }


def _median(values: list[float] | np.ndarray) -> float:
    """The median, NaN for no values."""
    return float(np.median(values)) if len(values) else float("nan")


def train_keypoints(
    target: Target, config: TrainConfig = TRAIN_CONFIGS["full"], progress: bool = True
) -> TrainResult:
    """Render, train and score a keypoint network for ``target``.

    The target's own keypoints are used when it has at least 4; otherwise ``config.keypoints``
    farthest-point samples and the centre (``farthest_point_keypoints``).
    """
    if config.precision == "auto":
        config = replace(config, precision="bf16" if cpu_has_bf16() else "fp32")
    started = time.perf_counter()
    with _reproducible(config.seed, config.threads):
        return _train(target, config, started, progress)


@contextlib.contextmanager
def _reproducible(seed: int, threads: int) -> Iterator[None]:
    """Torch seeded with ``seed``, on ``threads`` CPU threads, with its deterministic kernels
    (``use_deterministic_algorithms``, warning where an op has none, and oneDNN's deterministic
    mode where this torch has it); the caller's random state, thread count and flags come back
    afterwards."""
    mkldnn = torch.backends.mkldnn
    saved_threads = torch.get_num_threads()
    saved_deterministic = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    saved_mkldnn = getattr(mkldnn, "deterministic", None)
    with torch.random.fork_rng(devices=[]):
        try:
            torch.manual_seed(seed)
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(True, warn_only=True)
            if saved_mkldnn is not None:
                mkldnn.deterministic = True
            yield
        finally:
            if saved_mkldnn is not None:
                mkldnn.deterministic = saved_mkldnn
            torch.use_deterministic_algorithms(saved_deterministic[0], warn_only=saved_deterministic[1])
            torch.set_num_threads(saved_threads)


def _train(target: Target, config: TrainConfig, started: float, progress: bool) -> TrainResult:
    """``train_keypoints``' work, under ``_reproducible``; ``config.precision`` is resolved."""
    from tqdm import tqdm

    bf16 = config.precision == "bf16"
    rng = np.random.default_rng(config.seed)
    keypoints_obj = (
        np.asarray(target.keypoints_obj)
        if len(target.keypoints_obj) >= 4
        else farthest_point_keypoints(target.mesh, config.keypoints, seed=config.seed)
    )
    options = TrainingSetOptions(
        count=config.images,
        size_px=config.size_px,
        seed=config.seed,
        occluder_share=config.occluder_share,
        hand_share=config.hand_share,
    )
    data = render_training_set(target, keypoints_obj, options, progress=progress)
    # the same randomisation, another seed
    held_out = replace(options, count=config.validation_images, seed=config.seed + 1_000_003)
    validation = render_training_set(target, keypoints_obj, held_out, progress=progress)
    peak_heights = np.where(data.covered, config.covered_peak, 1.0).astype(np.float32) * data.labelled
    net = KeypointNet(len(keypoints_obj), config.width)
    layout = torch.channels_last if bf16 else torch.contiguous_format
    net = net.to(memory_format=layout)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    warmup = max(1, config.steps // 50)

    def rate(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, config.steps - warmup)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, rate)
    losses: list[float] = []
    net.train()
    bar = tqdm(range(config.steps), desc="training", unit="step", disable=not progress)
    for step in bar:
        pick = rng.integers(0, len(data), config.batch)
        images, keypoints, peaks = _augment(
            data.images[pick], data.keypoints_px[pick], peak_heights[pick], config.covered_peak, rng
        )
        targets = heatmap_targets(
            torch.from_numpy(keypoints), torch.from_numpy(peaks), config.size_px, config.size_px
        )
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = net(_to_tensor(images).contiguous(memory_format=layout))
        loss = _loss(logits.float(), targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if step % 50 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
    net = net.to(memory_format=torch.contiguous_format).eval()
    scores = score(net, validation)
    scores["train_seconds"] = time.perf_counter() - started
    calibration = data.images[:_CALIBRATION_IMAGES].copy()  # random draws already
    return TrainResult(net, keypoints_obj, config, losses, scores, calibration, validation)

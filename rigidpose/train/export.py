"""Export a trained ``KeypointNet`` to ONNX with what the detector needs, and its model card.

The .onnx file carries, as metadata, the format name, the keypoints (metres, object frame), the
stride, the training input size, the target's name and diameter, so the file alone is enough to
detect with (``detect.learned.KeypointModel``). The card (``NAME.md`` next to it) says what the
model finds, how it was trained (the recipe and seed, the command that repeats it) and how well
it scored.
"""

from __future__ import annotations

import io
import json
import os
import platform
from pathlib import Path

import numpy as np
import torch

from .._files import atomic_file, atomic_write_text
from ..detect.learned import MODEL_FORMAT
from ..target import Target
from .fit import TrainResult
from .net import STRIDE, Probabilities

__all__ = ["OPSET", "export_onnx", "onnx_bytes", "write_card"]

OPSET = 18


def onnx_bytes(result: TrainResult, target: Target) -> bytes:
    """The network with a sigmoid, as an ONNX model (opset 18, any batch and image size that is a
    multiple of 16), with the detector's metadata."""
    import onnx

    model = Probabilities(result.net).eval()
    size = result.config.size_px
    example = torch.zeros(1, 3, size, size)
    buffer = io.BytesIO()
    dims = {0: torch.export.Dim("batch", max=256), 2: torch.export.Dim.AUTO, 3: torch.export.Dim.AUTO}
    program = torch.onnx.export(
        model,
        (example,),
        None,
        input_names=["image"],
        output_names=["heatmaps"],
        opset_version=OPSET,
        dynamic_shapes=(dims,),
        dynamo=True,
        verbose=False,
    )
    program.save(buffer)
    proto = onnx.load_from_string(buffer.getvalue())
    metadata = {
        "format": MODEL_FORMAT,
        "version": "1",
        "target": target.name,
        "diameter_m": repr(target.diameter_m),
        "keypoints_obj": json.dumps(np.asarray(result.keypoints_obj).tolist()),
        "stride": str(STRIDE),
        "input_size": str(size),
        "recipe": json.dumps(result.recipe()),
    }
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "rigidpose"
    return proto.SerializeToString()


def export_onnx(result: TrainResult, target: Target, path: str | os.PathLike[str]) -> Path:
    """Write the model at ``path`` (atomically) and return the path."""
    path = Path(path)
    data = onnx_bytes(result, target)
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)
    return path


def write_card(result: TrainResult, target: Target, model_path: str | os.PathLike[str], command: str) -> Path:
    """Write the model card ``NAME.md`` beside the model and return its path."""
    model_path = Path(model_path)
    card = model_path.with_suffix(".md")
    config = result.config
    scores = result.scores
    keypoints = "\n".join(
        f"| {i} | {'centre' if i == 0 else 'surface'} | " + ", ".join(f"{v * 100:.1f}" for v in point) + " |"
        for i, point in enumerate(np.asarray(result.keypoints_obj))
    )
    recipe = "\n".join(f"| {key} | {value} |" for key, value in result.recipe().items())
    losses = result.losses
    first = float(np.mean(losses[: max(1, len(losses) // 20)]))
    last = float(np.mean(losses[-max(1, len(losses) // 20) :]))
    text = f"""# {model_path.name}: learned keypoints of `{target.name}`

What it is: a `KeypointNet` (rigidpose/train/net.py) that finds {len(result.keypoints_obj)} keypoints of
`{target.name}` (diameter {target.diameter_m * 100:.1f} cm, {len(target.symmetries)} symmetries declared) in
a BGR image: heatmaps at 1/{STRIDE} of the input, any input size that is a multiple of 16, trained on
{config.size_px} x {config.size_px} renders. ONNX opset {OPSET}; run with onnxruntime (`rigidpose.KeypointModel`).

Reproduce: `{command}`

## Keypoints (object frame, cm)

| # | kind | x, y, z |
|---|---|---|
{keypoints}

## Training recipe

| setting | value |
|---|---|
{recipe}

Data: `rigidpose.synth.training` (domain randomisation; backgrounds and lights disjoint from the
benchmark's). Trained with torch {torch.__version__} on {platform.machine()}, {config.threads} threads,
in {scores.get("train_seconds", float("nan")) / 60:.1f} min. Loss {first:.4f} (first 5 % of steps) ->
{last:.4f} (last 5 %).

## Scores on {config.validation_images} validation renders (another seed)

| score | value |
|---|---|
| keypoint error, median (px at {config.size_px} px) | {scores.get("keypoint_error_px_median", float("nan")):.2f} |
| keypoints within 4 px | {scores.get("keypoints_within_4px", float("nan")):.3f} |
| false peaks above 0.5 in images without the object | {scores.get("false_peaks", float("nan")):.4f} |
| confidence, median, keypoints with nothing in front | {scores.get("confidence_clear_median", float("nan")):.3f} |
| confidence, median, covered keypoints | {scores.get("confidence_covered_median", float("nan")):.3f} |

Tracking accuracy on held-out sequences: `rigidpose bench --learned` (README, "Low-texture objects").
"""
    atomic_write_text(card, text)
    return card

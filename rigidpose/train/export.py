"""Export a trained ``KeypointNet`` to ONNX with what the detector needs, and its model card.

The .onnx file carries, as metadata, the format name, the keypoints (metres, object frame), the
stride, the training input size, the target's name and diameter, so the file alone is enough to
detect with (``detect.learned.KeypointModel``). A recipe with ``int8`` exports the network
quantized (``quantize_int8``). The card (``NAME.md`` next to it) says what the
model finds, how it was trained (the recipe and seed, the command that repeats it) and how well
it scored.
"""

from __future__ import annotations

import io
import json
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import torch

from .._files import atomic_file, atomic_write_text
from ..detect.learned import MODEL_FORMAT
from ..errors import InvalidInputError
from ..target import Target
from .fit import TrainResult, score_heatmaps
from .net import STRIDE, Probabilities

__all__ = ["OPSET", "export_onnx", "onnx_bytes", "quantize_int8", "write_card"]

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


def quantize_int8(model: bytes, calibration_bgr: np.ndarray) -> bytes:
    """``model`` (an ``onnx_bytes`` export) with int8 weights (one scale per output channel) and
    uint8 activations, their ranges the minimum and maximum seen on ``calibration_bgr`` (N, S, S,
    3) uint8 BGR images. onnxruntime fuses the quantize-dequantize pairs into integer
    convolutions; the metadata is kept."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    batches = iter(
        [{"image": np.ascontiguousarray(calibration_bgr[i : i + 16].transpose(0, 3, 1, 2), np.float32)}
         for i in range(0, len(calibration_bgr), 16)]
    )  # fmt: skip

    class Batches(CalibrationDataReader):
        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(batches, None)

    with tempfile.TemporaryDirectory() as tmp:
        plain, prepared, quantized = (
            Path(tmp) / name for name in ("plain.onnx", "prepared.onnx", "int8.onnx")
        )
        plain.write_bytes(model)
        # onnxruntime's symbolic shape inference cannot follow the free image size; onnx's can
        quant_pre_process(str(plain), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(quantized),
            Batches(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        proto = onnx.load(str(quantized))
    source = onnx.load_from_string(model)
    del proto.metadata_props[:]
    proto.metadata_props.extend(source.metadata_props)
    proto.producer_name = source.producer_name
    return proto.SerializeToString()


def export_onnx(result: TrainResult, target: Target, path: str | os.PathLike[str]) -> Path:
    """Write the model at ``path`` (atomically; quantized when the recipe says ``int8``) and
    return the path."""
    path = Path(path)
    data = onnx_bytes(result, target)
    if result.config.int8:
        if result.calibration is None or not len(result.calibration):
            raise InvalidInputError("an int8 export needs the training result's calibration images")
        data = quantize_int8(data, result.calibration)
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
    exported = _exported_scores(result, model_path)
    rows = [
        (f"keypoint error, median (px at {config.size_px} px)", "keypoint_error_px_median", ".2f"),
        ("keypoints within 4 px", "keypoints_within_4px", ".3f"),
        ("false peaks above 0.5 in images without the object", "false_peaks", ".4f"),
        ("confidence, median, keypoints with nothing in front", "confidence_clear_median", ".3f"),
        ("confidence, median, covered keypoints", "confidence_covered_median", ".3f"),
    ]
    if exported is None:
        score_table = "| score | value |\n|---|---|\n" + "\n".join(
            f"| {label} | {scores.get(key, float('nan')):{fmt}} |" for label, key, fmt in rows
        )
    else:
        score_table = "| score | network (float) | this file (int8) |\n|---|---|---|\n" + "\n".join(
            f"| {label} | {scores.get(key, float('nan')):{fmt}} | {exported[key]:{fmt}} |"
            for label, key, fmt in rows
        )
    weights = (
        "int8 weights (one scale per output channel) and uint8 activations, calibrated on "
        f"{len(result.calibration)} training images (`rigidpose.train.quantize_int8`)"
        if exported is not None
        else "float32 weights"
    )
    losses = result.losses
    first = float(np.mean(losses[: max(1, len(losses) // 20)]))
    last = float(np.mean(losses[-max(1, len(losses) // 20) :]))
    text = f"""# {model_path.name}: learned keypoints of `{target.name}`

What it is: a `KeypointNet` (rigidpose/train/net.py) that finds {len(result.keypoints_obj)} keypoints of
`{target.name}` (diameter {target.diameter_m * 100:.1f} cm, {len(target.symmetries)} symmetries declared) in
a BGR image: heatmaps at 1/{STRIDE} of the input, any input size that is a multiple of 16, trained on
{config.size_px} x {config.size_px} renders. ONNX opset {OPSET}, {weights}; run with onnxruntime
(`rigidpose.KeypointModel`).

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
benchmark's). Trained with torch {torch.__version__} on {platform.machine()}, {config.threads} threads, {config.precision},
in {scores.get("train_seconds", float("nan")) / 60:.1f} min. Loss {first:.4f} (first 5 % of steps) ->
{last:.4f} (last 5 %).

## Scores on {config.validation_images} validation renders (another seed)

{score_table}

Tracking accuracy on held-out sequences: `rigidpose bench --learned` (docs/learned-keypoints.md).
"""
    atomic_write_text(card, text)
    return card


def _exported_scores(result: TrainResult, model_path: Path) -> dict[str, float] | None:
    """The validation scores of the int8 file at ``model_path``; None for a float export or
    when the result has no validation renders."""
    if not result.config.int8 or result.validation is None:
        return None
    from ..detect.learned import KeypointModel

    model = KeypointModel(model_path)
    return score_heatmaps(
        lambda images: np.stack([model.heatmaps(image) for image in images]), result.validation
    )

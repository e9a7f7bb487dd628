"""Keypoint network training and ONNX export (the ``train`` extra: torch, onnx, onnxscript).

from rigidpose.train import TRAIN_CONFIGS, train_keypoints, export_onnx
result = train_keypoints(target, TRAIN_CONFIGS["full"])
export_onnx(result, target, "models/drill.onnx")
"""

from ..errors import BackendMissingError

try:
    import torch  # noqa: F401
except ImportError:
    raise BackendMissingError(
        "training needs torch, onnx and onnxscript; install them with: pip install 'rigidpose[train]'"
    ) from None

from .export import OPSET, export_onnx, onnx_bytes, quantize_int8, write_card
from .fit import TRAIN_CONFIGS, TrainConfig, TrainResult, train_keypoints
from .net import KeypointNet

__all__ = [
    "OPSET",
    "TRAIN_CONFIGS",
    "KeypointNet",
    "TrainConfig",
    "TrainResult",
    "export_onnx",
    "onnx_bytes",
    "quantize_int8",
    "train_keypoints",
    "write_card",
]

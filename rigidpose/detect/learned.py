"""Learned keypoints: an exported ``KeypointNet`` (ONNX) run with onnxruntime on the CPU.

``KeypointModel`` holds a model and what it was trained for (its keypoints on the object, its
input size and stride: metadata inside the .onnx file). ``LearnedDetector`` finds a target with
it: on a crop around the predicted pose while tracking, on the whole frame, downscaled, when the
target is lost. It returns the same ``Observations`` as the feature detector, one per keypoint
the network is confident of, with that confidence as the score (``solve_weighted_pose`` weighs
the PnP by it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .._validate import check_int, check_number
from ..camera import Camera
from ..errors import BackendMissingError, FileFormatError, InvalidInputError, SourceError
from ..geometry import Pose
from .observations import Observations

if TYPE_CHECKING:
    from ..target import Target

__all__ = ["MODEL_FORMAT", "KeypointModel", "LearnedDetector", "LearnedOptions", "decode_heatmaps"]

MODEL_FORMAT = "rigidpose.keypoint-model"
"""The ``format`` metadata entry of every keypoint model this project exports."""


def decode_heatmaps(heatmaps: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Keypoint pixels and confidences from (K, h, w) probabilities (one image).

    The peak cell is refined to a fraction of a cell by a parabola through the logarithm of its
    neighbours (exact for a Gaussian). Returns (K, 2) float32 pixels in the network's input (cell j's centre is
    pixel ``stride * j + (stride - 1) / 2``) and
    (K,) float32 peak probabilities.
    """
    k, h, w = heatmaps.shape
    flat = heatmaps.reshape(k, -1)
    peak = flat.argmax(axis=1)
    py, px = np.divmod(peak, w)
    confidence = flat[np.arange(k), peak].astype(np.float32)
    logs = np.log(np.maximum(heatmaps, 1e-6))

    def offset(before: np.ndarray, centre: np.ndarray, after: np.ndarray) -> np.ndarray:
        curvature = before - 2 * centre + after
        step = np.where(
            curvature < -1e-6, 0.5 * (before - after) / np.where(curvature < -1e-6, curvature, -1.0), 0.0
        )
        return np.clip(step, -0.5, 0.5)

    rows = np.arange(k)
    left = logs[rows, py, np.maximum(px - 1, 0)]
    right = logs[rows, py, np.minimum(px + 1, w - 1)]
    up = logs[rows, np.maximum(py - 1, 0), px]
    down = logs[rows, np.minimum(py + 1, h - 1), px]
    centre = logs[rows, py, px]
    dx = np.where((px > 0) & (px < w - 1), offset(left, centre, right), 0.0)
    dy = np.where((py > 0) & (py < h - 1), offset(up, centre, down), 0.0)
    pixels = np.column_stack(
        [(px + dx) * stride + (stride - 1) / 2.0, (py + dy) * stride + (stride - 1) / 2.0]
    )
    return pixels.astype(np.float32), confidence


class KeypointModel:
    """An exported keypoint network and what it finds, run with onnxruntime on the CPU.

    Args:
        model: the .onnx file's path or bytes (``rigidpose train`` writes it).
        threads: onnxruntime's threads within an operator.

    Attributes:
        keypoints_obj: (K, 3) float64, metres, object frame: what heatmap k finds.
        stride: input pixels per heatmap cell.
        input_size: the side of the square images it was trained on, pixels.
        target: the name of the target it was trained for.
        data: the model file's bytes.
    """

    def __init__(self, model: bytes | str | os.PathLike[str], threads: int = 2) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise BackendMissingError(
                "learned keypoints need onnxruntime; install it with: pip install 'rigidpose[learned]'"
            ) from None
        name = "keypoint model"
        if not isinstance(model, bytes):
            path = Path(model)
            if not path.is_file():
                raise SourceError(f"{path}: no such keypoint model")
            name, model = str(path), path.read_bytes()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own kinds for a file it cannot read
            raise FileFormatError(
                f"{name}: not an ONNX model onnxruntime can run ({type(exc).__name__})"
            ) from None
        meta = session.get_modelmeta().custom_metadata_map
        if meta.get("format") != MODEL_FORMAT:
            raise FileFormatError(
                f'{name}: expected an ONNX model with "format": "{MODEL_FORMAT}" (rigidpose train)'
            )
        try:
            keypoints = np.asarray(json.loads(meta["keypoints_obj"]), dtype=np.float64)
            self.stride, self.input_size = int(meta["stride"]), int(meta["input_size"])
        except (KeyError, ValueError) as exc:
            raise FileFormatError(f"{name}: keypoint model metadata is incomplete ({exc})") from None
        if keypoints.ndim != 2 or keypoints.shape[1] != 3 or len(keypoints) < 4:
            raise FileFormatError(
                f"{name}: expected keypoints_obj of shape (K, 3), K >= 4, got {keypoints.shape}"
            )
        self.keypoints_obj = keypoints
        self.target = meta.get("target", "")
        self.data = model
        self._session = session
        self._input = session.get_inputs()[0].name

    def heatmaps(self, image_bgr: np.ndarray) -> np.ndarray:
        """(K, H/stride, W/stride) float32 probabilities for a (H, W, 3) uint8 BGR image whose
        sides are multiples of 16."""
        h, w = image_bgr.shape[:2]
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or h % 16 or w % 16:
            raise InvalidInputError(
                f"image: expected (H, W, 3) with H and W multiples of 16, got {image_bgr.shape}"
            )
        batch = np.ascontiguousarray(image_bgr.transpose(2, 0, 1)[None], dtype=np.float32)
        return self._session.run(None, {self._input: batch})[0][0]

    def find(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each keypoint's most likely pixel in ``image_bgr`` (any size; padded to multiples of 16)
        and its confidence: (K, 2) float32 pixels, (K,) float32 in [0, 1]."""
        h, w = image_bgr.shape[:2]
        padded = cv2.copyMakeBorder(image_bgr, 0, -h % 16, 0, -w % 16, cv2.BORDER_REPLICATE)
        return decode_heatmaps(self.heatmaps(padded), self.stride)


@dataclass(frozen=True)
class LearnedOptions:
    """How ``LearnedDetector`` looks for its target.

    Attributes:
        fill: the object's diameter over the crop's side when following a pose.
        search_sides_px: the whole frame is searched scaled so its longer side has each of these
            lengths in turn (coarse first: big objects, then smaller ones).
        min_confidence: keypoints below this confidence are not reported.
    """

    fill: float = 0.75
    search_sides_px: tuple[int, ...] = (160, 320)
    min_confidence: float = 0.3

    def __post_init__(self) -> None:
        check_number(self.fill, "fill", ge=0.1, le=1.5)
        if not isinstance(self.search_sides_px, (tuple, list)) or not self.search_sides_px:
            raise InvalidInputError(
                f"search_sides_px: expected one or more sides in pixels, got {self.search_sides_px!r}"
            )
        for i, side in enumerate(self.search_sides_px):
            check_int(side, f"search_sides_px[{i}]", ge=1)
        check_number(self.min_confidence, "min_confidence", gt=0, lt=1)


class LearnedDetector:
    """Finds ``target``'s keypoints with its keypoint model (``target.keypoint_model``).

    Args:
        target: a target with a keypoint model.
        options: see ``LearnedOptions``.
        threads: onnxruntime's threads.
    """

    def __init__(self, target: Target, options: LearnedOptions = LearnedOptions(), threads: int = 2) -> None:
        model = target.keypoint_model
        if model is None:
            raise InvalidInputError(f"target {target.name!r}: has no keypoint model (rigidpose train)")
        self.target, self.options = target, options
        self.model = KeypointModel(model, threads)
        self._centre_obj = np.asarray(target.mesh.bounds, dtype=np.float64).mean(axis=0)
        self._diameter_m = float(target.diameter_m)

    def _observations(self, pixels: np.ndarray, confidence: np.ndarray) -> Observations:
        keep = confidence >= self.options.min_confidence
        return Observations(self.target.name, pixels[keep], self.model.keypoints_obj[keep], confidence[keep])

    def size_px(self, camera: Camera, T_cam_obj: Pose) -> float:
        """The object's diameter in pixels at ``T_cam_obj`` (at its centre's depth); 0 behind
        the camera."""
        depth = float(T_cam_obj.apply(self._centre_obj[None])[0, 2])
        return camera.fx * self._diameter_m / depth if depth > 1e-3 else 0.0

    def crop_box(self, camera: Camera, T_cam_obj: Pose) -> tuple[int, int, int] | None:
        """The square (x0, y0, side) in pixels the network looks at for the object at
        ``T_cam_obj``; None when the object is behind the camera or too small to see."""
        side = round(self.size_px(camera, T_cam_obj) / self.options.fill)
        if side < 16:
            return None
        centre = camera.project(T_cam_obj.apply(self._centre_obj[None]))[0]
        if not np.all(np.isfinite(centre)):
            return None
        x0, y0 = np.round(centre - side / 2.0).astype(int)
        return int(x0), int(y0), side

    def observe(self, image_bgr: np.ndarray, camera: Camera, T_cam_obj: Pose) -> Observations:
        """Keypoints on a crop around where ``T_cam_obj`` puts the object (tracking)."""
        box = self.crop_box(camera, T_cam_obj)
        if box is None:
            return Observations.empty(self.target.name)
        x0, y0, side = box
        h, w = image_bgr.shape[:2]
        if x0 + side <= 0 or y0 + side <= 0 or x0 >= w or y0 >= h:
            return Observations.empty(self.target.name)
        # the crop, with the frame's border replicated where it reaches outside
        pad = (max(0, -y0), max(0, y0 + side - h), max(0, -x0), max(0, x0 + side - w))
        region = image_bgr[max(0, y0) : min(h, y0 + side), max(0, x0) : min(w, x0 + side)]
        region = cv2.copyMakeBorder(region, *pad, cv2.BORDER_REPLICATE)
        size = self.model.input_size
        scale = size / side
        crop = cv2.resize(
            region, (size, size), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        )
        pixels, confidence = self.model.find(crop)
        # crop pixel c covers frame pixels around x0 + (c + 0.5) / scale - 0.5
        pixels = (pixels + 0.5) / scale - 0.5 + np.array([x0, y0], np.float32)
        return self._observations(pixels.astype(np.float32), confidence)

    def search(self, image_bgr: np.ndarray, side_px: int) -> Observations:
        """Keypoints in the whole frame scaled so its longer side is ``side_px`` (searching)."""
        h, w = image_bgr.shape[:2]
        scale = min(1.0, side_px / max(h, w))
        small = cv2.resize(
            image_bgr, (max(16, round(w * scale)), max(16, round(h * scale))), interpolation=cv2.INTER_AREA
        )
        pixels, confidence = self.model.find(small)
        sx, sy = small.shape[1] / w, small.shape[0] / h
        pixels = (pixels + 0.5) / np.array([sx, sy], np.float32) - 0.5
        return self._observations(pixels.astype(np.float32), confidence)

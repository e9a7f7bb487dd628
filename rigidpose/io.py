"""Frame sources (video, image, folder, webcam) and pose output as JSON Lines.

``FrameSource`` is one iterator over any source; every frame it yields is BGR uint8 (grayscale,
BGRA and 16-bit images are converted). A corrupt or truncated video yields the frames it can and
stops with a logged warning.

Pose JSON Lines hold one line per frame::

    {"frame": 0, "timestamp_ms": 0.0, "objects": [{"name": "box", "state": "tracking",
     "T_cam_obj": [[...4 rows...]] or null, "inliers": 57, "reproj_error_px": 0.8, "confidence": 0.93}]}

``T_cam_obj`` is the 4x4 matrix in metres mapping object points into the camera frame (OpenCV
axes); ``reproj_error_px`` is null when there is no pose. With a robot base frame an object with a
pose also has ``"T_base_obj"``; with depth refinement, ``"depth": {"refined": true, "fitness": 0.96}``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from ._files import atomic_file, current_umask
from ._validate import check_choice
from .errors import FileFormatError, InvalidInputError, InvalidTypeError, SourceError
from .geometry import Pose

__all__ = [
    "IMAGE_SUFFIXES",
    "STATES",
    "Frame",
    "FramePoses",
    "FrameSource",
    "ObjectPose",
    "PoseWriter",
    "RGBDSource",
    "VideoWriter",
    "as_bgr8",
    "read_image",
    "read_poses",
]

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
STATES = ("searching", "tracking", "lost")
"""Per-object tracker states: looking for it, following it, just lost it."""


def as_bgr8(image: np.ndarray, name: str = "frame") -> np.ndarray:
    """An image as (H, W, 3) uint8 BGR: gray (H, W) or (H, W, 1), BGRA and 16-bit are converted.

    16-bit images are scaled by 255/65535; float images are taken as [0, 1].
    """
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0:
        raise InvalidInputError(
            f"{name}: expected an (H, W) or (H, W, 3) image, got {getattr(image, 'shape', type(image).__name__)}"
        )
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) * (255.0 / 65535.0) + 0.5).astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = (np.clip(np.nan_to_num(image, nan=0.0), 0.0, 1.0) * 255.0 + 0.5).astype(
            np.uint8
        )  # NaN: black
    elif image.dtype != np.uint8:
        raise InvalidInputError(f"{name}: expected uint8, uint16 or float pixels, got {image.dtype}")
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.shape[2] != 3:
        raise InvalidInputError(f"{name}: expected 1, 3 or 4 channels, got {image.shape[2]}")
    return np.ascontiguousarray(image)


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """An image file as (H, W, 3) uint8 BGR (gray, BGRA and 16-bit converted), or ``SourceError``."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such image file")
    try:
        data = np.fromfile(path, dtype=np.uint8)  # read by Python: OpenCV cannot open every path
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror})") from None
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise SourceError(f"{path}: cannot decode image")
    return as_bgr8(image, str(path))


def write_image(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Write ``image`` (any format OpenCV encodes, by the suffix) atomically; missing parent
    folders are created."""
    path = Path(path)
    try:
        ok, encoded = cv2.imencode(path.suffix, image)
    except cv2.error:
        ok = False
    if not ok:
        raise SourceError(f"{path}: cannot encode an image as {path.suffix or 'a file without suffix'}")
    with atomic_file(path) as tmp:
        tmp.write_bytes(encoded.tobytes())


def opencv_path(path: str | os.PathLike[str]) -> str:
    """``path`` as the text OpenCV takes; ``SourceError`` when it is not UTF-8 (OpenCV would crash)."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise SourceError(
            f"{text.encode('utf-8', 'backslashreplace').decode()}: OpenCV cannot open a path that is not "
            "valid UTF-8; rename it"
        ) from None
    return text


@dataclass(frozen=True)
class Frame:
    """One frame of a source.

    Attributes:
        index: 0-based position in the source, in reading order.
        timestamp_ms: milliseconds since the first frame (from the video's frame rate, the
            ``fps`` given for images, or the clock for a webcam).
        image: (H, W, 3) uint8 BGR.
        depth_m: (H, W) float32 metres along the camera's z axis, aligned to ``image``; 0 where
            the sensor has no reading. None without a depth source (``RGBDSource``).
        path: the image file of a frame from an image or folder source; None for video.
    """

    index: int
    timestamp_ms: float
    image: np.ndarray
    depth_m: np.ndarray | None = None
    path: Path | None = None


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


class FrameSource:
    """Frames from a video file, a single image, a folder of images or a webcam.

    ``FrameSource("clip.mp4")``, ``FrameSource("photo.jpg")``, ``FrameSource("frames/")`` (images
    sorted by name, numbers in natural order: 2 before 10), ``FrameSource("shots/left*.jpg")`` (the
    images a pattern matches, in the same order), ``FrameSource(0)`` or
    ``FrameSource("0")`` (webcam index). Iterate it for ``Frame`` objects; use it as a context
    manager (or call ``close``) to release a video or camera.

    Args:
        source: the path or webcam index.
        fps: frame rate for image timestamps (images and folders carry no time); default 30.
        width, height: resolution to request from a webcam (it may give another).
        reconnect_s: a webcam that stops delivering frames (stalled, unplugged) is reopened
            every second for this long before the source ends.
        on_status: called with a short text when a webcam stalls, is being reopened, is back
            (``"live"``) or is given up; for a window or log to show it.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | int,
        *,
        fps: float = 30.0,
        width: int | None = None,
        height: int | None = None,
        reconnect_s: float = 10.0,
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        self.source = source
        if not reconnect_s >= 0:
            raise InvalidInputError(f"reconnect_s: expected seconds >= 0, got {reconnect_s!r}")
        self.reconnect_s = float(reconnect_s)
        self.on_status = on_status
        self._requested_size = (width, height)
        self._capture: cv2.VideoCapture | None = None
        self._link_dir: tempfile.TemporaryDirectory[str] | None = None
        self._paths: list[Path] = []
        self.fps: float | None = float(fps)
        self.frame_count: int | None = None
        """Number of frames, when known beforehand (None for a webcam)."""

        if isinstance(source, bool) or not isinstance(source, (str, os.PathLike, int, np.integer)):
            raise InvalidTypeError(
                f"source: expected a path or a webcam index, got {type(source).__name__} {source!r}"[:120]
            )
        if isinstance(source, (int, np.integer)) and source < 0:  # OpenCV crashes on -1
            raise InvalidInputError(f"source: expected a webcam index >= 0, got {source}")
        text = str(source)
        if isinstance(source, (int, np.integer)) or (isinstance(source, str) and text.isdigit()):
            self.kind = "webcam"
            self._open_webcam(int(text))
            return
        path = Path(source)
        pattern = any(c in text for c in "*?[") and not path.exists()
        if pattern or path.is_dir():
            self.kind = "folder"
            candidates = path.parent.glob(path.name) if pattern else path.iterdir()
            self._paths = sorted(
                (p for p in candidates if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                key=_natural_key,
            )
            if not self._paths:
                what = "no images match" if pattern else "folder holds no images"
                raise SourceError(f"{path}: {what} ({', '.join(IMAGE_SUFFIXES)})")
            self.frame_count = len(self._paths)
        elif not path.is_file():
            raise SourceError(f"{path}: no such file, folder or webcam index")
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            self.kind = "image"
            self._paths = [path]
            self.frame_count = 1
        else:
            self.kind = "video"
            self._open_video(path)

    def _open_video(self, path: Path) -> None:
        # FFmpeg prints every recoverable decoding hiccup to stderr; we report what matters (a
        # video that ends early) ourselves. Set OPENCV_FFMPEG_LOGLEVEL to see them again.
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")  # AV_LOG_FATAL
        try:
            capture = cv2.VideoCapture(opencv_path(path))
        except SourceError:  # OpenCV takes only UTF-8 paths: open it through a link that is one
            self._link_dir = tempfile.TemporaryDirectory(prefix="rigidpose-")
            link = Path(self._link_dir.name) / f"video{path.suffix.encode('ascii', 'replace').decode()}"
            os.symlink(path.absolute(), link)
            capture = cv2.VideoCapture(str(link))
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"{path}: cannot open as a video (unknown format or corrupt file)")
        self._capture = capture
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if math.isfinite(fps) and fps > 0 else 30.0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if count > 0 else None

    def _open_webcam(self, index: int) -> None:
        capture = self._new_capture(index)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"webcam {index}: cannot open (is a camera connected, and free?)")
        self._capture = capture
        self.fps = None

    def _new_capture(self, index: int) -> cv2.VideoCapture:
        """Open webcam ``index`` at the requested size (it may give another)."""
        capture = cv2.VideoCapture(index)
        width, height = self._requested_size
        if capture.isOpened() and width:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if capture.isOpened() and height:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        return capture

    def _status(self, text: str) -> None:
        logger.info("webcam %s: %s", self.source, text)
        if self.on_status is not None:
            self.on_status(text)

    def _recover_webcam(self, delivered: int) -> bool:
        """After a failed read: reopen the webcam every second until it delivers again or
        ``reconnect_s`` has passed. True when it is back."""
        start = time.monotonic()
        self._status("stalled: no frame from the camera")
        while (waited := time.monotonic() - start) < self.reconnect_s:
            time.sleep(min(1.0, self.reconnect_s - waited))
            if self._capture is not None:
                self._capture.release()
            self._capture = self._new_capture(int(str(self.source)))
            if self._capture.isOpened():
                ok, _ = self._capture.read()
                if ok:
                    self._status("live")
                    return True
            self._status(f"reconnecting ({time.monotonic() - start:.0f} of {self.reconnect_s:.0f} s)")
        logger.warning(
            "webcam %s: gave up after %.0f s without frames (%d frames delivered)",
            self.source,
            self.reconnect_s,
            delivered,
        )
        self._status("lost: the camera stopped delivering frames")
        return False

    def __len__(self) -> int:
        if self.frame_count is None:
            raise TypeError(f"{self.kind} source has no known length")
        return self.frame_count

    def __iter__(self) -> Iterator[Frame]:
        if self.kind in ("image", "folder"):
            yield from self._iter_images()
        else:
            yield from self._iter_capture()

    def _iter_images(self) -> Iterator[Frame]:
        fps = self.fps or 30.0
        index = 0
        for path in self._paths:
            try:
                image = read_image(path)
            except SourceError:
                if self.kind == "image":
                    raise
                logger.warning("%s: cannot decode image, skipped", path)
                continue
            yield Frame(index, index * 1000.0 / fps, image, path=path)
            index += 1

    def _iter_capture(self) -> Iterator[Frame]:
        if self._capture is None:
            raise SourceError(f"{self.source}: source is closed")
        start = time.monotonic()
        index = 0
        while True:
            try:
                ok, image = self._capture.read() if self._capture is not None else (False, None)
            except cv2.error as exc:
                if self.kind != "webcam":
                    logger.warning("%s: stopped after %d frames: %s", self.source, index, str(exc).strip())
                    break
                ok, image = False, None  # an unplugged camera may raise: try to get it back
            if not ok or image is None:
                if self.kind == "webcam":
                    if self._recover_webcam(index):
                        continue
                elif self.frame_count is not None and index < self.frame_count - 1:
                    # Container frame counts are often one high; a larger gap is a real loss.
                    logger.warning(
                        "%s: video ended after %d of %d frames (truncated or corrupt)",
                        self.source,
                        index,
                        self.frame_count,
                    )
                break
            if self.kind == "webcam":
                timestamp_ms = (time.monotonic() - start) * 1000.0
            else:
                timestamp_ms = index * 1000.0 / (self.fps or 30.0)
            yield Frame(index, timestamp_ms, as_bgr8(image, f"{self.source} frame {index}"))
            index += 1

    def close(self) -> None:
        """Release the video file or camera; safe to call twice."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        if self._link_dir is not None:
            self._link_dir.cleanup()
            self._link_dir = None

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        count = "?" if self.frame_count is None else self.frame_count
        return f"FrameSource({self.kind}: {self.source}, {count} frames, fps={self.fps})"


class RGBDSource:
    """Colour frames with aligned depth images; every ``Frame`` it yields has ``depth_m``.

    ``RGBDSource("seq/video.mp4", "seq/depth")`` (``rigidpose synth --depth``),
    ``RGBDSource("scene/rgb", "scene/depth")`` (BOP), ``RGBDSource("rec/color", "rec/depth")``
    (a RealSense or Azure Kinect recording saved as images).

    Args:
        source: the colour frames: a video or a folder of images (what ``FrameSource`` opens,
            not a webcam).
        depth: a folder of single-channel 16-bit PNGs, one per colour frame in the same
            (natural) name order, registered to the colour camera and of its size.
        depth_scale_mm: millimetres per depth unit. By default BOP's ``scene_camera.json``
            beside the depth folder gives it per frame; without one, 1.0 (RealSense, Kinect).
        fps: frame rate for image timestamps.
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        depth: str | os.PathLike[str],
        *,
        depth_scale_mm: float | None = None,
        fps: float = 30.0,
    ) -> None:
        self.colour = FrameSource(source, fps=fps)
        if self.colour.kind == "webcam":
            raise InvalidInputError("source: a webcam has no depth folder; record colour and depth first")
        folder = Path(depth)
        if not folder.is_dir():
            raise SourceError(f"{folder}: no such depth folder")
        self.depth_paths = sorted((p for p in folder.glob("*.png") if p.is_file()), key=_natural_key)
        if not self.depth_paths:
            raise SourceError(f"{folder}: no depth PNGs in this folder")
        # a video's container count is often one high (FrameSource); images must match exactly
        slack = 1 if self.colour.kind == "video" else 0
        if (
            self.colour.frame_count is not None
            and abs(self.colour.frame_count - len(self.depth_paths)) > slack
        ):
            raise SourceError(
                f"{folder}: {len(self.depth_paths)} depth images for {self.colour.frame_count} colour frames "
                f"in {source}: expected one per frame"
            )
        if depth_scale_mm is not None and not depth_scale_mm > 0:
            raise InvalidInputError(f"depth_scale_mm: expected > 0, got {depth_scale_mm!r}")
        self._scales: dict[str, float] = {}
        bop_cameras = folder.parent / "scene_camera.json"
        if depth_scale_mm is None and bop_cameras.is_file():
            try:
                cameras = json.loads(bop_cameras.read_text())
                self._scales = {str(key): float(value["depth_scale"]) for key, value in cameras.items()}
            except (ValueError, KeyError, TypeError, AttributeError):
                raise FileFormatError(
                    f"{bop_cameras}: not BOP's scene_camera.json (no depth_scale)"
                ) from None
        self.depth_scale_mm = 1.0 if depth_scale_mm is None else float(depth_scale_mm)
        self.frame_count = len(self.depth_paths)

    def __len__(self) -> int:
        return self.frame_count

    def read_depth(self, index: int) -> np.ndarray:
        """Depth image ``index`` as (H, W) float32 metres (0 = no reading)."""
        path = self.depth_paths[index]
        data = np.fromfile(path, dtype=np.uint8)
        raw = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
        if raw is None or raw.ndim != 2 or raw.dtype != np.uint16:
            what = "unreadable" if raw is None else f"{raw.dtype} with shape {raw.shape}"
            raise SourceError(f"{path}: expected a single-channel 16-bit depth PNG, got {what}")
        stem = path.stem.lstrip("0") or "0"
        scale_mm = self._scales.get(stem, self.depth_scale_mm)
        return raw.astype(np.float32) * np.float32(scale_mm / 1000.0)

    def _colour_frames(self) -> Iterator[Frame]:
        if self.colour.kind == "video":
            yield from self.colour
            return
        fps = self.colour.fps or 30.0
        for index, path in enumerate(self.colour._paths):  # no skipping: depth pairs by position
            yield Frame(index, index * 1000.0 / fps, read_image(path))

    def __iter__(self) -> Iterator[Frame]:
        for frame in self._colour_frames():
            if frame.index >= self.frame_count:
                break
            depth_m = self.read_depth(frame.index)
            if depth_m.shape != frame.image.shape[:2]:
                raise SourceError(
                    f"{self.depth_paths[frame.index]}: depth is {depth_m.shape[1]}x{depth_m.shape[0]}, the colour "
                    f"frame {frame.image.shape[1]}x{frame.image.shape[0]}: register depth to colour first"
                )
            yield Frame(frame.index, frame.timestamp_ms, frame.image, depth_m)

    def close(self) -> None:
        self.colour.close()

    def __enter__(self) -> RGBDSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# -- pose JSON Lines ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ObjectPose:
    """One object's result in one frame.

    Attributes:
        name: the target's name.
        state: one of ``STATES``.
        T_cam_obj: object frame -> camera frame (metres), or None when there is no pose.
        inliers: number of 2D-3D matches that support the pose.
        reproj_error_px: RMS reprojection error of the inliers, pixels; None without a pose.
        confidence: in [0, 1].
        T_base_obj: object frame -> robot base frame (metres), when the tracker knows the
            camera's ``T_base_cam`` and has a pose; else None.
        depth_refined: whether ``T_cam_obj`` was refined with a depth image in this frame.
        depth_fitness: share of the object's depth pixels that agree with the reported pose
            (``align.Alignment.fitness``); None when no depth was checked.
    """

    name: str
    state: str
    T_cam_obj: Pose | None = None
    inliers: int = 0
    reproj_error_px: float | None = None
    confidence: float = 0.0
    T_base_obj: Pose | None = None
    depth_refined: bool = False
    depth_fitness: float | None = None

    def __post_init__(self) -> None:
        check_choice(self.state, "state", STATES)
        if self.T_cam_obj is not None and not isinstance(self.T_cam_obj, Pose):
            raise InvalidInputError(f"T_cam_obj: expected Pose or None, got {type(self.T_cam_obj).__name__}")
        if not 0.0 <= self.confidence <= 1.0:
            raise InvalidInputError(f"confidence: expected a value in [0, 1], got {self.confidence!r}")

    def as_json(self) -> dict[str, Any]:
        """The JSON object of this result (plain lists and numbers)."""
        error = self.reproj_error_px
        data: dict[str, Any] = {
            "name": self.name,
            "state": self.state,
            "T_cam_obj": None if self.T_cam_obj is None else self.T_cam_obj.as_matrix().tolist(),
            "inliers": int(self.inliers),
            "reproj_error_px": None if error is None or not math.isfinite(error) else float(error),
            "confidence": float(self.confidence),
        }
        if self.T_base_obj is not None:
            data["T_base_obj"] = self.T_base_obj.as_matrix().tolist()
        if self.depth_fitness is not None:
            data["depth"] = {
                "refined": bool(self.depth_refined),
                "fitness": round(float(self.depth_fitness), 4),
            }
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ObjectPose:
        matrix = data.get("T_cam_obj")
        base = data.get("T_base_obj")
        depth = data.get("depth") or {}
        return cls(
            name=str(data["name"]),
            state=str(data["state"]),
            T_cam_obj=None
            if matrix is None
            else Pose.from_matrix(np.asarray(matrix, dtype=np.float64), orthonormalize=True),
            inliers=int(data.get("inliers", 0)),
            reproj_error_px=None if data.get("reproj_error_px") is None else float(data["reproj_error_px"]),
            confidence=float(data.get("confidence", 0.0)),
            T_base_obj=None
            if base is None
            else Pose.from_matrix(np.asarray(base, dtype=np.float64), orthonormalize=True),
            depth_refined=bool(depth.get("refined", False)),
            depth_fitness=None if depth.get("fitness") is None else float(depth["fitness"]),
        )


@dataclass(frozen=True)
class FramePoses:
    """Every object's result in one frame: one line of a pose JSONL file."""

    frame: int
    timestamp_ms: float
    objects: tuple[ObjectPose, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "frame": int(self.frame),
            "timestamp_ms": round(float(self.timestamp_ms), 3),
            "objects": [o.as_json() for o in self.objects],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FramePoses:
        return cls(
            frame=int(data["frame"]),
            timestamp_ms=float(data["timestamp_ms"]),
            objects=tuple(ObjectPose.from_json(o) for o in data["objects"]),
        )


class PoseWriter:
    """Writes pose JSON Lines to a file (or ``"-"`` for standard output), one whole line per frame.

    A file is written beside its place and renamed into it when the writer closes: after a run
    that ends, or is stopped (Ctrl-C, SIGTERM: ``close(keep=True)``), the file is complete up to
    its last line; after an error or with no line written, nothing is left and an older file at
    ``path`` is kept. Standard output, a named pipe or a device gets each line as it comes,
    flushed: read poses live from those. Missing parent folders are created.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._stream: IO[str]
        self._tmp: Path | None = None
        self._owned = self.path != "-"
        if not self._owned:
            self._stream = sys.stdout
        else:
            target = Path(self.path)
            live = os.path.exists(target) and not stat.S_ISREG(os.stat(target).st_mode)
            try:
                if live:  # a pipe or device: no rename
                    self._stream = open(target, "w", encoding="utf-8")
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    fd, name = tempfile.mkstemp(
                        prefix=f".{target.name}.", suffix=".partial", dir=target.parent
                    )
                    self._tmp = Path(name)
                    self._stream = os.fdopen(fd, "w", encoding="utf-8")
            except OSError as exc:
                raise SourceError(f"{self.path}: cannot write poses ({exc.strerror})") from None
        self.lines_written = 0

    def write(self, poses: FramePoses) -> None:
        """Append one frame's line and flush it."""
        try:
            self._stream.write(json.dumps(poses.as_json(), separators=(",", ":")) + "\n")
            self._stream.flush()
        except BrokenPipeError:
            raise  # the reader went away: the caller decides
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot write poses ({exc.strerror})") from None
        self.lines_written += 1

    def close(self, keep: bool = True) -> None:
        """Finish the file: with ``keep`` and at least one line, rename it into place; otherwise
        remove it. Safe to call twice."""
        if not self._owned or self._stream.closed:
            return
        try:
            self._stream.close()
        except OSError as exc:  # the last buffered bytes did not fit
            keep = False
            if self._tmp is None:
                raise SourceError(f"{self.path}: cannot write poses ({exc.strerror})") from None
        if self._tmp is None:
            return
        if keep and self.lines_written:
            os.chmod(self._tmp, 0o666 & ~current_umask())
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> PoseWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        self.close(keep=exc_type is None or issubclass(exc_type, KeyboardInterrupt))


class VideoWriter:
    """Writes BGR frames to an MP4 video (MPEG-4 part 2), sized by the first frame.

    The file appears only when the writer closes without an error (or, with ``close(keep=True)``,
    after a stop): an interrupted run leaves no half-written video. Missing parent folders are
    created.
    """

    def __init__(self, path: str | os.PathLike[str], fps: float = 30.0) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in (".mp4", ".m4v", ".mov"):
            raise InvalidInputError(f"{self.path}: expected an .mp4 file for the video")
        if self.path.is_dir():
            raise InvalidInputError(f"{self.path}: is a folder; expected an .mp4 file path")
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self._tmp_dir: tempfile.TemporaryDirectory[str] | None = None
        self._tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self._writer: cv2.VideoWriter | None = None
        self.frames_written = 0

    def _open(self, width: int, height: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            name = opencv_path(self._tmp)
        except SourceError:  # OpenCV takes only UTF-8 paths: write elsewhere, move at the end
            self._tmp_dir = tempfile.TemporaryDirectory(prefix="rigidpose-")
            self._tmp = Path(self._tmp_dir.name) / f"video{self.path.suffix}"
            name = str(self._tmp)
        self._writer = cv2.VideoWriter(name, cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height))
        if not self._writer.isOpened():
            self._writer = None
            folder = self._tmp.parent
            reason = (
                f"no permission to write in {folder}"
                if not os.access(folder, os.W_OK)
                else "OpenCV could not open an MPEG-4 writer there"
            )
            raise SourceError(f"{self.path}: cannot write the video ({reason})")

    def write(self, image: np.ndarray) -> None:
        image = as_bgr8(image, "frame")
        if self._writer is None:
            h, w = image.shape[:2]
            self._size = (w, h)
            self._open(w, h)
        elif image.shape[1::-1] != self._size:
            raise InvalidInputError(
                f"frame: expected {self._size[0]}x{self._size[1]} like the first, got {image.shape[1]}x{image.shape[0]}"
            )
        self._writer.write(image)  # type: ignore[union-attr]  # _open set it
        self.frames_written += 1

    def close(self, keep: bool = True) -> None:
        """Finish the video: with ``keep`` and at least one frame, move it into place; otherwise
        remove it. Safe to call twice."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            if keep and self.frames_written:
                size = self._tmp.stat().st_size if self._tmp.exists() else 0
                if size == 0:
                    self._tmp.unlink(missing_ok=True)
                    raise SourceError(f"{self.path}: the video came out empty (is the disk full?)")
                shutil.move(self._tmp, self.path)
        self._tmp.unlink(missing_ok=True)
        if self._tmp_dir is not None:
            self._tmp_dir.cleanup()
            self._tmp_dir = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        self.close(keep=exc_type is None or issubclass(exc_type, KeyboardInterrupt))


def read_poses(path: str | os.PathLike[str]) -> list[FramePoses]:
    """Read a pose JSON Lines file; a bad line raises ``FileFormatError`` with its line number."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such pose file")
    records: list[FramePoses] = []
    with open(path, "rb") as stream:
        for number, raw in enumerate(stream, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise FileFormatError(
                    f"{path}:{number}: not a pose file (binary data, not JSON lines: a video or image?)"
                ) from None
            if not line.strip():
                continue
            try:
                records.append(FramePoses.from_json(json.loads(line)))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
                reason = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
                raise FileFormatError(f"{path}:{number}: not a pose line ({reason})") from None
    return records

"""One overlay from a short description, as the command line takes it: painter drawings or 3D content.

``Overlay(targets, camera, "outline,axes")`` paints with the OpenCV ``Painter``;
``Overlay(targets, camera, "meshes/rocket.glb")`` draws that content on every target with the
OpenGL ``ARRenderer`` (occluded by the target, no debug text). Frames of another size with the
same aspect ratio scale the camera, as the tracker does. The painter draws each target in its own
colour, ``OBJECT_COLORS`` by its index in ``targets``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._validate import check_positive, check_type
from ..camera import Camera
from ..errors import InvalidInputError
from ..geometry import Pose
from ..io import ObjectPose
from ..target import Target, as_targets
from .ar import ARRenderer, default_content_pose, load_content
from .opencv import DRAWINGS, Painter

__all__ = ["CONTENT_SUFFIXES", "Overlay"]

CONTENT_SUFFIXES = (".glb", ".gltf", ".obj", ".ply", ".stl", ".off", ".dae")
"""Files ``Overlay`` draws as 3D content (anything trimesh reads)."""


class Overlay:
    """Draws ``what`` on frames for ``targets`` seen by ``camera``.

    Args:
        targets: the tracked objects; results are matched to them by name.
        camera: the frames' camera (scaled for frames of another size, same aspect ratio).
        what: drawings from ``DRAWINGS`` joined by commas (``"outline,axes"``), or a content file
            (one of ``CONTENT_SUFFIXES``, metres) shown on every target.
        T_obj_content: where content sits (content frame -> object frame, metres); default
            ``default_content_pose`` per target.
        content_scale: content size factor.
    """

    def __init__(
        self,
        targets: Sequence[Target],
        camera: Camera,
        what: str = "outline,axes",
        T_obj_content: Pose | None = None,
        content_scale: float = 1.0,
    ) -> None:
        self.targets = as_targets(targets)
        self.camera = check_type(camera, "camera", Camera, how="rp.Camera.load(path)")
        self.content: Path | None = None
        self.drawings: tuple[str, ...] = ()
        if Path(what).suffix.lower() in CONTENT_SUFFIXES:
            self.content = Path(what)
            if not self.content.is_file():
                raise InvalidInputError(f"overlay: no such content file {what}")
        else:
            self.drawings = tuple(part.strip() for part in what.split(",") if part.strip())
            unknown = [d for d in self.drawings if d not in DRAWINGS]
            if unknown or not self.drawings:
                raise InvalidInputError(
                    f"overlay: expected any of {', '.join(DRAWINGS)} (comma-separated) or a content file "
                    f"({', '.join(CONTENT_SUFFIXES)}), got {what!r}"
                )
        self.T_obj_content, self.content_scale = T_obj_content, check_positive(content_scale, "content_scale")
        self._painter: Painter | None = None
        self._renderer = None
        self._size: tuple[int, int] | None = None

    def _build(self, width: int, height: int) -> None:
        same = (width, height) == (self.camera.width, self.camera.height)
        camera = self.camera if same else self.camera.scaled(width, height)
        if self.content is None:
            self._painter = Painter(self.targets, camera, draw=self.drawings)
        else:
            content = load_content(self.content)
            self._renderer = ARRenderer(camera)
            for target in self.targets:
                placement = self.T_obj_content or default_content_pose(target)
                self._renderer.attach(target, content, placement, self.content_scale)
        self._size = (width, height)

    def annotate(self, image: np.ndarray, results: ObjectPose | Sequence[ObjectPose]) -> np.ndarray:
        """``image`` (H, W, 3) BGR uint8 with the overlay drawn on it, in place."""
        size = (image.shape[1], image.shape[0])
        if self._size is None:
            self._build(*size)
        elif size != self._size:
            raise InvalidInputError(
                f"image: expected {self._size[0]}x{self._size[1]} frames, got {size[0]}x{size[1]}"
            )
        if self._renderer is not None:
            return self._renderer.annotate(image, results)
        return self._painter.annotate(image, results)

    def close(self) -> None:
        """Free the OpenGL context, if one was made."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __enter__(self) -> Overlay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

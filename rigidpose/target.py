"""Target: what the tracker knows of one rigid object, and its folder on disk.

Everything in a ``Target`` is in the object frame, in metres. A target folder holds::

    target.json      name, file names, units ("m"), diameter, symmetries, format version
    mesh.ply         the surface in metres (mesh.glb when it carries a texture)
    arrays.npz       keypoints_obj and appearance arrays (loaded without pickle)
    images/NNN.png   reference images, if any
    keypoints.onnx   a learned keypoint model (``rigidpose train``), if any

``Target.save`` writes the folder atomically (a reader sees the old folder or the new one, never
half of one); ``Target.load`` checks every part and names the file and the problem when one is
wrong. Meshes enter with explicit units: ``load_mesh("box.ply", units="cm")``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._files import atomic_folder
from ._validate import as_array, check_bgr8, check_choice, check_type
from .errors import FileFormatError, InvalidInputError, SourceError
from .geometry import Pose

if TYPE_CHECKING:
    import trimesh

__all__ = ["MESH_UNITS", "Appearance", "Target", "as_targets", "load_mesh", "outward_surface"]

MESH_UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001}
"""Length units a mesh file may be in, and their size in metres."""

FORMAT_NAME = "rigidpose.target"
FORMAT_VERSION = 1


def outward_surface(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """A copy of a closed ``mesh`` with its faces wound so normals point outward, whatever the
    file's winding; an open mesh (a sheet) as it is, since it has no outside."""
    if not mesh.is_watertight:
        return mesh
    import trimesh

    surface = mesh.copy()
    trimesh.repair.fix_normals(surface)
    return surface


def load_mesh(path: str | os.PathLike[str], units: str) -> trimesh.Trimesh:
    """Read a mesh file trimesh understands (PLY, OBJ, STL, glTF/GLB, ...) and scale it to metres.

    Args:
        path: the mesh file; a scene with several meshes is merged into one.
        units: the file's length unit, one of ``m``, ``cm``, ``mm``.
    Returns:
        A ``trimesh.Trimesh`` with vertices in metres, in the file's own frame.
    """
    import trimesh

    check_choice(units, "units", tuple(MESH_UNITS))
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such mesh file")
    try:
        mesh = trimesh.load(path, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many kinds for a bad file
        raise FileFormatError(f"{path}: cannot read mesh ({type(exc).__name__}: {exc})") from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise FileFormatError(f"{path}: expected a triangle mesh, found no faces")
    if not np.all(np.isfinite(mesh.vertices)):
        raise FileFormatError(f"{path}: mesh vertices hold NaN or inf")
    if MESH_UNITS[units] != 1.0:
        mesh.apply_scale(MESH_UNITS[units])
    return mesh


@dataclass(frozen=True, eq=False)
class Appearance:
    """Local image features on the target's surface, matched to find it in a frame.

    Attributes:
        detector: the feature kind that made the descriptors, e.g. ``"orb"``, ``"sift"``.
        descriptors: (M, D) uint8 (binary features) or float32.
        points_obj: (M, 3) float64, metres, object frame: where each feature lies on the surface.
    """

    detector: str
    descriptors: np.ndarray
    points_obj: np.ndarray

    def __post_init__(self) -> None:
        if not isinstance(self.detector, str) or not self.detector:
            raise InvalidInputError(f"detector: expected a non-empty name, got {self.detector!r}")
        descriptors = np.asarray(self.descriptors)
        if descriptors.dtype not in (np.uint8, np.float32):
            raise InvalidInputError(f"descriptors: expected uint8 or float32, got {descriptors.dtype}")
        descriptors = as_array(descriptors, "descriptors", ("M", "D"), descriptors.dtype, readonly=True)
        points = as_array(self.points_obj, "points_obj", ("M", 3), readonly=True)
        if len(points) != len(descriptors):
            raise InvalidInputError(
                f"points_obj: expected one per descriptor ({len(descriptors)}), got {len(points)}"
            )
        object.__setattr__(self, "descriptors", descriptors)
        object.__setattr__(self, "points_obj", points)

    def __len__(self) -> int:
        return len(self.descriptors)


@dataclass(frozen=True, eq=False)
class Target:
    """One rigid object the tracker can find.

    Attributes:
        name: a short identifier used in outputs (pose JSONL ``name``).
        mesh: ``trimesh.Trimesh``, vertices in metres, object frame. Treat it as read-only.
        keypoints_obj: (N, 3) float64, metres, object frame: fixed points a detector looks for.
        appearance: local features on the surface, or None.
        reference_images: BGR uint8 images of the object (H, W, 3), e.g. the scan a planar
            target was made from.
        symmetries: transforms ``T_obj_obj`` that leave the object looking the same (the identity
            is implied and not listed); continuous symmetries are listed discretised.
        keypoint_model: an ONNX keypoint network for this object (``rigidpose train``), or None;
            a target with one is detected by it (``detect.learned``). Its keypoints are
            ``keypoints_obj``.
    """

    name: str
    mesh: trimesh.Trimesh
    keypoints_obj: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    appearance: Appearance | None = None
    reference_images: tuple[np.ndarray, ...] = ()
    symmetries: tuple[Pose, ...] = ()
    keypoint_model: bytes | None = None

    def __post_init__(self) -> None:
        import trimesh

        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidInputError(f"name: expected a non-empty string, got {self.name!r}")
        if not isinstance(self.mesh, trimesh.Trimesh) or len(self.mesh.faces) == 0:
            raise InvalidInputError(
                f"mesh: expected a trimesh.Trimesh with faces, got {type(self.mesh).__name__}"
            )
        keypoints = as_array(self.keypoints_obj, "keypoints_obj", ("N", 3), readonly=True)
        if self.appearance is not None and not isinstance(self.appearance, Appearance):
            raise InvalidInputError(
                f"appearance: expected Appearance or None, got {type(self.appearance).__name__}"
            )
        images = tuple(self.reference_images)
        for i, image in enumerate(images):
            check_bgr8(image, f"reference_images[{i}]")
        symmetries = tuple(self.symmetries)
        for i, symmetry in enumerate(symmetries):
            if not isinstance(symmetry, Pose):
                raise InvalidInputError(f"symmetries[{i}]: expected Pose, got {type(symmetry).__name__}")
        if self.keypoint_model is not None and not isinstance(self.keypoint_model, bytes):
            raise InvalidInputError(
                f"keypoint_model: expected the ONNX file's bytes or None, got {type(self.keypoint_model).__name__}"
            )
        object.__setattr__(self, "keypoints_obj", keypoints)
        object.__setattr__(self, "reference_images", images)
        object.__setattr__(self, "symmetries", symmetries)

    @classmethod
    def from_mesh_file(
        cls, path: str | os.PathLike[str], units: str, name: str | None = None, **fields: Any
    ) -> Target:
        """A target from a mesh file in ``units`` (``m``, ``cm``, ``mm``); the name defaults to
        the file's stem. Other fields (``keypoints_obj``...) pass through, in metres."""
        return cls(name=name or Path(path).stem, mesh=load_mesh(path, units), **fields)

    def with_keypoint_model(self, model: bytes) -> Target:
        """A copy that uses the keypoint model ``model`` (an exported .onnx file's bytes), its
        keypoints taken from the model's metadata."""
        from .detect.learned import KeypointModel

        loaded = KeypointModel(model)
        self._check_keypoints_fit(loaded.keypoints_obj, loaded.target)
        return dataclasses.replace(self, keypoints_obj=loaded.keypoints_obj, keypoint_model=model)

    def _check_keypoints_fit(self, keypoints_obj: np.ndarray, trained_on: str) -> None:
        """Refuse a keypoint model whose keypoints do not lie on this mesh: one trained on
        another object, or on this one in other units. The keypoints (the centre and points on
        the surface) must lie within the mesh's bounding box grown by a tenth of its diameter,
        and span at least a third of it."""
        low, high = np.asarray(self.mesh.bounds, dtype=np.float64)
        margin = 0.1 * self.diameter_m
        outside = np.maximum(np.maximum(low - keypoints_obj, keypoints_obj - high), 0.0)
        worst_m = float(np.linalg.norm(outside, axis=1).max()) if len(keypoints_obj) else 0.0
        span_m = float(np.ptp(keypoints_obj, axis=0).max()) if len(keypoints_obj) else 0.0
        if worst_m > margin or span_m < (high - low).max() / 3:
            model = f"trained on {trained_on!r}" if trained_on else "its object unnamed"
            raise InvalidInputError(
                f"keypoint model: its keypoints ({model}, {span_m:.3f} m across) do not lie on the mesh of "
                f"{self.name!r} ({(high - low).max():.3f} m across; up to {worst_m:.3f} m outside it): "
                "a model of another object, or a mesh read in other units?"
            )

    @cached_property
    def diameter_m(self) -> float:
        """Largest distance between two points of the mesh, metres (BOP's object diameter)."""
        vertices = np.asarray(self.mesh.vertices, dtype=np.float64)
        if len(vertices) > 2000:  # the farthest pair lies on the convex hull
            vertices = np.asarray(self.mesh.convex_hull.vertices, dtype=np.float64)
        if len(vertices) > 4000:  # bound the O(n^2) search; a hull is rarely this large
            vertices = vertices[np.random.default_rng(0).choice(len(vertices), 4000, replace=False)]
        differences = vertices[:, None, :] - vertices[None, :, :]
        return float(np.sqrt((differences**2).sum(-1).max()))

    # -- files ------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the target folder at ``path`` atomically, replacing one that is there."""
        import cv2

        path = Path(path)
        has_texture = getattr(self.mesh.visual, "kind", None) == "texture"
        mesh_name = "mesh.glb" if has_texture else "mesh.ply"
        arrays = {"keypoints_obj": self.keypoints_obj}
        if self.appearance is not None:
            arrays["appearance_descriptors"] = self.appearance.descriptors
            arrays["appearance_points_obj"] = self.appearance.points_obj
        image_names = [f"images/{i:03d}.png" for i in range(len(self.reference_images))]
        meta = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "name": self.name,
            "mesh": mesh_name,
            "units": "m",
            "diameter_m": self.diameter_m,
            "keypoints": len(self.keypoints_obj),
            "appearance": None
            if self.appearance is None
            else {"detector": self.appearance.detector, "features": len(self.appearance)},
            "reference_images": image_names,
            "symmetries": [s.as_matrix().tolist() for s in self.symmetries],
            "keypoint_model": None if self.keypoint_model is None else "keypoints.onnx",
        }
        from .outputs import is_target_folder

        with atomic_folder(path, is_target_folder, "target folder") as tmp:
            self.mesh.export(tmp / mesh_name)
            np.savez(tmp / "arrays.npz", **arrays)
            if image_names:
                (tmp / "images").mkdir()
            for name, image in zip(image_names, self.reference_images):
                ok, encoded = cv2.imencode(".png", image)
                if not ok:
                    raise SourceError(f"{path / name}: cannot encode image")
                (tmp / name).write_bytes(encoded.tobytes())
            if self.keypoint_model is not None:
                (tmp / "keypoints.onnx").write_bytes(self.keypoint_model)
            (tmp / "target.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Target:
        """Read and check a target folder written by ``save``."""

        path = Path(path)
        if not path.is_dir():
            raise SourceError(f"{path}: no such target folder")
        meta_path = path / "target.json"
        if not meta_path.is_file():
            raise FileFormatError(f"{path}: not a target folder (no target.json)")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FileFormatError(f"{meta_path}: not valid JSON ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
            raise FileFormatError(f'{meta_path}: expected "format": "{FORMAT_NAME}"')
        if meta.get("version") != FORMAT_VERSION:
            raise FileFormatError(
                f"{meta_path}: format version {meta.get('version')!r} is not supported "
                f"(this rigidpose reads version {FORMAT_VERSION})"
            )
        for key in ("name", "mesh", "units"):
            if not isinstance(meta.get(key), str):
                raise FileFormatError(f"{meta_path}: missing or non-text key {key!r}")
        if meta["units"] not in MESH_UNITS:
            raise FileFormatError(
                f"{meta_path}: units {meta['units']!r} is not one of {', '.join(MESH_UNITS)}"
            )
        mesh = load_mesh(path / meta["mesh"], meta["units"])

        arrays_path = path / "arrays.npz"
        try:
            with np.load(arrays_path, allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
        except FileNotFoundError:
            raise FileFormatError(f"{arrays_path}: missing") from None
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:  # truncated or corrupt
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise FileFormatError(f"{arrays_path}: not a readable .npz without pickle ({reason})") from None

        try:
            appearance = None
            if meta.get("appearance") is not None:
                if "appearance_descriptors" not in arrays or "appearance_points_obj" not in arrays:
                    raise FileFormatError(f"{arrays_path}: appearance arrays are missing")
                appearance = Appearance(
                    detector=meta["appearance"].get("detector", ""),
                    descriptors=arrays["appearance_descriptors"],
                    points_obj=arrays["appearance_points_obj"],
                )
            images = []
            for name in meta.get("reference_images", []):
                image = _read_png(path / name)
                if image is None:
                    raise FileFormatError(f"{path / name}: missing or not an image")
                images.append(image)
            symmetries = tuple(
                Pose.from_matrix(np.asarray(m, dtype=np.float64)) for m in meta.get("symmetries", [])
            )
            model = None
            if meta.get("keypoint_model") is not None:
                model_path = path / str(meta["keypoint_model"])
                if not model_path.is_file():
                    raise FileFormatError(f"{model_path}: missing (target.json names a keypoint model)")
                model = model_path.read_bytes()
            return cls(
                name=meta["name"],
                mesh=mesh,
                keypoints_obj=arrays.get("keypoints_obj", np.zeros((0, 3))),
                appearance=appearance,
                reference_images=tuple(images),
                symmetries=symmetries,
                keypoint_model=model,
            )
        except (InvalidInputError, TypeError, AttributeError) as exc:
            raise FileFormatError(f"{path}: {exc}") from None

    def __repr__(self) -> str:
        features = 0 if self.appearance is None else len(self.appearance)
        return (
            f"Target({self.name!r}, {len(self.mesh.vertices)} vertices, "
            f"diameter {self.diameter_m:.3f} m, {len(self.keypoints_obj)} keypoints, "
            f"{features} features, {len(self.reference_images)} images, {len(self.symmetries)} symmetries"
            f"{', a keypoint model' if self.keypoint_model is not None else ''})"
        )


def as_targets(targets: Target | Sequence[Target]) -> list[Target]:
    """One ``Target`` or a sequence of them as a list; ``InvalidTypeError`` naming what is not
    a ``Target`` (a folder name, None...)."""
    if isinstance(targets, Target):
        return [targets]
    if isinstance(targets, (str, os.PathLike)) or not isinstance(targets, Sequence):
        check_type(targets, "targets", list, how="[rp.Target.load(path)]")
    return [check_type(t, f"targets[{i}]", Target, how="rp.Target.load(path)") for i, t in enumerate(targets)]


def _read_png(path: Path) -> np.ndarray | None:
    """A reference image as (H, W, 3) uint8 BGR, or None when missing or not an image (read by
    Python, decoded by OpenCV: any path works)."""
    import cv2

    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None

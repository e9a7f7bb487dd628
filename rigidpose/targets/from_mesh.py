"""A target from a textured mesh alone: it registers itself from renders all around it.

The mesh (OBJ with its texture, glTF/GLB) is rendered unlit from ``views`` directions spread
evenly over the sphere (a Fibonacci lattice), each at a distance where the object fills about
two thirds of an 800 x 800 image. The poses are exact, so each render's features are cast onto
the mesh (open3d ray casting, faces turned toward the camera only), as ``register`` does with
photos. Features within a few pixels of the silhouette are dropped: half their patch is
background, which a real frame will not have.

This builder renders with the synthetic renderer (pyrender), imported when it runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from ..camera import Camera
from ..errors import InvalidInputError
from ..geometry import Pose
from ..target import Appearance, Target
from .register import features_on_mesh, mesh_raycaster

if TYPE_CHECKING:
    import trimesh

__all__ = ["MeshRegistration", "target_from_mesh"]

IMAGE_PX = 800
FOV_RAD = math.radians(45)
FILL = 0.65  # the object's diameter spans this fraction of the image
SILHOUETTE_MARGIN_PX = 6


@dataclass(frozen=True)
class MeshRegistration:
    """What ``target_from_mesh`` did: views rendered and features kept."""

    views: int
    features_found: int
    features_on_mesh: int


def view_directions(count: int) -> np.ndarray:
    """(count, 3) unit vectors spread evenly over the sphere (Fibonacci lattice)."""
    k = np.arange(count) + 0.5
    z = 1.0 - 2.0 * k / count
    azimuth = math.pi * (1.0 + math.sqrt(5.0)) * k
    r = np.sqrt(1.0 - z * z)
    return np.column_stack([r * np.cos(azimuth), r * np.sin(azimuth), z])


def target_from_mesh(
    mesh: trimesh.Trimesh,
    name: str,
    features: str = "sift",
    views: int = 20,
    max_features: int = 400,
    progress: bool = False,
) -> tuple[Target, MeshRegistration]:
    """A textured 3D target from a textured mesh (metres, object frame) by rendering it.

    Args:
        mesh: ``trimesh.Trimesh`` with a texture (``load_mesh(path, units)`` of an OBJ with its
            material or a glTF/GLB).
        name: the target's name.
        features: ``sift``, ``orb`` or ``akaze``.
        views: renders around the object (at least 6).
        max_features: features per view and scale (scales 1 and 1/2).
        progress: show a progress bar.
    Returns:
        The target (appearance from every view, six of the renders as reference images) and a
        ``MeshRegistration``.
    """
    from tqdm import tqdm

    from ..detect.features import extract_features
    from ..synth.scene import TargetRenderer
    from ..synth.trajectory import look_at_pose

    if getattr(mesh.visual, "kind", None) != "texture" or _texture_image(mesh) is None:
        raise InvalidInputError(
            f"mesh of {name!r}: expected a texture (an OBJ with its material and image, or a glTF/GLB); "
            "an untextured object needs learned keypoints: rigidpose train, then from-mesh --model"
        )
    if int(views) < 6:
        raise InvalidInputError(f"views: expected at least 6, got {views!r}")
    camera = Camera.from_fov(IMAGE_PX, IMAGE_PX, FOV_RAD)
    low, high = mesh.bounds
    centre = (low + high) / 2.0
    diameter = float(np.linalg.norm(high - low))
    distance = diameter / 2.0 / math.tan(FOV_RAD / 2.0) / FILL
    scene = mesh_raycaster(mesh)
    face_normals = np.asarray(mesh.face_normals, dtype=np.float64)
    renderer = TargetRenderer(Target(name, mesh), camera, supersample=2)
    kernel = np.ones((2 * SILHOUETTE_MARGIN_PX + 1,) * 2, np.uint8)
    descriptors, points, found_total = [], [], 0
    images: list[np.ndarray] = []
    try:
        for index, direction in enumerate(tqdm(view_directions(views), unit="view", disable=not progress)):
            down = np.array([0.0, 0.0, -1.0]) if abs(direction[2]) < 0.9 else np.array([0.0, 1.0, 0.0])
            T_cam_obj: Pose = look_at_pose(centre + distance * direction, centre, down)
            view = renderer.render(T_cam_obj)
            image = np.clip(view.color * view.alpha[..., None] * 255.0 + 0.5, 0, 255).astype(np.uint8)
            inside = cv2.erode((view.alpha > 0.99).astype(np.uint8), kernel)
            found, found_descriptors = extract_features(image, features, max_features, scales=(1.0, 0.5))
            found_total += len(found)
            pixel = np.round(found).astype(int).clip(0, IMAGE_PX - 1)
            keep = inside[pixel[:, 1], pixel[:, 0]] > 0
            facing, on_mesh = features_on_mesh(scene, face_normals, found[keep], camera, T_cam_obj)
            descriptors.append(found_descriptors[keep][facing])
            points.append(on_mesh)
            if index % max(1, views // 6) == 0 and len(images) < 6:
                images.append(image)
    finally:
        renderer.close()
    kept = sum(len(d) for d in descriptors)
    if kept < 20:
        raise InvalidInputError(
            f"mesh of {name!r}: only {kept} features landed on it; its texture has too little detail"
        )
    target = Target(
        name=name,
        mesh=mesh,
        keypoints_obj=np.asarray(mesh.bounding_box.vertices, dtype=np.float64),
        appearance=Appearance(features, np.vstack(descriptors), np.vstack(points)),
        reference_images=tuple(images),
    )
    return target, MeshRegistration(views, found_total, kept)


def _texture_image(mesh: trimesh.Trimesh) -> Any:
    material = getattr(mesh.visual, "material", None)
    return getattr(material, "image", None) or getattr(material, "baseColorTexture", None)

"""Textured 3D targets from a mesh and photos of the real object.

For each photo, a few clicked correspondences (mesh point <-> pixel) give the photo's pose; the
photo's local features are then cast as rays onto the mesh (open3d's ``RaycastingScene``), and
those that land on a face turned toward the camera become the target's appearance: a
descriptor with its 3D point on the object.

Correspondence file (JSON)::

    {"units": "cm", "points_3d": [[x, y, z], ...], "points_2d": [[u, v], ...]}

``points_3d`` in the mesh's frame and the given units, ``points_2d`` in pixels of the photo
(pixel centres at integers, OpenCV's convention). At least 6 pairs, not all on one line.

The clicked 3D points must lie on the mesh: when they do not, or when another of the known units
(``MESH_UNITS``) would put them on it, ``register_target`` refuses, naming the unit to try (a
mesh read with the wrong ``--units`` is 10, 100 or 1000 times too large or too small).

``mesh_raycaster`` and ``features_on_mesh`` (cast a photo's features onto the mesh) are shared
with ``targets.from_mesh``, which renders its own photos of a textured mesh.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from .._validate import as_array, check_choice
from ..camera import Camera
from ..errors import BackendMissingError, FileFormatError, InvalidInputError
from ..geometry import Pose
from ..io import as_bgr8
from ..solve import reprojection_rms_px
from ..target import MESH_UNITS, Appearance, Target

if TYPE_CHECKING:
    import trimesh

__all__ = [
    "PhotoRegistration",
    "check_points_on_mesh",
    "features_on_mesh",
    "load_correspondences",
    "mesh_raycaster",
    "pose_from_correspondences",
    "register_target",
]

MAX_CLICK_ERROR_PX = 15.0
"""A photo whose clicked points fit their pose worse than this (RMS) is refused: a typo, a
wrong vertex or the wrong camera."""
MIN_FACING_COS = 0.2
"""A feature is kept only on a face turned toward the camera by at most acos(0.2) = 78 deg."""
OFF_MESH_SHARE = 0.2
"""Clicked points farther than this share of their span from the mesh's surface are not on it."""
ON_MESH_SHARE = 0.05
"""Points all within this share of their span from a mesh's surface, and spanning at least half
of it, lie on that mesh: the test for the mesh under another unit."""


def load_correspondences(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) metres (mesh frame) and (N, 2) pixels from a correspondence JSON file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        units = data.get("units", "m")
        if units not in MESH_UNITS:
            raise InvalidInputError(f"{path}: units: expected one of {', '.join(MESH_UNITS)}, got {units!r}")
        points_3d = as_array(data["points_3d"], f"{path}: points_3d", ("N", 3)) * MESH_UNITS[units]
        points_2d = as_array(data["points_2d"], f"{path}: points_2d", ("N", 2))
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such correspondence file") from None
    except (OSError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise FileFormatError(
            f'{path}: expected {{"units": ..., "points_3d": [[x, y, z], ...], "points_2d": [[u, v], ...]}} '
            f"({type(exc).__name__}: {exc})"
        ) from None
    if len(points_3d) != len(points_2d):
        raise FileFormatError(
            f"{path}: expected as many points_3d as points_2d, got {len(points_3d)} and {len(points_2d)}"
        )
    if len(points_3d) < 6:
        raise FileFormatError(f"{path}: expected at least 6 correspondences, got {len(points_3d)}")
    return points_3d, points_2d


def pose_from_correspondences(
    points_obj: np.ndarray, pixels: np.ndarray, camera: Camera
) -> tuple[Pose, float]:
    """``T_cam_obj`` of a photo from a few exact correspondences (SQPnP, then Levenberg-Marquardt)
    and its RMS reprojection error in pixels."""
    points_obj = as_array(points_obj, "points_obj", ("N", 3))
    pixels = as_array(pixels, "pixels", ("N", 2))
    centred = points_obj - points_obj.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    if len(points_obj) < 6 or singular[1] < 1e-3 * singular[0]:
        raise InvalidInputError("correspondences: expected at least 6 points not all on one line")
    ok, rvec, tvec = cv2.solvePnP(points_obj, pixels, camera.K, camera.dist_coeffs, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        raise InvalidInputError("correspondences: no pose fits them")
    rvec, tvec = cv2.solvePnPRefineLM(
        points_obj, pixels, camera.K, camera.dist_coeffs, rvec.reshape(3, 1), tvec.reshape(3, 1)
    )
    T_cam_obj = Pose.from_rvec_tvec(rvec, tvec)
    return T_cam_obj, reprojection_rms_px(camera, T_cam_obj, points_obj, pixels)


@dataclass(frozen=True)
class PhotoRegistration:
    """What one photo contributed: its pose, how well the clicks fit it, and its features."""

    T_cam_obj: Pose
    click_error_px: float
    features_found: int
    features_on_mesh: int


def mesh_raycaster(mesh: trimesh.Trimesh) -> Any:
    """An open3d ``RaycastingScene`` of ``mesh`` (a ``trimesh.Trimesh``, metres, object frame),
    for ``features_on_mesh``; ``BackendMissingError`` without open3d."""
    try:
        import open3d as o3d
    except ImportError:
        raise BackendMissingError("registering a mesh needs open3d: pip install 'rigidpose[depth]'") from None
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(
        o3d.core.Tensor(np.asarray(mesh.vertices, dtype=np.float32)),
        o3d.core.Tensor(np.asarray(mesh.faces, dtype=np.uint32)),
    )
    return scene


def features_on_mesh(
    scene: Any, face_normals: np.ndarray, pixels: np.ndarray, camera: Camera, T_cam_obj: Pose
) -> tuple[np.ndarray, np.ndarray]:
    """Cast each pixel's ray onto the mesh seen at ``T_cam_obj``.

    Args:
        scene: an open3d ``RaycastingScene`` of the mesh (``mesh_raycaster``).
        face_normals: (F, 3) the mesh's outward face normals, object frame.
        pixels: (N, 2) feature positions in an image of ``camera``.
    Returns:
        (N,) bool: the ray hits a face turned toward the camera (``MIN_FACING_COS``), and the
        (M, 3) points where those rays hit, metres, object frame.
    """
    import open3d as o3d

    T_obj_cam = T_cam_obj.inv()
    directions = camera.rays(pixels) @ T_obj_cam.rotation.T
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    origins = np.broadcast_to(T_obj_cam.translation, directions.shape)
    rays = o3d.core.Tensor(np.hstack([origins, directions]).astype(np.float32))
    hits = scene.cast_rays(rays)
    distance = hits["t_hit"].numpy().astype(np.float64)
    face = hits["primitive_ids"].numpy().astype(np.int64)
    hit = np.isfinite(distance)
    facing = np.zeros(len(pixels), bool)
    facing[hit] = -(face_normals[face[hit]] * directions[hit]).sum(axis=1) >= MIN_FACING_COS
    return facing, origins[facing] + distance[facing, None] * directions[facing]


def check_points_on_mesh(
    scene: Any, mesh: trimesh.Trimesh, points_obj: np.ndarray, label: str, mesh_units: str | None = None
) -> None:
    """Refuse clicked points that are not on the mesh, naming the unit that would put them there.

    Args:
        scene: an open3d ``RaycastingScene`` of ``mesh`` (``mesh_raycaster``).
        mesh: ``trimesh.Trimesh``, metres.
        points_obj: (N, 3) metres, mesh frame: the clicked 3D points.
        label: what the points belong to, for the message (``photo 1``).
        mesh_units: the unit the mesh was read in (a key of ``MESH_UNITS``), for the message;
            None when unknown.
    Raises:
        InvalidInputError: a point lies farther than ``OFF_MESH_SHARE`` of the points' span
            from the surface, or the points do not lie on the mesh (``ON_MESH_SHARE``) but do
            on the mesh scaled by a ratio of two ``MESH_UNITS``.
    """
    import open3d as o3d

    if mesh_units is not None:
        check_choice(mesh_units, "mesh_units", tuple(MESH_UNITS))
    points = as_array(points_obj, "points_obj", ("N", 3))
    span = float(np.linalg.norm(np.ptp(points, axis=0))) if len(points) else 0.0
    low, high = np.asarray(mesh.bounds, dtype=np.float64)
    diameter = float(np.linalg.norm(high - low))
    if span <= 0 or diameter <= 0:
        return

    def off_mesh(factor: float) -> float:
        """Largest distance (m) of the points from the surface of the mesh scaled by ``factor``
        (about its origin, as a unit scales it)."""
        query = o3d.core.Tensor((points / factor).astype(np.float32))
        return factor * float(scene.compute_distance(query).numpy().max())

    def on_mesh(factor: float, off_m: float) -> bool:
        return off_m <= ON_MESH_SHARE * span and span >= 0.5 * factor * diameter

    off = off_mesh(1.0)
    if on_mesh(1.0, off):
        return
    if mesh_units is None:  # factor -> the unit to name (unknown)
        units = {a / b: None for a in MESH_UNITS.values() for b in MESH_UNITS.values() if a != b}
    else:
        units = {
            size / MESH_UNITS[mesh_units]: unit for unit, size in MESH_UNITS.items() if unit != mesh_units
        }
    fits = []
    for factor in units:
        off_m = off_mesh(factor)
        if on_mesh(factor, off_m):
            fits.append((off_m, factor))
    read_as = "" if mesh_units is None else f" read as {mesh_units}"
    mesh_size = f"the mesh{read_as} is {diameter:.3g} m across"
    if fits:
        factor = min(fits)[1]
        unit = units[factor]
        if unit is None:
            fix = f"they lie on it scaled by {factor:g}: check the units the mesh was read in (--units)"
        else:
            fix = f"is the mesh in {unit}? try --units {unit}"
        raise InvalidInputError(
            f"{label}: the scales of the mesh and the clicked points disagree: {mesh_size} but the "
            f'clicked points span {span:.3g} m: {fix} (or fix "units" in the correspondence file)'
        )
    if off > OFF_MESH_SHARE * span:
        raise InvalidInputError(
            f"{label}: expected the clicked points on the mesh, got points up to {off:.3g} m from its "
            f"surface ({mesh_size}, the points span {span:.3g} m): check the correspondence file's "
            'points_3d and "units", and the units the mesh was read in'
        )


def register_target(
    mesh: trimesh.Trimesh,
    photos: Sequence[tuple[np.ndarray, Camera, np.ndarray, np.ndarray]],
    name: str,
    features: str = "sift",
    max_features: int = 3000,
    mesh_units: str | None = None,
) -> tuple[Target, list[PhotoRegistration]]:
    """A textured 3D target from its mesh (metres) and photos of the object.

    Args:
        mesh: ``trimesh.Trimesh`` in metres (``load_mesh(path, units)``).
        photos: (image BGR, camera of that image, points_obj (N, 3) metres, pixels (N, 2)) each:
            the photo and its clicked correspondences, which must lie on the mesh
            (``check_points_on_mesh``).
        name: the target's name.
        features: ``sift``, ``orb`` or ``akaze``.
        max_features: features per photo and scale (scales 1, 1/2, 1/4).
        mesh_units: the ``units`` the mesh was loaded with, so that an error about the
            points' scale can name the unit to use instead; None when unknown.
    Returns:
        The target (appearance from every photo, the photos as reference images, the
        correspondences' 3D points as keypoints) and one ``PhotoRegistration`` per photo.
    """
    from ..detect.features import extract_features

    if not photos:
        raise InvalidInputError("photos: expected at least one photo")
    if mesh_units is not None:
        check_choice(mesh_units, "mesh_units", tuple(MESH_UNITS))
    scene = mesh_raycaster(mesh)
    face_normals = np.asarray(mesh.face_normals, dtype=np.float64)
    all_descriptors, all_points, reports, images, keypoints = [], [], [], [], []
    for index, (image, camera, points_obj, pixels) in enumerate(photos):
        image = as_bgr8(image, f"photo {index + 1}")
        if image.shape[1::-1] != camera.size:
            camera = camera.scaled(image.shape[1], image.shape[0])
        check_points_on_mesh(scene, mesh, points_obj, f"photo {index + 1}", mesh_units)
        T_cam_obj, click_error = pose_from_correspondences(points_obj, pixels, camera)
        if click_error > MAX_CLICK_ERROR_PX:
            raise InvalidInputError(
                f"photo {index + 1}: the clicked points fit no pose (RMS {click_error:.1f} px > "
                f"{MAX_CLICK_ERROR_PX:g} px): check the correspondences, their units and the camera"
            )
        found, descriptors = extract_features(image, features, max_features, scales=(1.0, 0.5, 0.25))
        facing, points = features_on_mesh(scene, face_normals, found, camera, T_cam_obj)
        all_descriptors.append(descriptors[facing])
        all_points.append(points)
        images.append(image)
        keypoints.append(np.asarray(points_obj, dtype=np.float64))
        reports.append(PhotoRegistration(T_cam_obj, click_error, len(found), int(facing.sum())))
    descriptors = np.vstack(all_descriptors)
    if len(descriptors) < 20:
        raise InvalidInputError(
            f"only {len(descriptors)} features landed on the mesh: the photos show too little texture "
            "or the correspondences put the mesh elsewhere"
        )
    appearance = Appearance(features, descriptors, np.vstack(all_points))
    target = Target(
        name=name,
        mesh=mesh,
        keypoints_obj=np.unique(np.vstack(keypoints), axis=0),
        appearance=appearance,
        reference_images=tuple(images),
    )
    return target, reports

"""Refine a pose with an aligned depth image: point-to-plane ICP onto the target's visible surface.

``DepthAligner(target, camera).refine(T_cam_obj, depth_m)`` returns an ``Alignment``:

1. **Model**: the surface the camera sees at the input pose, ray cast on a pixel grid (open3d's
   ``RaycastingScene``): points and exact face normals, object frame. The grid step keeps about
   ``model_points`` of them whatever the object's size in the image.
2. **Scene**: depth pixels on the same grid, inside the model's silhouette widened by
   ``margin_px``, valid and within the model's depth range give or take ``max_distance_m``,
   back-projected through the camera (lens distortion removed). This is the object-segmented cloud.
3. **ICP** (open3d's legacy pipeline: a refinement takes 8 ms against the tensor pipeline's 18 ms
   on this 2-core machine, and the tensor one raises where a motion is unobserved; see
   ``rigidpose bench --depth``): scene points onto the model, point-to-plane with a Tukey kernel, first
   within ``max_distance_m``, then within three robust standard deviations of the residuals.
4. **Degenerate directions**: where the depth cannot tell a motion (a plane seen face on slides
   and spins in itself unseen), the update along it is removed, so depth corrects what it
   observes and the colour pose keeps the rest (after Zhang and Singh, ICRA 2016).
5. **Verify**: the depth image is compared with the model's depth at both poses, on the same
   grid: ``fitness`` is the share of the model's pixels with a depth reading where the two agree
   within a tolerance (three robust standard deviations of the ICP residuals: the sensor's noise
   there). A hand in front lowers it equally at both poses. The refinement is rejected, and the input pose kept, when it moved farther than a bound, when
   fitness after is below ``min_fitness`` or below fitness before: it never trades agreement with
   the depth for a change.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._files import atomic_file
from ._validate import check_choice, check_int, check_number
from .camera import Camera
from .errors import BackendMissingError, InvalidInputError, SourceError
from .geometry import Pose, pose_distance
from .target import Target

if TYPE_CHECKING:
    import trimesh

__all__ = ["AlignOptions", "Alignment", "DepthAligner", "MeshCaster"]

ICP_BACKENDS = ("legacy", "tensor")


def _import_open3d():
    try:
        import open3d as o3d
    except ImportError:
        raise BackendMissingError("depth refinement needs open3d: pip install 'rigidpose[depth]'") from None
    return o3d


@dataclass(frozen=True)
class AlignOptions:
    """How ``DepthAligner`` refines.

    Attributes:
        model_points: about this many visible model points (and scene points) per refinement.
        margin_px: the scene is taken this far around the model's silhouette, pixels.
        max_distance_m: first-stage correspondence distance and kernel width, metres; at least a
            tenth of the object's diameter is used.
        min_distance_m: the second stage's distance is never below this, metres.
        iterations: ICP iterations per stage.
        min_points: fewer model or scene points than this and nothing is refined.
        min_fitness: a refined pose the depth confirms less than this is rejected.
        max_shift_m, max_rotation_rad: a refinement that moves the pose more is rejected.
        degenerate_ratio: a motion whose point-to-plane information is below this share of the
            best-observed one is left to the colour pose.
        backend: open3d's ``legacy`` or ``tensor`` ICP pipeline (same result; legacy is faster here).
    """

    model_points: int = 3000
    margin_px: int = 8
    max_distance_m: float = 0.02
    min_distance_m: float = 0.003
    iterations: int = 30
    min_points: int = 50
    min_fitness: float = 0.3
    max_shift_m: float = 0.05
    max_rotation_rad: float = math.radians(10)
    degenerate_ratio: float = 0.02
    backend: str = "legacy"

    def __post_init__(self) -> None:
        check_choice(self.backend, "backend", ICP_BACKENDS)
        check_int(self.model_points, "model_points", ge=1)
        check_int(self.margin_px, "margin_px", ge=0)
        check_number(self.max_distance_m, "max_distance_m", gt=0)
        check_number(self.min_distance_m, "min_distance_m", gt=0)
        check_int(self.iterations, "iterations", ge=1)
        check_int(self.min_points, "min_points", ge=1)
        check_number(self.min_fitness, "min_fitness", ge=0, le=1)
        check_number(self.max_shift_m, "max_shift_m", gt=0)
        check_number(self.max_rotation_rad, "max_rotation_rad", gt=0)
        check_number(self.degenerate_ratio, "degenerate_ratio", ge=0, lt=1)


@dataclass(frozen=True)
class Alignment:
    """The result of one depth refinement.

    Attributes:
        T_cam_obj: the refined pose, or the input pose when ``accepted`` is False.
        T_input: the pose that was refined.
        accepted: whether the refinement was kept.
        reason: why it was rejected; ``""`` when accepted.
        fitness: share of the model's depth-checked pixels the depth confirms at ``T_cam_obj``.
        fitness_before: the same at ``T_input``.
        inlier_rmse_m: RMS point-to-plane distance of the final ICP inliers, metres (NaN
            without ICP).
        tolerance_m: the depth agreement tolerance used for both fitness values, metres.
        degenerate: motions left to the colour pose (0 to 6).
        scene_cam: (N, 3) float64 metres, camera frame: the object-segmented depth points.
        model_obj: (M, 3) float64 metres, object frame: the visible model surface at the input pose.
    """

    T_cam_obj: Pose
    T_input: Pose
    accepted: bool
    reason: str
    fitness: float
    fitness_before: float
    inlier_rmse_m: float
    tolerance_m: float
    degenerate: int
    scene_cam: np.ndarray = field(repr=False)
    model_obj: np.ndarray = field(repr=False)

    def write_ply(self, folder: str | os.PathLike[str], prefix: str = "") -> tuple[Path, Path]:
        """Write ``{prefix}scene.ply`` (the segmented depth points, grey) and ``{prefix}model.ply``
        (the visible model surface moved to ``T_cam_obj``, green when accepted, red when not),
        both in the camera frame, metres, to inspect in MeshLab or open3d. Returns the paths."""
        o3d = _import_open3d()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = (folder / f"{prefix}scene.ply", folder / f"{prefix}model.ply")
        colours = ((0.6, 0.6, 0.6), (0.1, 0.8, 0.2) if self.accepted else (0.9, 0.1, 0.1))
        clouds = (
            self.scene_cam,
            self.T_cam_obj.apply(self.model_obj) if len(self.model_obj) else self.model_obj,
        )
        for path, points, colour in zip(paths, clouds, colours):
            cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points, np.float64)))
            cloud.paint_uniform_color(colour)
            with atomic_file(path) as tmp:  # tmp ends in .ply: open3d picks the format by suffix
                if not o3d.io.write_point_cloud(str(tmp), cloud, write_ascii=False):
                    raise SourceError(f"{path}: cannot write the point cloud")
        return paths


class MeshCaster:
    """Rays cast onto a mesh (open3d's ``RaycastingScene``): exact depth and face normals.

    Args:
        mesh: a ``trimesh.Trimesh`` in metres, object frame.
    """

    def __init__(self, mesh: trimesh.Trimesh) -> None:
        o3d = _import_open3d()
        self._o3d = o3d
        tensor_mesh = o3d.t.geometry.TriangleMesh()
        tensor_mesh.vertex.positions = o3d.core.Tensor(np.asarray(mesh.vertices, np.float32))
        tensor_mesh.triangle.indices = o3d.core.Tensor(np.asarray(mesh.faces, np.int32))
        self._scene = o3d.t.geometry.RaycastingScene()
        self._scene.add_triangles(tensor_mesh)

    def cast(self, T_cam_obj: Pose, rays_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Depth along the camera's z axis (metres, inf where a ray misses) for rays ``(..., 3)``
        of the form ``(x/z, y/z, 1)`` (``Camera.rays``), and the faces' normals ``(..., 3)``,
        object frame, turned toward the camera."""
        T_obj_cam = T_cam_obj.inv()
        directions = rays_cam @ T_obj_cam.rotation.T
        origins = np.broadcast_to(T_obj_cam.translation, directions.shape)
        hits = self._scene.cast_rays(
            self._o3d.core.Tensor(np.concatenate([origins, directions], axis=-1).astype(np.float32))
        )
        z = hits["t_hit"].numpy().astype(np.float64)  # the rays have z = 1 in the camera: t is depth
        normals = hits["primitive_normals"].numpy().astype(np.float64)
        normals[np.einsum("...j,...j->...", normals, directions) > 0] *= -1.0
        return z, normals


class DepthAligner:
    """Refines ``T_cam_obj`` poses of ``target`` with depth images of ``camera``'s size.

    Args:
        target: the object; its mesh is in metres, object frame.
        camera: the colour camera the depth is registered to (intrinsics, distortion, size).
        options: see ``AlignOptions``.
    """

    def __init__(self, target: Target, camera: Camera, options: AlignOptions | None = None) -> None:
        self.target, self.camera = target, camera
        self.options = options or AlignOptions()
        self._caster = MeshCaster(target.mesh)
        self._rays = camera.ray_image()  # (H, W, 3) (x/z, y/z, 1), camera frame
        self._corners_obj = np.asarray(target.mesh.bounding_box.vertices, np.float64)
        self._length_m = max(target.diameter_m / 2.0, 1e-3)  # to weigh rotations against translations

    # -- the model's depth at a pose ----------------------------------------------------------
    def _grid(self, T_cam_obj: Pose) -> tuple[np.ndarray, np.ndarray, int] | None:
        """Pixel rows and columns of the sampling grid over the object's projected box, and its step."""
        w, h = self.camera.size
        corners = self._corners_obj @ T_cam_obj.rotation.T + T_cam_obj.translation
        if np.any(corners[:, 2] <= 1e-3):
            return None
        pixels = self.camera.project(corners)
        m = self.options.margin_px
        u0, v0 = np.floor(pixels.min(axis=0)) - m
        u1, v1 = np.ceil(pixels.max(axis=0)) + m
        u0, v0, u1, v1 = int(max(u0, 0)), int(max(v0, 0)), int(min(u1, w - 1)), int(min(v1, h - 1))
        if u1 <= u0 or v1 <= v0:
            return None
        step = max(1, round(math.sqrt((u1 - u0 + 1) * (v1 - v0 + 1) / self.options.model_points)))
        return np.arange(v0, v1 + 1, step), np.arange(u0, u1 + 1, step), step

    # -- refinement ---------------------------------------------------------------------------
    def refine(self, T_cam_obj: Pose, depth_m: np.ndarray) -> Alignment:
        """Refine ``T_cam_obj`` (object -> camera, metres) with ``depth_m`` ((H, W) metres along z,
        0 = no reading, registered to the camera). Never raises for a bad view: the result says
        why it was rejected."""
        depth_m = np.asarray(depth_m)
        if depth_m.shape != (self.camera.height, self.camera.width):
            raise InvalidInputError(
                f"depth_m: expected ({self.camera.height}, {self.camera.width}) like the camera, got {depth_m.shape}"
            )
        empty = np.zeros((0, 3))

        def keep_input(reason: str, scene: np.ndarray = empty, model: np.ndarray = empty) -> Alignment:
            return Alignment(T_cam_obj, T_cam_obj, False, reason, 0.0, 0.0, math.nan, 0.0, 0, scene, model)

        grid = self._grid(T_cam_obj)
        if grid is None:
            return keep_input("the object is not in the image")
        rows, cols, step = grid
        rays = self._rays[np.ix_(rows, cols)]  # (R, C, 3), the grid's rays
        z_model, normals = self._caster.cast(T_cam_obj, rays)  # (R, C) depth, inf where missed
        hit = np.isfinite(z_model)
        if hit.sum() < self.options.min_points:
            return keep_input(f"too few model points in view ({int(hit.sum())})")
        T_obj_cam = T_cam_obj.inv()
        model_obj = T_obj_cam.apply((rays * z_model[..., None])[hit])
        model_normals = normals[hit]

        # the scene: valid depth near the silhouette and the model's depth range
        reach = max(1, math.ceil(self.options.margin_px / step))
        near_silhouette = _dilate(hit, reach)
        distance = max(self.options.max_distance_m, 0.1 * self.target.diameter_m)
        z_seen = depth_m[np.ix_(rows, cols)].astype(np.float64)
        in_range = (
            (z_seen > 0) & (z_seen > z_model[hit].min() - distance) & (z_seen < z_model[hit].max() + distance)
        )
        chosen = near_silhouette & in_range
        scene_cam = rays[chosen] * z_seen[chosen][:, None]
        if len(scene_cam) < self.options.min_points:
            return keep_input(f"too few depth points on the object ({len(scene_cam)})", scene_cam, model_obj)

        # ICP: scene (camera frame) onto the model (object frame); the result maps camera -> object
        try:
            T_obj_cam_icp, residuals, pairs = self._icp(
                scene_cam, model_obj, model_normals, T_obj_cam, distance
            )
            spread = 1.4826 * float(np.median(np.abs(residuals))) if len(residuals) else distance
            second = float(np.clip(3.0 * spread, self.options.min_distance_m, distance))
            T_obj_cam_icp, residuals, pairs = self._icp(
                scene_cam, model_obj, model_normals, T_obj_cam_icp, second
            )
        except _Degenerate:
            return keep_input(
                "the depth leaves a motion unobserved (tensor ICP: singular system)", scene_cam, model_obj
            )
        if len(residuals) < self.options.min_points:
            return keep_input(
                f"too few depth points match the model ({len(residuals)})", scene_cam, model_obj
            )
        rmse = float(np.sqrt(np.mean(residuals**2)))
        spread = 1.4826 * float(np.median(np.abs(residuals)))  # the depth noise on the object

        # keep only the motion the depth observes
        T_obj_cam_new, degenerate = self._observed_motion(
            T_obj_cam, T_obj_cam_icp, scene_cam[pairs[:, 0]], model_normals[pairs[:, 1]]
        )
        T_new = T_obj_cam_new.inv()
        moved = pose_distance(T_new, T_cam_obj)
        tolerance = max(3.0 * spread, self.options.min_distance_m)
        before = _fitness(z_model, z_seen, tolerance)  # the input pose's depth was cast above
        after = _fitness(self._caster.cast(T_new, rays)[0], z_seen, tolerance)
        result = Alignment(
            T_new, T_cam_obj, True, "", after, before, rmse, tolerance, degenerate, scene_cam, model_obj
        )
        reason = ""
        if (
            moved.translation_m > self.options.max_shift_m
            or moved.rotation_rad > self.options.max_rotation_rad
        ):
            reason = f"moved too far ({1000 * moved.translation_m:.0f} mm, {math.degrees(moved.rotation_rad):.1f} deg)"
        elif after < self.options.min_fitness:
            reason = f"the depth confirms too little of the object ({after:.2f})"
        elif after < before:
            reason = f"the depth agrees less after ({after:.2f}) than before ({before:.2f})"
        if reason:
            return replace(result, T_cam_obj=T_cam_obj, accepted=False, reason=reason, fitness=before)
        return result

    def _icp(
        self,
        scene_cam: np.ndarray,
        model_obj: np.ndarray,
        model_normals: np.ndarray,
        T_obj_cam: Pose,
        distance_m: float,
    ) -> tuple[Pose, np.ndarray, np.ndarray]:
        """One point-to-plane ICP stage; the pose, the inliers' point-to-plane residuals (metres)
        and their (K, 2) scene and model indices."""
        o3d = _import_open3d()
        init = T_obj_cam.as_matrix()
        if self.options.backend == "tensor":
            registration = o3d.t.pipelines.registration
            source = o3d.t.geometry.PointCloud(o3d.core.Tensor(scene_cam))
            target = o3d.t.geometry.PointCloud(o3d.core.Tensor(model_obj))
            target.point.normals = o3d.core.Tensor(model_normals)
            kernel = registration.robust_kernel.RobustKernel(
                registration.robust_kernel.RobustKernelMethod.TukeyLoss, distance_m
            )
            try:  # the tensor pipeline raises where a view leaves a motion unobserved
                result = registration.icp(
                    source,
                    target,
                    distance_m,
                    o3d.core.Tensor(init),
                    registration.TransformationEstimationPointToPlane(kernel),
                    registration.ICPConvergenceCriteria(1e-4, 1e-4, self.options.iterations),
                )
            except RuntimeError as exc:
                if "Singular" not in str(exc):
                    raise
                raise _Degenerate from None
            matrix = result.transformation.numpy()
        else:
            registration = o3d.pipelines.registration
            source = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(scene_cam))
            target = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(model_obj))
            target.normals = o3d.utility.Vector3dVector(model_normals)
            result = registration.registration_icp(
                source,
                target,
                distance_m,
                init,
                registration.TransformationEstimationPointToPlane(registration.TukeyLoss(k=distance_m)),
                registration.ICPConvergenceCriteria(1e-4, 1e-4, self.options.iterations),
            )
            matrix = np.asarray(result.transformation)
        T = Pose.from_matrix(matrix, orthonormalize=True)
        pairs = _nearest_pairs(o3d, T.apply(scene_cam), model_obj, distance_m)
        moved = T.apply(scene_cam[pairs[:, 0]])
        residuals = np.einsum("ij,ij->i", moved - model_obj[pairs[:, 1]], model_normals[pairs[:, 1]])
        return T, residuals, pairs

    def _observed_motion(
        self, T_start: Pose, T_icp: Pose, scene_cam: np.ndarray, normals_obj: np.ndarray
    ) -> tuple[Pose, int]:
        """``T_icp`` with its motion from ``T_start`` (camera -> object) restricted to the
        directions the point-to-plane pairs observe; and how many directions were dropped."""
        points = T_icp.apply(scene_cam)
        rows = np.column_stack([np.cross(points, normals_obj) / self._length_m, normals_obj])
        information = rows.T @ rows / len(rows)
        values, vectors = np.linalg.eigh(information)
        observed = values > self.options.degenerate_ratio * values.max()
        if observed.all():
            return T_icp, 0
        delta = T_icp @ T_start.inv()  # object frame -> object frame
        rvec, tvec = delta.as_rvec_tvec()
        twist = np.concatenate([rvec.ravel() * self._length_m, tvec.ravel()])
        basis = vectors[:, observed]
        twist = basis @ (basis.T @ twist)
        kept = Pose.from_rvec_tvec(twist[:3] / self._length_m, twist[3:])
        return kept @ T_start, int((~observed).sum())


class _Degenerate(Exception):
    """The tensor ICP met a singular system."""


def _fitness(z_model: np.ndarray, z_seen: np.ndarray, tolerance_m: float) -> float:
    """Share of the model's grid pixels with a depth reading (``z_seen`` > 0) where the model's
    depth ``z_model`` (inf where it misses) agrees within ``tolerance_m``."""
    checked = np.isfinite(z_model) & (z_seen > 0)
    confirmed = checked & (np.abs(z_seen - z_model) <= tolerance_m)
    return float(confirmed.sum() / checked.sum()) if checked.any() else 0.0


def _dilate(mask: np.ndarray, cells: int) -> np.ndarray:
    import cv2

    kernel = np.ones((2 * cells + 1, 2 * cells + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def _nearest_pairs(o3d, points: np.ndarray, model: np.ndarray, distance_m: float) -> np.ndarray:
    """(K, 2) indices: each point whose nearest model point is within ``distance_m``, with it."""
    search = o3d.core.nns.NearestNeighborSearch(o3d.core.Tensor(model))
    search.knn_index()
    index, squared = search.knn_search(o3d.core.Tensor(points), 1)
    index, squared = index.numpy().ravel(), squared.numpy().ravel()
    close = np.flatnonzero(squared <= distance_m**2)
    return np.column_stack([close, index[close]]).astype(np.int64)

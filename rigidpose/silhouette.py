"""Refine a pose by aligning the object's silhouette with the image's edges (moving edges).

A low-texture object gives a keypoint network few points to place and optical flow few corners
to follow, but its outline is a long, sharp edge against almost any background. The outline
fixes what a few keypoints leave loose, above all the distance (the object's size in the image).

``SilhouetteRefiner(target).refine(gray, camera, T_cam_obj)``:

1. **Outline**: the mesh is ray cast (open3d) at the input pose, every 4 pixels over its
   bounding box, then at every pixel near the coarse outline; the silhouette's boundary pixels,
   up to ``max_points`` spread along it, give surface points (object frame) and outward normals
   in the image.
2. **Edges**: from each boundary point, the image's gradient across the outline is searched
   ``search_px`` inward and outward; the strongest response (above ``min_gradient``) is where the
   outline is seen. The silhouette's own sub-pixel position along the normal is taken out, so a
   pose that already fits has zero residuals.
3. **Pose**: Gauss-Newton on the six pose parameters, point-to-line (each residual is the
   distance along the normal), Tukey weights; then steps 1-3 again from the new pose.

The refinement is refused (None) when fewer than ``min_points`` outline points see an edge, when
most of them are outliers (a hand or clutter along the outline), or when it moved the pose more
than ``max_rotation_deg`` or ``max_distance_share`` of its distance: it corrects, it does not
relocate.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ._validate import check_int, check_number
from .align import MeshCaster
from .camera import Camera
from .errors import InvalidInputError
from .geometry import Pose, poses_agree
from .target import Target

__all__ = ["SilhouetteOptions", "SilhouetteRefiner"]


@dataclass(frozen=True)
class SilhouetteOptions:
    """How ``SilhouetteRefiner`` works.

    Attributes:
        search_px: how far from the predicted outline an edge is looked for, pixels, each way.
        max_points: outline points used (spread evenly along it).
        min_points: fewer outline points with an edge than this refuses the refinement.
        min_gradient: the smallest gradient across the outline that counts as an edge (3x3 Sobel
            of an 8-bit image: up to about 1000).
        min_inlier_share: of the outline points with an edge, the share that must fit the
            refined pose (Tukey weight > 0).
        rounds: outline-edges-pose rounds, each from the previous round's pose.
        max_rotation_deg, max_distance_share: the most the refinement may move the pose.
    """

    search_px: int = 10
    max_points: int = 240
    min_points: int = 24
    min_gradient: float = 30.0
    min_inlier_share: float = 0.5
    rounds: int = 2
    max_rotation_deg: float = 10.0
    max_distance_share: float = 0.1

    def __post_init__(self) -> None:
        check_int(self.search_px, "search_px", ge=2)
        check_int(self.min_points, "min_points", ge=6)
        check_int(
            self.max_points,
            "max_points",
            ge=self.min_points,
            expected=f"an integer >= min_points ({self.min_points})",
        )
        check_number(self.min_gradient, "min_gradient", gt=0)
        check_number(self.min_inlier_share, "min_inlier_share", gt=0, le=1)
        check_int(self.rounds, "rounds", ge=1)
        check_number(self.max_rotation_deg, "max_rotation_deg", gt=0)
        check_number(self.max_distance_share, "max_distance_share", gt=0)


class SilhouetteRefiner:
    """Refines poses of ``target`` (its mesh: metres, object frame) against image edges.

    Args:
        target: the object.
        options: see ``SilhouetteOptions``.
        caster: rays onto the target's mesh, when one is already made (``align.MeshCaster``).
    """

    def __init__(
        self, target: Target, options: SilhouetteOptions | None = None, caster: MeshCaster | None = None
    ) -> None:
        self.options = SilhouetteOptions() if options is None else options
        self._vertices = np.asarray(target.mesh.vertices, np.float64)
        self._caster = MeshCaster(target.mesh) if caster is None else caster
        self._camera: Camera | None = None
        self._rays = np.zeros((0, 0, 3))

    def refine(self, gray: np.ndarray, camera: Camera, T_cam_obj: Pose) -> Pose | None:
        """The pose that lines the silhouette up with ``gray``'s edges (H, W uint8, the camera's
        size), starting from ``T_cam_obj``; None when refused (see the module's docstring)."""
        if not isinstance(gray, np.ndarray) or gray.dtype != np.uint8 or gray.shape != camera.size[::-1]:
            shape = getattr(gray, "shape", None)
            raise InvalidInputError(
                f"gray: expected a uint8 image of the camera's size {camera.size[0]}x{camera.size[1]}, got shape {shape}"
            )
        if self._camera is not camera:
            self._camera, self._rays = camera, camera.ray_image()
        T = T_cam_obj
        for _ in range(self.options.rounds):
            T = self._round(gray, camera, T)
            if T is None:
                return None
        options = self.options
        return T if poses_agree(T, T_cam_obj, options.max_rotation_deg, options.max_distance_share) else None

    def _round(self, gray: np.ndarray, camera: Camera, T: Pose) -> Pose | None:
        options = self.options
        pixels = camera.project(T.apply(self._vertices))
        if not np.all(np.isfinite(pixels)):
            return None  # partly behind the camera
        w, h = camera.size
        margin = options.search_px + 2
        x0, y0 = np.maximum(np.floor(pixels.min(axis=0)).astype(int) - margin, 0)
        x1, y1 = np.minimum(np.ceil(pixels.max(axis=0)).astype(int) + margin + 1, [w, h])
        if x1 - x0 < 2 * margin or y1 - y0 < 2 * margin:
            return None

        # 1. the outline: boundary pixels of the ray-cast silhouette, outward normals
        depth = self._depth_near_outline(T, x0, y0, x1, y1)
        inside = np.isfinite(depth).astype(np.uint8)
        boundary = (inside > 0) & (cv2.erode(inside, np.ones((3, 3), np.uint8)) == 0)
        ys, xs = np.nonzero(boundary)
        soft = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), 1.5)
        nx = -cv2.Sobel(soft, cv2.CV_32F, 1, 0, ksize=3)[ys, xs]
        ny = -cv2.Sobel(soft, cv2.CV_32F, 0, 1, ksize=3)[ys, xs]
        length = np.hypot(nx, ny)
        keep = length > 1e-3
        if keep.sum() < options.min_points:
            return None
        xs, ys, nx, ny = xs[keep], ys[keep], nx[keep] / length[keep], ny[keep] / length[keep]
        if len(xs) > options.max_points:
            pick = np.linspace(0, len(xs) - 1, options.max_points).round().astype(int)
            xs, ys, nx, ny = xs[pick], ys[pick], nx[pick], ny[pick]
        points_obj = T.inv().apply(self._rays[ys + y0, xs + x0] * depth[ys, xs, None])

        # 2. the edges: the gradient across the outline, sampled along each normal
        steps = np.arange(-options.search_px, options.search_px + 1, dtype=np.float32)
        u = (xs[:, None] + steps[None] * nx[:, None]).astype(np.float32)
        v = (ys[:, None] + steps[None] * ny[:, None]).astype(np.float32)
        smooth = cv2.GaussianBlur(gray[y0:y1, x0:x1], (0, 0), 1.0).astype(np.float32)
        gx = cv2.remap(cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3), u, v, cv2.INTER_LINEAR)
        gy = cv2.remap(cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3), u, v, cv2.INTER_LINEAR)
        across = np.abs(gx * nx[:, None] + gy * ny[:, None])
        best = across.argmax(axis=1)
        rows = np.arange(len(best))
        seen = (across[rows, best] >= options.min_gradient) & (best > 0) & (best < len(steps) - 1)
        if seen.sum() < options.min_points:
            return None
        # the silhouette's own position along the normal: where the soft mask crosses 0.5
        mask_along = cv2.remap(soft, u, v, cv2.INTER_LINEAR)
        centre = options.search_px
        after = mask_along[:, centre + 1]
        before = mask_along[:, centre]
        outline_at = np.clip((before - 0.5) / np.maximum(before - after, 1e-3), 0.0, 1.0)
        offsets = (steps[best] - outline_at)[seen]
        normals = np.column_stack([nx, ny])[seen]
        points_obj = points_obj[seen]
        targets = camera.project(T.apply(points_obj)) + offsets[:, None] * normals

        # 3. the pose: point-to-line Gauss-Newton with Tukey weights
        fitted = _fit_to_lines(points_obj, targets, normals, camera, T)
        if fitted is None:
            return None
        T_new, inlier_share = fitted
        if inlier_share < options.min_inlier_share:
            return None
        return T_new

    def _depth_near_outline(self, T: Pose, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """(y1 - y0, x1 - x0) depth of the object's surface at pose ``T``, metres; inf outside
        it. Rays are cast every ``_COARSE_PX`` pixels, then at every pixel only near where the
        coarse silhouette changes: exact on the outline, 1.0 deeper inside (only the outline's
        depths are used). Parts thinner than the coarse step may be missed."""
        step = _COARSE_PX
        rays = self._rays[y0:y1, x0:x1]
        coarse = np.isfinite(self._caster.cast(T, rays[::step, ::step])[0]).astype(np.uint8)
        near = cv2.dilate(coarse, np.ones((3, 3), np.uint8)) > cv2.erode(coarse, np.ones((3, 3), np.uint8))
        height, width = rays.shape[:2]
        inside = np.repeat(np.repeat(coarse, step, axis=0), step, axis=1)[:height, :width]
        near = np.repeat(np.repeat(near, step, axis=0), step, axis=1)[:height, :width]
        depth = np.where(inside > 0, 1.0, np.inf)
        depth[near] = self._caster.cast(T, rays[near])[0]
        return depth


_COARSE_PX = 4


def _fit_to_lines(
    points_obj: np.ndarray, targets: np.ndarray, normals: np.ndarray, camera: Camera, T: Pose, steps: int = 5
) -> tuple[Pose, float] | None:
    """The pose that moves each point's projection onto the line through its target
    perpendicular to its normal; and the share of points with a nonzero Tukey weight."""
    rvec, tvec = (v.reshape(3, 1).astype(np.float64) for v in T.as_rvec_tvec())
    weights = np.ones(len(points_obj))
    for _ in range(steps):
        projected, jacobian = cv2.projectPoints(points_obj, rvec, tvec, camera.K, camera.dist_coeffs)
        residuals = np.einsum("ij,ij->i", projected.reshape(-1, 2) - targets, normals)
        along = np.einsum("ij,ijk->ik", normals, jacobian[:, :6].reshape(-1, 2, 6))
        scale = 4.685 * max(1.4826 * float(np.median(np.abs(residuals))), 0.5)
        weights = np.where(np.abs(residuals) < scale, (1.0 - (residuals / scale) ** 2) ** 2, 0.0)
        normal_matrix = along.T @ (along * weights[:, None]) + 1e-9 * np.eye(6)
        try:
            delta = -np.linalg.solve(normal_matrix, along.T @ (weights * residuals))
        except np.linalg.LinAlgError:
            return None
        rvec, tvec = rvec + delta[:3, None], tvec + delta[3:, None]
    if not (np.all(np.isfinite(rvec)) and np.all(np.isfinite(tvec))) or tvec[2, 0] <= 0:
        return None
    return Pose.from_rvec_tvec(rvec.ravel(), tvec.ravel()), float(np.mean(weights > 0))

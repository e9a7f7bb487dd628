"""An OpenCV painter that always works: a target's outline and axes drawn on a frame.

``OutlinePainter(target, camera).annotate(image, result) -> image`` draws the edges of the
mesh where its surface folds (the sheet's border, a box's twelve edges; not the diagonals of
flat faces), keeping only edges of faces turned toward the camera, plus the object's axes
(x red, y green, z blue) and a label with the state. No OpenGL needed.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..camera import Camera
from ..errors import InvalidInputError
from ..geometry import Pose
from ..io import ObjectPose
from ..target import Target

__all__ = ["OutlinePainter", "contact_sheet", "fold_edges"]

STATE_COLORS = {"tracking": (80, 220, 80), "searching": (60, 170, 255), "lost": (60, 60, 255)}
"""BGR colour per state."""


def fold_edges(mesh: object, min_angle_rad: float = math.radians(20)) -> tuple[np.ndarray, np.ndarray]:
    """Edges (E, 2) vertex indices where the surface folds by more than ``min_angle_rad`` or
    ends, and for each the (E, 2) faces beside it (-1 for none). The diagonals of flat faces
    are left out, also where the file's winding is inconsistent (normals opposite)."""
    import trimesh

    angles = mesh.face_adjacency_angles  # in [0, pi]; pi for a flat pair wound inconsistently
    fold = (angles > min_angle_rad) & (angles < math.pi - min_angle_rad)
    shared_edges, shared_faces = mesh.face_adjacency_edges[fold], mesh.face_adjacency[fold]
    border = trimesh.grouping.group_rows(mesh.edges_sorted, require_count=1)
    border_faces = np.column_stack([mesh.edges_face[border], np.full(len(border), -1)])
    return (
        np.vstack([shared_edges, mesh.edges_sorted[border]]).astype(np.int64),
        np.vstack([shared_faces, border_faces]).astype(np.int64),
    )


class OutlinePainter:
    """Draws one target's outline, axes and state on frames of one camera."""

    def __init__(self, target: Target, camera: Camera, thickness: int = 2) -> None:
        self.target, self.camera, self.thickness = target, camera, thickness
        mesh = target.mesh
        if mesh.is_watertight:  # outward normals, whatever the file's winding
            import trimesh

            mesh = mesh.copy()
            trimesh.repair.fix_normals(mesh)
        self.vertices = np.asarray(mesh.vertices, dtype=np.float64)
        self.face_normals = np.asarray(mesh.face_normals, dtype=np.float64)
        self.face_centres = np.asarray(mesh.triangles_center, dtype=np.float64)
        self.edges, self.beside = fold_edges(mesh)
        self.axis_m = 0.35 * target.diameter_m

    def _visible_faces(self, T_cam_obj: Pose) -> np.ndarray:
        centres_cam = T_cam_obj.apply(self.face_centres)
        normals_cam = self.face_normals @ T_cam_obj.rotation.T
        # a flat sheet is seen from both sides
        facing = (normals_cam * centres_cam).sum(axis=1) < 0
        return facing if len(self.face_normals) > 2 else np.ones(len(facing), bool)

    def annotate(self, image: np.ndarray, result: ObjectPose) -> np.ndarray:
        """``image`` (BGR uint8, drawn on in place and returned) with ``result`` painted."""
        color = STATE_COLORS.get(result.state, (255, 255, 255))
        label = f"{result.name}: {result.state}"
        if result.T_cam_obj is not None:
            T = result.T_cam_obj
            visible = self._visible_faces(T)
            shown = np.zeros(len(self.edges), bool)
            for side in range(2):
                has = self.beside[:, side] >= 0
                shown[has] |= visible[self.beside[has, side]]
            pixels = self.camera.project(T.apply(self.vertices))
            for a, b in self.edges[shown]:
                self._line(image, pixels[a], pixels[b], color)
            axes = self.camera.project(T.apply(np.vstack([np.zeros(3), np.eye(3) * self.axis_m])))
            for k, axis_color in enumerate(((0, 0, 255), (0, 200, 0), (255, 80, 0))):
                self._line(image, axes[0], axes[k + 1], axis_color)
            label += f"  {result.inliers} pts  {result.reproj_error_px or 0:.2f} px"
        cv2.putText(image, label, (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 4, cv2.LINE_AA)
        cv2.putText(image, label, (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, color, 1, cv2.LINE_AA)
        return image

    def _line(self, image: np.ndarray, a: np.ndarray, b: np.ndarray, color: tuple[int, int, int]) -> None:
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            return
        limit = 4 * max(image.shape)  # cv2 needs int coordinates; clip wild projections
        pa = tuple(round(float(v)) for v in np.clip(a * 16, -limit * 16, limit * 16))
        pb = tuple(round(float(v)) for v in np.clip(b * 16, -limit * 16, limit * 16))
        cv2.line(image, pa, pb, color, self.thickness, cv2.LINE_AA, shift=4)


def contact_sheet(images: list[np.ndarray], columns: int = 4, width_px: int = 1280) -> np.ndarray:
    """Frames tiled into one picture ``width_px`` wide, ``columns`` per row (BGR uint8)."""
    if not images:
        raise InvalidInputError("contact_sheet: expected at least one image")
    tile_w = width_px // columns
    h, w = images[0].shape[:2]
    tile_h = round(h * tile_w / w)
    tiles = [cv2.resize(im, (tile_w, tile_h), interpolation=cv2.INTER_AREA) for im in images]
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(rows)

"""The OpenCV painter: always available, no OpenGL, well under a millisecond for outlines.

``Painter(targets, camera, draw=("outline", "axes")).annotate(image, results) -> image`` draws,
for every object with a pose:

- ``outline``: where the surface folds (the sheet's border, a box's twelve edges; not the
  diagonals of flat faces) or turns away (the silhouette of a curved object), on visible faces;
- ``axes``: the object frame's axes, x red, y green, z blue;
- ``box``: the object's 3D bounding box (axis-aligned in the object frame);
- ``wireframe``: every edge of the faces turned toward the camera (no hidden-line removal,
  so the far side of a concave part can show through);

Each object has its own colour, from ``OBJECT_COLORS`` by its place in the painter's target list
(outline and label), and a label at the top left on a dark box: a dot in its state's colour
(``STATE_COLORS``), its name, state, confidence, inliers and reprojection error. Lines follow
lens distortion: a long edge is drawn through points projected with ``Camera.project`` every
few pixels, so it curves as the lens bends it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .._validate import check_bgr8
from ..camera import Camera
from ..errors import InvalidInputError
from ..geometry import Pose
from ..io import ObjectPose
from ..target import Target, outward_surface

if TYPE_CHECKING:
    import trimesh

__all__ = ["DRAWINGS", "OBJECT_COLORS", "STATE_COLORS", "Painter", "contact_sheet", "fold_edges"]

DRAWINGS = ("outline", "axes", "box", "wireframe")
"""What a ``Painter`` can draw."""

STATE_COLORS = {"tracking": (80, 220, 80), "searching": (60, 170, 255), "lost": (60, 60, 255)}
"""BGR colour per state (the dot in an object's label)."""

OBJECT_COLORS = (
    (0, 210, 255),  # amber
    (255, 0, 255),  # magenta
    (255, 230, 0),  # cyan
    (0, 110, 255),  # orange
    (0, 255, 120),  # lime
    (255, 90, 150),  # violet
    (180, 130, 255),  # pink
    (110, 160, 0),  # teal
)
"""BGR colour per object, by its index in the painter's targets (repeating after eight): clearly
different from each other (CIELAB distance over 40) and from the axes' pure red, green and blue."""

_AXIS_COLORS = ((0, 0, 255), (0, 200, 0), (255, 80, 0))  # BGR: x red, y green, z blue
_BOX_COLOR = (255, 220, 0)
_WIRE_COLOR = (230, 230, 230)
_UNKNOWN_COLOR = (255, 255, 255)  # a result whose name is none of the painter's targets
_FONT, _FONT_SCALE = cv2.FONT_HERSHEY_SIMPLEX, 0.6
_LABEL_PAD_PX = 4
_SEGMENT_PX = 12.0  # with lens distortion, edges are drawn through a projected point every ~12 px
_MAX_PIECES = 16


def fold_edges(
    mesh: trimesh.Trimesh, min_angle_rad: float = math.radians(20)
) -> tuple[np.ndarray, np.ndarray]:
    """Edges (E, 2) vertex indices where the surface folds by more than ``min_angle_rad`` or
    ends, and for each the (E, 2) faces beside it (-1 for none). The diagonals of flat faces
    are left out, also where the file's winding is inconsistent (normals opposite)."""
    edges, beside, angles = _mesh_edges(mesh)
    folds = (angles > min_angle_rad) & (angles < math.pi - min_angle_rad)
    return edges[folds], beside[folds]


def _mesh_edges(mesh: trimesh.Trimesh) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every edge (E, 2) once, its (E, 2) faces (-1 where the surface ends) and the (E,) angle
    between the faces' normals in [0, pi] (pi where the surface ends, and for a flat pair wound
    inconsistently)."""
    import trimesh

    border = trimesh.grouping.group_rows(mesh.edges_sorted, require_count=1)
    border_faces = np.column_stack([mesh.edges_face[border], np.full(len(border), -1)])
    edges = np.vstack([mesh.face_adjacency_edges, mesh.edges_sorted[border]]).astype(np.int64)
    beside = np.vstack([mesh.face_adjacency, border_faces]).astype(np.int64)
    angles = np.concatenate([mesh.face_adjacency_angles, np.full(len(border), math.pi / 2)])
    return edges, beside, angles


class _Drawing:
    """One target's geometry, prepared once for painting."""

    def __init__(self, target: Target) -> None:
        mesh = outward_surface(target.mesh)
        self.vertices = np.asarray(mesh.vertices, dtype=np.float64)
        self.face_normals = np.asarray(mesh.face_normals, dtype=np.float64)
        centres = np.asarray(mesh.triangles_center, dtype=np.float64)
        self.face_offsets = (self.face_normals * centres).sum(axis=1)  # n . c: the face's plane
        self.edges, self.beside, angles = _mesh_edges(mesh)
        min_angle = math.radians(20)
        self.folds = (angles > min_angle) & (angles < math.pi - min_angle)
        self.consistent = angles < math.pi - min_angle  # not a flat pair with opposite normals
        self.two_sided = len(self.face_normals) <= 2  # a sheet is seen from both sides
        axis_m = 0.35 * target.diameter_m
        self.axes = np.vstack([np.zeros(3), np.eye(3) * axis_m])
        low, high = mesh.bounds
        self.box_corners = np.array(
            [[x, y, z] for x in (low[0], high[0]) for y in (low[1], high[1]) for z in (low[2], high[2])]
        )
        # corners k and j share an edge when their indices differ in one bit (one coordinate)
        self.box_edges = np.array(
            [(k, j) for k in range(8) for j in range(k + 1, 8) if bin(k ^ j).count("1") == 1]
        )

    def visible_faces(self, T_cam_obj: Pose) -> np.ndarray:
        """(F,) bool: faces turned toward the camera (all of them for two-sided surfaces)."""
        if self.two_sided:
            return np.ones(len(self.face_normals), bool)
        camera_obj = -T_cam_obj.rotation.T @ T_cam_obj.translation  # the camera centre, object frame
        return self.face_normals @ camera_obj > self.face_offsets

    def edges_to_draw(self, visible: np.ndarray, kind: str) -> np.ndarray:
        """(E, 2) vertex indices of the edges that ``kind`` ("outline" or "wireframe") shows."""
        side = [np.where(self.beside[:, k] >= 0, visible[self.beside[:, k]], False) for k in range(2)]
        either = side[0] | side[1]
        if kind == "wireframe":
            return self.edges[either]
        has_two = self.beside[:, 1] >= 0
        silhouette = has_two & self.consistent & (side[0] != side[1])
        return self.edges[(self.folds & either) | silhouette]


class Painter:
    """Draws targets' outlines, axes, boxes or wireframes and their states on one camera's frames.

    Args:
        targets: one target or several; results are matched to them by name.
        camera: the camera of the frames (lens distortion honoured).
        draw: any of ``DRAWINGS``.
        thickness: line width in pixels.
        label: write each object's state, confidence, inliers and error at the top left.

    Attributes:
        colors: BGR colour per target name, ``OBJECT_COLORS`` in the order of ``targets``.
    """

    def __init__(
        self,
        targets: Target | Sequence[Target],
        camera: Camera,
        draw: Sequence[str] = ("outline", "axes"),
        thickness: int = 2,
        label: bool = True,
    ) -> None:
        targets = [targets] if isinstance(targets, Target) else list(targets)
        if not targets or not all(isinstance(t, Target) for t in targets):
            raise InvalidInputError("targets: expected a Target or a non-empty list of them")
        if not isinstance(camera, Camera):
            raise InvalidInputError(f"camera: expected Camera, got {type(camera).__name__}")
        draw = (draw,) if isinstance(draw, str) else tuple(draw)
        unknown = [d for d in draw if d not in DRAWINGS]
        if unknown:
            raise InvalidInputError(f"draw: expected any of {', '.join(DRAWINGS)}, got {', '.join(unknown)}")
        self.camera, self.draw, self.thickness, self.label = camera, draw, int(thickness), label
        self._drawings = {t.name: _Drawing(t) for t in targets}
        self.colors = {t.name: OBJECT_COLORS[k % len(OBJECT_COLORS)] for k, t in enumerate(targets)}

    def annotate(self, image: np.ndarray, results: ObjectPose | Sequence[ObjectPose]) -> np.ndarray:
        """``image`` (H, W, 3) BGR uint8, drawn on in place and returned, with ``results`` painted."""
        check_bgr8(image, "image")
        results = [results] if isinstance(results, ObjectPose) else list(results)
        for result in results:
            drawing = self._drawings.get(result.name)
            if drawing is not None and result.T_cam_obj is not None:
                self._paint(image, drawing, result.T_cam_obj, self.colors[result.name])
        if self.label:  # after the drawings: a label is never drawn over
            top = _LABEL_PAD_PX
            for result in results:
                top = self._label(image, result, self.colors.get(result.name, _UNKNOWN_COLOR), top) + 2
        return image

    def _paint(self, image: np.ndarray, drawing: _Drawing, T: Pose, color: tuple[int, int, int]) -> None:
        if "wireframe" in self.draw or "outline" in self.draw:
            visible = drawing.visible_faces(T)
            if "wireframe" in self.draw:
                edges = drawing.edges_to_draw(visible, "wireframe")
                self._segments(image, T, drawing.vertices, edges, _WIRE_COLOR, max(1, self.thickness - 1))
            if "outline" in self.draw:
                self._segments(image, T, drawing.vertices, drawing.edges_to_draw(visible, "outline"), color)
        if "box" in self.draw:
            self._segments(image, T, drawing.box_corners, drawing.box_edges, _BOX_COLOR)
        if "axes" in self.draw:
            for k, axis_color in enumerate(_AXIS_COLORS):
                self._segments(image, T, drawing.axes, np.array([[0, k + 1]]), axis_color)

    def _segments(
        self,
        image: np.ndarray,
        T_cam_obj: Pose,
        points_obj: np.ndarray,
        edges: np.ndarray,
        color: tuple[int, int, int],
        thickness: int | None = None,
    ) -> None:
        """Draw straight 3D edges (E, 2) between ``points_obj`` (N, 3, object frame) as the camera sees them."""
        if len(edges) == 0:
            return
        if 2 * len(edges) < len(points_obj):  # a few edges of a big mesh: only their ends
            points_obj, edges = points_obj[edges.ravel()], np.arange(2 * len(edges)).reshape(-1, 2)
        points_cam = points_obj @ T_cam_obj.rotation.T + T_cam_obj.translation
        in_front = points_cam[:, 2] > 1e-3
        edges = edges[in_front[edges[:, 0]] & in_front[edges[:, 1]]]  # no line through the camera plane
        if len(edges) == 0:
            return
        pixels = self.camera.project(points_cam)
        pieces = np.ones(len(edges), np.int64)
        if self.camera.has_distortion:
            length_px = np.linalg.norm(pixels[edges[:, 0]] - pixels[edges[:, 1]], axis=1)
            pieces = np.clip(np.ceil(np.nan_to_num(length_px) / _SEGMENT_PX), 1, _MAX_PIECES).astype(np.int64)
        limit = 4.0 * max(image.shape)  # cv2 needs integers; clip wild projections
        polylines = []
        for n in np.unique(pieces):
            group = edges[pieces == n]
            if n == 1:
                path = pixels[group]  # (G, 2, 2)
            else:
                t = np.linspace(0.0, 1.0, n + 1)[None, :, None]
                a, b = points_cam[group[:, 0]][:, None], points_cam[group[:, 1]][:, None]
                path = self.camera.project((a + t * (b - a)).reshape(-1, 3)).reshape(len(group), n + 1, 2)
            path = path[np.all(np.isfinite(path), axis=(1, 2))]
            fixed = np.round(np.clip(path, -limit, limit) * 16).astype(np.int32)
            polylines.extend(fixed)
        cv2.polylines(image, polylines, False, color, thickness or self.thickness, cv2.LINE_AA, shift=4)

    @staticmethod
    def _label(image: np.ndarray, result: ObjectPose, color: tuple[int, int, int], top: int) -> int:
        """Write ``result``'s label in a dark box whose top is at row ``top``; returns its bottom row.

        The text is drawn once, 1 px thick, on a box measured for exactly that text: an outline
        drawn thicker would not line up with it (Hershey text advances further when thicker)."""
        text = f"{result.name}: {result.state}"
        if result.T_cam_obj is not None:
            text += f"  conf {result.confidence:.2f}  {result.inliers} pts"
            if result.reproj_error_px is not None:
                text += f"  {result.reproj_error_px:.2f} px"
        (width, height), baseline = cv2.getTextSize(text, _FONT, _FONT_SCALE, 1)
        pad = _LABEL_PAD_PX
        dot = height  # the state dot's diameter, as tall as a capital
        left = pad
        right = min(image.shape[1], left + pad + dot + pad + width + pad)
        bottom = min(image.shape[0], top + pad + height + baseline + pad)
        if right > left and bottom > top:
            box = image[top:bottom, left:right]
            box[:] = box // 4  # dark, and the frame still shows through a little
        baseline_y = top + pad + height
        centre = (left + pad + dot // 2, baseline_y - height // 2)
        cv2.circle(image, centre, dot // 2, STATE_COLORS.get(result.state, _UNKNOWN_COLOR), -1, cv2.LINE_AA)
        cv2.putText(
            image, text, (left + 2 * pad + dot, baseline_y), _FONT, _FONT_SCALE, color, 1, cv2.LINE_AA
        )
        return bottom


def contact_sheet(images: Sequence[np.ndarray], columns: int = 4, width_px: int = 1280) -> np.ndarray:
    """Frames tiled into one picture ``width_px`` wide, ``columns`` per row (BGR uint8)."""
    if not len(images):
        raise InvalidInputError("contact_sheet: expected at least one image")
    tile_w = width_px // columns
    h, w = images[0].shape[:2]
    tile_h = round(h * tile_w / w)
    tiles = [cv2.resize(im, (tile_w, tile_h), interpolation=cv2.INTER_AREA) for im in images]
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(rows)

"""Textured 3D objects made from images, for tests and benchmark sequences."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import InvalidInputError

if TYPE_CHECKING:
    import trimesh

__all__ = ["textured_box"]

# each face of the box: its outward normal axis and sign, and its in-plane (u, v) axes
_FACES = ((0, 1, 1, 2), (0, -1, 2, 1), (1, 1, 2, 0), (1, -1, 0, 2), (2, 1, 0, 1), (2, -1, 1, 0))


def textured_box(extents_m: tuple[float, float, float], faces: list[np.ndarray]) -> trimesh.Trimesh:
    """A box (``trimesh.Trimesh``, metres, centred on the origin) with one image on each face.

    Args:
        extents_m: the box's size along x, y, z.
        faces: six BGR uint8 images of one size, in the order +x, -x, +y, -y, +z, -z.
    """
    import trimesh
    from PIL import Image

    if len(faces) != 6 or len({f.shape for f in faces}) != 1:
        raise InvalidInputError("faces: expected six images of one size")
    h, w = faces[0].shape[:2]
    atlas = np.zeros((2 * h, 3 * w, 3), np.uint8)  # 3 x 2 tiles, face k at column k % 3, row k // 3
    half = np.asarray(extents_m, dtype=np.float64) / 2.0
    vertices: list[np.ndarray] = []
    uvs: list[tuple[float, float]] = []
    triangles: list[tuple[int, int, int]] = []
    for k, (axis, sign, u_axis, v_axis) in enumerate(_FACES):
        col, row = k % 3, k // 3
        atlas[row * h : (row + 1) * h, col * w : (col + 1) * w] = faces[k]
        base = len(vertices)
        for du, dv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            corner = np.zeros(3)
            corner[axis] = sign * half[axis]
            corner[u_axis] = du * half[u_axis]
            corner[v_axis] = dv * half[v_axis]
            vertices.append(corner)
            # texture u along the face's u axis, v (up in the image) against its v axis
            u = (col + (du + 1) / 2.0 * (1 - 2e-3) + 1e-3) / 3.0
            v = 1.0 - (row + (dv + 1) / 2.0 * (1 - 2e-3) + 1e-3) / 2.0
            uvs.append((u, v))
        quad = [(base, base + 1, base + 2), (base, base + 2, base + 3)]
        outward = np.cross(np.eye(3)[u_axis], np.eye(3)[v_axis])[axis] * sign > 0
        triangles += quad if outward else [t[::-1] for t in quad]  # counter-clockwise seen from outside
    mesh = trimesh.Trimesh(np.array(vertices), np.array(triangles), process=False)
    image = Image.fromarray(atlas[..., ::-1].copy())
    mesh.visual = trimesh.visual.TextureVisuals(uv=np.array(uvs), image=image)
    return mesh

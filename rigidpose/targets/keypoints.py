"""Keypoints on a mesh for the learned detector, and the symmetry convention its labels follow.

``farthest_point_keypoints`` picks PVNet's keypoints: the centre of the object's bounds, then
surface points each as far as possible from those already chosen, so they spread over the whole
object and PnP on them is well conditioned.

A symmetric object looks the same at ``T_cam_obj`` and ``T_cam_obj @ S`` for each of its
symmetries ``S``, so a network cannot tell which of the keypoints it sees is which.
``canonical_pose`` picks one of those equivalent poses by a fixed rule, and training labels the
keypoints at that pose: the network learns one consistent answer, and the pose it gives is
right up to the symmetry, which is what ADD-S and MSSD measure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InvalidInputError
from ..geometry import Pose

if TYPE_CHECKING:
    import trimesh

__all__ = ["canonical_pose", "farthest_point_keypoints"]


def farthest_point_keypoints(
    mesh: trimesh.Trimesh, count: int = 8, seed: int = 0, samples: int = 20000
) -> np.ndarray:
    """The centre of ``mesh``'s bounds followed by ``count`` farthest-point samples of its surface.

    Args:
        mesh: ``trimesh.Trimesh``, metres, object frame.
        count: surface keypoints (PVNet uses 8).
        seed: the surface sampling's seed (the result is reproducible).
        samples: surface points the farthest ones are chosen among.
    Returns:
        (count + 1, 3) float64, metres, object frame; row 0 is the centre.
    """
    import trimesh

    if count < 4:
        raise InvalidInputError(f"count: expected at least 4 surface keypoints, got {count}")
    surface, _ = trimesh.sample.sample_surface(mesh, samples, seed=seed)
    surface = np.asarray(surface, dtype=np.float64)
    centre = np.asarray(mesh.bounds, dtype=np.float64).mean(axis=0)
    chosen = [centre]
    distance = np.linalg.norm(surface - centre, axis=1)
    for _ in range(count):
        pick = int(np.argmax(distance))
        chosen.append(surface[pick])
        distance = np.minimum(distance, np.linalg.norm(surface - surface[pick], axis=1))
    return np.array(chosen)


def canonical_pose(T_cam_obj: Pose, symmetries: Sequence[Pose]) -> Pose:
    """Of the poses that look alike, ``T_cam_obj @ S`` for S in the identity and ``symmetries``,
    the one whose rotation is closest to the camera's axes (the largest trace, the smallest
    angle): the pose training labels keypoints at. Without symmetries, ``T_cam_obj`` itself."""
    candidates = [T_cam_obj] + [T_cam_obj @ S for S in symmetries]
    return max(candidates, key=lambda T: float(np.trace(T.rotation)))

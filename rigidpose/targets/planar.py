"""Planar targets (paper sheets, posters, book covers) made from an image and its printed width.

Object frame (DESIGN.md): origin at the image's centre, x along the image's columns, y along its
rows, z = x × y pointing into the sheet; the sheet is the plane z = 0. Pixel (u, v) of the image
(centre of the pixel, our convention) lies at
``((u + 0.5 - w / 2) * s, (v + 0.5 - h / 2) * s, 0)`` with ``s = width_m / w`` metres per pixel.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_positive
from ..errors import InvalidInputError
from ..io import as_bgr8
from ..target import Appearance, Target

__all__ = ["image_points_obj", "planar_corners_obj", "planar_target", "sheet_image"]


def planar_corners_obj(width_m: float, height_m: float) -> np.ndarray:
    """(4, 3) float64, metres, object frame: the sheet's outer corners, clockwise as seen by a
    camera in front of it, starting top-left (image order: top-left, top-right, bottom-right,
    bottom-left)."""
    x, y = width_m / 2.0, height_m / 2.0
    return np.array([[-x, -y, 0.0], [x, -y, 0.0], [x, y, 0.0], [-x, y, 0.0]])


def image_points_obj(pixels: np.ndarray, image_size: tuple[int, int], width_m: float) -> np.ndarray:
    """Object-frame points (N, 3) metres of image pixels (N, 2) of a sheet ``width_m`` wide.

    ``image_size`` is (width, height) in pixels of the image the sheet was made from.
    """
    w, h = image_size
    scale = width_m / w
    pixels = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
    return np.column_stack(
        [
            (pixels[:, 0] + 0.5 - w / 2.0) * scale,
            (pixels[:, 1] + 0.5 - h / 2.0) * scale,
            np.zeros(len(pixels)),
        ]
    )


def planar_target(
    image: np.ndarray,
    width_m: float,
    name: str = "sheet",
    features: str | None = None,
    max_features: int = 3000,
) -> Target:
    """A target for a flat printed image: a textured rectangle ``width_m`` wide.

    Args:
        image: the printed image, (H, W, 3) BGR uint8 (gray and 16-bit are converted).
        width_m: printed width in metres; the height follows from the image's aspect ratio.
        name: the target's name.
        features: ``sift``, ``orb`` or ``akaze`` to store local features of the image (found at
            scales 1, 1/2 and 1/4, so the sheet is also found when small in the frame), or None.
        max_features: features per scale.
    Returns:
        A ``Target`` with a two-triangle textured mesh facing -z (toward a camera in front),
        the four corners as keypoints, the image as its reference image and, with ``features``,
        its appearance.
    """
    import trimesh
    from PIL import Image

    width_m = check_positive(width_m, "width_m")
    bgr = as_bgr8(image, "image")
    h, w = bgr.shape[:2]
    if min(h, w) < 8:
        raise InvalidInputError(f"image: expected at least 8x8 pixels, got {w}x{h}")
    corners = planar_corners_obj(width_m, width_m * h / w)
    # Texture coordinates: v = 0 at the image's bottom row (glTF/trimesh convention).
    uv = np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    faces = np.array([[0, 2, 1], [0, 3, 2]])  # counter-clockwise seen from -z: the face looks at -z
    texture = Image.fromarray(bgr[:, :, ::-1].copy())
    mesh = trimesh.Trimesh(
        vertices=corners,
        faces=faces,
        visual=trimesh.visual.TextureVisuals(uv=uv, image=texture),
        process=False,
    )
    appearance = None
    if features is not None:
        from ..detect.features import extract_features

        pixels, descriptors = extract_features(bgr, features, max_features, scales=(1.0, 0.5, 0.25))
        appearance = Appearance(features, descriptors, image_points_obj(pixels, (w, h), width_m))
    return Target(name=name, mesh=mesh, keypoints_obj=corners, appearance=appearance, reference_images=(bgr,))


def sheet_image(target: Target) -> tuple[np.ndarray, float] | None:
    """The printed image and its width in metres when ``target`` is a sheet made from an image
    (flat mesh on z = 0 centred at the origin, one reference image of the same aspect ratio),
    else None."""
    vertices = np.asarray(target.mesh.vertices)
    if len(target.reference_images) != 1 or len(vertices) == 0 or np.abs(vertices[:, 2]).max() > 1e-9:
        return None
    image = target.reference_images[0]
    low, high = vertices[:, :2].min(axis=0), vertices[:, :2].max(axis=0)
    width_m, height_m = high - low
    h, w = image.shape[:2]
    if width_m <= 0 or not np.allclose(low, -(high), atol=1e-6 * width_m):
        return None
    if abs(height_m / width_m - h / w) > 0.01 * h / w:
        return None
    return image, float(width_m)

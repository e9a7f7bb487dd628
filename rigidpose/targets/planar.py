"""Planar targets (paper sheets, posters, book covers) made from an image and its printed width.

Object frame (DESIGN.md): origin at the image's centre, x along the image's columns, y along its
rows, z = x × y pointing into the sheet; the sheet is the plane z = 0. Pixel (u, v) of the image
(centre of the pixel, our convention) lies at
``((u + 0.5 - w / 2) * s, (v + 0.5 - h / 2) * s, 0)`` with ``s = width_m / w`` metres per pixel.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from .._validate import check_positive
from ..errors import InvalidInputError
from ..io import as_bgr8
from ..target import Appearance, Target
from .trackability import POOR_SCORE, TrackabilityReport, trackability

__all__ = [
    "MAX_SIDE_PX",
    "MAX_WIDTH_M",
    "MIN_WIDTH_M",
    "TILTS",
    "image_points_obj",
    "planar_corners_obj",
    "planar_target",
    "sheet_image",
    "sheet_trackability",
    "tilted_views",
]

log = logging.getLogger(__name__)

MIN_WIDTH_M = 0.001
MAX_WIDTH_M = 100.0
"""Printed widths ``planar_target`` accepts, metres: from a 1 mm label to a 100 m building wrap
or billboard. Outside, the width is in the wrong unit (297 for an A4 sheet in mm) or a typo."""
MAX_SIDE_PX = 2048
"""Longest side of a target's image, pixels; larger images are downscaled (``INTER_AREA``).
Tracking uses no more: the warp follows the pyramid level whose pixels are the size of a frame's,
so level 0 of a 2048 px image serves until the sheet spans 2048 frame pixels (wider than a
1080p frame), and features at scale 1 of it match a sheet seen 2048 px across (finer ones,
never seen whole in a frame, cost seconds and gigabytes: SIFT doubles the image first)."""


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
        image: the printed image, (H, W, 3) BGR uint8 (gray and 16-bit are converted). One
            with a side over ``MAX_SIDE_PX`` is downscaled to that (logged at INFO level); the
            sheet's height then follows from the downscaled image's aspect ratio (within half
            a pixel of it).
        width_m: printed width in metres, ``MIN_WIDTH_M`` to ``MAX_WIDTH_M``; the height
            follows from the image's aspect ratio.
        name: the target's name.
        features: ``sift``, ``orb`` or ``akaze`` to store local features of the image, or None.
            They are found at scales 1, 1/2 and 1/4 (so the sheet is also found when small in
            the frame) and in views of the sheet tilted by 60 and 73 degrees (``tilted_views``),
            so it is also found when seen at a grazing angle.
        max_features: features per scale.
    Returns:
        A ``Target`` with a two-triangle textured mesh facing -z (toward a camera in front),
        the four corners as keypoints, the image as its reference image and, with ``features``,
        its appearance. With ``features``, the image's ``trackability`` is computed and a
        warning logged when it scores below ``POOR_SCORE``; ``sheet_trackability(target)``
        gives the report.
    """
    import trimesh
    from PIL import Image

    width_m = check_positive(width_m, "width_m")
    if not MIN_WIDTH_M <= width_m <= MAX_WIDTH_M:
        raise InvalidInputError(
            f"width_m: expected a printed width of {MIN_WIDTH_M:g} to {MAX_WIDTH_M:g} metres, got {width_m:g}"
        )
    bgr = as_bgr8(image, "image")
    h, w = bgr.shape[:2]
    if min(h, w) < 8:
        raise InvalidInputError(f"image: expected at least 8x8 pixels, got {w}x{h}")
    if max(h, w) > MAX_SIDE_PX:
        scale = MAX_SIDE_PX / max(h, w)
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        log.info("image: downscaled from %dx%d to %dx%d px, the most tracking uses", w, h, *size)
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        h, w = bgr.shape[:2]
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

        report = trackability(bgr)
        if report.score < POOR_SCORE:
            log.warning("target %r: %s", name, report)

        pixels, descriptors = extract_features(bgr, features, max_features, scales=(1.0, 0.5, 0.25))
        all_pixels, all_descriptors = [pixels], [descriptors]
        for view, view_from_image in tilted_views(bgr):
            found, found_descriptors = extract_features(view[0], features, max_features // 4, mask=view[1])
            image_from_view = cv2.invertAffineTransform(view_from_image)
            all_pixels.append(found @ image_from_view[:, :2].T + image_from_view[:, 2])
            all_descriptors.append(found_descriptors)
        pixels, descriptors = np.vstack(all_pixels), np.vstack(all_descriptors)
        appearance = Appearance(features, descriptors, image_points_obj(pixels, (w, h), width_m))
    return Target(name=name, mesh=mesh, keypoints_obj=corners, appearance=appearance, reference_images=(bgr,))


TILTS = ((2.0, 4), (3.5, 6))
"""(tilt, number of in-plane directions) of the simulated views: 1 / cos(60 deg) = 2, 1 / cos(73 deg) = 3.5."""


def tilted_views(
    image: np.ndarray, max_side_px: int = 640
) -> list[tuple[tuple[np.ndarray, np.ndarray], np.ndarray]]:
    """Views of a flat image as a camera would see it tilted away (affine simulation, as in
    ASIFT: Morel and Yu, 2009), for features that still match at grazing angles.

    Returns:
        [((gray view, mask of the image inside it), (2, 3) affine map image pixel -> view pixel)].
    """
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    shrink = min(1.0, max_side_px / max(h, w))
    views = []
    for tilt, directions in TILTS:
        for k in range(directions):
            angle = 180.0 * k / directions
            # rotate about the centre by angle, then compress x by 1 / tilt (and shrink overall)
            rotation = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
            corners = np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], float) @ rotation.T
            rotation[:, 2] -= corners.min(axis=0)
            size = np.ceil(corners.max(axis=0) - corners.min(axis=0)).astype(int)
            squeeze = np.diag([shrink / tilt, shrink])
            affine = squeeze @ rotation
            out = (int(np.ceil(size[0] * shrink / tilt)), int(np.ceil(size[1] * shrink)))
            # anti-alias along the compressed direction (sigma as in ASIFT), then warp
            rotated = cv2.warpAffine(gray, rotation, (int(size[0]), int(size[1])), flags=cv2.INTER_LINEAR)
            sigma = 0.8 * np.sqrt(tilt**2 - 1.0) / shrink
            blurred = cv2.GaussianBlur(
                rotated, (0, 0), sigmaX=sigma, sigmaY=0.01 + 0.8 * np.sqrt(max(1 / shrink**2 - 1, 0))
            )
            view = cv2.resize(blurred, out, interpolation=cv2.INTER_AREA)
            mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), affine, out, flags=cv2.INTER_NEAREST)
            mask = cv2.erode(mask, np.ones((5, 5), np.uint8))
            views.append(((view, mask), affine))
    return views


def sheet_trackability(target: Target) -> TrackabilityReport | None:
    """``trackability`` of the printed image of a sheet made from an image (``sheet_image``),
    else None."""
    sheet = sheet_image(target)
    return None if sheet is None else trackability(sheet[0])


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

"""Training images for the learned keypoint detector: the object under domain randomisation.

Each image is a small square camera view (``size_px``) of the target at a random pose, with its
keypoints' exact pixels and visibility. What varies, so a network learns the object's shape
rather than one look of it:

- **viewpoint and scale**: a viewing direction from the object's -z side (the side a table
  leaves seen, ``front_share`` of the images) or from anywhere, any roll; framed as the tracker's
  crops (``crop_share``) or as a whole-frame search sees it (the object's diameter spanning
  ``scale`` of the image, its centre anywhere, partly outside at times);
- **appearance**: a random plastic or metal colour (one per part at times), roughness, one or
  two coloured lights from random directions and an ambient level;
- **clutter**: random boxes, cylinders and spheres around and in front of it, image-space blobs
  covering part of it (``occluder_share`` of the images; ``hand_share`` of them hands: palm,
  fingers, thumb and arm at any angle, in skin tones or a glove's colour: ``hand_occluder``),
  and ``empty_share`` images without it, to learn absence;
- **backgrounds**: scikit-image photos *other than* those the benchmark's sequences use, and
  procedural noise, stripes and shapes unlike the sequences' ones; so the benchmark is held out;
- **camera**: blur (defocus or motion), gain, gamma, colour balance, sensor noise and JPEG.

A keypoint is labelled when it projects into the image and at least ``min_visible`` of the
object's silhouette is visible (a hidden object teaches absence); ``visible`` says whether the
point itself is seen (on a face turned to the camera and not covered), ``covered`` whether
something else is in front of the object where it projects (a point merely on the far side of
the object is not covered: the object's own visible surface says where it is).

Rendering uses pyrender (offscreen OpenGL) for colour and depth and open3d ray casting for the
object's own depth. Symmetric targets are labelled at ``canonical_pose``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from .._validate import check_int, check_number
from ..align import MeshCaster
from ..camera import Camera
from ..errors import InvalidInputError
from ..geometry import Pose
from ..render.gl import gl_camera_pose, import_pyrender, intrinsics_camera, offscreen_renderer
from ..target import Target, outward_surface
from ..targets.keypoints import canonical_pose
from .effects import sensor_noise
from .trajectory import look_at_pose

if TYPE_CHECKING:
    import trimesh

__all__ = ["TRAINING_PHOTOS", "TrainingSet", "TrainingSetOptions", "hand_occluder", "render_training_set"]

TRAINING_PHOTOS = (
    "brick", "camera", "clock", "coins", "colorwheel", "grass", "gravel", "moon", "page",
    "retina", "stereo_motorcycle", "text", "cell",
)  # fmt: skip
"""scikit-image photos used as training backgrounds: none of ``effects``' (the benchmark's)."""

_SUPERSAMPLE = 2
_DISTRACTORS = 6


@dataclass(frozen=True)
class TrainingSetOptions:
    """What to render.

    Attributes:
        count: images.
        size_px: their side (square), pixels.
        seed: makes the set reproducible.
        empty_share: share of images without the object.
        front_share: share of viewpoints from the object's -z side (within 80 degrees of -z);
            the rest from anywhere on the sphere.
        scale: (min, max) of the object's diameter over the image side (log-uniform), the
            object's centre anywhere in the image: what a whole-frame search sees.
        crop_share: share of images framed as the tracker's crops instead: the diameter 0.6 to
            0.95 of the side (``LearnedOptions.fill`` is 0.75) and the centre within a tenth of the
            side of the middle, as a slightly wrong prediction leaves it.
        min_visible: keypoints are labelled only when at least this share of the object's
            silhouette is visible.
        occluder_share: share of the object's images with a blob or a hand painted over part
            of it.
        hand_share: share of those occluders that are hands (the rest are polygons and ellipses).
    """

    count: int = 20000
    size_px: int = 128
    seed: int = 0
    empty_share: float = 0.08
    front_share: float = 0.9
    scale: tuple[float, float] = (0.3, 1.2)
    crop_share: float = 0.6
    min_visible: float = 0.2
    occluder_share: float = 0.35
    hand_share: float = 0.0

    def __post_init__(self) -> None:
        check_int(self.count, "count", ge=1)
        if check_int(self.size_px, "size_px", ge=32) % 32:
            raise InvalidInputError(f"size_px: expected a multiple of 32, got {self.size_px}")
        check_number(self.empty_share, "empty_share", ge=0, lt=1)
        check_number(self.front_share, "front_share", ge=0, le=1)
        scale = self.scale
        if not (
            isinstance(scale, (tuple, list))
            and len(scale) == 2
            and all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in scale)
            and 0 < scale[0] < scale[1]
        ):
            raise InvalidInputError(f"scale: expected (low, high) with 0 < low < high, got {scale!r}")
        check_number(self.occluder_share, "occluder_share", ge=0, le=1)
        check_number(self.hand_share, "hand_share", ge=0, le=1)


@dataclass(frozen=True)
class TrainingSet:
    """Rendered training images and their labels.

    Attributes:
        images: (N, S, S, 3) uint8 BGR.
        keypoints_px: (N, K, 2) float32, pixels, where each keypoint projects.
        labelled: (N, K) bool, keypoints the network should find (in the image, object visible).
        visible: (N, K) bool, keypoints seen directly (facing the camera, not covered).
        covered: (N, K) bool, keypoints where something else is in front of the object.
        T_cam_obj: (N, 4, 4) float32, the pose (identity where the object is absent).
    """

    images: np.ndarray
    keypoints_px: np.ndarray
    labelled: np.ndarray
    visible: np.ndarray
    covered: np.ndarray
    T_cam_obj: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


def _photo_pool() -> list[np.ndarray]:
    from skimage import data

    photos = []
    for name in TRAINING_PHOTOS:
        image = getattr(data, name)()
        image = np.asarray(image[0] if isinstance(image, tuple) else image)  # a stereo pair: the left
        if image.dtype != np.uint8:
            image = (np.clip(image, 0, 1) * 255).astype(np.uint8)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        photos.append(image[..., :3][..., ::-1].astype(np.float32) / 255.0)
    return photos


def _background(size: int, rng: np.random.Generator, photos: list[np.ndarray]) -> np.ndarray:
    """(S, S, 3) float32 BGR in [0, 1]: a photo crop, fractal noise, stripes or shapes."""
    kind = rng.integers(4)
    if kind == 0:
        photo = photos[int(rng.integers(len(photos)))]
        crop = int(rng.uniform(0.25, 1.0) * min(photo.shape[:2]))
        y = int(rng.integers(0, photo.shape[0] - crop + 1))
        x = int(rng.integers(0, photo.shape[1] - crop + 1))
        image = cv2.resize(photo[y : y + crop, x : x + crop], (size, size), interpolation=cv2.INTER_AREA)
        if rng.uniform() < 0.5:
            image = image[:, ::-1]
        return np.ascontiguousarray(image * rng.uniform(0.6, 1.3, 3).astype(np.float32))
    if kind == 1:  # fractal noise in two random colours
        field = np.zeros((size, size), np.float32)
        for octave in range(2, 7):
            cells = 2**octave
            layer = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
            field += cv2.resize(layer, (size, size), interpolation=cv2.INTER_CUBIC) / octave
        field = (field - field.min()) / max(float(np.ptp(field)), 1e-6)
        a, b = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        return (a + (b - a) * field[..., None]).astype(np.float32)
    if kind == 2:  # stripes or a checker at a random angle
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
        angle = rng.uniform(0, math.pi)
        period = rng.uniform(4, 40)
        u = xs * math.cos(angle) + ys * math.sin(angle)
        pattern = np.sin(2 * math.pi * u / period) > 0
        if rng.uniform() < 0.5:
            v = -xs * math.sin(angle) + ys * math.cos(angle)
            pattern ^= np.sin(2 * math.pi * v / period) > 0
        a, b = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        return cv2.GaussianBlur(np.where(pattern[..., None], a, b).astype(np.float32), (0, 0), 0.7)
    image = np.full((size, size, 3), rng.uniform(0.2, 0.8, 3), np.float32)  # rectangles and polygons
    for _ in range(int(rng.integers(5, 25))):
        points = (rng.uniform(-0.2, 1.2, (int(rng.integers(3, 6)), 2)) * size).astype(np.int32)
        cv2.fillPoly(image, [points], tuple(float(c) for c in rng.uniform(0, 1, 3)), cv2.LINE_AA)
    return image


def _blob_occluder(
    image: np.ndarray, centre_px: np.ndarray, extent_px: float, rng: np.random.Generator
) -> np.ndarray:
    """Paints a random polygon or ellipse over part of the object; returns its coverage (S, S)."""
    size = image.shape[0]
    coverage = np.zeros((size, size), np.float32)
    centre = centre_px + rng.uniform(-0.6, 0.6, 2) * extent_px
    radius = rng.uniform(0.2, 0.6) * extent_px
    if rng.uniform() < 0.5:
        angles = np.sort(rng.uniform(0, 2 * math.pi, int(rng.integers(4, 8))))
        radii = radius * rng.uniform(0.5, 1.3, len(angles))
        points = centre + np.column_stack([np.cos(angles), np.sin(angles)]) * radii[:, None]
        cv2.fillPoly(coverage, [np.round(points * 16).astype(np.int32)], 1.0, cv2.LINE_AA, 4)
    else:
        axes = (int(radius * 16), int(radius * rng.uniform(0.3, 1.0) * 16))
        centre16 = (int(centre[0] * 16), int(centre[1] * 16))
        cv2.ellipse(coverage, centre16, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1, cv2.LINE_AA, 4)
    color = rng.uniform(0, 1, 3).astype(np.float32) * rng.uniform(0.7, 1.0, (size, size, 1)).astype(
        np.float32
    )
    image *= 1.0 - coverage[..., None]
    image += coverage[..., None] * color
    return coverage


def hand_occluder(
    image: np.ndarray, centre_px: np.ndarray, extent_px: float, rng: np.random.Generator
) -> np.ndarray:
    """Paints a hand over part of the object: a palm, four fingers of random lengths and spread,
    a thumb and, at times, the arm out to the image's edge, at any angle, in a skin tone from
    dark to light (or a glove's colour); returns its coverage (S, S). Drawn unlike the
    benchmark's ``effects.HandOccluder`` (a fixed palm and four fingers, level, one skin tone),
    so the sequences' hands stay held out."""
    size = image.shape[0]
    coverage = np.zeros((size, size), np.float32)
    palm = rng.uniform(0.25, 0.55) * extent_px  # the palm's half-length
    centre = centre_px + rng.uniform(-0.5, 0.5, 2) * extent_px
    angle = rng.uniform(0, 2 * math.pi)
    along = np.array([math.cos(angle), math.sin(angle)])  # wrist to fingertips
    across = np.array([-along[1], along[0]])
    width = palm * rng.uniform(0.7, 1.0)  # the palm's half-width

    def to16(point: np.ndarray) -> tuple[int, int]:
        x, y = np.round(point * 16).astype(int)
        return int(x), int(y)

    axes = (int(palm * 16), int(width * 16))
    cv2.ellipse(coverage, to16(centre), axes, math.degrees(angle), 0, 360, 1.0, -1, cv2.LINE_AA, 4)
    thickness = max(1, round(float(width * rng.uniform(0.35, 0.5))))
    curl = rng.uniform(0.3, 1.0)  # 1: stretched out, less: bent towards the camera or away
    for spread in np.linspace(-0.7, 0.7, 4) + rng.uniform(-0.1, 0.1, 4):
        base = centre + along * palm * 0.6 + across * width * spread
        tip = base + (along + across * spread * rng.uniform(0, 0.5)) * palm * curl * rng.uniform(0.9, 1.4)
        cv2.line(coverage, to16(base), to16(tip), 1.0, thickness, cv2.LINE_AA, 4)
    side = 1.0 if rng.uniform() < 0.5 else -1.0  # left or right hand
    thumb_base = centre + across * side * width * 0.7
    thumb_tip = thumb_base + (along * 0.5 + across * side * 0.8) * palm * rng.uniform(0.6, 1.1)
    cv2.line(coverage, to16(thumb_base), to16(thumb_tip), 1.0, thickness, cv2.LINE_AA, 4)
    if rng.uniform() < 0.6:  # the arm, out of the image
        wrist = centre - along * palm * 0.8
        cv2.line(coverage, to16(wrist), to16(wrist - along * 3 * size), 1.0, int(width * 1.4), cv2.LINE_AA, 4)
    np.clip(coverage, 0.0, 1.0, out=coverage)
    if rng.uniform() < 0.8:  # BGR skin tones, dark to light
        tone = rng.uniform(0.15, 1.0)
        color = np.array([0.45, 0.58, 0.8]) * tone + rng.uniform(-0.05, 0.05, 3)
    else:  # a glove
        color = rng.uniform(0, 1, 3)
    # shaded by a linear gradient (a lit, rounded surface), with a little per-pixel texture
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    light = rng.uniform(0, 2 * math.pi)
    shade = 1.0 + rng.uniform(0, 0.5) * (xs * math.cos(light) + ys * math.sin(light))
    texture = rng.uniform(1.0 - rng.uniform(0, 0.3), 1.0, (size, size)).astype(np.float32)
    paint = np.clip(color, 0, 1).astype(np.float32)[None, None] * (shade * texture)[..., None]
    image *= 1.0 - coverage[..., None]
    image += coverage[..., None] * paint
    return coverage


def _camera_effects(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blur, gain, gamma, colour balance, noise and JPEG, each at random."""
    if rng.uniform() < 0.35:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.4, 1.4))
    elif rng.uniform() < 0.3:
        length = int(rng.integers(3, 9))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2] = 1.0 / length
        rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), rng.uniform(0, 180), 1.0)
        kernel = cv2.warpAffine(kernel, rotation, (length, length))
        image = cv2.filter2D(image, -1, kernel / max(kernel.sum(), 1e-6))
    image = image * rng.uniform(0.6, 1.4) * rng.uniform(0.85, 1.15, 3).astype(np.float32)
    image = np.clip(image, 0, 1) ** rng.uniform(0.7, 1.4)
    if rng.uniform() < 0.6:
        image = sensor_noise(image.astype(np.float32), rng, read_sigma=rng.uniform(0.0, 0.025))
    image = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    if rng.uniform() < 0.3:
        _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 90))])
        image = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    return image


def _random_view(rng: np.random.Generator, front_share: float) -> tuple[np.ndarray, np.ndarray]:
    """A viewing direction (unit, object frame, from the camera to the object) and an image-down
    direction perpendicular to it, at a random roll."""
    while True:
        direction = rng.standard_normal(3)
        direction /= np.linalg.norm(direction)
        if rng.uniform() >= front_share or direction[2] >= math.cos(math.radians(80)):
            break  # within 80 degrees of +z: the camera is on the object's -z side
    helper = rng.standard_normal(3)
    down = helper - direction * (helper @ direction)
    return direction, down / np.linalg.norm(down)


class _Scene:
    """The pyrender scene one training image is drawn in: object parts, distractors, lights."""

    def __init__(self, target: Target, size_px: int) -> None:
        pyrender = import_pyrender()
        self.pyrender = pyrender
        self.size = size_px
        self.scene = pyrender.Scene(bg_color=(0.0, 0.0, 0.0, 0.0))
        surface = outward_surface(target.mesh)
        parts = surface.split(only_watertight=False) if surface.body_count > 1 else [surface]
        # one node, one primitive per part: primitives are drawn in list order, where nodes at
        # the same depth are drawn in the order of a set, which changes from process to process
        # and decides the pixels where two parts touch
        self.object = self.scene.add(pyrender.Mesh(primitives=[self._primitive(part) for part in parts]))
        import trimesh

        shapes = [
            trimesh.creation.box(extents=(1.0, 0.6, 0.4)),
            trimesh.creation.cylinder(radius=0.3, height=1.0, sections=24),
            trimesh.creation.icosphere(subdivisions=2, radius=0.5),
            trimesh.creation.capsule(height=0.8, radius=0.2, count=(12, 12)),
            trimesh.creation.box(extents=(1.0, 1.0, 0.1)),
            trimesh.creation.cone(radius=0.4, height=0.9, sections=24),
        ]
        self.distractors = [
            self.scene.add(pyrender.Mesh(primitives=[self._primitive(shapes[i % len(shapes)])]))
            for i in range(_DISTRACTORS)
        ]
        self.lights = [
            self.scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=3.0)) for _ in range(2)
        ]
        self.camera_node = None
        self.renderer = offscreen_renderer(size_px * _SUPERSAMPLE, size_px * _SUPERSAMPLE)

    def _primitive(self, mesh: trimesh.Trimesh) -> Any:
        pyrender = self.pyrender
        material = pyrender.MetallicRoughnessMaterial(baseColorFactor=np.ones(4), doubleSided=True)
        return pyrender.Mesh.from_trimesh(mesh, material=material, smooth=False).primitives[0]

    @staticmethod
    def _paint(node: Any, rng: np.random.Generator, rgb: np.ndarray | None = None, part: int = 0) -> None:
        material = node.mesh.primitives[part].material
        material.baseColorFactor = np.append(rng.uniform(0.05, 1.0, 3) if rgb is None else rgb, 1.0)
        material.metallicFactor = float(rng.uniform(0.0, 0.7)) if rng.uniform() < 0.3 else 0.0
        material.roughnessFactor = float(rng.uniform(0.25, 1.0))

    def render(
        self, camera: Camera, T_cam_obj: Pose | None, rng: np.random.Generator, diameter_m: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Colour (S, S, 3) float32 BGR premultiplied by coverage, coverage (S, S) and depth (S, S)
        metres (0 where nothing) of one randomised scene."""
        pyrender = self.pyrender
        scene = self.scene
        world = np.eye(4)
        shown = T_cam_obj is not None
        rgb = rng.uniform(0.05, 1.0, 3)
        per_part = rng.uniform() < 0.4
        self.object.mesh.is_visible = shown
        for part in range(len(self.object.mesh.primitives)):
            self._paint(self.object, rng, None if per_part else rgb, part)
        scene.set_pose(self.object, world)
        # the camera sits where T_cam_obj puts it; without the object, a camera at the origin
        T_cam_world = T_cam_obj if shown else Pose(np.eye(3), np.array([0.0, 0.0, 1.0]))
        T_world_cam = T_cam_world.inv()
        depth_obj = float(T_cam_world.translation[2])
        for node in self.distractors:
            node.mesh.is_visible = rng.uniform() < 0.35
            if not node.mesh.is_visible:
                continue
            self._paint(node, rng)
            # in front of the object (may cover it), beside it, or behind it
            place = rng.choice(3, p=[0.2, 0.3, 0.5])
            z = depth_obj * (rng.uniform(0.5, 0.85), rng.uniform(0.9, 1.1), rng.uniform(1.1, 2.0))[place]
            half_view = z * camera.width / (2 * camera.fx)
            position_cam = np.array([rng.uniform(-1, 1) * half_view, rng.uniform(-1, 1) * half_view, z])
            rotation = Pose.from_rvec_tvec(rng.standard_normal(3), np.zeros(3)).rotation
            scale = diameter_m * rng.uniform(0.2, 0.8)
            pose = np.eye(4)
            pose[:3, :3] = T_world_cam.rotation @ rotation * scale
            pose[:3, 3] = T_world_cam.apply(position_cam[None])[0]
            scene.set_pose(node, pose)
        scene.ambient_light = np.full(3, rng.uniform(0.1, 0.6))
        for k, light in enumerate(self.lights):
            on = k == 0 or rng.uniform() < 0.5
            light.light.intensity = float(rng.uniform(1.0, 5.0)) if on else 0.0
            light.light.color = rng.uniform(0.8, 1.0, 3)
            towards = np.array(
                [rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(0.3, 1.5)]
            )  # camera frame
            from_cam = look_at_pose(np.zeros(3), towards, np.array([0.0, 1.0, 0.0]))
            scene.set_pose(light, gl_camera_pose(from_cam @ T_cam_world))
        render_camera = camera.scaled(camera.width * _SUPERSAMPLE, camera.height * _SUPERSAMPLE)
        if self.camera_node is not None:
            scene.remove_node(self.camera_node)
        self.camera_node = scene.add(
            intrinsics_camera(render_camera, 0.01, 100.0), pose=gl_camera_pose(T_cam_world)
        )
        rgba, depth = self.renderer.render(scene, flags=pyrender.RenderFlags.RGBA)
        size = (self.size, self.size)
        rgba = cv2.resize(rgba, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        depth = depth[_SUPERSAMPLE // 2 :: _SUPERSAMPLE, _SUPERSAMPLE // 2 :: _SUPERSAMPLE]
        return rgba[..., 2::-1], rgba[..., 3], depth

    def close(self) -> None:
        self.renderer.delete()


def render_training_set(
    target: Target,
    keypoints_obj: np.ndarray,
    options: TrainingSetOptions = TrainingSetOptions(),
    progress: bool = True,
) -> TrainingSet:
    """Render ``options.count`` randomised views of ``target`` with their keypoint labels.

    Args:
        target: the object (mesh in metres; its symmetries are honoured).
        keypoints_obj: (K, 3) metres, object frame, the points to label.
        options: see ``TrainingSetOptions``.
        progress: show a progress bar on stderr.
    """
    from tqdm import tqdm

    keypoints_obj = np.asarray(keypoints_obj, dtype=np.float64)
    if keypoints_obj.ndim != 2 or keypoints_obj.shape[1] != 3 or len(keypoints_obj) < 4:
        raise InvalidInputError(f"keypoints_obj: expected (K, 3) with K >= 4, got {keypoints_obj.shape}")
    rng = np.random.default_rng(options.seed)
    size, count, k = options.size_px, options.count, len(keypoints_obj)
    photos = _photo_pool()
    caster = MeshCaster(target.mesh)
    centre_obj = np.asarray(target.mesh.bounds, dtype=np.float64).mean(axis=0)
    diameter = target.diameter_m
    out = TrainingSet(
        np.zeros((count, size, size, 3), np.uint8),
        np.zeros((count, k, 2), np.float32),
        np.zeros((count, k), bool),
        np.zeros((count, k), bool),
        np.zeros((count, k), bool),
        np.tile(np.eye(4, dtype=np.float32), (count, 1, 1)),
    )
    scene = _Scene(target, size)
    try:
        for i in tqdm(range(count), desc="rendering training images", unit="image", disable=not progress):
            fov = math.radians(rng.uniform(35, 75))
            camera = Camera.from_fov(size, size, fov)
            rays = camera.ray_image()
            T = None
            if rng.uniform() >= options.empty_share:
                as_crop = rng.uniform() < options.crop_share
                scale = rng.uniform(0.6, 0.95) if as_crop else math.exp(rng.uniform(*np.log(options.scale)))
                distance = camera.fx * diameter / (scale * size)
                direction, down = _random_view(rng, options.front_share)
                T = look_at_pose(centre_obj - distance * direction, centre_obj, down)
                shift_px = rng.uniform(-1, 1, 2) * (0.1 if as_crop else 0.45) * size
                T = Pose(T.rotation, T.translation + np.append(shift_px / camera.fx * distance, 0.0))
                T = canonical_pose(T, target.symmetries)
            color, alpha, depth = scene.render(camera, T, rng, diameter)
            image = color + _background(size, rng, photos) * (1.0 - alpha[..., None])
            if T is not None:
                object_depth, _ = caster.cast(T, rays)
                on_object = np.isfinite(object_depth)
                tolerance = 0.01 * diameter + 1e-3
                seen = on_object & (np.abs(depth - object_depth) < tolerance)
                # something else drawn in front of the object (not the background at its outline)
                in_front = on_object & (depth > 0) & (depth < object_depth - tolerance)
                if rng.uniform() < options.occluder_share and on_object.any():
                    ys, xs = np.nonzero(on_object)
                    centre_px = np.array([xs.mean(), ys.mean()])
                    extent = max(float(np.ptp(xs)), float(np.ptp(ys)), 4.0)
                    # no draw without hands: the shipped model's renders stay as they were
                    hand = options.hand_share > 0 and rng.uniform() < options.hand_share
                    paint = hand_occluder if hand else _blob_occluder
                    blob = paint(image, centre_px, extent, rng) >= 0.5
                    seen &= ~blob
                    in_front |= on_object & blob
                points_cam = T.apply(keypoints_obj)
                pixels = camera.project(points_cam)
                inside = np.all((pixels > -0.5) & (pixels < size - 0.5), axis=1) & (points_cam[:, 2] > 0)
                shown = seen.sum() >= options.min_visible * max(on_object.sum(), 1)
                out.keypoints_px[i] = np.nan_to_num(pixels)
                out.labelled[i] = inside & shown
                ij = np.clip(np.round(pixels).astype(int), 0, size - 1)
                at = seen[ij[:, 1], ij[:, 0]] & inside
                out.visible[i] = (
                    out.labelled[i]
                    & at
                    & (np.abs(object_depth[ij[:, 1], ij[:, 0]] - points_cam[:, 2]) < 0.01 * diameter)
                )
                # eroded: depth sampled off the pixel centre leaves stray pixels at depth steps
                covered = cv2.erode(in_front.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
                out.covered[i] = out.labelled[i] & covered[ij[:, 1], ij[:, 0]]
                out.T_cam_obj[i] = T.as_matrix()
            out.images[i] = _camera_effects(image, rng)
    finally:
        scene.close()
    return out

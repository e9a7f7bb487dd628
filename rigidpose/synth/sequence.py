"""Ground-truth sequences: a target rendered along a smooth random trajectory, written to a folder.

A sequence folder holds::

    video.mp4             the frames (H.264-like MPEG-4, as a phone would record)
    camera.yaml           the camera (OpenCV FileStorage), lens distortion included
    gt.jsonl              ground truth in rigidpose's pose JSONL; state "tracking" when the object
                          is at least partly visible, "lost" when not
    scene_gt.json         BOP: cam_R_m2c (row-major), cam_t_m2c (mm), obj_id per frame
    scene_camera.json     BOP: cam_K, depth_scale (depth PNG value * depth_scale = mm)
    scene_gt_info.json    BOP: visib_fract, px_count_all, px_count_visib, bbox_obj, bbox_visib
    depth/NNNNNN.png      uint16 depth (with --depth), BOP's layout: what an RGB-D camera would see,
                          the object standing on a table (``synth.depth``), exact or, with
                          --depth-noise, with a Kinect-like sensor's noise and holes
    mask/NNNNNN_000000.png, mask_visib/...  uint8 masks (with --masks)
    target/               the target folder that was rendered
    sequence.json         options, seed, object id and markers printed on the target

The folder is written atomically: an interrupted run leaves no half sequence behind.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .._files import atomic_folder
from .._validate import check_choice, check_int, check_number
from ..align import MeshCaster
from ..camera import Camera
from ..errors import InvalidInputError, SourceError
from ..geometry import Pose
from ..io import FramePoses, ObjectPose, PoseWriter
from ..outputs import is_sequence_folder
from ..target import Target
from .depth import KinectNoise, scene_depth, table_depth
from .effects import BACKGROUNDS, HandOccluder, background, lighting_gain, sensor_noise
from .scene import TargetRenderer
from .trajectory import TrajectoryOptions, random_trajectory

__all__ = ["SequenceOptions", "render_sequence", "visible_area_px"]

FORMAT_NAME = "rigidpose.sequence"
BLUR_SUBFRAMES = 5
DEPTH_SCALE_MM = 0.1  # BOP: depth PNG value * depth_scale = millimetres


@dataclass(frozen=True)
class SequenceOptions:
    """What to render. Every realism knob is off by default and seeded by ``seed``.

    Attributes:
        frames, fps, width, height: the video.
        fov_x_rad: horizontal field of view of the (ideal) camera, radians.
        seed: makes the trajectory, background, occluder and noise reproducible.
        trajectory: camera motion (distance, tilt up to 75 degrees, roll, leaving the frame, a
            still segment).
        background: ``plain``, ``procedural``, ``photo`` (one of scikit-image's, picked by
            ``seed``) or one of those photos by name (``synth.effects.PHOTOS``).
        motion_blur: average 5 sub-frame renders over the frame interval (ground truth at the
            middle one).
        lighting: brightness and a moving gradient over time.
        noise: signal-dependent sensor noise.
        distortion: radial and tangential lens distortion (recorded in camera.yaml).
        occlusion: a hand-like shape sweeps over the object once.
        hand_scale: the hand's size relative to the usual (about a quarter of the image height).
        hand_hold: how long the hand rests at its farthest reach, 0 (not at all) to 0.95.
        hand_reach: the hand reaches for the object and stops over part of it (a hand picking it
            up) instead of sweeping across a fixed row.
        supersample: render at this factor and average down (anti-aliasing).
        depth, masks: write BOP depth and mask PNGs.
        depth_noise: the depth as a Kinect-like sensor measures it (``synth.depth.KinectNoise``);
            exact otherwise.
    """

    frames: int = 150
    fps: float = 30.0
    width: int = 640
    height: int = 480
    fov_x_rad: float = math.radians(60)
    seed: int = 0
    trajectory: TrajectoryOptions = field(default_factory=TrajectoryOptions)
    background: str = "plain"
    motion_blur: bool = False
    lighting: bool = False
    noise: bool = False
    distortion: bool = False
    occlusion: bool = False
    hand_scale: float = 1.0
    hand_hold: float = 0.0
    hand_reach: bool = False
    supersample: int = 2
    depth: bool = False
    masks: bool = False
    depth_noise: bool = False

    def __post_init__(self) -> None:
        check_choice(self.background, "background", BACKGROUNDS)
        check_int(self.frames, "frames", ge=1)
        if not (isinstance(self.fps, (int, float)) and math.isfinite(self.fps) and self.fps > 0):
            raise InvalidInputError(f"fps: expected frames per second > 0, got {self.fps!r}")
        check_int(self.width, "width", ge=16)
        check_int(self.height, "height", ge=16)
        check_number(self.hand_scale, "hand_scale", gt=0)
        check_int(self.supersample, "supersample", ge=1)
        if not 0 < self.trajectory.max_tilt_rad <= math.radians(85):
            raise InvalidInputError(
                f"max_tilt_rad: expected (0, 85 degrees], got {self.trajectory.max_tilt_rad!r}"
            )

    def camera(self) -> Camera:
        """The sequence's camera: square pixels, centred principal point, optional distortion."""
        camera = Camera.from_fov(self.width, self.height, self.fov_x_rad)
        if not self.distortion:
            return camera
        # a typical webcam lens: barrel distortion with a little decentring
        return Camera(camera.K, camera.width, camera.height, np.array([-0.22, 0.07, 0.0008, -0.0006, -0.01]))


def visible_area_px(target: Target, camera: Camera, T_cam_obj: Pose) -> int:
    """Pixels the object's silhouette would cover on an unbounded image plane (ideal pinhole),
    counted on a canvas three times the image size: BOP's ``px_count_all``."""
    w, h = camera.width, camera.height
    points_cam = T_cam_obj.apply(np.asarray(target.mesh.vertices, dtype=np.float64))
    if np.any(points_cam[:, 2] <= 1e-6):
        return -1  # the object crosses the camera plane: no silhouette to count
    pixels = camera.without_distortion().project(points_cam) + [w, h]
    canvas = np.zeros((3 * h, 3 * w), np.uint8)
    triangles = np.round(pixels[np.asarray(target.mesh.faces)] * 4).astype(np.int32)
    for triangle in triangles:  # one by one: fillPoly on many would cancel where they overlap
        cv2.fillConvexPoly(canvas, triangle, 1, cv2.LINE_8, 2)
    return int(canvas.sum())


def _bbox(mask: np.ndarray) -> list[int]:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return [-1, -1, -1, -1]
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]


def render_sequence(
    target: Target,
    out: str | os.PathLike[str],
    options: SequenceOptions = SequenceOptions(),
    markers: list[dict[str, Any]] | None = None,
    progress: bool = True,
) -> Path:
    """Render ``target`` along a random trajectory and write a sequence folder at ``out``.

    Args:
        target: the object to render (planar sheet or mesh, textured or not).
        out: the folder to write; replaced atomically if it exists.
        options: what to render.
        markers: printed fiducials on the target, recorded in sequence.json for baselines, e.g.
            ``[{"dictionary": "DICT_4X4_50", "id": 7, "corners_obj": (4, 3) list}]``.
        progress: show a progress bar on stderr.
    Returns:
        The folder's path.
    """
    from tqdm import tqdm

    out = Path(out)
    rng = np.random.default_rng(options.seed)
    camera = options.camera()
    w, h = options.width, options.height
    fov_y = 2 * math.atan(h / 2 / camera.fy)
    subframes = BLUR_SUBFRAMES if options.motion_blur else 1
    center_obj = np.asarray(target.mesh.bounds, dtype=np.float64).mean(axis=0)
    poses = random_trajectory(
        options.frames * subframes,
        options.fps * subframes,
        target.diameter_m,
        options.fov_x_rad,
        fov_y,
        options.trajectory,
        rng,
        center_obj=center_obj,
    )
    backdrop = background(options.background, w, h, rng, exclude=(target.name,))  # not the printed photo
    light_phase = rng.uniform(0, 2 * np.pi, 3)
    occluder = (
        HandOccluder(w, h, options.frames, rng, options.hand_scale, options.hand_hold, options.hand_reach)
        if options.occlusion
        else None
    )
    rays = camera.ray_image() if options.depth else None
    # depth by ray casting at the exact pixel centres: OpenGL's depth comes from one
    # multisample, up to 0.4 px off the centre (about 0.7 mm sideways at 1 m)
    caster = MeshCaster(target.mesh) if options.depth else None
    table_height_m = float(np.asarray(target.mesh.bounds)[1, 2])  # the object stands on z = max z
    depth_sensor = KinectNoise() if options.depth_noise else None

    with atomic_folder(out, is_sequence_folder, "sequence folder") as tmp:
        for sub in (["depth"] if options.depth else []) + (["mask", "mask_visib"] if options.masks else []):
            (tmp / sub).mkdir()
        writer = cv2.VideoWriter(str(tmp / "video.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), options.fps, (w, h))
        if not writer.isOpened():
            raise SourceError(f"{out}: cannot write video.mp4 (no MPEG-4 encoder in this OpenCV)")
        renderer = TargetRenderer(target, camera, supersample=options.supersample)
        scene_gt: dict[str, Any] = {}
        scene_camera: dict[str, Any] = {}
        scene_info: dict[str, Any] = {}
        gt_writer = PoseWriter(tmp / "gt.jsonl")
        try:
            for i in tqdm(
                range(options.frames), desc=f"rendering {out.name}", unit="frame", disable=not progress
            ):
                exposure = poses[i * subframes : (i + 1) * subframes]
                T_cam_obj = exposure[len(exposure) // 2]
                image = np.zeros((h, w, 3), np.float32)
                for T in exposure:
                    view = renderer.render(T)
                    if T is T_cam_obj:
                        sharp = view
                    image += view.color * view.alpha[..., None] + backdrop * (1.0 - view.alpha[..., None])
                image /= len(exposure)
                timestamp_s = i / options.fps
                if options.lighting:
                    image *= lighting_gain(w, h, timestamp_s, light_phase)
                mask = sharp.alpha > 0.5
                visible = mask.copy()
                hand = None
                if occluder is not None:
                    object_px = None  # only a hand reaching for the object needs where it is
                    if options.hand_reach:
                        centre = camera.project(T_cam_obj.apply(center_obj)[None])[0]
                        if np.all(np.isfinite(centre)) and 0 <= centre[0] < w and 0 <= centre[1] < h:
                            object_px = (float(centre[0]), float(centre[1]))
                    hand = occluder.draw(image, i, object_px)
                    visible &= hand < 0.5
                if options.noise:
                    image = sensor_noise(image, rng)
                writer.write((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8))

                area = visible_area_px(target, camera, T_cam_obj)
                visible_px = int(visible.sum())
                visib_fract = min(visible_px / area, 1.0) if area > 0 else 0.0
                R_row_major = T_cam_obj.rotation.ravel().tolist()
                scene_gt[str(i)] = [
                    {
                        "cam_R_m2c": R_row_major,
                        "cam_t_m2c": (T_cam_obj.translation * 1000).tolist(),
                        "obj_id": 1,
                    }
                ]
                scene_camera[str(i)] = {"cam_K": camera.K.ravel().tolist(), "depth_scale": DEPTH_SCALE_MM}
                scene_info[str(i)] = [
                    {
                        "visib_fract": visib_fract,
                        "px_count_all": max(area, 0),
                        "px_count_visib": visible_px,
                        "bbox_obj": _bbox(mask),
                        "bbox_visib": _bbox(visible),
                    }
                ]
                state = "tracking" if visible_px > 0 else "lost"
                gt_writer.write(
                    FramePoses(
                        i, 1000.0 * timestamp_s, (ObjectPose(target.name, state, T_cam_obj, confidence=1.0),)
                    )
                )
                if options.depth:
                    # the hand is held a third of the object's size in front of its centre
                    hand_z = max(0.1, float(T_cam_obj.translation[2]) - target.diameter_m / 3)
                    object_m, _ = caster.cast(T_cam_obj, rays)
                    object_m = np.where(np.isfinite(object_m), object_m, 0.0)
                    table_m = table_depth(rays, T_cam_obj, table_height_m)
                    depth_m = scene_depth(object_m, table_m, hand, hand_z)
                    if depth_sensor is not None:
                        depth_m = depth_sensor(depth_m, rng)
                    depth = np.round(depth_m * 1000.0 / DEPTH_SCALE_MM)
                    cv2.imwrite(
                        str(tmp / "depth" / f"{i:06d}.png"), np.clip(depth, 0, 65535).astype(np.uint16)
                    )
                if options.masks:
                    cv2.imwrite(str(tmp / "mask" / f"{i:06d}_000000.png"), mask.astype(np.uint8) * 255)
                    cv2.imwrite(
                        str(tmp / "mask_visib" / f"{i:06d}_000000.png"), visible.astype(np.uint8) * 255
                    )
        finally:
            writer.release()
            renderer.close()
            gt_writer.close()
        camera.save(tmp / "camera.yaml")
        target.save(tmp / "target")
        for name, content in (
            ("scene_gt.json", scene_gt),
            ("scene_camera.json", scene_camera),
            ("scene_gt_info.json", scene_info),
        ):
            (tmp / name).write_text(json.dumps(content) + "\n")
        meta = {
            "format": FORMAT_NAME,
            "version": 1,
            "frames": options.frames,
            "fps": options.fps,
            "target": "target",
            "object_id": 1,
            "options": dataclasses.asdict(options),
            "markers": markers or [],
        }
        (tmp / "sequence.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out

"""Virtual content drawn on tracked objects with OpenGL (pyrender): AR, with occlusion.

    renderer = ARRenderer(camera)
    renderer.attach(target, "meshes/rocket.glb", T_obj_content=default_content_pose(target))
    for frame in source:
        renderer.annotate(frame.image, tracker.update(frame))   # draws in place

How it is drawn:

- The camera is our ``Camera`` exactly (fx, fy, principal point; ``intrinsics_camera``), sitting at
  the world origin, so each object's node is placed at its ``T_cam_obj``. With lens distortion the
  scene is rendered for the ideal pinhole and warped into the distorted view (``PinholeView``).
- Content is any file trimesh reads (glTF/GLB with its materials, OBJ with textures, PLY with
  colours), placed in the object frame at ``T_obj_content`` and scaled by ``scale``.
- Occlusion: the tracked object's own mesh is drawn into depth only (it writes transparent black,
  the same as the background), so content behind or inside the real object is hidden.
- Light: ambient plus a directional key light from above-left of the camera; edges are smoothed
  by OpenGL's 4x multisampling (and optional supersampling); the result is alpha-composited over
  the frame. Several objects per frame, each with its own content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .._validate import check_bgr8, check_int, check_number
from ..camera import Camera
from ..errors import FileFormatError, InvalidInputError
from ..geometry import Pose
from ..io import ObjectPose
from ..target import MESH_UNITS, Target, outward_surface
from .gl import PinholeView, gl_camera_pose, import_pyrender, intrinsics_camera, offscreen_renderer

__all__ = ["ARRenderer", "RenderOptions", "default_content_pose", "load_content"]

# The key light shines from above and to the left of the camera (35 and 25 degrees).
_KEY_LIGHT_IN_CAMERA = Pose.from_rvec_tvec([np.radians(35), 0.0, 0.0], np.zeros(3)) @ Pose.from_rvec_tvec(
    [0.0, np.radians(-25), 0.0], np.zeros(3)
)


@dataclass(frozen=True)
class RenderOptions:
    """How ``ARRenderer`` draws.

    Attributes:
        supersample: render this many times larger, then average down (1 = 4x multisampling only).
        occlusion: hide content behind the tracked objects' own meshes.
        znear_m, zfar_m: the OpenGL camera's clipping planes, metres.
        ambient: ambient light level in [0, 1].
        light_intensity: the directional key light's intensity.
    """

    supersample: int = 1
    occlusion: bool = True
    znear_m: float = 0.01
    zfar_m: float = 100.0
    ambient: float = 0.35
    light_intensity: float = 3.0

    def __post_init__(self) -> None:
        check_int(self.supersample, "supersample", ge=1)
        check_number(self.znear_m, "znear_m", gt=0)
        check_number(
            self.zfar_m, "zfar_m", gt=self.znear_m, expected=f"a number > znear_m ({self.znear_m:g})"
        )


def load_content(path: str | Path, units: str = "m") -> Any:
    """A ``trimesh.Scene`` from a mesh or scene file (glTF/GLB, OBJ, PLY, ...), in metres."""
    import trimesh

    path = Path(path)
    if units not in MESH_UNITS:
        raise InvalidInputError(f"units: expected one of {', '.join(MESH_UNITS)}, got {units!r}")
    if not path.is_file():
        raise FileFormatError(f"{path}: no such content file")
    try:
        scene = trimesh.load(path, force="scene")
    except Exception as exc:
        raise FileFormatError(f"{path}: cannot read it as a mesh or scene ({exc})") from None
    if not scene.geometry:
        raise FileFormatError(f"{path}: no geometry in it")
    if MESH_UNITS[units] != 1.0:
        scene = scene.scaled(MESH_UNITS[units])
    return scene


def default_content_pose(target: Target) -> Pose:
    """Where content stands on ``target`` unless told otherwise: content frame -> object frame.

    glTF content is +Y up. On a planar target (the plane z = 0, z into the sheet) +Y points out of
    the printed side, toward the viewer, at the sheet's centre; on other targets the content frame
    is the object frame.
    """
    extents = np.asarray(target.mesh.extents)
    if extents[2] < 1e-6 * max(float(extents.max()), 1e-9):  # a sheet
        return Pose.from_rvec_tvec([-np.pi / 2, 0.0, 0.0], np.zeros(3))
    return Pose.identity()


class ARRenderer:
    """Draws virtual content on tracked objects in frames of one camera (OpenGL, offscreen).

    Args:
        camera: the frames' camera (lens distortion honoured by render-and-warp).
        options: ``RenderOptions``.
    """

    def __init__(self, camera: Camera, options: RenderOptions | None = None) -> None:
        if not isinstance(camera, Camera):
            raise InvalidInputError(f"camera: expected Camera, got {type(camera).__name__}")
        self.camera = camera
        self.options = options or RenderOptions()
        pyrender = import_pyrender()
        self._pyrender = pyrender
        self._view = PinholeView(camera, self.options.supersample)
        ambient = (self.options.ambient,) * 3
        self._scene = pyrender.Scene(bg_color=(0.0, 0.0, 0.0, 0.0), ambient_light=ambient)
        camera_pose = gl_camera_pose(Pose.identity())  # the camera is the world frame
        gl_camera = intrinsics_camera(self._view.render_camera, self.options.znear_m, self.options.zfar_m)
        self._scene.add(gl_camera, pose=camera_pose)
        light = pyrender.DirectionalLight(color=np.ones(3), intensity=self.options.light_intensity)
        self._scene.add(light, pose=camera_pose @ _KEY_LIGHT_IN_CAMERA.as_matrix())
        self._objects: dict[str, tuple[Any, list[Any]]] = {}  # name -> (object node, mesh nodes)
        self._renderer = offscreen_renderer(self._view.render_camera.width, self._view.render_camera.height)

    def attach(
        self,
        target: Target,
        content: str | Path | Any,
        T_obj_content: Pose | None = None,
        scale: float = 1.0,
    ) -> None:
        """Show ``content`` on ``target`` whenever it has a pose.

        Args:
            target: the tracked object; its mesh hides content behind it (``options.occlusion``).
            content: a file trimesh reads (metres), a ``trimesh.Scene`` or a ``trimesh.Trimesh``.
            T_obj_content: content frame -> object frame (metres); identity by default.
            scale: the content's size factor, applied in the content frame.
        """
        import trimesh

        if not isinstance(target, Target):
            raise InvalidInputError(f"target: expected Target, got {type(target).__name__}")
        if not (np.isfinite(scale) and scale > 0):
            raise InvalidInputError(f"scale: expected a positive number, got {scale!r}")
        if isinstance(content, (str, Path)):
            content = load_content(content)
        if isinstance(content, trimesh.Trimesh):
            content = trimesh.Scene(content)
        if not isinstance(content, trimesh.Scene):
            raise InvalidInputError(
                f"content: expected a path, trimesh.Scene or Trimesh, got {type(content).__name__}"
            )
        pyrender = self._pyrender
        if target.name not in self._objects:
            node = pyrender.Node(name=target.name, matrix=np.eye(4))
            self._scene.add_node(node)
            self._objects[target.name] = (node, [])
            if self.options.occlusion:
                self._objects[target.name][1].append(self._add_occluder(target, node))
        node, mesh_nodes = self._objects[target.name]
        T_obj_content = T_obj_content or Pose.identity()
        placement = T_obj_content.as_matrix() @ np.diag([scale, scale, scale, 1.0])
        for node_name in content.graph.nodes_geometry:
            transform, geometry_name = content.graph[node_name]
            geometry = content.geometry[geometry_name]
            if not isinstance(geometry, trimesh.Trimesh) or len(geometry.faces) == 0:
                continue  # points and paths are not drawn
            mesh = pyrender.Mesh.from_trimesh(geometry, smooth=_is_smooth(geometry))
            mesh_nodes.append(self._scene.add(mesh, pose=placement @ transform, parent_node=node))

    def _add_occluder(self, target: Target, parent: Any) -> Any:
        """The target's mesh drawn as transparent black: it fills depth, not colour.

        A closed mesh is drawn with its back faces culled (outward normals made consistent),
        which halves the cost; an open one (a sheet) from both sides.
        """
        pyrender = self._pyrender
        surface = outward_surface(target.mesh)
        closed = surface.is_watertight
        invisible = pyrender.MetallicRoughnessMaterial(
            baseColorFactor=(0.0, 0.0, 0.0, 0.0),
            metallicFactor=1.0,
            alphaMode="OPAQUE",
            doubleSided=not closed,
        )
        mesh = pyrender.Mesh.from_trimesh(surface, material=invisible, smooth=True)
        return self._scene.add(mesh, parent_node=parent)

    def render(self, results: ObjectPose | Sequence[ObjectPose]) -> np.ndarray:
        """The content of ``results`` alone: (H, W, 4) uint8 BGRA, colour premultiplied by alpha."""
        results = [results] if isinstance(results, ObjectPose) else list(results)
        poses = {r.name: r.T_cam_obj for r in results if r.T_cam_obj is not None}
        shown = False
        for name, (node, mesh_nodes) in self._objects.items():
            T_cam_obj = poses.get(name)
            if T_cam_obj is not None:
                self._scene.set_pose(node, T_cam_obj.as_matrix())
                shown = True
            for mesh_node in mesh_nodes:
                mesh_node.mesh.is_visible = T_cam_obj is not None
        if not shown:
            return np.zeros((self.camera.height, self.camera.width, 4), np.uint8)
        flags = self._pyrender.RenderFlags.RGBA
        rgba, _ = self._renderer.render(self._scene, flags=flags)
        rgba = self._view.to_camera(rgba)
        return cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA)

    def annotate(self, image: np.ndarray, results: ObjectPose | Sequence[ObjectPose]) -> np.ndarray:
        """``image`` (H, W, 3) BGR uint8 with the content of ``results`` composited over it, in place."""
        check_bgr8(image, "image")
        if image.shape[:2] != (self.camera.height, self.camera.width):
            raise InvalidInputError(
                f"image: expected {self.camera.width}x{self.camera.height} for this camera, "
                f"got {image.shape[1]}x{image.shape[0]}"
            )
        layer = self.render(results)
        x, y, w, h = cv2.boundingRect(layer[..., 3])  # only where there is content
        if w == 0:
            return image
        patch = image[y : y + h, x : x + w].astype(np.float32)
        over = layer[y : y + h, x : x + w].astype(np.float32)
        alpha = over[..., 3:] / 255.0
        image[y : y + h, x : x + w] = np.clip(patch * (1.0 - alpha) + over[..., :3] + 0.5, 0, 255).astype(
            np.uint8
        )
        return image

    def close(self) -> None:
        """Free the OpenGL context."""
        if self._renderer is not None:
            self._renderer.delete()
            self._renderer = None

    def __enter__(self) -> ARRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_smooth(mesh: Any) -> bool:
    """Shade with smooth normals unless the mesh is faceted on purpose (few faces, sharp folds)."""
    visual_kind = getattr(mesh.visual, "kind", None)
    if visual_kind == "face":  # per-face colours need per-face vertices
        return False
    return len(mesh.faces) > 200 and float(np.median(mesh.face_adjacency_angles)) < np.radians(15)

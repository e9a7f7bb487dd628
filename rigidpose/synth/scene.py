"""Render one target at exact poses: colour, depth and mask, anti-aliased by supersampling.

``TargetRenderer`` draws the target's mesh with pyrender (offscreen) for an ideal pinhole camera,
then, when the camera has lens distortion, warps the ideal image into the distorted one by the
exact inverse of ``Camera.project`` (``Camera.undistort_points`` on every output pixel). The
ideal image is rendered with a margin so that the distorted view is fully covered.

Textured meshes (planar sheets, textured models) are drawn unlit, so the pixels are the texture's
own colours; untextured meshes are lit (a directional light at the camera plus ambient).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..camera import Camera
from ..geometry import Pose
from ..render.gl import PinholeView, gl_camera_pose, import_pyrender, intrinsics_camera, offscreen_renderer
from ..target import Target

__all__ = ["RenderedView", "TargetRenderer"]

# The light shines from above and to the left of the camera (35 and 25 degrees), so faces of an
# untextured mesh differ in brightness.
_KEY_LIGHT_FROM_CAMERA = (
    Pose.from_rvec_tvec([np.radians(35), 0.0, 0.0], np.zeros(3))
    @ Pose.from_rvec_tvec([0.0, np.radians(-25), 0.0], np.zeros(3))
).as_matrix()


@dataclass(frozen=True)
class RenderedView:
    """One rendered view of the target, at the output camera's size.

    Attributes:
        color: (H, W, 3) float32 BGR in [0, 1], the object only (black elsewhere).
        alpha: (H, W) float32 in [0, 1], the object's coverage of each pixel (anti-aliased).
        depth_m: (H, W) float32 metres along the camera's z axis; 0 where there is no object.
            OpenGL takes it from one multisample, up to 0.4 px off the pixel centre: for exact
            depth cast rays (``align.MeshCaster``), as ``render_sequence`` does.
    """

    color: np.ndarray
    alpha: np.ndarray
    depth_m: np.ndarray


class TargetRenderer:
    """Renders ``target`` as seen by ``camera`` at any ``T_cam_obj``.

    Args:
        target: the object; its mesh is in metres, object frame.
        camera: the output camera, lens distortion included.
        supersample: render at this many times the resolution, then average down (2 or 3 give
            clean edges).
        base_color: BGR in [0, 1] for an untextured mesh.
    """

    def __init__(
        self,
        target: Target,
        camera: Camera,
        supersample: int = 2,
        base_color: tuple[float, float, float] = (0.55, 0.6, 0.65),
    ) -> None:
        pyrender = import_pyrender()
        self.camera = camera
        self.supersample = int(supersample)
        self._textured = getattr(target.mesh.visual, "kind", None) == "texture"

        self._view = PinholeView(camera, supersample)
        self._render_camera = self._view.render_camera

        self._scene = pyrender.Scene(bg_color=(0.0, 0.0, 0.0, 0.0), ambient_light=(0.35, 0.35, 0.35))
        if self._textured:
            mesh = pyrender.Mesh.from_trimesh(target.mesh, smooth=False)
            for primitive in mesh.primitives:  # trimesh's default material dims textures to 40 %
                primitive.material.baseColorFactor = np.ones(4)
        else:
            import trimesh

            surface = target.mesh.copy()
            trimesh.repair.fix_normals(surface)  # consistent outward faces light correctly
            rgb = (base_color[2], base_color[1], base_color[0], 1.0)
            material = pyrender.MetallicRoughnessMaterial(
                baseColorFactor=rgb, metallicFactor=0.0, roughnessFactor=0.8, doubleSided=True
            )
            mesh = pyrender.Mesh.from_trimesh(surface, material=material, smooth=False)
        self._scene.add(mesh)
        self._camera_node = self._scene.add(intrinsics_camera(self._render_camera, 0.01, 100.0))
        self._light_node = self._scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=3.0))
        self._flags = pyrender.RenderFlags.FLAT if self._textured else pyrender.RenderFlags.NONE
        self._renderer = offscreen_renderer(self._render_camera.width, self._render_camera.height)

    def render(self, T_cam_obj: Pose) -> RenderedView:
        """The target at ``T_cam_obj`` (object frame -> camera frame, metres)."""
        pyrender = import_pyrender()
        camera_pose = gl_camera_pose(T_cam_obj)  # the object sits at the world origin
        self._scene.set_pose(self._camera_node, camera_pose)
        self._scene.set_pose(self._light_node, camera_pose @ _KEY_LIGHT_FROM_CAMERA)
        rgba, depth = self._renderer.render(self._scene, flags=self._flags | pyrender.RenderFlags.RGBA)
        # The background is (0, 0, 0, 0), so the colour is already premultiplied by coverage and
        # averages correctly when shrunk; depth is taken from one sample per output pixel.
        rgba = self._view.to_camera(rgba)
        depth = self._view.to_camera(depth, nearest=True)
        premultiplied = rgba[..., 2::-1].astype(np.float32) / 255.0
        alpha = rgba[..., 3].astype(np.float32) / 255.0
        color = premultiplied / np.maximum(alpha, 1.0 / 255.0)[..., None]
        return RenderedView(np.minimum(color, 1.0), alpha, depth.astype(np.float32))

    def close(self) -> None:
        self._renderer.delete()

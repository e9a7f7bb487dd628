"""Target builders: from an image (planar sheet), from a mesh and photos, from a textured mesh."""

from .planar import planar_corners_obj, planar_target

__all__ = ["planar_corners_obj", "planar_target"]

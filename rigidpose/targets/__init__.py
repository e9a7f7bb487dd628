"""Target builders: from an image (planar sheet), from a mesh and photos, from a textured mesh;
and how well an image will track as a planar target."""

from .planar import planar_corners_obj, planar_target, sheet_trackability
from .trackability import TrackabilityReport, trackability

__all__ = ["TrackabilityReport", "planar_corners_obj", "planar_target", "sheet_trackability", "trackability"]

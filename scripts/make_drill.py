"""Build meshes/drill.ply: a cordless drill, the shipped low-texture object for learned keypoints.

Plain plastic with no print on it, so local features find little: the kind of object the learned
keypoint detector is for. The drill lies on its side as on a workbench: its profile (body along
+x with the chuck in front, the handle and battery along +y) is in the x-y plane, the side with
the speed knob faces -z (a camera above the bench looks along +z) and the table is at the largest
z. 21.5 x 18.6 x 7.0 cm, metres, the centre of its bounds on the origin; no symmetry.

    python scripts/make_drill.py [--out meshes/drill.ply]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import trimesh

SECTIONS = 24  # around each cylinder


def box(extents: tuple[float, float, float], centre: tuple[float, float, float], tilt_deg: float = 0.0):
    """A box (metres) rotated by ``tilt_deg`` about z, then moved to ``centre``."""
    part = trimesh.creation.box(extents=extents)
    part.apply_transform(trimesh.transformations.rotation_matrix(np.radians(tilt_deg), [0, 0, 1]))
    part.apply_translation(centre)
    return part


def along_x(radius: float, length: float, x_start: float, y: float = 0.0, z: float = 0.0):
    """A cylinder along +x from ``x_start``, metres."""
    part = trimesh.creation.cylinder(radius=radius, height=length, sections=SECTIONS)
    part.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0]))
    part.apply_translation([x_start + length / 2, y, z])
    return part


def along_z(radius: float, length: float, centre: tuple[float, float, float]):
    part = trimesh.creation.cylinder(radius=radius, height=length, sections=SECTIONS)
    part.apply_translation(centre)
    return part


def drill() -> trimesh.Trimesh:
    parts = [
        along_x(0.030, 0.120, -0.075),  # motor body
        along_x(0.026, 0.020, 0.045),  # gearbox, a step down
        along_x(0.016, 0.035, 0.065),  # chuck
        along_x(0.004, 0.040, 0.100),  # bit
        box((0.040, 0.110, 0.030), (-0.030, 0.075, 0.0), tilt_deg=-12),  # handle, raked back
        box((0.012, 0.022, 0.016), (0.000, 0.040, 0.0)),  # trigger
        box((0.085, 0.032, 0.064), (-0.030, 0.140, 0.0)),  # battery pack
        along_z(0.010, 0.010, (-0.050, -0.005, -0.033)),  # speed knob on the -z side
        box((0.030, 0.008, 0.004), (-0.010, -0.018, -0.031)),  # vent on the -z side
    ]
    mesh = trimesh.util.concatenate(parts)
    mesh.apply_translation(-mesh.bounds.mean(axis=0))
    return mesh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "meshes" / "drill.ply"))
    args = parser.parse_args()
    mesh = drill()
    mesh.export(args.out)
    size = mesh.extents * 100
    print(f"wrote {args.out}: {len(mesh.faces)} triangles, {size[0]:.1f} x {size[1]:.1f} x {size[2]:.1f} cm")


if __name__ == "__main__":
    main()

"""Build meshes/rocket.glb: the small virtual object the demos put on tracked targets.

A toy rocket on a launch pad, 11 cm tall, made of revolved profiles and prisms with glTF PBR
materials. glTF convention: metres, +Y up, the pad's bottom centred on the origin.

    python scripts/make_rocket.py [--out meshes/rocket.glb]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import trimesh
from trimesh.visual.material import PBRMaterial

SECTIONS = 64  # around the rocket's axis


def material(
    rgb: tuple[int, int, int], metallic: float = 0.0, roughness: float = 0.5, glow: float = 0.0
) -> PBRMaterial:
    color = np.array([*rgb, 255], dtype=np.uint8)
    return PBRMaterial(
        baseColorFactor=color,
        metallicFactor=metallic,
        roughnessFactor=roughness,
        emissiveFactor=np.array(rgb) / 255.0 * glow,
    )


def painted(mesh: trimesh.Trimesh, paint: PBRMaterial) -> trimesh.Trimesh:
    mesh.visual = trimesh.visual.TextureVisuals(material=paint)
    return mesh


def revolved(profile: list[tuple[float, float]]) -> trimesh.Trimesh:
    """A surface of revolution about +z from (radius, z) points, metres."""
    return trimesh.creation.revolve(np.array(profile, dtype=np.float64), sections=SECTIONS)


def fin(angle_rad: float) -> trimesh.Trimesh:
    """A swept fin (a thin prism) on the body at ``angle_rad`` around +z."""
    outline = np.array([[0.010, 0.018], [0.026, 0.010], [0.026, 0.020], [0.010, 0.046]])  # (radius, z)
    half = 0.0015
    points = [[r, side, z] for r, z in outline for side in (-half, half)]
    prism = trimesh.convex.convex_hull(np.array(points))
    prism.apply_transform(trimesh.transformations.rotation_matrix(angle_rad, [0, 0, 1]))
    return prism


def build() -> trimesh.Scene:
    white = material((235, 235, 240), metallic=0.1, roughness=0.35)
    red = material((210, 30, 40), roughness=0.4)
    dark = material((50, 52, 60), metallic=0.6, roughness=0.4)
    glass = material((40, 120, 220), metallic=0.2, roughness=0.1)
    flame = material((255, 150, 30), roughness=1.0, glow=0.9)

    ogive = [(0.012 * np.cos(t) ** 0.8, 0.078 + 0.032 * np.sin(t)) for t in np.linspace(0.0, np.pi / 2, 12)]
    parts = {
        "pad": painted(revolved([(0.0, 0.0), (0.034, 0.0), (0.034, 0.004), (0.0, 0.004)]), dark),
        "flame": painted(revolved([(0.0, 0.004), (0.0055, 0.012), (0.0, 0.012)]), flame),
        "nozzle": painted(revolved([(0.0055, 0.012), (0.008, 0.012), (0.006, 0.018), (0.0, 0.018)]), dark),
        "body": painted(revolved([(0.0, 0.018), (0.012, 0.018), (0.012, 0.064), (0.0, 0.064)]), white),
        "band": painted(revolved([(0.0, 0.064), (0.0122, 0.064), (0.0122, 0.078), (0.0, 0.078)]), red),
        "nose": painted(revolved([(0.0, 0.078), *ogive[:-1], (0.0, 0.110)]), white),
        "window_ring": painted(
            trimesh.creation.torus(0.0045, 0.0012, major_sections=32, minor_sections=12), dark
        ),
        "window": painted(trimesh.creation.cylinder(radius=0.0042, height=0.002, sections=32), glass),
    }
    # the window sits on the body's side, facing +x
    on_side = trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0])
    on_side[:3, 3] = [0.0122, 0.0, 0.050]
    parts["window_ring"].apply_transform(on_side)
    parts["window"].apply_transform(on_side)
    for k in range(4):
        parts[f"fin_{k}"] = painted(fin(np.pi / 4 + k * np.pi / 2), red)

    scene = trimesh.Scene()
    z_up_to_y_up = trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0])
    for name, part in parts.items():
        part.apply_transform(z_up_to_y_up)
        scene.add_geometry(part, geom_name=name, node_name=name)
    return scene


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default=str(Path(__file__).resolve().parent.parent / "meshes" / "rocket.glb")
    )
    args = parser.parse_args()
    scene = build()
    Path(args.out).write_bytes(scene.export(file_type="glb"))
    faces = sum(len(g.faces) for g in scene.geometry.values())
    print(f"wrote {args.out}: {len(scene.geometry)} parts, {faces} triangles, {np.round(scene.extents, 3)} m")


if __name__ == "__main__":
    main()

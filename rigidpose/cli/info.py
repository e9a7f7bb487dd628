"""``rigidpose info``: describe a camera file, target folder, mesh, pose file or frame source."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import rigidpose as rp

from .common import MESH_SUFFIXES


def add_parser(commands: argparse._SubParsersAction) -> None:
    info = commands.add_parser(
        "info",
        help="describe a camera file, target folder, mesh, pose file or video",
        description=_cmd_info.__doc__,
    )
    info.add_argument("path", help="file, folder, or webcam index")
    info.add_argument("--units", default="m", choices=tuple(rp.MESH_UNITS), help="length unit of a mesh file")
    info.set_defaults(run=_cmd_info)


def _cmd_info(args: argparse.Namespace) -> int:
    """Describe a camera file, target folder, mesh, pose JSONL file or frame source."""
    path = Path(args.path)
    suffix = path.suffix.lower()
    if path.is_dir() and (path / "target.json").is_file():
        target = rp.Target.load(path)
        print(f"target folder {path}")
        print(f"  {target!r}")
        low, high = target.mesh.bounds
        print(f"  bounds (m, object frame): {np.round(low, 4).tolist()} .. {np.round(high, 4).tolist()}")
    elif suffix in (".yaml", ".yml", ".xml", ".json"):
        camera = rp.Camera.load(path)
        print(f"camera file {path}")
        print(f"  {camera!r}")
    elif suffix == ".jsonl":
        records = rp.read_poses(path)
        names = sorted({o.name for r in records for o in r.objects})
        print(f"pose file {path}: {len(records)} frames, objects: {', '.join(names) or 'none'}")
        for name in names:
            found = [o for r in records for o in r.objects if o.name == name]
            posed = sum(o.T_cam_obj is not None for o in found)
            print(f"  {name}: pose in {posed} of {len(records)} frames")
    elif suffix in MESH_SUFFIXES:
        mesh = rp.load_mesh(path, units=args.units)
        low, high = mesh.bounds
        print(f"mesh {path}: {len(mesh.vertices)} vertices, {len(mesh.faces)} faces")
        print(f"  size (m, read as {args.units}): {np.round(high - low, 4).tolist()}")
    else:
        with rp.FrameSource(args.path) as source:
            first = next(iter(source), None)
            size = "no readable frame" if first is None else f"{first.image.shape[1]}x{first.image.shape[0]}"
            count = "unknown" if source.frame_count is None else source.frame_count
            print(f"{source.kind} {args.path}: {size}, {count} frames, fps {source.fps}")
    return 0

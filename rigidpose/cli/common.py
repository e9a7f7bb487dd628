"""What several command modules share: mesh suffixes, ``WxH`` parsing, SIGTERM's exception."""

from __future__ import annotations

import rigidpose as rp

MESH_SUFFIXES = (".ply", ".obj", ".stl", ".off", ".glb", ".gltf")


def two_ints(text: str, option: str, expected: str) -> tuple[int, int]:
    """``1280x720`` -> (1280, 720): two positive integers joined by an x, for ``option``."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise rp.InvalidInputError(f"{option}: expected {expected}, got {text!r}")
    return int(parts[0]), int(parts[1])


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that it ends as on Ctrl-C: files finished or
    removed, never half-written."""

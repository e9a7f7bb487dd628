"""What drawing costs: milliseconds per 640x480 frame for each overlay, on this machine.

``rigidpose bench --overlay`` times the OpenCV painter and the OpenGL AR renderer on the same
frames and poses: a 10k-triangle model (a torus, 100 x 50 sections) as the tracked
object and as virtual content, with and without lens distortion, and the shipped rocket. Each
row draws ``frames`` frames after a few warm-up frames; the frame copy is not timed.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_write_text
from ..camera import Camera
from ..geometry import Pose
from ..io import ObjectPose
from ..target import Target

__all__ = ["run_overlay_bench"]

WARMUP_FRAMES = 5
ROCKET = Path(__file__).resolve().parents[2] / "meshes" / "rocket.glb"


def _model() -> Any:
    """A 10,000-triangle torus, 13 cm across (metres, object frame)."""
    import trimesh

    return trimesh.creation.torus(0.05, 0.015, major_sections=100, minor_sections=50)


def _poses(frames: int) -> list[Pose]:
    """The object turning and drifting 40-55 cm in front of the camera."""
    out = []
    for k in range(frames):
        t = k / max(frames - 1, 1)
        rvec = [0.6 * math.sin(2 * math.pi * t), 2 * math.pi * t, 0.3]
        out.append(
            Pose.from_rvec_tvec(rvec, [0.05 * math.cos(4 * t), 0.03 * math.sin(5 * t), 0.4 + 0.15 * t])
        )
    return out


def _time(draw: Any, frame: np.ndarray, results: list[ObjectPose]) -> list[float]:
    times = []
    for k, result in enumerate(results):
        image = frame.copy()
        start = time.perf_counter()
        draw(image, [result])
        if k >= WARMUP_FRAMES:
            times.append((time.perf_counter() - start) * 1000.0)
    return times


def run_overlay_bench(
    out: str | os.PathLike[str], frames: int = 100, progress: bool = True
) -> dict[str, Any]:
    """Time every overlay kind; write ``overlay.json`` in ``out``; return rows and a table."""
    from tqdm import tqdm

    from ..render.ar import ARRenderer, load_content
    from ..render.opencv import Painter

    pinhole = Camera.from_fov(640, 480, math.radians(60))
    distorted = Camera(pinhole.K, 640, 480, [-0.25, 0.08, 0.001, -0.001, 0.0])
    model = _model()
    target = Target("torus", model)
    results = [ObjectPose("torus", "tracking", T, 80, 0.5, 0.9) for T in _poses(frames + WARMUP_FRAMES)]
    frame = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    rocket = load_content(ROCKET)
    rocket_triangles = sum(len(g.faces) for g in rocket.geometry.values())
    above = Pose.from_rvec_tvec([0.0, 0.0, 0.0], [0.0, 0.0, -0.04])  # content 4 cm off the object

    def painter(draw: tuple[str, ...], camera: Camera) -> Any:
        return Painter(target, camera, draw=draw)

    def renderer(camera: Camera, content: Any) -> Any:
        gl = ARRenderer(camera)
        gl.attach(target, content, T_obj_content=above)
        return gl

    triangles = len(model.faces)
    cases = [  # name, renderer, triangles drawn (painted object or content), maker
        ("opencv outline+axes", "opencv", triangles, lambda: painter(("outline", "axes"), pinhole)),
        ("opencv box+axes", "opencv", triangles, lambda: painter(("box", "axes"), pinhole)),
        ("opencv wireframe", "opencv", triangles, lambda: painter(("wireframe",), pinhole)),
        (
            "opencv outline+axes, distorted",
            "opencv",
            triangles,
            lambda: painter(("outline", "axes"), distorted),
        ),
        ("gl 10k-tri content + occluder", "gl", triangles, lambda: renderer(pinhole, model.copy())),
        ("gl 10k-tri content, distorted", "gl", triangles, lambda: renderer(distorted, model.copy())),
        ("gl rocket.glb", "gl", rocket_triangles, lambda: renderer(pinhole, rocket)),
    ]
    rows = []
    for name, kind, count, make in tqdm(cases, unit="overlay", disable=not progress):
        drawer = make()
        times = _time(drawer.annotate, frame, results)
        if kind == "gl":
            drawer.close()
        rows.append(
            {
                "overlay": name,
                "renderer": kind,
                "model_triangles": count,
                "frames": len(times),
                "ms_median": float(np.median(times)),
                "ms_p95": float(np.percentile(times, 95)),
            }
        )
    header = f"{'overlay (640x480)':<32} {'triangles':>9} {'ms med':>7} {'ms p95':>7}"
    lines = [header, "-" * len(header)]
    lines += [
        f"{r['overlay']:<32} {r['model_triangles']:>9} {r['ms_median']:>7.2f} {r['ms_p95']:>7.2f}"
        for r in rows
    ]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "overlay.json", json.dumps({"rows": rows}, indent=1) + "\n")
    return {"rows": rows, "table": "\n".join(lines)}

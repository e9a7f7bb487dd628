"""Pose of a real box from a photo and a few clicked corners, drawn back onto the photo.

What a user does before any tracker exists: load the camera, make a target from the box's mesh
(in centimetres), solve the pose from the corners they clicked, check it by projecting the mesh,
and save the target folder and the pose as JSON Lines. Then it reads the sample video with the
same frame source the tracker uses and saves a contact sheet of it.

    python demos/box_photo_pose.py --out out/demo
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

import rigidpose as rp
from rigidpose.render.opencv import fold_edges
from rigidpose.solve import SolveOptions, solve_pose

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "demos" / "data" / "box"


def draw_pose(
    image: np.ndarray, camera: rp.Camera, target: rp.Target, T_cam_obj: rp.Pose, clicked_px: np.ndarray
) -> np.ndarray:
    """The photo with the mesh's outline edges, the object axes and the clicked corners."""
    out = image.copy()
    mesh = target.mesh
    edges, _ = fold_edges(mesh)  # outline edges only, not the diagonals of flat faces
    pixels = camera.project(T_cam_obj.apply(mesh.vertices))
    for a, b in edges:
        pa, pb = pixels[a], pixels[b]
        if np.all(np.isfinite([pa, pb])):
            cv2.line(
                out,
                tuple(np.round(pa).astype(int)),
                tuple(np.round(pb).astype(int)),
                (80, 255, 80),
                2,
                cv2.LINE_AA,
            )
    axis_m = 0.1
    axes = camera.project(
        T_cam_obj.apply(np.array([[0, 0, 0], [axis_m, 0, 0], [0, axis_m, 0], [0, 0, axis_m]]))
    )
    origin = tuple(np.round(axes[0]).astype(int))
    for tip, colour in zip(axes[1:], [(0, 0, 255), (0, 255, 0), (255, 0, 0)]):  # x red, y green, z blue
        cv2.arrowedLine(out, origin, tuple(np.round(tip).astype(int)), colour, 3, cv2.LINE_AA, tipLength=0.15)
    for u, v in clicked_px:
        cv2.circle(out, (round(u), round(v)), 6, (0, 200, 255), 2, cv2.LINE_AA)
    return out


def contact_sheet(
    source: rp.FrameSource, columns: int = 4, rows: int = 2, width: int = 320
) -> tuple[np.ndarray, int, float]:
    """A grid of evenly spaced frames, the number of frames read and the median ms to decode one."""

    def tile(frame: rp.Frame) -> np.ndarray:
        small = cv2.resize(frame.image, (width, width * frame.image.shape[0] // frame.image.shape[1]))
        cv2.putText(
            small,
            f"#{frame.index}  {frame.timestamp_ms / 1000:.2f} s",
            (8, 22),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6,
            (255, 255, 255),
            2,
            cv2.LINE_AA,
        )
        return small

    wanted = set(np.linspace(0, (source.frame_count or 1) - 1, columns * rows).round().astype(int).tolist())
    tiles, times, frame = [], [], None
    start = time.perf_counter()
    for frame in source:
        times.append((time.perf_counter() - start) * 1000.0)
        if frame.index in wanted:
            tiles.append(tile(frame))
        start = time.perf_counter()
    if frame is None:
        raise SystemExit("demo: the sample video yielded no frame")
    if len(tiles) < len(wanted):  # container frame counts can be one high: show the last frame read
        tiles.append(tile(frame))
    tiles += [np.zeros_like(tiles[0])] * (columns * rows - len(tiles))
    grid = np.vstack([np.hstack(tiles[r * columns : (r + 1) * columns]) for r in range(rows)])
    return grid, len(times), float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    camera = rp.Camera.load(DATA / "box_pose1.camera.yaml")
    target = rp.Target.from_mesh_file(ROOT / "meshes" / "box.ply", units="cm", name="box")
    target = rp.Target(name=target.name, mesh=target.mesh, keypoints_obj=target.mesh.vertices)
    clicks = json.loads((DATA / "box_pose1.corners.json").read_text())
    points_obj = np.asarray(clicks["points_3d"], dtype=np.float64) * rp.MESH_UNITS[clicks["units"]]
    clicked_px = np.asarray(clicks["points_2d"], dtype=np.float64)

    # a few hand-clicked corners: allow 4 inliers, and a click can be a few pixels off
    estimate = solve_pose(points_obj, clicked_px, camera, SolveOptions(min_inliers=4, threshold_px=8.0))
    if estimate is None:
        raise SystemExit("demo: the clicked corners do not give a pose")
    T_cam_obj, rms_px = estimate.T_cam_obj, estimate.reproj_error_px

    photo = rp.FrameSource(DATA / "box_pose1.JPG")
    frame = next(iter(photo))
    cv2.imwrite(
        str(args.out / "box_pose1_pose.png"), draw_pose(frame.image, camera, target, T_cam_obj, clicked_px)
    )

    target.save(args.out / "box_target")
    reloaded = rp.Target.load(args.out / "box_target")
    with rp.PoseWriter(args.out / "box_pose1_poses.jsonl") as writer:
        result = rp.ObjectPose(
            "box", "tracking", T_cam_obj, inliers=len(points_obj), reproj_error_px=rms_px, confidence=1.0
        )
        writer.write(rp.FramePoses(frame.index, frame.timestamp_ms, (result,)))

    with rp.FrameSource(DATA / "box.mp4") as video:
        sheet, frames_read, decode_ms = contact_sheet(video)
    cv2.imwrite(str(args.out / "box_video_sheet.png"), sheet)

    distance_m = float(np.linalg.norm(T_cam_obj.translation))
    print(f"camera      {camera!r}")
    print(f"target      {reloaded!r}  (saved to {args.out / 'box_target'} and read back)")
    print(f"pose        T_cam_obj {T_cam_obj!r}; box {distance_m:.3f} m from the camera")
    print(
        f"check       {len(estimate.inliers)} of {len(points_obj)} clicked corners agree; RMS {rms_px:.2f} px"
    )
    print(f"video       {frames_read} frames of box.mp4 read at {decode_ms:.2f} ms per frame (median)")
    print(f"wrote       {args.out / 'box_pose1_pose.png'}  (mesh outline + axes on the photo)")
    print(f"            {args.out / 'box_video_sheet.png'}  (8 frames of the sample video)")
    print(f"            {args.out / 'box_pose1_poses.jsonl'}  (the pose as JSON Lines)")


if __name__ == "__main__":
    main()

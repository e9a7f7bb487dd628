"""The AR renderer (OpenGL) and the OpenCV painter: where things land, occlusion, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import trimesh
from conftest import REPO

import rigidpose as rp
from rigidpose.render.ar import ARRenderer, RenderOptions, load_content
from rigidpose.render.gl import gl_camera_pose
from rigidpose.render.opencv import Painter, contact_sheet

CUBE_M = 0.1


@pytest.fixture
def pinhole() -> rp.Camera:
    """fx != fy and a principal point well off the image centre."""
    return rp.Camera.from_intrinsics(655.0, 610.0, 352.3, 221.7, 640, 480)


def cube_target(name: str = "cube", size_m: float = CUBE_M) -> rp.Target:
    return rp.Target(name, trimesh.creation.box(extents=(size_m,) * 3))


def tracking(name: str, T_cam_obj: rp.Pose | None) -> rp.ObjectPose:
    if T_cam_obj is None:
        return rp.ObjectPose(name, "lost")
    return rp.ObjectPose(name, "tracking", T_cam_obj, inliers=50, reproj_error_px=0.4, confidence=0.9)


def oblique_pose(distance_m: float = 0.55) -> rp.Pose:
    """A cube pose showing three faces, off the optical axis."""
    return rp.Pose.from_rvec_tvec([0.5, -0.7, 0.2], [0.03, -0.02, distance_m])


def sample(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear samples of a float image at (N, 2) pixel positions."""
    xy = points.astype(np.float32).reshape(-1, 1, 2)
    return cv2.remap(image, xy[..., 0], xy[..., 1], cv2.INTER_LINEAR).ravel()


def edge_offsets_px(alpha: np.ndarray, curve: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Signed distance (pixels, along the outward normal) from each point of a projected edge
    ``curve`` (N, 2) to where the rendered coverage ``alpha`` crosses one half."""
    tangent = np.gradient(curve, axis=0)
    normal = np.column_stack([tangent[:, 1], -tangent[:, 0]])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    normal *= np.sign(((curve - inside) * normal).sum(axis=1, keepdims=True))  # outward
    steps = np.arange(-3.0, 3.0001, 0.125)
    offsets = []
    for point, n in zip(curve, normal):
        profile = sample(alpha, point + steps[:, None] * n)  # falls from 1 inside to 0 outside
        k = np.nonzero((profile[:-1] >= 0.5) & (profile[1:] < 0.5))[0][0]
        t = (profile[k] - 0.5) / (profile[k] - profile[k + 1])
        offsets.append(steps[k] + t * (steps[k + 1] - steps[k]))
    return np.array(offsets)


def silhouette_edges(camera: rp.Camera, T_cam_obj: rp.Pose) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The cube's corners (8, 3, object frame) and the corner pairs on its outline, in order."""
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * CUBE_M / 2
    hull = cv2.convexHull(camera.project(T_cam_obj.apply(corners)).astype(np.float32), returnPoints=False)
    order = hull.ravel().tolist()
    return corners, list(zip(order, order[1:] + order[:1]))


def render_alpha(camera: rp.Camera, T_cam_obj: rp.Pose) -> np.ndarray:
    target = cube_target()
    with ARRenderer(camera, RenderOptions(occlusion=False)) as renderer:
        renderer.attach(target, target.mesh.copy())
        layer = renderer.render(tracking("cube", T_cam_obj))
    return layer[..., 3].astype(np.float32) / 255.0


def test_opengl_camera_flips_y_and_z_only():
    T_cam_world = rp.Pose.from_rvec_tvec([0.1, 0.2, 0.3], [0.4, -0.5, 2.0])
    camera_to_world = gl_camera_pose(T_cam_world)
    cv_to_world = T_cam_world.inv().as_matrix()
    np.testing.assert_allclose(camera_to_world[:3, 0], cv_to_world[:3, 0])
    np.testing.assert_allclose(camera_to_world[:3, 1:3], -cv_to_world[:3, 1:3])
    np.testing.assert_allclose(camera_to_world[:3, 3], cv_to_world[:3, 3])


def test_virtual_cube_corners_land_within_half_a_pixel_of_projection(pinhole):
    T = oblique_pose()
    alpha = render_alpha(pinhole, T)
    corners, outline = silhouette_edges(pinhole, T)
    corners_px = pinhole.project(T.apply(corners))
    inside = corners_px.mean(axis=0)
    lines = []  # each outline edge fitted to where the render's coverage crosses one half
    for a, b in outline:
        t = np.linspace(0.15, 0.85, 24)[:, None]
        curve = corners_px[a] + t * (corners_px[b] - corners_px[a])
        offsets = edge_offsets_px(alpha, curve, inside)
        direction = (corners_px[b] - corners_px[a]) / np.linalg.norm(corners_px[b] - corners_px[a])
        normal = np.array([direction[1], -direction[0]])
        normal *= np.sign((curve[0] - inside) @ normal)
        lines.append((curve + offsets[:, None] * normal, direction))
    errors = []
    for k, (a, _) in enumerate(outline):  # corner a is where edge k-1 meets edge k
        (p, u), (q, v) = lines[k - 1], lines[k]
        s = np.linalg.solve(np.column_stack([u, -v]), q.mean(axis=0) - p.mean(axis=0))
        errors.append(np.linalg.norm(p.mean(axis=0) + s[0] * u - corners_px[a]))
    assert len(outline) == 6 and max(errors) < 0.5, errors


def test_virtual_cube_edges_bend_with_lens_distortion(distorted_camera):
    T = oblique_pose(0.45)
    alpha = render_alpha(distorted_camera, T)
    corners, outline = silhouette_edges(distorted_camera, T)
    inside = distorted_camera.project(T.apply(corners)).mean(axis=0)
    offsets = []
    for a, b in outline:
        t = np.linspace(0.15, 0.85, 24)[:, None]
        curve = distorted_camera.project(T.apply(corners[a] + t * (corners[b] - corners[a])))
        offsets.append(edge_offsets_px(alpha, curve, inside))
    assert np.abs(np.concatenate(offsets)).max() < 0.5


def test_content_behind_the_object_is_hidden_and_in_front_is_not(pinhole):
    target = cube_target("box")
    T = rp.Pose(np.eye(3), [0.0, 0.0, 0.5])  # the box straight ahead; camera looks along +z
    small = trimesh.creation.box(extents=(0.03, 0.03, 0.03))
    centre = np.round(pinhole.project(T.apply(np.zeros((1, 3))))[0]).astype(int)
    side = np.round(pinhole.project(T.apply(np.array([[0.12, 0.0, 0.12]])))[0]).astype(int)

    def alpha_at(offset, occlusion=True):
        with ARRenderer(pinhole, RenderOptions(occlusion=occlusion)) as renderer:
            renderer.attach(target, small, T_obj_content=rp.Pose(np.eye(3), offset))
            layer = renderer.render(tracking("box", T))
        return layer[..., 3]

    behind = alpha_at([0.0, 0.0, 0.12])  # 7 cm behind the box's back face... seen through it
    assert behind[centre[1], centre[0]] == 0 and behind.max() == 0
    inside = alpha_at([0.0, 0.0, 0.0])  # inside the box: hidden too
    assert inside.max() == 0
    in_front = alpha_at([0.0, 0.0, -0.08])  # in front of the box's front face
    assert in_front[centre[1], centre[0]] == 255
    beside = alpha_at([0.12, 0.0, 0.12])  # behind the box's plane but not behind the box
    assert beside[side[1], side[0]] == 255
    assert alpha_at([0.0, 0.0, 0.12], occlusion=False)[centre[1], centre[0]] == 255


def test_annotate_composites_content_and_leaves_the_rest(pinhole):
    target = cube_target()
    red = trimesh.creation.box(extents=(0.05, 0.05, 0.05))
    red.visual.face_colors = (255, 0, 0, 255)
    frame = np.full((480, 640, 3), 90, np.uint8)
    T = rp.Pose(np.eye(3), [0.0, 0.0, 0.5])
    with ARRenderer(pinhole, RenderOptions(ambient=1.0, light_intensity=0.0)) as renderer:
        renderer.attach(target, red, T_obj_content=rp.Pose(np.eye(3), [0.0, 0.0, -0.1]))
        out = renderer.annotate(frame.copy(), [tracking("cube", T)])
        centre = np.round(pinhole.project(T.apply(np.array([[0.0, 0.0, -0.1]])))[0]).astype(int)
        b, g, r = out[centre[1], centre[0]].astype(int)
        assert r > 150 and g < 40 and b < 40  # red content over a grey frame
        rows, cols = np.nonzero(np.any(out != frame, axis=2))
        corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * 0.025
        content_px = pinhole.project(T.apply(corners + [0.0, 0.0, -0.1]))
        low, high = content_px.min(axis=0) - 1.5, content_px.max(axis=0) + 1.5
        assert low[0] <= cols.min() and cols.max() <= high[0]  # nothing drawn away from the content
        assert low[1] <= rows.min() and rows.max() <= high[1]
        untouched = renderer.annotate(frame.copy(), [tracking("cube", None)])
        assert np.array_equal(untouched, frame)  # no pose, no content
        with pytest.raises(rp.InvalidInputError, match="expected 640x480"):
            renderer.annotate(np.zeros((240, 320, 3), np.uint8), [])


def test_several_objects_each_with_their_content(pinhole):
    left, right = cube_target("left", 0.05), cube_target("right", 0.05)
    with ARRenderer(pinhole) as renderer:
        renderer.attach(left, trimesh.creation.icosphere(radius=0.02), rp.Pose(np.eye(3), [0, 0, -0.05]))
        renderer.attach(right, trimesh.creation.icosphere(radius=0.02), rp.Pose(np.eye(3), [0, 0, -0.05]))
        T_left, T_right = rp.Pose(np.eye(3), [-0.12, 0, 0.6]), rp.Pose(np.eye(3), [0.12, 0, 0.6])
        both = renderer.render([tracking("left", T_left), tracking("right", T_right)])[..., 3]
        only_right = renderer.render([tracking("left", None), tracking("right", T_right)])[..., 3]
    split = round(pinhole.cx)
    assert both[:, :split].max() == 255 and both[:, split:].max() == 255
    assert only_right[:, :split].max() == 0 and only_right[:, split:].max() == 255


def test_shipped_rocket_loads_with_its_materials():
    rocket = load_content(REPO / "meshes" / "rocket.glb")
    assert len(rocket.geometry) >= 5
    np.testing.assert_allclose(rocket.extents[1], 0.11, atol=0.002)  # 11 cm tall, +y up


def test_bad_content_and_options_are_clear(tmp_path, pinhole):
    with pytest.raises(rp.FileFormatError, match="no such content file"):
        load_content(tmp_path / "missing.glb")
    (tmp_path / "junk.glb").write_bytes(b"not a mesh")
    with pytest.raises(rp.FileFormatError, match="cannot read it"):
        load_content(tmp_path / "junk.glb")
    with pytest.raises(rp.InvalidInputError, match="supersample"):
        RenderOptions(supersample=0)
    with ARRenderer(pinhole) as renderer, pytest.raises(rp.InvalidInputError, match="scale"):
        renderer.attach(cube_target(), trimesh.creation.box(), scale=-1.0)


def sheet_target() -> rp.Target:
    from rigidpose.targets import planar_target

    image = np.random.default_rng(3).integers(0, 255, (300, 400, 3), np.uint8)
    return planar_target(image, 0.2, name="sheet")


def test_painter_outlines_the_sheet_along_its_curved_projected_border(distorted_camera):
    target = sheet_target()
    T = rp.Pose.from_rvec_tvec([0.3, -0.2, 0.1], [0.05, 0.02, 0.3])
    image = Painter(target, distorted_camera, draw=("outline",), label=False).annotate(
        np.zeros((480, 640, 3), np.uint8), tracking("sheet", T)
    )
    drawn = image.max(axis=2) > 0
    (x0, y0, _), (x1, y1, _) = target.mesh.bounds
    corners = np.array([[x0, y0, 0], [x1, y0, 0], [x1, y1, 0], [x0, y1, 0]])
    t = np.linspace(0, 1, 300)[:, None]
    border = np.vstack(  # the sheet's four sides, densely projected through the lens
        [distorted_camera.project(T.apply(a + t * (b - a))) for a, b in zip(corners, np.roll(corners, -1, 0))]
    )
    chords = distorted_camera.project(T.apply(corners))
    bend = max(  # how far the lens bends a side away from its straight chord, pixels
        abs(float(np.linalg.det(np.column_stack([side[150] - a, b - a])))) / np.linalg.norm(b - a)
        for side, a, b in zip(np.split(border, 4), chords, np.roll(chords, -1, 0))
    )
    assert bend > 3.0  # the test means something: straight lines would miss by this much
    to_drawn = cv2.distanceTransform((~drawn).astype(np.uint8), cv2.DIST_L2, 5)
    assert np.percentile(sample(to_drawn, border), 95) < 1.0  # lines lie on the curved border
    curve_mask = cv2.polylines(np.zeros((480, 640), np.uint8), [np.round(border).astype(np.int32)], True, 255)
    to_border = cv2.distanceTransform(255 - curve_mask, cv2.DIST_L2, 5)
    assert np.percentile(to_border[drawn], 99) < 2.5  # and nothing else is drawn


def test_painter_draws_every_kind_and_refuses_unknown_ones(pinhole):
    target = cube_target()
    T = oblique_pose()
    blank = np.zeros((480, 640, 3), np.uint8)
    drawn = {}
    for kind in ("outline", "axes", "box", "wireframe"):
        image = Painter(target, pinhole, draw=(kind,), label=False).annotate(
            blank.copy(), tracking("cube", T)
        )
        drawn[kind] = image.max(axis=2) > 0
        assert drawn[kind].sum() > 200, kind
    # the face nearest the camera: its centre lies on a triangle diagonal (wireframe), not on an outline
    centres = np.array(
        [[0, 0, s] for s in (-1, 1)] + [[0, s, 0] for s in (-1, 1)] + [[s, 0, 0] for s in (-1, 1)]
    )
    nearest = centres[np.argmin(T.apply(centres * CUBE_M / 2)[:, 2])] * CUBE_M / 2
    u, v = np.round(pinhole.project(T.apply(nearest[None]))[0]).astype(int)
    assert drawn["wireframe"][v, u] and not drawn["outline"][v, u]
    labelled = Painter(target, pinhole).annotate(blank.copy(), tracking("cube", None))
    assert labelled[:40].max() > 0 and labelled[60:].max() == 0  # a lost object: its label only
    with pytest.raises(rp.InvalidInputError, match="expected any of outline, axes, box, wireframe"):
        Painter(target, pinhole, draw=("sparkles",))
    with pytest.raises(rp.InvalidInputError, match="image"):
        Painter(target, pinhole).annotate(np.zeros((480, 640), np.uint8), tracking("cube", T))


def test_label_text_lies_inside_its_dark_box(pinhole):
    """Each label is one filled dark box with all of its text inside it (an outline drawn thicker
    than the text would not line up with it: OpenCV's text advances further when thicker)."""
    painter = Painter([cube_target("cube"), cube_target("ball")], pinhole)
    away = rp.Pose.from_rvec_tvec([0.0, 0.0, 0.0], [30.0, 0.0, 1.0])  # far off the image: labels only
    image = painter.annotate(
        np.full((480, 640, 3), 255, np.uint8), [tracking("cube", away), tracking("ball", away)]
    )
    changed = (image != 255).any(axis=2).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(changed, connectivity=4)
    assert count == 3  # the background and two labels, one above the other
    boxes = sorted(stats[1:].tolist(), key=lambda box: box[1])
    text = "cube: tracking  conf 0.90  50 pts  0.40 px"
    (text_w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 1)
    for name, (x, y, w, h, area) in zip(("cube", "ball"), boxes):
        assert area == w * h  # a filled box
        inside = image[y : y + h, x : x + w]
        assert (inside.min(axis=2) < 200).all()  # nothing of the white frame is left inside
        assert (inside == 255 // 4).all(axis=2).mean() > 0.6  # mostly the dark box
        bright = inside.max(axis=2) > 100  # the text and the state dot
        rows, cols = np.nonzero(bright)
        assert rows.min() >= 2 and cols.min() >= 2 and rows.max() < h - 2 and cols.max() < w - 2
        assert cols.max() - cols.min() >= text_w  # the whole line of text, dot included
        # the text is in the object's colour
        core = inside[inside.max(axis=2) > 200]
        colours, counts = np.unique(core, axis=0, return_counts=True)
        assert tuple(colours[np.argmax(counts)]) == painter.colors[name]
    assert boxes[0][1] + boxes[0][3] < boxes[1][1]  # one below the other, apart


def lab_distances(colors: list[tuple[int, int, int]]) -> list[float]:
    """CIELAB distance between every pair of BGR colours."""
    lab = cv2.cvtColor(np.array([colors], np.float32) / 255, cv2.COLOR_BGR2Lab)[0]
    return [float(np.linalg.norm(lab[i] - lab[j])) for i in range(len(lab)) for j in range(i)]


@pytest.mark.parametrize("count", [2, 3, 4, 5, 6])
def test_every_object_is_drawn_in_its_own_colour(pinhole, count):
    """Objects in the same state get clearly different colours, by their place in the target list."""
    from rigidpose.render.overlay import Overlay

    names = [f"cube{k}" for k in range(count)]
    targets = [cube_target(name) for name in names]
    poses = [rp.Pose.from_rvec_tvec([0.5, -0.7, 0.2], [-0.5 + 0.2 * k, 0.0, 1.5]) for k in range(count)]
    overlay = Overlay(targets, pinhole, "outline")
    image = overlay.annotate(
        np.zeros((480, 640, 3), np.uint8), [tracking(n, T) for n, T in zip(names, poses)]
    )
    drawn = []
    for T in poses:
        corners = pinhole.project(T.apply(trimesh.creation.box(extents=(CUBE_M,) * 3).vertices))
        (x0, y0), (x1, y1) = np.floor(corners.min(axis=0)) - 3, np.ceil(corners.max(axis=0)) + 3
        region = image[int(y0) : int(y1), int(x0) : int(x1)]
        lines = region[region.max(axis=2) > 0]
        colours, counts = np.unique(lines, axis=0, return_counts=True)
        drawn.append(tuple(int(c) for c in colours[np.argmax(counts)]))  # the lines' full colour
    assert len(set(drawn)) == count, drawn
    assert min(lab_distances(drawn)) > 40  # clearly different, not just different numbers
    assert drawn == [Painter(targets, pinhole).colors[name] for name in names]


def test_contact_sheet_tiles_frames():
    frames = [np.full((48, 64, 3), k * 40, np.uint8) for k in range(5)]
    picture = contact_sheet(frames, columns=3, width_px=192)
    assert picture.shape == (96, 192, 3)
    assert picture[10, 10, 0] == 0 and picture[10, 74, 0] == 40 and picture[60, 140, 0] == 0
    with pytest.raises(rp.InvalidInputError):
        contact_sheet([])


WINDOW_SCRIPT = """
import numpy as np, pyglet
from rigidpose.render.window import Window
image = np.zeros((120, 160, 3), np.uint8)
image[:60] = (255, 0, 0)  # top half blue (BGR)
image[60:, :80] = (0, 0, 255)  # bottom left red
with Window("test") as window:
    for _ in range(3):
        assert window.show(image)
    shown = pyglet.image.get_buffer_manager().get_color_buffer().get_image_data()
    rgb = np.frombuffer(shown.get_data("RGB", shown.width * 3), np.uint8)
    rgb = rgb.reshape(shown.height, shown.width, 3)[::-1]  # OpenGL rows run bottom-up
    print(rgb[10, 10].tolist(), rgb[100, 10].tolist(), rgb[100, 150].tolist())
"""


def _run_on_a_virtual_display(tmp_path, script_text: str) -> subprocess.CompletedProcess:
    """Run ``script_text`` as a Python script under Xvfb (xvfb-run), with no display of ours."""
    script = tmp_path / "script.py"
    script.write_text(script_text)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "PYOPENGL_PLATFORM")}
    return subprocess.run(
        ["xvfb-run", "-a", sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env
    )


def test_window_shows_frames_the_right_way_up_on_a_display(tmp_path):
    result = _run_on_a_virtual_display(tmp_path, WINDOW_SCRIPT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[-2] == "[0, 0, 255] [255, 0, 0] [0, 0, 0]"


PACING_SCRIPT = """
import json, time
from ctypes import POINTER, byref, c_char_p, c_uint
import numpy as np
from pyglet.libs.x11 import xlib
from rigidpose.render.window import Window

image = np.zeros((120, 160, 3), np.uint8)
image[:60] = (255, 0, 0)
display = xlib.XOpenDisplay(None)  # a second connection, as another program (the user) would use
root = xlib.XDefaultRootWindow(display)


def find(title):
    parent, children, count = xlib.Window(), POINTER(xlib.Window)(), c_uint()
    xlib.XQueryTree(display, root, byref(xlib.Window()), byref(parent), byref(children), byref(count))
    for k in range(count.value):
        name = c_char_p()
        if xlib.XFetchName(display, children[k], byref(name)) and name.value == title.encode():
            return children[k]
    raise SystemExit(f"no window {title!r}")


def send_key(title):  # the space bar, pressed in the window
    event = xlib.XEvent()
    event.xkey.type, event.xkey.display, event.xkey.window = xlib.KeyPress, display, find(title)
    event.xkey.root, event.xkey.same_screen = root, 1
    event.xkey.keycode = xlib.XKeysymToKeycode(display, 0x20)
    xlib.XSendEvent(display, event.xkey.window, False, xlib.NoEventMask, byref(event))
    xlib.XFlush(display)


def send_close(title):  # the close button: the window manager sends WM_DELETE_WINDOW
    event = xlib.XEvent()
    event.xclient.type, event.xclient.display, event.xclient.window = xlib.ClientMessage, display, find(title)
    event.xclient.message_type = xlib.XInternAtom(display, b"WM_PROTOCOLS", False)
    event.xclient.format = 32
    event.xclient.data.l[0] = xlib.XInternAtom(display, b"WM_DELETE_WINDOW", False)
    xlib.XSendEvent(display, event.xclient.window, False, xlib.NoEventMask, byref(event))
    xlib.XFlush(display)


def play(window, frames=10):
    assert window.show(image)  # the window opens (not timed)
    start = time.perf_counter()
    assert all(window.show(image) for _ in range(frames))
    return time.perf_counter() - start


out = {}
with Window("video", fps=20) as window:  # 10 more frames at 20 fps: at least 10 gaps of 50 ms
    out["paced_s"] = play(window)
    window.fps = 10  # set later, as for a source opened after the window
    out["paced_later_s"] = play(window, 5)
with Window("webcam", fps=None) as window:
    out["unpaced_s"] = play(window)
with Window("held") as window:
    start = time.perf_counter()
    window.hold(30)  # nothing shown yet: nothing to hold
    out["hold_unshown_s"] = time.perf_counter() - start
    window.show(image)
    start = time.perf_counter()
    window.hold(timeout_s=0.3)
    out["hold_timeout_s"] = time.perf_counter() - start
    out["open_after_timeout"] = not window.closed and window.show(image)
    send_key("held")
    start = time.perf_counter()
    window.hold(timeout_s=30)
    out["hold_key_s"] = time.perf_counter() - start
    out["closed_by_key"] = window.closed and not window.show(image)
with Window("closing") as window:
    window.show(image)
    send_close("closing")
    start = time.perf_counter()
    window.hold()
    out["hold_close_s"] = time.perf_counter() - start
    out["closed_by_button"] = window.closed and not window.show(image)
print(json.dumps(out))
"""


def test_window_paces_a_video_and_holds_its_last_frame_on_a_display(tmp_path):
    """``Window(fps=...)`` shows frames no faster than the video was filmed (none for a webcam);
    ``hold()`` keeps the last frame up until a key or the close button, and not without a frame."""
    result = _run_on_a_virtual_display(tmp_path, PACING_SCRIPT)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.splitlines()[-1])
    assert out["paced_s"] >= 10 / 20 - 0.005 and out["paced_later_s"] >= 5 / 10 - 0.005
    assert out["unpaced_s"] < 0.45  # 10 small frames, shown as they come
    assert out["hold_unshown_s"] < 0.2
    assert 0.3 <= out["hold_timeout_s"] < 5 and out["open_after_timeout"]
    assert out["hold_key_s"] < 10 and out["closed_by_key"]  # well before its 30 s
    assert out["hold_close_s"] < 10 and out["closed_by_button"]  # no limit: only the button ends it


def test_window_fps_is_checked():
    from rigidpose.render.window import Window

    for fps in (0, -5, float("nan"), "fast", True):
        with pytest.raises(rp.InvalidInputError, match=r"fps: expected a positive number .* or None, got"):
            Window(fps=fps)


def test_window_without_a_display_says_so(monkeypatch):
    from rigidpose.render.window import Window

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(rp.InvalidInputError, match="needs a display"):
        Window()

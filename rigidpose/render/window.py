"""A desktop window that shows frames as they are drawn (pyglet, which pyrender brings along).

The OpenCV wheel we depend on is headless (no ``cv2.imshow``), so live views use pyglet.

``Window(title, fps=source.fps)`` shows a recording no faster than it was filmed (a webcam's
``fps`` is None: every frame at once); ``hold()`` keeps the last frame up at the end until the
user closes the window or presses a key.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any

import numpy as np

from .._validate import check_bgr8
from ..errors import BackendMissingError, InvalidInputError

__all__ = ["Window", "has_display"]

_POLL_S = 0.01  # how often a waiting window looks at its events (close button, keys)
_REDRAW_S = 0.5  # a held frame is drawn again this often, and whenever the window is uncovered or resized


def has_display() -> bool:
    """Whether a desktop window can open here (always on Windows and macOS; X11 or Wayland on Linux)."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _check_fps(fps: Any) -> float | None:
    if fps is None:
        return None
    try:
        value = float(fps)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(fps, bool) or not math.isfinite(value) or value <= 0:
        raise InvalidInputError(f"fps: expected a positive number of frames per second or None, got {fps!r}")
    return value


class Window:
    """Shows BGR frames in a window titled ``title``; closed by its close button, Esc or q.

    Args:
        title: the window's caption.
        fps: frames per second to show at most (a video's rate: ``FrameSource.fps``); ``show``
            waits, answering the window meanwhile, so frames come no faster than this. None (a
            webcam, which gives frames as they happen): no waiting. May be set later: ``window.fps``.
    """

    def __init__(self, title: str = "rigidpose", fps: float | None = None) -> None:
        self.fps = fps
        if not has_display():
            raise InvalidInputError(
                "--show needs a display (DISPLAY is not set); write a video with --out instead"
            )
        try:
            import pyglet
        except ImportError:
            raise BackendMissingError(
                "a window needs pyglet; install it with: pip install 'rigidpose[render]'"
            ) from None
        self._pyglet = pyglet
        self.title = title
        self._window: Any = None
        self._picture: Any = None  # the frame on show, drawn again while holding
        self._due: float | None = None  # perf_counter time when the next frame may be shown
        self._key_pressed = False
        self._stale = False  # the window needs drawing again (uncovered, resized)
        self.closed = False

    @property
    def fps(self) -> float | None:
        """Frames per second to show at most, or None for no pacing."""
        return self._fps

    @fps.setter
    def fps(self, fps: float | None) -> None:
        self._fps = _check_fps(fps)
        self._due = None

    def _open(self, width: int, height: int) -> None:
        pyglet = self._pyglet
        try:
            self._window = pyglet.window.Window(width, height, caption=self.title, resizable=True)
        except Exception as exc:
            raise InvalidInputError(
                f"cannot open a window ({exc}); write a video with --out instead"
            ) from None

        @self._window.event
        def on_close() -> None:
            self.closed = True

        @self._window.event
        def on_key_press(symbol: int, modifiers: int) -> bool:
            self._key_pressed = True
            if symbol in (pyglet.window.key.ESCAPE, pyglet.window.key.Q):
                self.closed = True
            return True  # pyglet's default would close on Esc by itself

        @self._window.event
        def on_expose() -> None:
            self._stale = True

        @self._window.event
        def on_resize(width: int, height: int) -> None:
            self._stale = True  # and pyglet's own handler sets the viewport

    def _poll(self) -> bool:
        """Handle the window's events; False once the user has closed it (then it is closed)."""
        self._window.switch_to()
        self._window.dispatch_events()
        if self.closed:
            self.close()
            return False
        return True

    def _draw(self) -> None:
        self._stale = False
        window = self._window
        window.clear()
        self._picture.blit(0, 0, width=window.width, height=window.height)
        window.flip()

    def show(self, image: np.ndarray) -> bool:
        """Show ``image`` (H, W, 3) BGR uint8, no sooner than ``1 / fps`` after the last frame;
        False once the user has closed the window."""
        check_bgr8(image, "image")
        if self.closed:
            return False
        height, width = image.shape[:2]
        if self._window is None:
            self._open(width, height)
        if not self._poll():
            return False
        while self._due is not None and time.perf_counter() < self._due:
            time.sleep(min(_POLL_S, max(0.0, self._due - time.perf_counter())))
            if not self._poll():
                return False
        data = np.ascontiguousarray(image).tobytes()
        # a negative pitch: the rows run top-down, as in the image
        self._picture = self._pyglet.image.ImageData(width, height, "BGR", data, pitch=-3 * width)
        self._draw()
        if self._fps is not None:
            now, period = time.perf_counter(), 1.0 / self._fps
            # keep the beat when a frame is a little late; start afresh when far behind
            self._due = now + period if self._due is None or now - self._due > period else self._due + period
        return True

    def hold(self, timeout_s: float | None = None) -> None:
        """Keep the last frame shown until the user closes the window, presses a key or Ctrl-C,
        or ``timeout_s`` seconds pass (None: no limit). Returns at once when no frame was shown
        or the window is closed already. The window stays open when the time runs out."""
        if timeout_s is not None:
            seconds = float(timeout_s) if isinstance(timeout_s, (int, float)) else math.nan
            if not seconds >= 0:
                raise InvalidInputError(f"timeout_s: expected seconds >= 0 or None, got {timeout_s!r}")
            timeout_s = seconds
        if self.closed or self._window is None or self._picture is None:
            return
        end = None if timeout_s is None else time.perf_counter() + timeout_s
        self._key_pressed = False
        drawn = time.perf_counter()
        try:
            while self._poll() and not self._key_pressed:
                now = time.perf_counter()
                if self._stale or now - drawn > _REDRAW_S:
                    self._draw()
                    drawn = now
                if end is not None and now >= end:
                    return
                time.sleep(_POLL_S)
        except KeyboardInterrupt:
            pass  # Ctrl-C in the terminal: the user is done looking
        self.close()

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None
        self._picture = None
        self.closed = True

    def __enter__(self) -> Window:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

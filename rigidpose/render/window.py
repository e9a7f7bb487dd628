"""A desktop window that shows frames as they are drawn (pyglet, which pyrender brings along).

The OpenCV wheel we depend on is headless (no ``cv2.imshow``), so live views use pyglet.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from ..errors import BackendMissingError, InvalidInputError

__all__ = ["Window", "has_display"]


def has_display() -> bool:
    """Whether a desktop window can open here (always on Windows and macOS; X11 or Wayland on Linux)."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class Window:
    """Shows BGR frames in a window titled ``title``; closed by its close button, Esc or q."""

    def __init__(self, title: str = "rigidpose") -> None:
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
        self.closed = False

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
            if symbol in (pyglet.window.key.ESCAPE, pyglet.window.key.Q):
                self.closed = True
            return True  # pyglet's default would close on Esc by itself

    def show(self, image: np.ndarray) -> bool:
        """Show ``image`` (H, W, 3) BGR uint8; False once the user has closed the window."""
        if self.closed:
            return False
        height, width = image.shape[:2]
        if self._window is None:
            self._open(width, height)
        window = self._window
        window.switch_to()
        window.dispatch_events()
        if self.closed:
            self.close()
            return False
        data = np.ascontiguousarray(image).tobytes()
        picture = self._pyglet.image.ImageData(width, height, "BGR", data, pitch=-3 * width)  # rows top-down
        window.clear()
        picture.blit(0, 0, width=window.width, height=window.height)
        window.flip()
        return True

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None
        self.closed = True

    def __enter__(self) -> Window:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

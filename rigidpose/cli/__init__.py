"""The ``rigidpose`` command line. It only calls the public API.

A user's mistake (a missing file, a bad camera file, a wrong choice) prints one line,
``rigidpose: error: ...``, and exits with status 1 (2 for a malformed command line); no traceback.

One module per command group, each command's arguments next to its handler: ``info``, ``target``
(from-image, register, from-mesh), ``train``, ``calibrate`` (board, calibrate), ``track`` (track,
render), ``handeye``, ``bench`` (synth, bench); ``app`` holds the top-level parser, ``main`` and the
one-line error handling, ``common`` what several groups share.
"""

from .app import build_parser, main
from .common import MESH_SUFFIXES

__all__ = ["MESH_SUFFIXES", "build_parser", "main"]

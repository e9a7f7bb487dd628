"""Errors raised by rigidpose.

Every error is a ``RigidPoseError`` and also a builtin, so callers can catch either:

- ``InvalidInputError`` (``ValueError``): an argument with the wrong shape, value or choice;
  ``InvalidTypeError`` (also a ``TypeError``) when it is of the wrong type altogether.
- ``FileFormatError`` (``ValueError``): a file that exists but does not hold what it should; the
  message starts with the file's path.
- ``SourceError`` (``OSError``): a file, folder or camera that cannot be opened or read.
- ``BackendMissingError`` (``ImportError``): an optional library is not installed; the message
  names the install command.

Expected failures (too few inliers, an object that is not in view) are values, not exceptions.
Messages are one line and say what was expected and what came.
"""

from __future__ import annotations

__all__ = [
    "BackendMissingError",
    "FileFormatError",
    "InvalidInputError",
    "InvalidTypeError",
    "RigidPoseError",
    "SourceError",
]


class RigidPoseError(Exception):
    """Base class of every error rigidpose raises on purpose."""


class InvalidInputError(RigidPoseError, ValueError):
    """An argument has the wrong shape, type, value or choice."""


class InvalidTypeError(InvalidInputError, TypeError):
    """An argument is of the wrong type (a file name where a loaded object belongs...)."""


class FileFormatError(RigidPoseError, ValueError):
    """A file exists but its content is not valid; the message names the file."""


class SourceError(RigidPoseError, OSError):
    """A file, folder or device cannot be opened or read."""


class BackendMissingError(RigidPoseError, ImportError):
    """An optional backend is not installed; the message says how to install it."""

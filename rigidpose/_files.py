"""Atomic file and folder writes (private): a reader never sees a half-written file."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import InvalidInputError


def current_umask() -> int:
    """The process's file-creation mask (reading it means setting it, so set it back)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix); on success it replaces ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes it private (0600); open() would not
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


@contextlib.contextmanager
def atomic_folder(
    path: str | os.PathLike[str], replaceable: Callable[[Path], bool], kind: str
) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on success it takes ``path``'s place.

    An existing folder at ``path`` is replaced only when it is empty or ``replaceable`` (one
    of ``kind``, e.g. "target folder", that rigidpose wrote), and only once the new one is
    complete; anything else there is refused with ``InvalidInputError`` before any work. On an
    exception the temporary folder is removed and ``path`` is left as it was.
    """
    path = Path(path).absolute()
    cwd = Path.cwd().resolve()
    if path.resolve() == cwd or cwd.is_relative_to(path.resolve()):
        raise InvalidInputError(f"{path}: the current folder or one that holds it; expected a new folder")
    if os.path.lexists(path) and not (path.is_dir() and (not any(path.iterdir()) or replaceable(path))):
        what = "a folder of other files" if path.is_dir() else "a file"
        raise InvalidInputError(f"{path}: {what}, not a {kind}; only a {kind} is replaced")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it private (0700); mkdir would not
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)

"""Where a command may write: checks that keep every output from destroying a user's file.

The command line checks each path it will write before it starts any work, with these rules:

- **Files.** A new path is fine. An existing file is replaced only when it is one rigidpose
  writes of that kind (``ours``: a pose file, a camera file, a board, a model...) or, for
  pictures and videos, has the suffix the command writes; otherwise the command refuses. A path
  that is a folder is refused. Devices and pipes (``/dev/stdout``, a named pipe) are written as
  they are.
- **Folders** a command makes whole (a target, a sequence) take a new path or an empty folder;
  one that already holds rigidpose's output of that kind is replaced only with ``force``;
  any other folder is refused, never emptied. Folders a command writes files into (a benchmark's
  report, point clouds) may also be ones that already hold its output.
- **Never an input.** An output that is also one of the command's inputs is refused.
- **Missing parent folders** are created when the output is written, not before; a parent that
  is a file, or a folder that cannot be written in, is refused up front.

Every refusal is one ``InvalidInputError`` or ``SourceError`` line that says what to do.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from .errors import InvalidInputError, SourceError

__all__ = [
    "check_output_file",
    "check_output_folder",
    "has_json_key",
    "holds_only",
    "is_camera_file",
    "is_pose_file",
    "is_sequence_folder",
    "is_target_folder",
]

Recogniser = Callable[[Path], bool]


def _exists(path: Path) -> bool:
    return os.path.lexists(path)


def _check_text(path: Path, what: str) -> None:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(
            f"{what}: the path {os.fsdecode(path)!r} is not valid UTF-8 (OpenCV cannot open such paths); "
            "rename it"
        ) from None


def _check_parent(path: Path, what: str) -> None:
    """The nearest existing ancestor of ``path`` is a folder this process can write in."""
    parent = path.absolute().parent
    while not _exists(parent):
        parent = parent.parent
    if not parent.is_dir():
        raise SourceError(f"{what}: cannot write {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SourceError(f"{what}: cannot write {path}: no permission to write in {parent}")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (_exists(a) and _exists(b) and os.path.samefile(a, b))
    except OSError:
        return False


def _check_not_input(path: Path, what: str, inputs: Iterable[str | os.PathLike[str] | None]) -> None:
    for source in inputs:
        if source is None or str(source) == "-" or str(source).isdigit():
            continue
        source = Path(source)
        if _same_file(path, source):
            raise InvalidInputError(f"{what}: {path} is also an input of this command; write elsewhere")


def check_output_file(
    path: str | os.PathLike[str],
    what: str,
    *,
    suffixes: tuple[str, ...] = (),
    ours: Recogniser | None = None,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
) -> Path:
    """``path`` as a ``Path`` when a command may write the file ``what`` there (rules above).

    Args:
        path: the file to write.
        what: the option or output's name for messages, e.g. ``"--poses"``.
        suffixes: the allowed suffixes (lower case, with the dot); empty allows any.
        ours: recognises an existing file of the kind this command writes; without it an
            existing regular file with an allowed suffix is replaced (pictures, videos).
        inputs: the command's input paths, which the output must not be.
    """
    path = Path(path)
    _check_text(path, what)
    if path.is_dir():
        raise InvalidInputError(f"{what}: {path} is a folder; expected a file path")
    if _exists(path) and not stat.S_ISREG(os.stat(path).st_mode):
        return path  # a device or a pipe: written as it is
    if suffixes and path.suffix.lower() not in suffixes:
        raise InvalidInputError(f"{what}: expected a {' or '.join(suffixes)} file, got {path.name!r}")
    _check_not_input(path, what, inputs)
    _check_parent(path, what)
    if path.is_file() and ours is not None and not ours(path):
        raise InvalidInputError(
            f"{what}: {path} exists and is not a file rigidpose wrote; remove it or choose another path"
        )
    if path.is_file() and not os.access(path, os.W_OK):
        raise SourceError(f"{what}: cannot replace {path}: no permission to write it")
    return path


def check_output_folder(
    path: str | os.PathLike[str],
    what: str,
    *,
    ours: Recogniser,
    kind: str,
    force: bool = False,
    replace: bool = True,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
) -> Path:
    """``path`` as a ``Path`` when a command may write the folder ``what`` there (rules above).

    Args:
        path: the folder.
        what: the option's name for messages, e.g. ``"--out"``.
        ours: recognises a folder holding this command's output.
        kind: what such a folder holds, for messages, e.g. ``"a target"``.
        force: with ``replace``, allow replacing a folder ``ours`` recognises.
        replace: the command replaces the folder whole (a target); False when it writes files
            into it (a report), which an existing folder of ours may take without ``force``.
        inputs: the command's input paths, which the output must not be.
    """
    path = Path(path)
    _check_text(path, what)
    resolved = path.resolve()
    if resolved == Path.cwd().resolve() or Path.cwd().resolve().is_relative_to(resolved):
        raise InvalidInputError(f"{what}: {path} is the current folder or holds it; name a new folder")
    if _exists(path) and not path.is_dir():
        raise InvalidInputError(f"{what}: {path} is a file; expected a folder path")
    _check_not_input(path, what, inputs)
    _check_parent(path / "x", what)
    if not path.is_dir() or not any(path.iterdir()):
        return path
    if not ours(path):
        raise InvalidInputError(
            f"{what}: {path} is a folder of other files; name a new or empty folder (nothing was written)"
        )
    if replace and not force:
        raise InvalidInputError(f"{what}: {path} holds {kind} already; add --force to replace it")
    return path


# -- recognisers: is this file or folder one rigidpose wrote? ------------------------------------
def is_target_folder(path: Path) -> bool:
    """A folder with a ``target.json`` of rigidpose's target format."""
    from .target import FORMAT_NAME

    return _json_key(path / "target.json", "format") == FORMAT_NAME


def is_sequence_folder(path: Path) -> bool:
    """A folder ``rigidpose synth`` wrote: ``sequence.json`` beside BOP's ``scene_gt.json``."""
    return (path / "sequence.json").is_file() and (path / "scene_gt.json").is_file()


def holds_only(*patterns: str) -> Recogniser:
    """A recogniser of folders whose entries all match one of the glob ``patterns`` (a
    benchmark's report, a run's point clouds)."""
    return lambda path: all(any(entry.match(p) for p in patterns) for entry in path.iterdir())


def is_pose_file(path: Path) -> bool:
    """An empty file, or one whose first line is a pose JSON line."""
    from .io import FramePoses

    try:
        with open(path, encoding="utf-8") as stream:
            first = stream.readline(1 << 20)
        return not first.strip() or FramePoses.from_json(json.loads(first)) is not None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def is_camera_file(path: Path) -> bool:
    """A file ``Camera.load`` reads."""
    from .camera import Camera
    from .errors import RigidPoseError

    try:
        Camera.load(path)
    except (RigidPoseError, OSError, ValueError):
        return False
    return True


def has_json_key(*keys: str) -> Recogniser:
    """A recogniser of JSON files holding one of ``keys`` at the top level."""
    return lambda path: any(_json_key(path, key) is not None for key in keys)


def _json_key(path: Path, key: str) -> object:
    try:
        if path.stat().st_size > 50_000_000:
            return None
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return content.get(key) if isinstance(content, dict) else None

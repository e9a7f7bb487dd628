"""The command line's frame: the top-level parser (each command group adds its own commands), the
help formatter, SIGTERM as an exception, and a user's mistake (or our bug) as one line."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

import rigidpose as rp

from . import bench, calibrate, handeye, info, target, track, train
from .common import Terminated


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help, with each option's default where it has one worth saying."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" not in text
            and default not in (None, False, argparse.SUPPRESS)
            and action.option_strings
            and action.nargs != 0
        ):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """An argument parser whose help (and its subcommands' help) shows the defaults."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rigidpose",
        description="Track the 6-DoF pose of known rigid objects in video and draw on them.",
    )
    parser.add_argument("--version", action="version", version=f"rigidpose {rp.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    info.add_parser(commands)
    target.add_parser(commands)
    train.add_parser(commands)
    calibrate.add_board_parser(commands)
    calibrate.add_calibrate_parser(commands)
    track.add_track_parser(commands)
    handeye.add_parser(commands)
    track.add_render_parser(commands)
    bench.add_synth_parser(commands)
    bench.add_bench_parser(commands)
    return parser


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def _one_line(exc: BaseException) -> str:
    """An unexpected OS or memory error as one line: the file, then what went wrong."""
    if isinstance(exc, MemoryError):
        return "out of memory (a smaller input, or fewer at once?)"
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        return f"{os.fsdecode(where)}: {exc.strerror}" if where else exc.strerror
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _silence_stdout() -> None:
    """After the reader of standard output went away: send the rest to /dev/null, so that
    Python's final flush does not fail again."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    try:
        return _run(parser, args)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="rigidpose: %(levelname)s: %(message)s",
    )
    import cv2

    # OpenCV's own log lines would repeat our one-line errors; keep them for --verbose
    cv2.utils.logging.setLogLevel(
        cv2.utils.logging.LOG_LEVEL_INFO if args.verbose else cv2.utils.logging.LOG_LEVEL_ERROR
    )
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    try:
        code = int(args.run(args) or 0)
        sys.stdout.flush()
        return code
    except rp.RigidPoseError as exc:
        print(f"rigidpose: error: {exc}", file=sys.stderr)
        return 1
    except Terminated:
        print("rigidpose: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("rigidpose: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()  # `rigidpose ... | head`: the reader has what it wanted
        return 0
    except (OSError, MemoryError) as exc:  # a full disk, a vanished folder...: one line, no traceback
        if args.verbose:
            logging.getLogger(__name__).exception("details")
        print(f"rigidpose: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug of ours: still one line, the details with -v
        if args.verbose:
            logging.getLogger(__name__).exception("details")
        print(
            f"rigidpose: error: unexpected {type(exc).__name__}: {_one_line(exc)} "
            "(a bug: run again with -v for the details, and please report it)",
            file=sys.stderr,
        )
        return 1

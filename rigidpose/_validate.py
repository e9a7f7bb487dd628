"""Input checks shared by the public entry points (private).

Messages follow the house style: ``points_obj: expected (N, 3), got (5, 2)``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import InvalidInputError, InvalidTypeError


def _shape_text(shape: Sequence[int | str]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def as_array(
    value: Any,
    name: str,
    shape: Sequence[int | str],
    dtype: type | np.dtype = np.float64,
    *,
    finite: bool = True,
    readonly: bool = False,
) -> np.ndarray:
    """``value`` as a C-contiguous array of ``dtype`` and ``shape``, or ``InvalidInputError``.

    ``shape`` holds ints for fixed sizes and strings (``"N"``) for free ones. With ``readonly``
    the result is a private copy that cannot be written to.
    """
    try:
        array = np.array(value, dtype=dtype, copy=True if readonly else None)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{name}: expected a numeric array of shape {_shape_text(shape)}, got {type(value).__name__}"
        ) from exc
    if array.ndim != len(shape) or any(
        isinstance(want, int) and got != want for got, want in zip(array.shape, shape)
    ):
        raise InvalidInputError(f"{name}: expected {_shape_text(shape)}, got {_shape_text(array.shape)}")
    if finite and np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise InvalidInputError(f"{name}: expected finite values, got NaN or inf")
    array = np.ascontiguousarray(array)
    if readonly:
        array.flags.writeable = False
    return array


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices``; otherwise an error that lists them."""
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise InvalidInputError(f"{name}: expected one of {valid}, got {value!r}")
    return value


def check_positive(value: Any, name: str) -> float:
    """``value`` as a float if it is finite and > 0."""
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name}: expected a positive number, got {value!r}") from exc
    if not np.isfinite(number) or number <= 0:
        raise InvalidInputError(f"{name}: expected a positive number, got {value!r}")
    return number


def check_bgr8(image: Any, name: str) -> np.ndarray:
    """``image`` when it is an (H, W, 3) uint8 array (a BGR picture); else InvalidInputError."""
    if not (
        isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    ):
        raise InvalidInputError(
            f"{name}: expected (H, W, 3) uint8 BGR, got "
            f"{getattr(image, 'shape', type(image).__name__)} {getattr(image, 'dtype', '')}".rstrip()
        )
    return image


def check_type(value: Any, name: str, expected: type, *, how: str = "") -> Any:
    """``value`` when it is an ``expected``; else ``InvalidTypeError`` naming ``name``, what
    came, and ``how`` to get the right thing (e.g. ``"rp.Camera.load(path)"``)."""
    if not isinstance(value, expected):
        shown = repr(value) if isinstance(value, (str, os.PathLike, int, float)) else ""
        got = f"{type(value).__name__} {shown}".strip() if value is not None else "None"
        raise InvalidTypeError(
            f"{name}: expected a {expected.__name__}, got {got[:80]}"
            + (f" (make one with {how})" if how else "")
        )
    return value


def _shown(value: Any) -> str:
    """``value`` as a message shows it: numpy scalars as the Python numbers they hold."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _bounds_text(gt: Any, ge: Any, lt: Any, le: Any) -> str:
    low = ("(", gt) if gt is not None else ("[", ge) if ge is not None else None
    high = (")", lt) if lt is not None else ("]", le) if le is not None else None
    if low and high:
        return f" in {low[0]}{low[1]:g}, {high[1]:g}{high[0]}"
    if low:
        return f" {'>' if low[0] == '(' else '>='} {low[1]:g}"
    if high:
        return f" {'<' if high[0] == ')' else '<='} {high[1]:g}"
    return ""


def check_int(
    value: Any, name: str, *, ge: int | None = None, le: int | None = None, expected: str = ""
) -> int:
    """``value`` when it is an integer (not a bool) in [``ge``, ``le``]; else ``InvalidInputError``
    such as ``depth_every: expected an integer >= 1, got 0``. ``expected`` replaces the bounds'
    text, e.g. for a bound set by another field: ``"an integer >= min_views (6)"``."""
    text = expected or "an integer" + _bounds_text(None, ge, None, le)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or (ge is not None and value < ge)
        or (le is not None and value > le)
    ):
        raise InvalidInputError(f"{name}: expected {text}, got {_shown(value)}")
    return int(value)


def check_number(
    value: Any,
    name: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    expected: str = "",
) -> float:
    """``value`` as a float when it is a real number (not NaN, not a bool) within the bounds
    (``gt`` >, ``ge`` >=, ``lt`` <, ``le`` <=); else ``InvalidInputError`` such as
    ``confidence: expected a number in (0, 1), got 1.5``. ``expected`` replaces the bounds' text."""
    text = expected or "a number" + _bounds_text(gt, ge, lt, le)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidInputError(f"{name}: expected {text}, got {_shown(value)}")
    number = float(value)
    if not (
        number == number
        and (gt is None or number > gt)
        and (ge is None or number >= ge)
        and (lt is None or number < lt)
        and (le is None or number <= le)
    ):
        raise InvalidInputError(f"{name}: expected {text}, got {_shown(value)}")
    return number

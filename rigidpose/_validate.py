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

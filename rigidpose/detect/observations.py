"""``Observations``: what every detector returns, 2D-3D matches of one target in one frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_array
from ..errors import InvalidInputError

__all__ = ["Observations"]


@dataclass(frozen=True, eq=False)
class Observations:
    """Points of one target seen in one frame.

    Attributes:
        target: the target's name.
        pixels: (N, 2) float32, where each point is seen (distorted image coordinates).
        points_obj: (N, 3) float64, metres, object frame: which point of the target it is.
        scores: (N,) float32 in [0, 1], how sure the detector is of each match.
    """

    target: str
    pixels: np.ndarray
    points_obj: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        pixels = as_array(self.pixels, "pixels", ("N", 2), np.float32, readonly=True)
        points = as_array(self.points_obj, "points_obj", ("N", 3), readonly=True)
        scores = as_array(self.scores, "scores", ("N",), np.float32, readonly=True)
        if not len(pixels) == len(points) == len(scores):
            raise InvalidInputError(
                f"observations: expected as many pixels, points_obj and scores, got {len(pixels)}, {len(points)}, {len(scores)}"
            )
        object.__setattr__(self, "pixels", pixels)
        object.__setattr__(self, "points_obj", points)
        object.__setattr__(self, "scores", scores)

    @classmethod
    def empty(cls, target: str) -> Observations:
        """No observation of ``target`` (instead of None)."""
        return cls(target, np.zeros((0, 2)), np.zeros((0, 3)), np.zeros(0))

    def __len__(self) -> int:
        return len(self.pixels)

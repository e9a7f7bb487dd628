"""Ground-truth sequences rendered from targets (pyrender offscreen) with realism knobs."""

from .sequence import SequenceOptions, render_sequence
from .trajectory import TrajectoryOptions

__all__ = ["SequenceOptions", "TrajectoryOptions", "render_sequence"]

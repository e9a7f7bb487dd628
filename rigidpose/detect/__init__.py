"""Detectors: find a target's known points in a frame. Every detector returns ``Observations``."""

from .features import FEATURE_KINDS, FeatureDetector, FeatureOptions, extract_features
from .observations import Observations

__all__ = ["FEATURE_KINDS", "FeatureDetector", "FeatureOptions", "Observations", "extract_features"]

"""Evaluation: pose metrics (pure functions), baselines and the benchmark runner."""

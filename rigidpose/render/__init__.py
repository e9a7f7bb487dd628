"""Overlay drawing. ``render.gl`` is the only module where OpenGL's conventions exist."""

"""Figures: fifos (to be written)."""

__all__: list = []

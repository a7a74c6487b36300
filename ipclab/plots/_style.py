"""Figures: _style (to be written)."""

__all__: list = []

"""Figures: pipes (to be written)."""

__all__: list = []

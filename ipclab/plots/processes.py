"""Figures: processes (to be written)."""

__all__: list = []

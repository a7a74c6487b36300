"""Figures: shm (to be written)."""

__all__: list = []

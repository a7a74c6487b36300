"""Predictions made before an experiment, compared with what it measured (never raises)."""

from __future__ import annotations

import numbers
from typing import Any

__all__ = ["compare_prediction", "agrees"]


def _n(x: Any) -> str:
    return f"{x:,}" if isinstance(x, int) and not isinstance(x, bool) else repr(x)


def compare_prediction(
    name: str, predicted: Any, measured: Any, unit: str = "", tolerance: float = 0.0
) -> None:
    """Print a learner's prediction next to the measurement, and whether they agree
    (see :func:`agrees`).

    Numbers agree within ``tolerance`` (relative: 0.1 is 10 %; 0 by default, for exact
    kernel facts); anything else must be equal. Never raises on a wrong prediction:
    predictions are for thinking, exercises are for checking.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {name!r}")
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, numbers.Real)
        or not 0 <= tolerance <= 10
    ):
        raise ValueError(f"tolerance must be a number from 0 to 10, got {tolerance!r}")
    unit = f" {unit}" if unit else ""
    if predicted is ... or predicted is None:
        print(f"{name}: no prediction made — measured {_n(measured)}{unit}.")
        return
    verdict = (
        "as predicted"
        if agrees(predicted, measured, tolerance)
        else "not what you predicted — why?"
    )
    print(f"{name}: predicted {_n(predicted)}{unit}, measured {_n(measured)}{unit}: {verdict}")


def agrees(predicted: Any, measured: Any, tolerance: float = 0.0) -> bool:
    """True if a prediction matches a measurement: numbers within ``tolerance`` (relative),
    anything else equal. ``...`` and None (no prediction) never agree."""
    if predicted is ... or predicted is None:
        return False
    if (
        isinstance(predicted, numbers.Real)
        and isinstance(measured, numbers.Real)
        and not isinstance(predicted, bool)
        and not isinstance(measured, bool)
    ):
        return abs(float(predicted) - float(measured)) <= tolerance * abs(float(measured))
    return type(predicted) is type(measured) and predicted == measured

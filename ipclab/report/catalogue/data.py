"""What a section of the report hands back: figures, a caption, a table, the records."""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["SectionData"]


class SectionData(NamedTuple):
    """One section's measurement, drawn: the runner saves the figures and writes the rest."""

    #: ``(file base name, matplotlib Figure)`` for every figure, in page order.
    figures: list
    #: What the figures show, in a sentence or two.
    caption: str
    #: Column headings of the table beside the first figure (``("", "")``: none shown).
    columns: tuple
    #: Rows of that table, already formatted for people.
    rows: list
    #: The experiment's own records (named tuples), written to report.json.
    records: Any

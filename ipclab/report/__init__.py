"""Every course figure from one command: ``python -m ipclab report --out DIR [--quick]``.

Runs the course's experiments with sensible default sizes — only through the measurement
modules' public functions — and writes, into ``DIR``:

- ``NAME.png`` and ``NAME.svg`` for every figure;
- ``index.html``: one self-contained page (figures embedded as base64 SVG), the machine's
  facts at the top (kernel, CPU, pipe limits), each figure's numbers in a table beside it;
- ``report.json``: every number measured, with units in the field names.

A section whose experiment fails is written as "failed" (with the error) and the rest of the
report goes on. ``quick`` shrinks every experiment so the whole report takes about 20–30 s on
two cores. Figures are drawn off screen (Agg), without pyplot.

Parts: :mod:`.catalogue` (what each section measures and draws), :mod:`.runner` (running
the sections, progress, errors, the JSON) and :mod:`.page` (the HTML).
"""

from __future__ import annotations

from .catalogue import SECTIONS, SectionData, section_keys
from .runner import ReportResult, Section, build_report

__all__ = ["Section", "SectionData", "ReportResult", "SECTIONS", "section_keys", "build_report"]

"""Controls that re-run a course experiment with the learner's own parameters.

Each function returns an ``ipywidgets`` box: the controls, a **Run** button and an output
area. The experiment runs when the button is pressed and again whenever a control changes
(sliders on release; a slider's number can also be typed into); ``run_now=True`` also runs
it once straight away (the default only for experiments that need no child process: they
take milliseconds). The experiment runs through the same ``ipclab`` function the notebook
calls — in a helper process, with a deadline — and its result is printed (and plotted where
a picture helps) in the output area, replacing the previous one.

The kernel's stop button stops a run: the output area says so in one line, and the runs
queued behind it (a double click, a slider moved several steps) are dropped, not run.

Widgets never measure or fork themselves: they call the measurement functions. Importing
this package does not import ipywidgets; each function does.

Under ``pytest --nbval`` there is no widget front end: mark widget cells
``# NBVAL_IGNORE_OUTPUT``.
The parts: :mod:`~ipclab.widgets.box` (the explorer box, its controls and the stop
button), :mod:`~ipclab.widgets.shell` (reading a typed pipeline) and
:mod:`~ipclab.widgets.chapters` (the course's explorers).
"""

from .box import DROPPED_LINE as DROPPED_LINE
from .box import QUEUED_AFTER_STOP_S as QUEUED_AFTER_STOP_S
from .box import SLIDER_HINT as SLIDER_HINT
from .box import explorer
from .chapters import (
    atomicity_explorer,
    broken_pipe_explorer,
    conversation_explorer,
    cow_explorer,
    fifo_open_explorer,
    fill_explorer,
    fill_level_explorer,
    fork_explorer,
    load_explorer,
    pipeline_explorer,
    race_explorer,
    resize_explorer,
    speedup_explorer,
    throughput_explorer,
)

__all__ = [
    "explorer",
    "fork_explorer",
    "cow_explorer",
    "speedup_explorer",
    "pipeline_explorer",
    "conversation_explorer",
    "fill_explorer",
    "resize_explorer",
    "fill_level_explorer",
    "broken_pipe_explorer",
    "fifo_open_explorer",
    "atomicity_explorer",
    "race_explorer",
    "throughput_explorer",
    "load_explorer",
]

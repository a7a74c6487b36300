"""Figures for the course, one module per topic.

Plotting never measures or forks: each function takes the named results an experiment
returned (or yielded) and returns a matplotlib Figure. Importing this package changes no
global setting; :func:`style` does, when called.
"""

from ._style import *
from .fds import *
from .fifos import *
from .lifecycle import *
from .mappings import *
from .multiplexing import *
from .pipes import *
from .processes import *
from .shm import *
from .sockets import *
from .throughput import *
from .web import *

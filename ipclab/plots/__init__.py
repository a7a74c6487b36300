"""Figures for the course, one module per topic.

Plotting never measures or forks: each function takes the named results an experiment
returned (or yielded) and returns a matplotlib Figure. Importing this package changes no
global setting; :func:`style` does, when called.
"""

from ._style import *  # noqa: F401,F403
from .processes import *  # noqa: F401,F403
from .pipes import *  # noqa: F401,F403
from .fifos import *  # noqa: F401,F403
from .shm import *  # noqa: F401,F403
from .throughput import *  # noqa: F401,F403
from .web import *  # noqa: F401,F403
from .fds import *  # noqa: F401,F403
from .multiplexing import *  # noqa: F401,F403
from .lifecycle import *  # noqa: F401,F403
from .sockets import *  # noqa: F401,F403
from .mappings import *  # noqa: F401,F403

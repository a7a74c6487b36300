"""Named pipes (FIFOs): unrelated processes, blocking open, many writers, client/server.

A FIFO is a pipe with a name in the file system: any process that knows the path can open
it, so two programs that share no ancestor's file descriptors can talk. Every FIFO here
lives in a private 0700 directory (:func:`ipclab._resources.private_dir`) that is removed
with everything in it when the experiment ends, also on an interrupt.

Experiments between unrelated processes start ``python -m ipclab.fifo_peer`` programs
(:func:`ipclab.process.start_program`: fork + exec, own session, deadline); the others fork
through :mod:`ipclab.process`, inside a helper process when the caller is a Jupyter kernel.

The parts, by what they measure: :mod:`._unrelated` (programs that share only a path: an
exchange, a client/server), :mod:`._opening` (blocking and non-blocking ``open()``),
:mod:`._many_writers` (``PIPE_BUF`` atomicity, a tear forced step by step). Import every
name from here: ``ipclab.fifos.blocking_open``.
"""

from ..atomicity import AtomicityResult
from ._many_writers import ForcedTearResult, fifo_atomicity, forced_tear
from ._opening import BlockingOpenResult, NonblockingOpenResult, blocking_open, nonblocking_open
from ._unrelated import (
    ClientReply,
    ClientServerResult,
    ExchangeResult,
    client_server,
    unrelated_exchange,
)

__all__ = [
    "ExchangeResult",
    "unrelated_exchange",
    "BlockingOpenResult",
    "blocking_open",
    "NonblockingOpenResult",
    "nonblocking_open",
    "AtomicityResult",
    "fifo_atomicity",
    "ForcedTearResult",
    "forced_tear",
    "ClientReply",
    "ClientServerResult",
    "client_server",
]

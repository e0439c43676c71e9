"""The ``vllm-vertex`` console script: Ctrl-C is quiet from its first statement, while the CLI is still importing.

``vllm_vertex.cli`` imports click and every command module (0.1–0.3 s on a loaded machine) before
``EntryGroup.main`` can turn Ctrl-C into exit 130; a Ctrl-C in that window used to print a ``KeyboardInterrupt``
traceback. This module imports only the standard library, so its handler is in place at once; ``EntryGroup.main``
puts Python's own handler back as it starts (commands catch ``KeyboardInterrupt`` themselves: the probe keeps
its levels, ``submit --wait`` offers to cancel). Python's start-up before this module is the only window left.
"""

from __future__ import annotations

import signal
import sys

__all__ = ["restore_interrupts", "run"]

INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def _while_starting(signum, frame):
    """SIGINT before the CLI runs: one line and exit 130 (``SystemExit`` unwinds the imports, no traceback)."""
    sys.stderr.write("interrupted (Ctrl-C)\n")
    raise SystemExit(INTERRUPTED)


def restore_interrupts() -> None:
    """Python's ``KeyboardInterrupt`` again, if ``run`` replaced it (``EntryGroup.main`` calls this first)."""
    if signal.getsignal(signal.SIGINT) is _while_starting:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def run():
    """Entry point of the ``vllm-vertex`` script (``[project.scripts]``)."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when ignored (a background job)
        signal.signal(signal.SIGINT, _while_starting)
    from vllm_vertex.cli import main

    return main()

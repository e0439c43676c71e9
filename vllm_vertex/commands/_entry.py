"""How the ``vllm-vertex`` process starts and ends: Ctrl-C, a closed pipe, ``--debug`` anywhere.

- Ctrl-C (SIGINT) ends any command with exit code 130 (128 + SIGINT, as shells report it) and one line on stderr,
  also while the CLI is still importing (the console script's handler, ``vllm_vertex.console``); commands that
  can keep what they did so far (the probe's measured levels, ``submit --wait``'s offer to cancel) catch
  ``KeyboardInterrupt`` themselves first.
- A reader that closes the pipe early (``vllm-vertex plan ... | head -1``) is not an error: the rest of the output
  goes nowhere, quietly, and the command ends with its own exit code.
- ``--debug`` is accepted before or after the subcommand (``vllm-vertex plan --debug ...``).
"""

from __future__ import annotations

import os
import sys

import click

from vllm_vertex.commands._common import MaskingGroup
from vllm_vertex.console import INTERRUPTED, restore_interrupts

__all__ = ["EntryGroup", "INTERRUPTED", "hoist_debug"]


def hoist_debug(args: list[str]) -> list[str]:
    """``args`` with every ``--debug`` (before a ``--``) moved to the front, where the group's option is."""
    end = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:end] if a == "--debug"]
    if not flags:
        return args
    return ["--debug", *[a for a in args[:end] if a != "--debug"], *args[end:]]


class _PipeSafe:
    """A text stream whose reader may go away: the first ``BrokenPipeError`` sends the rest to /dev/null."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self.reader_gone = False

    def _gone(self) -> None:
        self.reader_gone = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())  # what is still buffered, and Python's last flush, land there
            os.close(devnull)
        except (OSError, ValueError):
            pass

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._gone()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._gone()

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _pipe_safe_stdout() -> None:
    if sys.stdout is not None and not isinstance(sys.stdout, _PipeSafe) and hasattr(sys.stdout, "fileno"):
        try:
            sys.stdout.fileno()
        except (OSError, ValueError):  # not a real file (a test's capture): nothing to protect
            return
        sys.stdout = _PipeSafe(sys.stdout)


class EntryGroup(MaskingGroup):
    """The top-level group: ``MaskingGroup`` plus Ctrl-C → 130, quiet closed pipes and ``--debug`` anywhere."""

    def main(self, args=None, *rest, standalone_mode: bool = True, **kwargs):
        """Runs the CLI and exits with the command's code (130 on Ctrl-C)."""
        if args is None:
            args = sys.argv[1:]
        args = hoist_debug(list(args))
        if not standalone_mode:
            return super().main(args, *rest, standalone_mode=False, **kwargs)
        try:
            restore_interrupts()  # the console script's start-up handler (``vllm_vertex.console``) ends here
            _pipe_safe_stdout()
            try:
                result = super().main(args, *rest, standalone_mode=False, **kwargs)
            except click.ClickException as err:  # already masked by MaskingGroup
                err.show()
                sys.exit(err.exit_code)
            except click.exceptions.Abort as err:
                if isinstance(err.__cause__, KeyboardInterrupt) or isinstance(err.__context__, KeyboardInterrupt):
                    raise KeyboardInterrupt from None
                click.echo("Aborted!", err=True)
                sys.exit(1)
            except click.exceptions.Exit as err:
                sys.exit(err.exit_code)
            sys.exit(result if type(result) is int else 0)
        except KeyboardInterrupt:
            try:
                click.echo("interrupted (Ctrl-C)", err=True)
            except Exception:  # noqa: BLE001 - stderr gone too: the exit code still says it
                pass
            sys.exit(INTERRUPTED)

"""SIGTERM and SIGHUP end a run as Ctrl-C does: KILLED, with its checkpoint kept for `--resume`.

Schedulers (Slurm, Kubernetes, systemd) and closed terminals stop a job with SIGTERM or SIGHUP, which
would otherwise kill the process before it can end its MLflow run, leaving it RUNNING. Raising
:class:`Terminated` (a ``KeyboardInterrupt``) lets the same code paths that handle Ctrl-C end it.
"""
from __future__ import annotations

import contextlib
import signal
from typing import Any, Iterator

# Not every platform has SIGHUP (Windows).
CAUGHT = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Terminated(KeyboardInterrupt):
    """The process got ``signum``; ``str()`` is the signal's name, e.g. ``SIGTERM``."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # the shell's convention for "ended by signal N"


def interruption(exc: KeyboardInterrupt) -> str:
    """What interrupted a run, for its end tag and the user: ``Ctrl-C`` or the signal's name."""
    return str(exc) if isinstance(exc, Terminated) else "Ctrl-C"


def _raise(signum: int, frame: Any) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def _handled(signums: tuple[int, ...], handler: Any) -> Iterator[None]:
    """Within the block ``handler`` handles ``signums``; the previous handlers come back after.

    Only in the main thread (where Python runs signal handlers); elsewhere the block runs unchanged.
    """
    try:
        previous = {s: signal.signal(s, handler) for s in signums}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for s, before in previous.items():
            signal.signal(s, before)


def signals_as_interrupts() -> contextlib.AbstractContextManager[None]:
    """Within the block SIGTERM and SIGHUP raise :class:`Terminated`; the previous handlers come back after."""
    return _handled(CAUGHT, _raise)


def signals_ignored() -> contextlib.AbstractContextManager[None]:
    """Within the block SIGINT, SIGTERM and SIGHUP do nothing: a cleanup that must not be cut short by a second
    Ctrl-C (stopping a server's whole process group)."""
    return _handled((signal.SIGINT, *CAUGHT), lambda signum, frame: None)

"""What every `hsframe` command shares: the error exit and the parsing of common arguments.

Kept apart from hsframe/cli/__init__.py, which imports the command modules, so they can import this.
"""
from __future__ import annotations

import contextlib
import sys
import traceback
from typing import Iterator, NoReturn

from rich.console import Console
from rich.markup import escape

from hsframe.errors import HsframeError

err_console = Console(stderr=True)


def fail(message: str) -> NoReturn:
    """One readable message, no traceback, exit code 2. Escaped: messages quote shapes and options
    that rich would otherwise read as markup."""
    err_console.print(f"[bold red]Error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(HsframeError.exit_code)


@contextlib.contextmanager
def training_boundary(interrupted: str, crashed: str) -> Iterator[None]:
    """How `run` and `sweep` end on anything but success, the same way for both.

    Inside, SIGTERM and SIGHUP raise as Ctrl-C does. A problem with the input is one line and exit 2;
    an interruption names itself (``Interrupted (SIGTERM): <interrupted>``), exit 130 or 128 + the
    signal; any other exception prints its traceback, then ``crashed``, exit 1.
    """
    from hsframe.signals import interruption, signals_as_interrupts

    try:
        with signals_as_interrupts():
            yield
    except HsframeError as exc:
        fail(str(exc))
    except KeyboardInterrupt as exc:
        err_console.print(f"Interrupted ({interruption(exc)}): {interrupted}", highlight=False)
        sys.exit(getattr(exc, "exit_code", 130))
    except Exception:
        err_console.print(traceback.format_exc(), highlight=False, markup=False)
        err_console.print(crashed)
        sys.exit(1)


def parse_input(text: str, example: str = "1,30,25,25") -> tuple[int, int, int, int]:
    """``"1,30,25,25"`` -> ``(C, D, H, W)``; anything else is an HsframeError saying what is expected."""
    expected = f"--input takes four positive integers C,D,H,W (channels, depth or bands, height, width), e.g. {example}"
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        raise HsframeError(f"{expected}; got '{text}' ({len(parts)} value{'s' if len(parts) != 1 else ''})")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise HsframeError(f"{expected}; got '{text}'") from None
    bad = [f"{n}={v}" for n, v in zip("CDHW", values) if v < 1]
    if bad:
        raise HsframeError(f"{expected}; got '{text}' ({', '.join(bad)} is not positive)")
    return values  # type: ignore[return-value]


def plugins_reporting_problems():
    """The process-wide plugins; each plugin that failed to load is one warning on stderr."""
    from hsframe.plugins import get_plugins

    plugins = get_plugins()
    for problem in plugins.problems:
        err_console.print(f"[yellow]Warning:[/] {escape(str(problem))}", highlight=False, soft_wrap=True)
    return plugins

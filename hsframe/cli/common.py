"""What every `hsframe` command shares: one error boundary, the checks of output paths and the parsing
of common arguments.

Kept apart from hsframe/cli/__init__.py, which imports the command modules, so they can import this.
"""
from __future__ import annotations

import contextlib
import os
import sys
import traceback
from typing import Any, Callable, Iterator, NoReturn

import click
from rich.console import Console
from rich.markup import escape

from hsframe.errors import HsframeError, ended_run, folded_warnings, held_warnings

err_console = Console(stderr=True)

DEBUG_ENV = "HSFRAME_DEBUG"
# What a command says after "Interrupted (Ctrl-C):" or below a crash's traceback, given the id of the
# MLflow run the exception ended (None: it came before any run was opened).
Ending = Callable[[str | None], str]


def fail(message: str) -> NoReturn:
    """One readable message, no traceback, exit code 2. Escaped: messages quote shapes and options
    that rich would otherwise read as markup."""
    err_console.print(f"[bold red]Error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(HsframeError.exit_code)


def debugging() -> bool:
    """``HSFRAME_DEBUG=1``: every error shows its full traceback, bad input included."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _input_problem(exc: Exception, command: str) -> str | None:
    """An exception of reading a file or name the user gave, as one line; None for anything else (a bug).

    The last resort: the code that reads an input converts its failures into an HsframeError naming it.
    """
    warned = held_warnings(exc)
    tail = f" (warning: {'; '.join(warned)})" if warned else ""
    if isinstance(exc, OSError) and exc.filename is not None:
        return (f"cannot use {exc.filename}: {exc.strerror or exc}; check that the path exists and that you may read "
                f"(or write) it{tail}")
    if isinstance(exc, (UnicodeError, OSError)) or isinstance(exc, _reading_errors()):
        return (f"`{command}` could not read one of its inputs ({type(exc).__name__}: {_gist(exc)}); check the files, "
                f"run ids and store given to it: one may be truncated, corrupt or not what its name says. "
                f"{DEBUG_ENV}=1 shows where it failed{tail}")
    return None


def _gist(exc: Exception) -> str:
    """The first sentence of a library's message: the rest is often advice for its own API (torch's
    "re-run with weights_only=False" is not advice for a user's tampered file)."""
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "(no message)")
    first, dot, _ = text.partition(". ")
    text = first + "." if dot and len(text) > 120 else text
    return text if len(text) <= 200 else text[:197] + "..."


def _reading_errors() -> tuple[type[BaseException], ...]:
    """Libraries' errors for unreadable files, of those libraries already imported (none is imported for this)."""
    import pickle

    found: list[type[BaseException]] = [pickle.UnpicklingError]
    for module, name in (("yaml", "YAMLError"), ("mlflow.exceptions", "MlflowException"), ("safetensors", "SafetensorError")):
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            found.append(cls)
    return tuple(found)


@contextlib.contextmanager
def error_boundary(command: str, interrupted: Ending | None = None, crashed: Ending | None = None,
                   hold_warnings: bool = True) -> Iterator[None]:
    """How every command ends on anything but success.

    A problem with the input (an HsframeError, or a library's error reading a file before any run was
    opened) is one line and exit 2. Ctrl-C, and SIGTERM / SIGHUP where ``interrupted`` is given (run,
    sweep: their runs end KILLED), print ``Interrupted (SIGTERM): <interrupted>``, exit 130 or 128 + the
    signal. Any other exception prints its traceback, then ``crashed``, exit 1. ``HSFRAME_DEBUG=1``
    prints the traceback of every error. ``hold_warnings``: the command's warnings are shown when it
    ends, and end the error's line if it fails (:func:`hsframe.errors.folded_warnings`); False for
    long-running commands (run, sweep), whose warnings come as they happen and whose readers fold their own.
    """
    from hsframe.signals import interruption, signals_as_interrupts

    try:
        with (signals_as_interrupts() if interrupted is not None else contextlib.nullcontext(),
              folded_warnings() if hold_warnings else contextlib.nullcontext()):
            yield
    except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        raise  # click's own: usage errors and --help end as click ends them
    except HsframeError as exc:
        _debug_traceback()
        run = ended_run(exc)
        fail(str(exc) + (f" (MLflow run {run} was marked FAILED)" if run else ""))
    except KeyboardInterrupt as exc:
        _debug_traceback()
        what = interrupted(ended_run(exc)) if interrupted is not None else "stopped."
        err_console.print(f"Interrupted ({interruption(exc)}): {what}", highlight=False)
        sys.exit(getattr(exc, "exit_code", 130))
    except Exception as exc:
        run = ended_run(exc)
        problem = None if run else _input_problem(exc, command)
        if problem is not None:
            _debug_traceback()
            fail(problem)
        err_console.print(traceback.format_exc(), highlight=False, markup=False)
        err_console.print(crashed(run) if crashed is not None else
                          f"[bold red]`{escape(command)}` crashed[/]: an error hsframe did not expect; please report it "
                          "with the traceback above.", highlight=False)
        sys.exit(1)


def _debug_traceback() -> None:
    """With HSFRAME_DEBUG, the traceback of the error being handled, with the library error it replaced."""
    exc = sys.exc_info()[1]  # sys.exception() is 3.11+
    if debugging() and exc is not None:
        exc.__suppress_context__ = False  # `raise HsframeError(...) from None` hides the cause a developer wants
        err_console.print("".join(traceback.format_exception(exc)), highlight=False, markup=False)


def check_text_params(command: click.Command, ctx: click.Context) -> None:
    """Every text argument is UTF-8: MLflow stores names and paths as UTF-8 and fails on the undecodable bytes
    of a file name (which Python holds as surrogates) only once the run is recording."""
    for param in command.params:
        value = ctx.params.get(param.name or "")
        for text in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(text, (str, os.PathLike)) and not _is_utf8(os.fspath(text)):
                name = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
                shown = _shown(os.fspath(text))
                rename = f", e.g. mv $'{shown}' NEW_NAME" if os.path.lexists(text) else ""
                raise HsframeError(f"{name} $'{shown}' is not UTF-8 text (hsframe records names and paths in MLflow as UTF-8); "
                                   f"rename the file or folder to a UTF-8 name{rename}")


def _is_utf8(text: str | bytes) -> bool:
    try:
        text.encode("utf-8") if isinstance(text, str) else text.decode("utf-8")
    except UnicodeError:
        return False
    return True


def _shown(text: str) -> str:
    r"""A name with undecodable bytes as a shell's $'...' writes them: ``\xff\xfe.npy``."""
    try:
        raw = os.fsencode(text)
    except UnicodeError:  # a lone surrogate that no byte gave
        return text.encode("utf-8", "backslashreplace").decode("ascii")
    return raw.decode("utf-8", "backslashreplace")


class Command(click.Command):
    """A command inside :func:`error_boundary`, its text arguments checked (:func:`check_text_params`) first.

    ``interrupted`` / ``crashed``: what `run` and `sweep` say about their runs when interrupted or crashed;
    ``hold_warnings`` as for :func:`error_boundary`.
    """

    def __init__(self, *args: Any, interrupted: Ending | None = None, crashed: Ending | None = None,
                 hold_warnings: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.interrupted, self.crashed, self.hold_warnings = interrupted, crashed, hold_warnings

    def invoke(self, ctx: click.Context) -> Any:
        with error_boundary(ctx.command_path, self.interrupted, self.crashed, self.hold_warnings):
            check_text_params(self, ctx)
            return super().invoke(ctx)


class Group(click.Group):
    """A command group inside :func:`error_boundary`, like its commands and subgroups."""

    command_class = Command
    group_class = type  # subgroups are Groups too

    def invoke(self, ctx: click.Context) -> Any:
        with error_boundary(ctx.command_path, hold_warnings=False):  # its commands hold theirs
            check_text_params(self, ctx)
            return super().invoke(ctx)


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

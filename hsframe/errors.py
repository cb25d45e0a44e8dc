"""Errors that the CLI turns into one readable message and exit code 2, and the means to make them."""
from __future__ import annotations

import contextlib
import logging
import warnings
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:  # imported everywhere: only config and catalog need pydantic, and they import it themselves
    from pydantic import ValidationError


class HsframeError(Exception):
    """A problem with the user's input: printed without a traceback, exit code 2."""

    exit_code = 2


# The attribute an exception carries once it has ended an MLflow run (hsframe.tracking.tracked_run):
# only then does the CLI say the run was marked FAILED or KILLED.
_RUN_ATTR = "hsframe_run_id"


def mark_run(exc: BaseException, run_id: str) -> None:
    """Record on ``exc`` that it ended run ``run_id``; the innermost run (a seed's, not its parent's) is kept."""
    if getattr(exc, _RUN_ATTR, None) is None:
        with contextlib.suppress(AttributeError, TypeError):  # exceptions with __slots__ cannot carry it
            setattr(exc, _RUN_ATTR, run_id)


def ended_run(exc: BaseException) -> str | None:
    """The id of the run ``exc`` ended, or None when it was raised before any run was opened."""
    return getattr(exc, _RUN_ATTR, None)


class _Held(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# The attribute an exception carries with the warnings held while it was raised (folded_warnings).
_WARNINGS_ATTR = "hsframe_warnings"


@contextlib.contextmanager
def folded_warnings() -> Iterator[None]:
    """Around the reading of an input: the warnings libraries print while reading it (``warnings``, or
    logging as tifffile does) are held. An HsframeError raised inside ends with them, ``(warning: ...)``,
    so the user reads one line, not a warning above an error; any other exception carries them
    (:func:`held_warnings`, and as notes of its traceback). Without an error they are shown as usual."""
    held = _Held()
    root = logging.getLogger()
    root.addHandler(held)  # with a root handler, Python's last-resort print of a library's warning stays quiet
    try:
        with warnings.catch_warnings(record=True) as caught:  # the user's filters still apply
            try:
                yield
            except Exception as exc:
                notes = [f"{w.category.__name__}: {w.message}" for w in caught] + [r.getMessage() for r in held.records]
                caught.clear()
                held.records.clear()
                _fold(exc, [one_line(n, 200) for n in notes])
                raise
    finally:
        root.removeHandler(held)
        for w in caught:  # no error (or an interruption): the warnings are the user's to see
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        for record in held.records:
            logging.getLogger(record.name).handle(record)  # replayed through its logger's handlers, as it would have been


def _fold(exc: Exception, notes: list[str]) -> None:
    if not notes:
        return
    if isinstance(exc, HsframeError):
        exc.args = (f"{exc} (warning: {'; '.join(notes)})", *exc.args[1:])
        return
    with contextlib.suppress(AttributeError, TypeError):
        setattr(exc, _WARNINGS_ATTR, held_warnings(exc) + notes)
    for note in notes if hasattr(exc, "add_note") else ():  # Python 3.11+: shown below its traceback
        exc.add_note(f"warning: {note}")


def held_warnings(exc: BaseException) -> list[str]:
    """The warnings held while ``exc`` was raised (one line each), for a message that ends with them."""
    return list(getattr(exc, _WARNINGS_ATTR, []))


def one_line(text: object, limit: int = 300) -> str:
    """A library's message (or any text) on one line, cut to ``limit`` characters: some span several."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validation_message(exc: ValidationError, where: str | None = None, prefix: str = "") -> str:
    """A pydantic ValidationError as one readable message, one line per error.

    Without ``where`` the errors are config keys: ``prefix`` + their dotted location, with the value given,
    e.g. ``config key 'split.block_size': Input should be a valid integer (got 'x')``; several go under
    ``invalid configuration:``. With ``where`` (e.g. ``"dataset card tiny.yaml"``) they are fields of that file,
    listed under ``{where} is invalid:`` as ``- field 'files[0].md5': ...``, without pydantic's "Value error, ".
    """
    lines = []
    for err in exc.errors():
        if where is None:
            key = prefix + ".".join(str(p) for p in err["loc"])
            got = err.get("input")
            got_text = "" if isinstance(got, dict) else f" (got {got!r})"  # a whole section is too long to repeat
            lines.append(f"config key '{key}': {err['msg']}{got_text}")
        else:
            loc = prefix + ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in err["loc"]).replace(".[", "[")
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"- field '{loc}': {msg}" if loc else f"- {msg}")
    if where is not None:
        return f"{where} is invalid:\n  " + "\n  ".join(lines)
    return "invalid configuration:\n  " + "\n  ".join(lines) if len(lines) > 1 else lines[0]

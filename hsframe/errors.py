"""Errors that the CLI turns into one readable message and exit code 2."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported everywhere: only config and catalog need pydantic, and they import it themselves
    from pydantic import ValidationError


class HsframeError(Exception):
    """A problem with the user's input: printed without a traceback, exit code 2."""

    exit_code = 2


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

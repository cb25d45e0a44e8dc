"""Errors that the CLI turns into one readable message and exit code 2."""


class HsframeError(Exception):
    """A problem with the user's input: printed without a traceback, exit code 2."""

    exit_code = 2

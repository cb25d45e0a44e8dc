"""Which registered format a file is, the suffixes the formats claim, and a file's name without them.

The formats are looked up at call time in ``hsframe.plugins.get_plugins().formats`` (through the
module attribute, so a test can swap the plugins), so a plugin's format is detected like a built-in.
"""
from __future__ import annotations

from pathlib import Path

from hsframe import plugins as _plugins  # plugins.py imports this package only inside load_plugins: no cycle
from hsframe.data.io.base import HEAD_BYTES, FileFormat
from hsframe.errors import HsframeError


def registered_formats() -> list[FileFormat]:
    """Every registered format, in registration order (built-ins first): the order detection asks them in."""
    return list(_plugins.get_plugins().formats.values())


def supported_suffixes() -> tuple[str, ...]:
    """Every suffix some registered format claims, once each, in registration order."""
    return tuple(dict.fromkeys(s for fmt in registered_formats() for s in fmt.suffixes))


def detect_format(path: Path) -> FileFormat:
    """The format of ``path``: one that claims the path, else the first whose sniffing recognises
    the content, else the first that lists the file's suffix.

    Raises:
        HsframeError: the file is missing, a directory or unreadable, or no format takes it.
    """
    if not path.exists():
        raise HsframeError(f"file not found: {path} (working directory {Path.cwd()}). Check the path.")
    if path.is_dir():
        raise HsframeError(f"{path} is a directory; give the path of a data file in it.")
    formats = registered_formats()
    for fmt in formats:
        if fmt.claims(path):
            return fmt
    try:
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
        for fmt in formats:
            if fmt.sniff(path, head):
                return fmt
    except OSError as exc:
        raise HsframeError(f"cannot read {path}: {exc.strerror or exc}. Check the file's permissions.") from None
    name = path.name.lower()
    for fmt in formats:
        if any(name.endswith(s) for s in fmt.suffixes):
            return fmt  # signature damaged or absent: let that reader report it
    raise HsframeError(
        f"unsupported file type {path.suffix.lower() or '(no suffix)'!r}: {path}. "
        f"Supported: {', '.join(supported_suffixes())} (ENVI images need their .hdr beside them). "
        "Convert the file to one of these, or install a plugin that reads it."
    )


def stem(path: Path, extra: tuple[str, ...] = ()) -> str:
    """The file name without its data suffixes (registered ones, and ``extra``): ``samson_1.img.hdr`` -> ``samson_1``.

    A name with no such suffix is kept whole, and a name is never stripped to nothing.
    """
    suffixes = sorted({s.lower() for s in (*supported_suffixes(), *extra)}, key=len, reverse=True)  # ".nii.gz" before ".gz"
    name = path.name
    while cut := next((s for s in suffixes if name.lower().endswith(s) and len(name) > len(s)), None):
        name = name[: -len(cut)]
    return name

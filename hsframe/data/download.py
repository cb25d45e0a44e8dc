"""Download a dataset card's files: progress bar, resume, checksum verification, clear failures.

* Each file is fetched into ``<file>.part`` next to its final place; an interrupted download is
  resumed with an HTTP ``Range`` request (a server that ignores it is answered by starting over).
* When complete, the file is checked against every checksum the card gives (md5, sha256, git
  blob SHA-1, size). Only a file that passes is renamed into place; a file that fails is moved
  aside to ``<file>.bad`` and never used.
* A file already in place is verified instead of fetched again (``force=True`` re-downloads it).
* Every failure is an :class:`~hsframe.errors.HsframeError` that lists the URLs tried and the
  folder where the files can be put by hand (``$HSFRAME_DATA``).

Only the standard library's urllib is used: no extra dependency, and it honours the usual
``HTTP(S)_PROXY`` variables.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from hsframe.errors import HsframeError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from hsframe.data.catalog import DatasetCard, FileEntry

CHUNK = 1 << 20
TIMEOUT_S = 60.0


class DownloadError(HsframeError):
    """No URL of a file could be fetched."""


class ChecksumError(HsframeError):
    """A fetched or present file does not match the card's checksums."""


@dataclass
class FileResult:
    """What happened to one file: ``downloaded``, ``verified`` (present and matching) or ``present``
    (present, but the card has no checksum to check it against)."""

    name: str
    path: Path
    status: str
    url: str | None = None
    set_aside: Path | None = None  # a present file that failed verification, moved here first


# --------------------------------------------------------------------------- checksums


def git_blob_sha1(path: str | os.PathLike) -> str:
    """``git hash-object FILE``: SHA-1 of ``b"blob <size>\\0"`` followed by the content."""
    return file_checksums(path, ("git_sha1",))["git_sha1"]


def file_checksums(path: str | os.PathLike, kinds: Iterable[str] = ("md5", "sha256", "git_sha1")) -> dict[str, str]:
    """The requested checksums of a file, computed in one pass over it."""
    path = Path(path)
    hashers = {}
    for kind in kinds:
        if kind == "md5":
            hashers[kind] = hashlib.md5(usedforsecurity=False)
        elif kind == "sha256":
            hashers[kind] = hashlib.sha256()
        elif kind == "git_sha1":
            h = hashlib.sha1(usedforsecurity=False)
            h.update(b"blob %d\0" % path.stat().st_size)  # git's object header
            hashers[kind] = h
        else:
            raise ValueError(f"unknown checksum kind {kind!r}")
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            for h in hashers.values():
                h.update(block)
    return {k: h.hexdigest() for k, h in hashers.items()}


def verify_file(path: Path, entry: "FileEntry") -> list[str]:
    """Mismatches of ``path`` against the entry's size and checksums, as readable lines (empty: OK)."""
    problems = []
    size = path.stat().st_size
    if entry.size is not None and size != entry.size:
        problems.append(f"size: expected {entry.size} bytes, got {size}")
    expected = entry.checksums
    if expected:
        got = file_checksums(path, expected)
        problems += [f"{k}: expected {v}, got {got[k]}" for k, v in expected.items() if got[k] != v]
    return problems


def _has_check(entry: "FileEntry") -> bool:
    return bool(entry.checksums) or entry.size is not None


# --------------------------------------------------------------------------- fetching


class _Incomplete(OSError):
    """The connection ended before the announced length: worth resuming later."""


def _user_agent() -> str:
    from hsframe import __version__

    return f"hsframe/{__version__} (dataset download; Python urllib)"


def _content_range_start(value: str | None) -> int | None:
    m = re.match(r"bytes\s+(\d+)-\d+/(\d+|\*)", value or "")
    return int(m.group(1)) if m else None


def _fetch(url: str, part: Path, progress: "Progress | None", task: int | None, timeout: float) -> None:
    """Fetch ``url`` into ``part``, resuming from its current size when the server allows."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": _user_agent()}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            # Nothing left to send: the .part is probably complete; verification decides.
            return
        raise
    with response:
        status = getattr(response, "status", None)
        length = response.headers.get("Content-Length")
        remaining = int(length) if length and length.isdigit() else None
        if offset and status == 206 and _content_range_start(response.headers.get("Content-Range")) == offset:
            mode = "ab"
        else:
            mode, offset = "wb", 0  # the server ignored the Range request: start over
        total = offset + remaining if remaining is not None else None
        if progress is not None and task is not None:
            progress.update(task, total=total, completed=offset)
        written = 0
        try:
            fh = part.open(mode)
        except OSError as exc:
            raise HsframeError(f"cannot write {part}: {exc}. Set HSFRAME_DATA to a writable folder with free space.") from None
        with fh:
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                try:
                    fh.write(block)
                except OSError as exc:
                    raise HsframeError(
                        f"cannot write {part}: {exc}. Free some space or set HSFRAME_DATA to another folder; "
                        "the download resumes from the partial file."
                    ) from None
                written += len(block)
                if progress is not None and task is not None:
                    progress.advance(task, len(block))
        if remaining is not None and written < remaining:
            raise _Incomplete(f"connection closed after {offset + written} of {total} bytes")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        return f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else str(reason)
    return f"{type(exc).__name__}: {exc}"


def download_file(
    entry: "FileEntry",
    folder: Path,
    *,
    force: bool = False,
    progress: "Progress | None" = None,
    timeout: float = TIMEOUT_S,
    dataset: str = "",
) -> FileResult:
    """Make ``folder/entry.name`` present and verified, downloading it if needed.

    Raises:
        DownloadError: every URL failed (the partial file is kept for a later resume).
        ChecksumError: the downloaded file does not match; it is moved to ``<name>.bad``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / entry.name
    part = folder / (entry.name + ".part")
    bad = folder / (entry.name + ".bad")
    label = f"{dataset}/{entry.name}" if dataset else entry.name
    set_aside = None

    if target.is_file() and (not force or not entry.urls):
        if not _has_check(entry):
            return FileResult(entry.name, target, "present")
        mismatches = verify_file(target, entry)
        if not mismatches:
            return FileResult(entry.name, target, "verified")
        # A damaged or different file must never be loaded: set it aside (and fetch a fresh copy).
        os.replace(target, bad)
        set_aside = bad
        if not entry.urls:
            raise ChecksumError(
                f"{target} failed verification:\n" + "\n".join(f"  - {m}" for m in mismatches)
                + f"\nIt was moved aside to {bad} and will not be used. Get the file again (see "
                f"`hsframe datasets info {dataset or '<name>'}`) and put it in {folder}/."
            )
    if force and part.exists():
        part.unlink()  # --force means from scratch, not a resume of an old partial file
    if not entry.urls:
        raise DownloadError(f"{entry.name} has no download URL; put it in {folder}/ by hand.")

    errors: list[str] = []
    used = None
    task = progress.add_task(label, total=entry.size) if progress is not None else None
    for url in entry.urls:
        try:
            _fetch(url, part, progress, task, timeout)
        except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError, timeouts, resets
            errors.append(f"{url}: {_describe(exc)}")
            continue
        used = url
        break
    if used is None:
        kept = f" The partial file {part} is kept; the next download resumes it." if part.exists() and part.stat().st_size else ""
        raise DownloadError(
            f"could not download {entry.name}" + (f" for dataset '{dataset}'" if dataset else "") + ":\n"
            + "\n".join(f"  - {e}" for e in errors)
            + f"\nCheck the internet connection (or proxy settings: HTTPS_PROXY), then run the download again.{kept}"
        )

    mismatches = verify_file(part, entry)
    if mismatches:
        os.replace(part, bad)
        raise ChecksumError(
            f"{entry.name} from {used} failed verification:\n"
            + "\n".join(f"  - {m}" for m in mismatches)
            + f"\nThe file was moved aside to {bad} and will not be used. Run the download again; if it "
            "fails the same way the published file has changed: check the dataset's source page and update "
            "the card's checksums."
        )
    os.replace(part, target)
    return FileResult(entry.name, target, "downloaded", used, set_aside)


def _manual_files_message(card: "DatasetCard", folder: Path, files: list["FileEntry"], why: str) -> str:
    lines = [why, "Download these files by hand and put them in " f"{folder}/ :"]
    for f in files:
        lines.append(f"  - {f.name}" + (f": {', '.join(f.urls)}" if f.urls else ""))
    lines.append(
        f"The data folder is {folder.parent} (set HSFRAME_DATA to use another); then run "
        f"`hsframe datasets download {card.name}` to verify them."
    )
    return "\n".join(lines)


def download_dataset(
    card: "DatasetCard",
    *,
    force: bool = False,
    root: Path | None = None,
    console: "Console | None" = None,
    timeout: float = TIMEOUT_S,
) -> list[FileResult]:
    """Download (or verify) every file of a card into ``dataset_dir(card)``.

    Manual-download cards are only verified: when files are missing the error says where to get
    them and where to put them.
    """
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from hsframe.data.catalog import dataset_dir, missing_files, missing_message

    folder = dataset_dir(card, root)
    if card.manual_download:
        missing = missing_files(card, root)
        if missing:
            raise HsframeError(missing_message(card, missing, root))

    results: list[FileResult] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        for entry in card.files:
            try:
                results.append(download_file(entry, folder, force=force, progress=progress, timeout=timeout, dataset=card.name))
            except DownloadError as exc:
                todo = [f for f in card.files if f.name not in {r.name for r in results}]
                raise DownloadError(
                    f"{exc}\n\n" + _manual_files_message(card, folder, todo, "Or get the files another way:")
                ) from None
    return results

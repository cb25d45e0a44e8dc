"""Download a dataset card's files: progress bar, resume, checksum verification, clear failures.

* Each file is fetched into ``<file>.part`` next to its final place; an interrupted download is
  resumed with an HTTP ``Range`` request (a server that ignores it is answered by starting over).
* When complete, the file is checked against every checksum the card gives (md5, sha256, git
  blob SHA-1, size). Only a file that passes is renamed into place; a file that fails is moved
  aside to ``<file>.bad`` and never used.
* A file whose card gives no checksum (a size alone does not count) is trusted on first use: its
  sha256 is recorded in ``<dataset folder>/hsframe-checksums.json`` (:data:`LOCK_NAME`) when it is
  first downloaded or found, and from then on every download and every check must match it. The lock
  lives beside the files it describes: it belongs to that copy of the data (each ``$HSFRAME_DATA`` has
  its own), and the card's folder may be read-only (site-packages) and shared by many data folders.
* Only https:// is fetched, and a redirect may not lead elsewhere; http:// only for a file whose card
  entry says ``allow_insecure: true``, with a warning each time.
* A file already in place is verified instead of fetched again (``force=True`` re-downloads it).
* Every failure is an :class:`~hsframe.errors.HsframeError` that lists the URLs tried and the
  folder where the files can be put by hand (``$HSFRAME_DATA``).

Only the standard library's urllib is used: no extra dependency, and it honours the usual
``HTTP(S)_PROXY`` variables.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import sys
import urllib.error
import urllib.parse
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
# In each dataset's folder: the sha256 of every file whose card gives no checksum, recorded on first use.
LOCK_NAME = "hsframe-checksums.json"


class DownloadError(HsframeError):
    """No URL of a file could be fetched."""


class ChecksumError(HsframeError):
    """A fetched or present file does not match the card's checksums."""


@dataclass
class FileResult:
    """What happened to one file: ``downloaded`` or ``verified`` (present and matching the card's checksums,
    or the sha256 in the lock file when the card gives none)."""

    name: str
    path: Path
    status: str
    url: str | None = None
    set_aside: Path | None = None  # a present file that failed verification, moved here first
    recorded: Path | None = None  # the lock file its sha256 was just recorded in (first use)


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


# --------------------------------------------------------------------------- the lock file (trust on first use)


def lock_path(folder: Path) -> Path:
    return folder / LOCK_NAME


def read_lock(folder: Path) -> dict[str, dict[str, object]]:
    """File name -> ``{"sha256", "size", "url"}`` recorded for the dataset in ``folder`` (empty: none yet)."""
    path = lock_path(folder)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise HsframeError(f"cannot read {path}: {exc}. Delete it to record the checksums again on the next download.") from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, dict) and isinstance(v.get("sha256"), str) for v in files.values()):
        raise HsframeError(f"{path} is not an hsframe checksum lock ({{\"files\": {{name: {{\"sha256\": ...}}}}}}). "
                           "Delete it to record the checksums again on the next download.")
    return files


def _record(folder: Path, name: str, sha256: str, size: int, url: str | None) -> Path:
    """Add one file's sha256 to the lock, written whole to a temporary file and renamed (never half-written).
    Read and rewritten under a file lock: two downloads into one folder must not drop each other's entry."""
    from hsframe.stores import file_lock

    path = lock_path(folder)
    with file_lock(path.with_name(path.name + ".lock"), f"the checksum lock {path}"):
        files = read_lock(folder)
        files.setdefault(name, {"sha256": sha256, "size": size, "url": url})  # a first record is never replaced
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"files": dict(sorted(files.items()))}, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    return path


def _lock_mismatch(path: Path, entry: "FileEntry", folder: Path, dataset: str) -> str | None:
    """For a file without card checksums: one line when its sha256 differs from the recorded one, else None."""
    if entry.checksums:
        return None
    expected = read_lock(folder).get(entry.name, {}).get("sha256")
    if expected is None:
        return None
    got = file_checksums(path, ("sha256",))["sha256"]
    if got == expected:
        return None
    lock = lock_path(folder)
    return (f"{dataset + '/' if dataset else ''}{entry.name}: sha256 expected {expected} (recorded in {lock} on first "
            f"download), got {got}. If the upstream file changed on purpose, accept the new one by deleting the "
            f"entry \"{entry.name}\" from {lock} and downloading again.")


# --------------------------------------------------------------------------- fetching


class _Incomplete(OSError):
    """The connection ended before the announced length: worth resuming later."""


def _user_agent() -> str:
    from hsframe import __version__

    return f"hsframe/{__version__} (dataset download; Python urllib)"


def _content_range_start(value: str | None) -> int | None:
    m = re.match(r"bytes\s+(\d+)-\d+/(\d+|\*)", value or "")
    return int(m.group(1)) if m else None


class _NoDowngrade(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to https:// (or http:// when the file allows insecure URLs): urllib would
    otherwise follow an https:// URL to http:// or ftp:// without a word."""

    def __init__(self, allow_http: bool) -> None:
        self.allow_http = allow_http

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme != "https" and not (scheme == "http" and self.allow_http):
            raise urllib.error.URLError(f"redirect to {newurl} refused: only https:// is followed")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _fetch(url: str, part: Path, progress: "Progress | None", task: int | None, timeout: float, allow_http: bool = False) -> None:
    """Fetch ``url`` into ``part``, resuming from its current size when the server allows."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": _user_agent()}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    opener = urllib.request.build_opener(_NoDowngrade(allow_http))
    try:
        response = opener.open(urllib.request.Request(url, headers=headers), timeout=timeout)
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


def _warn(progress: "Progress | None", message: str) -> None:
    if progress is not None:
        progress.console.print(f"[yellow]Warning:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    else:
        print(f"Warning: {message}", file=sys.stderr)


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

    A file without card checksums is checked against the sha256 recorded in the folder's lock file
    (:data:`LOCK_NAME`); the first time, its sha256 is recorded there.

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
        mismatches = verify_file(target, entry)
        if not mismatches and (changed := _lock_mismatch(target, entry, folder, dataset)):
            mismatches = [changed]
        if not mismatches:
            return FileResult(entry.name, target, "verified", recorded=_record_first_use(target, entry, folder, None))
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
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        if scheme != "https" and not (scheme == "http" and entry.allow_insecure):  # an entry built without validation
            errors.append(f"{url}: refused, only https:// is downloaded (http:// needs allow_insecure: true on the file)")
            continue
        if scheme == "http":
            _warn(progress, f"{label}: fetching over plain http:// ({url}), allowed by allow_insecure in the card; "
                            "anyone on the network path could alter it, only its checksum guards it.")
        try:
            _fetch(url, part, progress, task, timeout, allow_http=entry.allow_insecure)
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
    changed = _lock_mismatch(part, entry, folder, dataset)
    if changed:
        os.replace(part, bad)
        raise ChecksumError(f"{changed} (The download from {used} was moved aside to {bad} and will not be used.)")
    os.replace(part, target)
    return FileResult(entry.name, target, "downloaded", used, set_aside, _record_first_use(target, entry, folder, used))


def _record_first_use(path: Path, entry: "FileEntry", folder: Path, url: str | None) -> Path | None:
    """Record the sha256 of a file the card gives no checksum for, unless it is recorded already."""
    if entry.checksums or entry.name in read_lock(folder):
        return None
    return _record(folder, entry.name, file_checksums(path, ("sha256",))["sha256"], path.stat().st_size, url)


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

"""Lists of tiles: CSV files of (image, labels) pairs, as tile sets publish their train / validation / test splits.

A list is a CSV with a header row naming its columns: ``image`` (the image file) and ``mask`` or
``labels`` (its label file), paths relative to the CSV's folder (e.g. EnMAP Potsdam's
``train_files.csv``: ``image,mask`` / ``images/tile_192_96.tif,labels/tile_192_96.tif``). Any other
column is refused, so a CSV of another meaning is never half-read.
"""
from __future__ import annotations

import csv
from pathlib import Path

from hsframe.errors import HsframeError

IMAGE_COLUMN = "image"
LABEL_COLUMNS = ("mask", "labels")
KNOWN_COLUMNS = (IMAGE_COLUMN, *LABEL_COLUMNS)


def read_pairs_csv(path: str | Path) -> list[tuple[Path, Path | None]]:
    """The ``(image, labels)`` paths a tile-list CSV names, resolved against the CSV's folder (labels None without a label column)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise HsframeError(f"tile list {path} not found; give an existing CSV file with columns image,mask") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HsframeError(f"cannot read tile list {path}: {exc}") from None
    if not rows:
        raise HsframeError(f"tile list {path} is empty; it needs a header row image,mask and one row per tile")
    header = [c.strip().lower() for c in rows[0]]
    unknown = [c for c in header if c not in KNOWN_COLUMNS]
    if unknown:
        raise HsframeError(f"tile list {path} has an unknown column '{unknown[0]}' (columns: {','.join(rows[0])}); "
                           f"a tile list has the columns {IMAGE_COLUMN} and mask (or labels)")
    if IMAGE_COLUMN not in header:
        raise HsframeError(f"tile list {path} has no '{IMAGE_COLUMN}' column (columns: {','.join(rows[0])}); "
                           "a tile list has the columns image and mask (or labels)")
    if sum(c in LABEL_COLUMNS for c in header) > 1:
        raise HsframeError(f"tile list {path} has both a mask and a labels column; keep one")
    i_img = header.index(IMAGE_COLUMN)
    i_lab = next((header.index(c) for c in LABEL_COLUMNS if c in header), None)
    pairs: list[tuple[Path, Path | None]] = []
    for n, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise HsframeError(f"tile list {path}, line {n}: {len(row)} values for the {len(header)} columns {','.join(rows[0])}")
        image = path.parent / row[i_img].strip()
        pairs.append((image, path.parent / row[i_lab].strip() if i_lab is not None else None))
    if not pairs:
        raise HsframeError(f"tile list {path} lists no tile; add one row per tile under the header")
    return pairs


def tile_names(entries: str | list[str], option: str) -> list[str]:
    """The tile file names a split option gives: a CSV of the tile list (its image column), or a list of names or paths."""
    if isinstance(entries, str):
        if Path(entries).suffix.lower() != ".csv":  # one tile named on its own: --set split.test_files=t4.tif
            return [Path(entries).name]
        return [image.name for image, _ in read_pairs_csv(entries)]
    if not entries:
        raise HsframeError(f"{option} is an empty list; name the tiles (image file names) or give a tile-list CSV")
    return [Path(e).name for e in entries]

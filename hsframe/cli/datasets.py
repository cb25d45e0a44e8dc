"""`hsframe datasets ...`: list, describe and download the datasets described by dataset cards.

Kept free of torch and of the plugin manager, so these commands start fast. Errors are printed as
one message with exit code 2 (hsframe.cli.common.error_boundary).
"""
from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hsframe.cli.common import Group, err_console


def _status(card, root=None) -> str:
    from hsframe.data.catalog import missing_files

    missing = len(missing_files(card, root))
    if missing == 0:
        return "yes"
    if missing < len(card.files):
        return f"partial ({len(card.files) - missing}/{len(card.files)})"
    return "no (manual)" if card.manual_download else "no"


@click.group("datasets", cls=Group)
def datasets() -> None:
    """List, describe and download real datasets (one YAML dataset card each).

    Files go to $HSFRAME_DATA/<name>/ (default ~/.cache/hsframe/datasets); extra card folders can
    be added with $HSFRAME_CARDS.
    """


@datasets.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable: one object per dataset.")
def list_cmd(as_json: bool) -> None:
    """Every dataset card: name, title, shape, classes and whether its files are here."""
    from hsframe.data.catalog import data_dir, scan_cards

    cards, problems = scan_cards()
    if as_json:
        out = [
            {"name": c.name, "title": c.title, "kind": c.kind, "shape": list(c.shape), "classes": c.num_classes,
             "downloaded": _status(c) == "yes", "manual_download": c.manual_download,
             "folder": str(data_dir() / c.folder_name)}
            for c in cards.values()
        ]
        click.echo(json.dumps({"datasets": out, "errors": problems}, indent=2))
        return
    console = Console()
    table = Table(title="hsframe datasets")
    table.add_column("name", no_wrap=True)
    table.add_column("title")
    table.add_column("kind", no_wrap=True)
    table.add_column("shape", justify="right", no_wrap=True)
    table.add_column("classes", justify="right")
    table.add_column("downloaded", no_wrap=True)
    for card in sorted(cards.values(), key=lambda c: c.name):
        status = _status(card)
        style = "green" if status == "yes" else "yellow" if status.startswith("partial") else ""
        table.add_row(card.name, card.title, card.kind, card.shape_text, str(card.num_classes),
                      Text(status, style=style))
    console.print(table)
    console.print(f"Data folder: {data_dir()} (set HSFRAME_DATA to change it). "
                  "Details: `hsframe datasets info NAME`; get one: `hsframe datasets download NAME`.",
                  highlight=False, soft_wrap=True)
    for problem in problems:
        err_console.print(Text("Warning: ", style="yellow") + Text(problem), highlight=False, soft_wrap=True)


@datasets.command("info")
@click.argument("name")
def info_cmd(name: str) -> None:
    """Everything a card says about one dataset, and where its files go."""
    from hsframe.data.catalog import dataset_dir, get_card
    from hsframe.data.download import LOCK_NAME

    card = get_card(name)
    console = Console()
    folder = dataset_dir(card)
    console.print(f"[bold]{card.name}[/]: {card.title}", highlight=False)
    console.print(" ".join(card.description.split()), highlight=False, soft_wrap=True)
    # Plain lines, not a table: URLs, paths and checksums must stay whole to be copied.
    if card.kind == "sequence":
        t, h, w, c = card.loaded_shape
        shape = f"{t} frames of {h} x {w} pixels, {c} channel{'s' if c != 1 else ''}"
    elif card.kind == "volume":
        c, d, h, w = card.loaded_shape
        shape = f"{d} x {h} x {w} voxels, {c} channel{'s' if c != 1 else ''}"
    else:
        h, w, b = card.shape
        shape = f"{h} x {w} pixels, {b} bands"
    facts: list[tuple[str, str]] = [("kind", card.kind), ("shape", shape)]
    if card.sensor:
        facts.append(("sensor", card.sensor))
    if card.wavelength_range_nm:
        facts.append(("wavelengths", f"{card.wavelength_range_nm[0]:g}-{card.wavelength_range_nm[1]:g} nm"))
    if card.cube is not None:
        facts.append(("cube", f"{card.cube.file}" + (f" key {card.cube.key}" if card.cube.key else "")
                      + f", layout {card.cube.layout}" + (f", scale {card.cube.scale:g}" if card.cube.scale else "")))
    if card.data is not None:
        facts.append(("data", f"{card.data.file}" + (f" key {card.data.key}" if card.data.key else "")
                      + (f", scale {card.data.scale:g}" if card.data.scale else "")))
    if card.tiles is not None:
        t = card.tiles
        facts.append(("tiles", ", ".join(f"{k} {v}" for k, v in t.lists.items())
                      + (f"; nodata {t.nodata:g}" if t.nodata is not None else "") + (f"; scale {t.scale:g}" if t.scale else "")
                      + (f"; band statistics {t.band_stats}" if t.band_stats else "")))
    if card.labels is not None:
        lab = f"{card.labels.file}" + (f" key {card.labels.key}" if card.labels.key else "")
        if card.labels.encoding == "abundances":
            thr = card.labels.purity_threshold
            lab += f", argmax of abundances (purity threshold {thr if thr is not None else 'none'})"
        if card.labels.remap is not None:
            pairs = ", ".join(f"{k}->{v}" for k, v in card.labels.remap.items())
            lab += f", stored values remapped {pairs} (others unlabeled)"
        if card.labels.zero_label == "class":
            facts.append(("labels", lab + f"; stored 0 is class 1 ({card.class_names[0]}), ids shifted by 1"))
        else:
            facts.append(("labels", lab + f"; {card.ignored_label} = unlabeled"))
    if card.timestamps:
        facts.append(("timestamps", card.timestamps))
    if card.rgb_bands is not None:
        facts.append(("rgb bands", ", ".join(map(str, card.rgb_bands)) + " (0-based)"))
    if card.defaults:
        facts.append(("defaults", ", ".join(f"{k}={v}" for k, v in card.defaults.items())))
    facts.append(("source", card.source))
    facts.append(("license", " ".join(card.license.split())))
    facts.append(("card", str(card.path) if card.path else "(built in code)"))
    facts.append(("folder", f"{folder} (downloaded: {_status(card)})"))
    for key, value in facts:
        console.print(Text(f"{key:<12}", style="bold") + Text(value), soft_wrap=True)

    classes = Table(title=f"{card.num_classes} classes", title_justify="left")
    classes.add_column("id", justify="right")
    classes.add_column("name")
    classes.add_column("colour")
    for i, (cname, rgb) in enumerate(zip(card.class_names, card.palette), start=1):
        r, g, bl = rgb
        classes.add_row(str(i), cname, Text("   ", style=f"on rgb({r},{g},{bl})") + Text(f" {r},{g},{bl}"))
    console.print(classes)

    console.print(Text("Files", style="bold"))
    for f in card.files:
        here = "here" if (folder / f.name).is_file() else "missing"
        console.print(Text(f"  {f.name} ({here})"), soft_wrap=True)
        for url in f.urls or ["(manual download)"]:
            console.print(Text(f"    {'url':<8} {url}"), soft_wrap=True)
        for kind, value in f.checksums.items():
            console.print(Text(f"    {kind:<8} {value}"), soft_wrap=True)
        if f.size is not None:
            console.print(Text(f"    {'size':<8} {f.size} bytes"), soft_wrap=True)
        if not f.checksums:
            console.print(Text(f"    (no published checksum: the first download's sha256 is recorded in {folder}/{LOCK_NAME} "
                               "and later downloads must match it)"), soft_wrap=True)
    if card.manual_download:
        console.print(f"[bold]Manual download:[/] {' '.join((card.download_instructions or '').split())}",
                      highlight=False, soft_wrap=True)
    console.print("[bold]Citation:[/]", highlight=False)
    console.print(card.citation.rstrip(), highlight=False, markup=False, soft_wrap=True)
    if card.notes:
        console.print(f"[bold]Notes:[/] {' '.join(card.notes.split())}", highlight=False, soft_wrap=True)
    if card.manual_download:
        console.print(f"Put the files in {folder}/ then check them with `hsframe datasets download {card.name}`.",
                      highlight=False, soft_wrap=True)
    else:
        console.print(f"Get it: `hsframe datasets download {card.name}` (into {folder}/).", highlight=False,
                      soft_wrap=True)


@datasets.command("download", hold_warnings=False)  # long: its warnings come as they happen
@click.argument("name")
@click.option("--force", is_flag=True, help="Download again even if the files are present (and discard partial files).")
def download_cmd(name: str, force: bool) -> None:
    """Download a dataset's files, resuming partial downloads, and verify their checksums."""
    from hsframe.data.catalog import dataset_dir, get_card
    from hsframe.data.download import download_dataset

    console = Console()
    card = get_card(name)
    try:
        results = download_dataset(card, force=force, console=Console(stderr=True))
    except KeyboardInterrupt:
        err_console.print("Interrupted: partial files (*.part) are kept; run the command again to resume.")
        sys.exit(130)
    words = {"downloaded": "downloaded and verified", "verified": "already here, verified"}
    for r in results:
        note = words.get(r.status, r.status)
        if r.recorded is not None:  # no published checksum: trusted on first use
            note = f"{'downloaded' if r.status == 'downloaded' else 'already here'}; no published checksum, its sha256 is now " \
                   f"recorded in {r.recorded} and later downloads must match it"
        if r.set_aside is not None:
            note = f"the file here failed verification (moved aside to {r.set_aside}); {note}"
        console.print(f"{r.name}: {note}", highlight=False, soft_wrap=True)
    console.print(f"Dataset '{card.name}' is ready in {dataset_dir(card)}/ (use it with --dataset {card.name}).",
                  highlight=False, soft_wrap=True)

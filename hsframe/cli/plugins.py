"""`hsframe plugins`: what every installed plugin registered (models, datasets, splits, formats, metrics) and what failed."""
from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from hsframe.cli.common import Command

# PluginInfo attribute -> its title in the listing; one per registry.
REGISTRY_COLUMNS = {"models": "models", "datasets": "datasets", "splits": "splits", "formats": "formats", "metrics": "metrics"}


@click.command("plugins", cls=Command)
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable: name, package, version, models, datasets, splits, formats, metrics, hooks, errors.")
def plugins_cmd(as_json: bool) -> None:
    """List installed plugins, what they register, and any that failed to load."""
    from hsframe.plugins import get_plugins

    plugins = get_plugins()
    if as_json:
        out = {
            "plugins": [
                {"name": i.name, "package": i.package, "version": i.version,
                 **{attr: getattr(i, attr) for attr in REGISTRY_COLUMNS}, "hooks": i.hooks}
                for i in plugins.info.values()
            ],
            "errors": [{"plugin": p.plugin, "package": p.package, "error": p.message} for p in plugins.problems],
        }
        click.echo(json.dumps(out, indent=2))
        return
    console = Console()
    table = Table(title="hsframe plugins")
    for col in ("plugin", "package", "version", "registers", "hooks"):
        table.add_column(col)
    for i in plugins.info.values():
        registered = "\n".join(f"{title}: {', '.join(getattr(i, attr))}" for attr, title in REGISTRY_COLUMNS.items()
                                if getattr(i, attr)) or "-"
        table.add_row(i.name, i.package, i.version, registered, ", ".join(i.hooks))
    console.print(table)
    for p in plugins.problems:
        console.print(f"[red]error[/] {p}", highlight=False)

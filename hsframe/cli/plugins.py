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
            "models": [{"name": m.name, "plugin": m.plugin, "package": m.package, "data_kinds": list(m.data_kinds),
                        "description": m.description} for m in plugins.models.values()],
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
    # Each model's one line (a zoo model's names its paper), so a reader can tell the models apart.
    models = Table(title="models")
    for col in ("model", "package", "data kinds", "description"):
        models.add_column(col)
    for m in sorted(plugins.models.values(), key=lambda m: (m.package, m.name)):
        models.add_row(m.name, m.package, ", ".join(m.data_kinds), m.description or "-")
    console.print(models)
    for p in plugins.problems:
        console.print(f"[red]error[/] {p}", highlight=False)

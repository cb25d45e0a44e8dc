"""`hsframe plugin ...`: tools for plugin authors. `hsframe plugin new NAME` scaffolds a model plugin.

Kept free of torch, mlflow and the plugin manager's entry-point loading, so it starts fast. Errors
are one message with exit code 2 (hsframe.cli.common.error_boundary).
"""
from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from hsframe.cli.common import Group


@click.group("plugin", cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
def plugin() -> None:
    """Create model plugins: `hsframe plugin new NAME`. Guide: docs/plugins.md."""


@plugin.command("new", short_help="Scaffold a new model plugin package (pyproject, model, tests, README).")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(path_type=Path),
              help="Folder to write the package into (created; may exist if empty). Default: ./hsframe-NAME.")
@click.option("--force", is_flag=True,
              help="Write into a non-empty folder, overwriting the generated files (other files are kept).")
def new(name: str, directory: Path | None, force: bool) -> None:
    """Scaffold a model plugin package NAME: pyproject with the entry point, model, tests, README.

    NAME is lowercase letters and digits, words joined by '-' or '_' (e.g. mynet, spectral-former);
    the package is hsframe-NAME, the module hsframe_NAME ('-' becomes '_').
    """
    from hsframe.scaffold import scaffold_plugin

    result = scaffold_plugin(name, directory, force=force)
    console = Console(highlight=False)
    console.print(f"Created plugin [bold]{escape(result.names.name)}[/] (package {result.names.package}) "
                  f"in {escape(str(result.directory))}:", soft_wrap=True)
    for path in result.files:
        console.print(f"  {escape(str(path.relative_to(result.directory)))}")
    console.print("\nNext steps:")
    steps = result.next_steps()
    width = max(len(command) for command, _ in steps)
    for command, why in steps:
        console.print(f"  {escape(command.ljust(width))}   # {escape(why)}", soft_wrap=True)
    console.print("\nGuide: docs/plugins.md in the hsframe repository (hooks, model contract, publishing).",
                  soft_wrap=True)

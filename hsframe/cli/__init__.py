"""The `hsframe` command line: a thin layer over the Python API, one module per command group.

Heavy libraries (torch, mlflow) are imported inside commands only, so `hsframe --help` stays fast.
"""
from __future__ import annotations

import click

from hsframe import __version__, refuse_pickles
from hsframe.cli.common import Group
from hsframe.cli.compare import compare, ui
from hsframe.cli.datasets import datasets
from hsframe.cli.equivalence import equivalence
from hsframe.cli.inspect import inspect
from hsframe.cli.plugin import plugin
from hsframe.cli.plugins import plugins_cmd
from hsframe.cli.predict import predict
from hsframe.cli.run import run
from hsframe.cli.runs import runs
from hsframe.cli.sweep import sweep


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hsframe")
def cli() -> None:
    """hsframe: train, evaluate and compare hyperspectral and volumetric models, tracked in MLflow."""


for command in (run, sweep, runs, predict, plugins_cmd, plugin, compare, ui, datasets, equivalence, inspect):
    cli.add_command(command)


def main() -> None:
    refuse_pickles()
    cli(prog_name="hsframe")

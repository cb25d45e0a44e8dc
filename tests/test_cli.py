"""The command line: one module per command group, all registered on one group; --model with --plugin as its alias."""
from __future__ import annotations

import pkgutil

import pytest
from click.testing import CliRunner

import hsframe.cli
from hsframe.cli import cli

COMMANDS = {"run", "sweep", "runs", "predict", "plugins", "plugin", "compare", "ui", "datasets", "equivalence", "inspect"}


def test_every_command_is_registered_once():
    assert set(cli.commands) == COMMANDS
    modules = {m.name for m in pkgutil.iter_modules(hsframe.cli.__path__)}
    assert modules == {"common", "run", "sweep", "runs", "predict", "plugins", "plugin", "compare", "datasets", "equivalence", "inspect"}


def test_run_help_names_model_and_its_alias():
    out = CliRunner().invoke(cli, ["run", "--help"], terminal_width=200).output
    assert "--model" in out and "--plugin" in out and "Model to train" in out


@pytest.mark.parametrize("flag", ["--model", "-m", "--plugin", "-p"])
def test_model_and_plugin_flags_pick_the_same_model(flag, store):
    result = CliRunner().invoke(cli, ["run", flag, "hybridsm", "--tracking-uri", store])
    assert result.exit_code == 2
    assert "unknown model 'hybridsm'" in result.output and "Did you mean 'hybridsn'" in result.output


def test_help_loads_neither_torch_nor_mlflow_nor_the_config_models():
    """`hsframe --help` imports every command module: none may pull in the heavy stack at import."""
    import subprocess
    import sys

    code = ("import sys\nfrom click.testing import CliRunner\nfrom hsframe.cli import cli\n"
            "assert CliRunner().invoke(cli, ['--help']).exit_code == 0\n"
            "heavy = [m for m in ('torch', 'mlflow', 'optuna', 'pydantic', 'hsframe.config') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr

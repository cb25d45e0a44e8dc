import json
import os
import subprocess
import sys

import pytest
from conftest import make_dist

from hsframe.errors import HsframeError
from hsframe.plugins import load_plugins

GOOD = """
from hsframe import hookimpl, ModelSpec

@hookimpl
def register_models(register):
    register(ModelSpec(name="{name}", build=lambda spec: None, description="test model"))
"""


def test_hybridsn_and_builtins_load_through_the_same_hooks():
    plugins = load_plugins()
    assert plugins.model("hybridsn").package == "hsframe-hybridsn"
    assert plugins.dataset("synthetic-pines").package == "hsframe"
    assert "register_models" in plugins.info["hybridsn"].hooks
    assert not plugins.problems


def test_broken_plugin_is_reported_and_the_rest_still_loads(plugin_dir):
    make_dist(plugin_dir, "fake-broken", "broken", "raise ImportError('no module named missing_dep')")
    make_dist(plugin_dir, "fake-good", "good", GOOD.format(name="goodnet"))
    plugins = load_plugins()
    assert "goodnet" in plugins.models and "hybridsn" in plugins.models
    [problem] = plugins.problems
    assert problem.package == "fake-broken" and problem.plugin == "broken"
    assert "missing_dep" in problem.message


def test_strict_mode_makes_a_broken_plugin_fatal(plugin_dir, monkeypatch):
    make_dist(plugin_dir, "fake-broken", "broken", "1/0")
    monkeypatch.setenv("HSFRAME_STRICT_PLUGINS", "1")
    with pytest.raises(HsframeError, match="fake-broken.*ZeroDivisionError"):
        load_plugins()


def test_disable_by_plugin_or_package_name(plugin_dir, monkeypatch):
    make_dist(plugin_dir, "fake-good", "good", GOOD.format(name="goodnet"))
    monkeypatch.setenv("HSFRAME_DISABLE_PLUGINS", "good, hybridsn")
    plugins = load_plugins()
    assert "goodnet" not in plugins.models and "hybridsn" not in plugins.models
    monkeypatch.setenv("HSFRAME_DISABLE_PLUGINS", "fake-good")
    assert "goodnet" not in load_plugins().models


def test_duplicate_model_name_names_both_packages(plugin_dir):
    make_dist(plugin_dir, "fake-one", "one", GOOD.format(name="twin"))
    make_dist(plugin_dir, "fake-two", "two", GOOD.format(name="twin"))
    plugins = load_plugins()
    with pytest.raises(HsframeError, match=r"'twin' is registered by both package fake-one .* and package fake-two"):
        plugins.model("twin")
    assert any("twin" in p.message for p in plugins.problems)
    assert plugins.model("hybridsn")  # everything else stays usable


def test_registration_hook_that_raises_is_contained(plugin_dir):
    make_dist(plugin_dir, "fake-raises", "raises", """
        from hsframe import hookimpl
        @hookimpl
        def register_models(register):
            raise RuntimeError("bad registration")
    """)
    plugins = load_plugins()
    assert any(p.package == "fake-raises" and "bad registration" in p.message for p in plugins.problems)
    assert plugins.model("hybridsn")


def test_unknown_plugin_suggests_nearest_and_lists_available():
    with pytest.raises(HsframeError, match=r"unknown model 'hybridns'. Did you mean 'hybridsn'\?.*Available: .*hybridsn"):
        load_plugins().model("hybridns")


def _cli(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "hsframe", *args], capture_output=True, text=True, env=env, timeout=120)


def test_cli_survives_a_broken_installed_plugin(plugin_dir):
    make_dist(plugin_dir, "fake-broken", "broken", "import not_installed_anywhere")
    out = _cli("plugins", "--json", env_extra={"PYTHONPATH": str(plugin_dir)})
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    names = {p["name"]: p for p in data["plugins"]}
    assert names["hybridsn"]["package"] == "hsframe-hybridsn"
    assert names["hybridsn"]["models"] == ["hybridsn"]
    assert "register_models" in names["hybridsn"]["hooks"]
    [error] = data["errors"]
    assert error["package"] == "fake-broken" and "not_installed_anywhere" in error["error"]
    table = _cli("plugins", env_extra={"PYTHONPATH": str(plugin_dir)})
    assert table.returncode == 0 and "hybridsn" in table.stdout and "fake-broken" in table.stdout


def test_listing_plugins_does_not_import_torch():
    # nor scipy: the split registry lists its methods without loading their algorithms
    code = (
        "import sys; from click.testing import CliRunner; from hsframe.cli import cli; "
        "r = CliRunner().invoke(cli, ['plugins']); assert r.exit_code == 0, r.output; "
        "print('torch' in sys.modules, 'mlflow' in sys.modules, 'scipy.ndimage' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False", "False"], out.stderr


def test_version_and_python_m():
    from hsframe import __version__

    out = _cli("--version")
    assert out.returncode == 0 and __version__ in out.stdout
    assert "run" in _cli("--help").stdout


def test_plugin_written_for_another_api_version_is_warned_about_by_package(plugin_dir, capsys):
    make_dist(plugin_dir, "fake-old", "old", "HSFRAME_PLUGIN_API = 0\n" + GOOD.format(name="oldnet"))
    plugins = load_plugins()
    err = capsys.readouterr().err
    assert "plugin 'old' (package fake-old) was written for hsframe plugin API 0" in err
    assert "oldnet" in plugins.models  # a warning, not a refusal

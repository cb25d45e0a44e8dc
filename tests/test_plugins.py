import json
import os
import subprocess
import sys

import pytest
from conftest import make_dist

from hsframe import __version__
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
    with pytest.raises(HsframeError, match=r"model 'twin' is registered by both fake-one 0.1.0 and fake-two 0.1.0; it is not used"):
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


def test_a_plugin_calling_sys_exit_at_import_is_only_its_own_problem(plugin_dir):
    make_dist(plugin_dir, "fake-exit", "exiter", "import sys\nsys.exit(3)")
    make_dist(plugin_dir, "fake-good", "good", GOOD.format(name="goodnet"))
    plugins = load_plugins()  # the old loader caught Exception only: SystemExit ended the process here
    assert "goodnet" in plugins.models and "hybridsn" in plugins.models
    [problem] = plugins.problems
    assert (problem.plugin, problem.package) == ("exiter", "fake-exit")
    assert "failed to load: SystemExit: 3 (the plugin called sys.exit())" in problem.message
    assert "exiter" not in plugins.info


def test_system_exit_in_a_registration_hook_is_contained(plugin_dir):
    make_dist(plugin_dir, "fake-quits", "quits", """
        import sys
        from hsframe import hookimpl, ModelSpec
        @hookimpl
        def register_models(register):
            register(ModelSpec(name="half-registered", build=lambda spec: None))
            sys.exit()
    """)
    plugins = load_plugins()
    [problem] = plugins.problems
    assert problem.package == "fake-quits" and "register_models raised SystemExit" in problem.message
    assert "half-registered" not in plugins.models  # nothing of a hook that did not finish
    assert plugins.model("hybridsn")


def test_an_entry_point_name_two_packages_declare_loads_neither(plugin_dir, monkeypatch):
    # A third-party package declaring the entry point `hybridsn` used to replace the real plugin silently.
    make_dist(plugin_dir, "fake-evil", "hybridsn", GOOD.format(name="hybridsn"), version="1.0")
    plugins = load_plugins()
    assert "hybridsn" not in plugins.info and "hybridsn" not in plugins.models
    assert "fake_evil" not in sys.modules  # an ambiguous plugin's code is never run
    [problem] = plugins.problems
    assert problem.package == "fake-evil"  # blamed: the package that is not hsframe's
    expected = ("plugin 'hybridsn' is declared (entry point group 'hsframe') by both hsframe-hybridsn 0.1.0 and fake-evil 1.0; "
                "none of them is loaded. Uninstall one (pip uninstall fake-evil) or disable it with HSFRAME_DISABLE_PLUGINS=fake-evil.")
    assert problem.message == expected
    with pytest.raises(HsframeError) as info:
        plugins.model("hybridsn")
    assert str(info.value) == f"model 'hybridsn' is unavailable: {expected}"
    monkeypatch.setenv("HSFRAME_DISABLE_PLUGINS", "fake-evil")  # the fix the message gives
    assert load_plugins().model("hybridsn").package == "hsframe-hybridsn"


def test_a_name_clash_blames_the_third_party_package_not_the_legitimate_one(plugin_dir):
    # `aaa` sorts (and registers) before `hybridsn`: the old loader listed the clash under hsframe-hybridsn.
    make_dist(plugin_dir, "fake-evil", "aaa", GOOD.format(name="hybridsn") + """
from hsframe.metrics import Metric

@hookimpl
def register_metrics(register):
    register(Metric("oa", lambda cm: 1.0))
""", version="1.0")
    plugins = load_plugins()
    assert {(p.plugin, p.package) for p in plugins.problems} == {("aaa", "fake-evil")}
    messages = sorted(p.message for p in plugins.problems)
    assert messages == [
        f"metric 'oa' is registered by both hsframe {__version__} and fake-evil 1.0; hsframe's own is used. "
        "Uninstall one (pip uninstall fake-evil) or disable it with HSFRAME_DISABLE_PLUGINS=fake-evil.",
        "model 'hybridsn' is registered by both hsframe-hybridsn 0.1.0 and fake-evil 1.0; it is not used. "
        "Uninstall one (pip uninstall fake-evil) or disable it with HSFRAME_DISABLE_PLUGINS=fake-evil.",
    ]
    with pytest.raises(HsframeError, match=r"model 'hybridsn' is registered by both hsframe-hybridsn 0.1.0 and fake-evil 1.0"):
        plugins.model("hybridsn")
    assert plugins.metric("oa").package == "hsframe"  # the core's metric stays: one stray package cannot disable it


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


def test_cli_survives_a_plugin_that_calls_sys_exit(plugin_dir):
    make_dist(plugin_dir, "fake-exit", "exiter", "raise SystemExit(7)")
    out = _cli("plugins", "--json", env_extra={"PYTHONPATH": os.pathsep.join([str(plugin_dir), os.environ.get("PYTHONPATH", "")])})
    assert out.returncode == 0, out.stderr
    [error] = json.loads(out.stdout)["errors"]
    assert error["package"] == "fake-exit" and "SystemExit: 7" in error["error"]


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

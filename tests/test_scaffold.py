"""`hsframe plugin new`: names, overwrite rules, the generated files, and the whole author's path
(scaffold -> pip install -e -> its own tests -> `hsframe plugins` -> `hsframe run` -> MLflow)."""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
import uuid
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

import hsframe
from hsframe.cli.plugin import plugin
from hsframe.errors import HsframeError
from hsframe.scaffold import plugin_names, scaffold_plugin


def new(*args: str):
    return CliRunner().invoke(plugin, ["new", *args], catch_exceptions=False)


def _clean_env() -> dict[str, str]:
    """The environment for subprocesses: no plugin switches or tracking store inherited from outside."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"HSFRAME_STRICT_PLUGINS", "HSFRAME_DISABLE_PLUGINS", "MLFLOW_TRACKING_URI", "PYTEST_ADDOPTS"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,module,class_name,test_file", [
    ("mynet", "hsframe_mynet", "MynetNet", "tests/test_mynet.py"),
    ("spectral-former", "hsframe_spectral_former", "SpectralFormerNet", "tests/test_spectral_former.py"),
    ("res_net3d", "hsframe_res_net3d", "ResNet3dNet", "tests/test_res_net3d.py"),
    ("tiny-net", "hsframe_tiny_net", "TinyNet", "tests/test_tiny_net.py"),
    ("input_spec", "hsframe_input_spec", "InputSpecNet", "tests/test_input_spec.py"),  # no clash with hsframe's InputSpec
])
def test_names_derived_from_the_plugin_name(name, module, class_name, test_file):
    names = plugin_names(name)
    assert (names.name, names.package, names.module, names.class_name, names.test_file) == (
        name, f"hsframe-{name}", module, class_name, test_file)


@pytest.mark.parametrize("name,match", [
    ("", "a plugin name is required"),
    ("MyNet", "invalid plugin name 'MyNet'.*Did you mean 'mynet'"),
    ("my net", "Did you mean 'my-net'"),
    ("1net", "starting with a letter"),
    ("my--net", "single '-' or '_'"),
    ("net-", "invalid plugin name"),
    ("_net", "invalid plugin name"),
    ("my.net", "invalid plugin name"),
    ("nét", "invalid plugin name"),
    ("hsframe-mynet", "already starts with 'hsframe'.*hsframe plugin new mynet"),
    ("a" * 41, "keep it to 40"),
])
def test_bad_names_are_refused_with_a_hint(name, match):
    with pytest.raises(HsframeError, match=match):
        plugin_names(name)


def test_bad_name_on_the_command_line_is_one_error_exit_2(tmp_path):
    result = new("My Net", "--dir", str(tmp_path / "x"))
    assert result.exit_code == 2
    assert "Error: invalid plugin name 'My Net'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_name_of_an_installed_plugin_is_refused(tmp_path):
    # hsframe-hybridsn is installed in the test environment (make test installs plugins/*).
    if not any(ep.name == "hybridsn" for ep in metadata.entry_points(group="hsframe")):
        pytest.skip("hsframe-hybridsn is not installed")
    with pytest.raises(HsframeError, match="already used by the installed package hsframe-hybridsn"):
        scaffold_plugin("hybridsn", tmp_path / "x")
    with pytest.raises(HsframeError, match="already used by the installed package hsframe"):
        scaffold_plugin("builtin-datasets", tmp_path / "y")


# ---------------------------------------------------------------------------------------------
# Where it writes
# ---------------------------------------------------------------------------------------------


def test_default_folder_is_hsframe_name_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = new("mynet")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "hsframe-mynet" / "pyproject.toml").is_file()
    for step in ("pip install -e", "pytest", "hsframe plugins", "hsframe run --model mynet", "mlflow ui"):
        assert step in result.output, step


def test_empty_existing_folder_is_fine(tmp_path):
    (tmp_path / "pkg").mkdir()
    assert new("mynet", "--dir", str(tmp_path / "pkg")).exit_code == 0


def test_refuses_a_non_empty_folder_without_force(tmp_path):
    target = tmp_path / "pkg"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    result = new("mynet", "--dir", str(target))
    assert result.exit_code == 2
    assert "is not empty; pass --force" in result.output
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]  # nothing written


def test_force_overwrites_generated_files_and_keeps_others(tmp_path):
    target = tmp_path / "pkg"
    assert new("mynet", "--dir", str(target)).exit_code == 0
    model = target / "src" / "hsframe_mynet" / "model.py"
    original = model.read_text()
    model.write_text("# edited\n")
    (target / "notes.txt").write_text("mine")
    assert new("mynet", "--dir", str(target)).exit_code == 2  # still refused without --force
    assert model.read_text() == "# edited\n"
    result = new("mynet", "--dir", str(target), "--force")
    assert result.exit_code == 0, result.output
    assert model.read_text() == original
    assert (target / "notes.txt").read_text() == "mine"


def test_a_file_where_the_folder_should_be_is_an_error(tmp_path):
    (tmp_path / "pkg").write_text("")
    with pytest.raises(HsframeError, match="is not a folder"):
        scaffold_plugin("mynet", tmp_path / "pkg")
    (tmp_path / "pkg2").mkdir()
    (tmp_path / "pkg2" / "src").write_text("")  # a file where src/ must go
    with pytest.raises(HsframeError, match="in the way"):
        scaffold_plugin("mynet", tmp_path / "pkg2", force=True)


# ---------------------------------------------------------------------------------------------
# What it writes
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def generated(tmp_path) -> Path:
    scaffold_plugin("spectral-net", tmp_path / "pkg")
    return tmp_path / "pkg"


def test_generated_files(generated):
    files = sorted(str(p.relative_to(generated)) for p in generated.rglob("*") if p.is_file())
    assert files == [".gitignore", "README.md", "pyproject.toml", "src/hsframe_spectral_net/__init__.py",
                     "src/hsframe_spectral_net/model.py", "tests/test_spectral_net.py"]
    for path in generated.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")  # valid Python
    assert "{{" not in "".join(p.read_text() for p in generated.rglob("*") if p.is_file())


def test_pyproject_declares_the_entry_point_and_dependencies(generated):
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((generated / "pyproject.toml").read_text())
    meta = project["project"]
    assert meta["name"] == "hsframe-spectral-net"
    assert meta["entry-points"]["hsframe"] == {"spectral-net": "hsframe_spectral_net"}
    assert meta["dependencies"] == [f"hsframe>={hsframe.__version__}", "torch>=2.1"]  # torch unpinned
    assert project["tool"]["setuptools"]["packages"]["find"]["where"] == ["src"]
    assert project["build-system"]["build-backend"] == "setuptools.build_meta"


def test_readme_gives_every_step(generated):
    readme = (generated / "README.md").read_text()
    for step in ("pip install -e .", "pytest", "hsframe plugins", "hsframe run --model spectral-net",
                 "mlflow ui --backend-store-uri", "test_oa", "python -m build"):
        assert step in readme, step


def test_generated_module_registers_through_the_real_plugin_manager(generated, monkeypatch):
    """Without installing: import the module from src/ and hand it to load_plugins(extra=...)."""
    from hsframe.plugins import load_plugins

    monkeypatch.syspath_prepend(str(generated / "src"))
    try:
        module = importlib.import_module("hsframe_spectral_net")
        assert module.HSFRAME_PLUGIN_API == hsframe.PLUGIN_API_VERSION
        plugins = load_plugins(extra={"spectral-net": module})
        spec = plugins.model("spectral-net")
        assert spec.build is module.build and spec.data_kinds == ("hsi",)
        assert spec.defaults["data.patch_size"] % 2 == 1 and all("." in k for k in spec.defaults)
        assert not [p for p in plugins.problems if p.plugin == "spectral-net"]

        import torch

        model = spec.build(hsframe.InputSpec(1, 13, 9, 9, 16), width=4).eval()
        with torch.no_grad():
            assert model(torch.zeros(3, 1, 13, 9, 9)).shape == (3, 16)
    finally:
        for name in [m for m in sys.modules if m.startswith("hsframe_spectral_net")]:
            del sys.modules[name]


def test_plugin_new_does_not_import_torch_or_mlflow(tmp_path):
    code = (
        "import sys\n"
        "from hsframe.cli.plugin import plugin\n"
        f"plugin(['new', 'mynet', '--dir', {str(tmp_path / 'pkg')!r}], standalone_mode=False)\n"
        "heavy = [m for m in ('torch', 'mlflow') if m in sys.modules]\n"
        "assert not heavy, f'imported {heavy}'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_clean_env())
    assert out.returncode == 0, out.stdout + out.stderr
    assert (tmp_path / "pkg" / "pyproject.toml").is_file()


def test_reachable_from_the_hsframe_command_once_registered(tmp_path):
    from hsframe.cli import cli

    assert "plugin" in cli.commands  # registered in hsframe/cli/__init__.py
    result = CliRunner().invoke(cli, ["plugin", "new", "mynet", "--dir", str(tmp_path / "pkg")])
    assert result.exit_code == 0, result.output
    assert "hsframe run --model mynet" in result.output


# ---------------------------------------------------------------------------------------------
# End to end: the author's whole path, in subprocesses, against a temporary MLflow store
# ---------------------------------------------------------------------------------------------


def _run(cmd: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=_clean_env(), timeout=timeout)
    assert out.returncode == 0, f"{' '.join(cmd)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
    return out


def test_scaffold_install_test_list_run_and_find_in_mlflow(tmp_path):
    import mlflow

    # A fresh name per test run, so nothing can collide with an earlier run or another checkout.
    name = f"scaffold-e2e-{uuid.uuid4().hex[:8]}"
    package, module = f"hsframe-{name}", f"hsframe_{name.replace('-', '_')}"
    pkg = tmp_path / package
    scaffold_plugin(name, pkg)

    pip = [sys.executable, "-m", "pip"]
    install = [*pip, "install", "--quiet", "--no-deps", "-e", str(pkg)]
    if importlib.util.find_spec("setuptools") is not None:
        install.insert(4, "--no-build-isolation")  # offline and fast: build with the venv's setuptools
    try:
        _run(install, cwd=tmp_path)

        # 1. The package's own tests pass as generated (entry-point discovery included).
        tests = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(pkg)], cwd=pkg)
        assert " passed" in tests.stdout and "failed" not in tests.stdout

        # 2. `hsframe plugins --json` lists it, with no load error.
        listing = json.loads(_run([sys.executable, "-m", "hsframe", "plugins", "--json"], cwd=tmp_path).stdout)
        [entry] = [p for p in listing["plugins"] if p["name"] == name]
        assert entry["package"] == package and entry["models"] == [name]
        assert "register_models" in entry["hooks"]
        assert not [e for e in listing["errors"] if e["package"] == package]

        # 3. One short run, recorded in a temporary store (cwd=tmp_path keeps mlartifacts/ there too).
        store = f"sqlite:///{tmp_path / 'mlflow.db'}"
        summary_path = tmp_path / "summary.json"
        _run([sys.executable, "-m", "hsframe", "run", "--plugin", name,
              "--set", "train.epochs=1", "--set", "data.patch_size=9", "--set", "data.pca_components=13",
              "--set", "train.batch_size=64", "--set", "eval.full_map=false", "--set", "model.width=8",
              "--tracking-uri", store, "--summary-json", str(summary_path)], cwd=tmp_path)
        summary = json.loads(summary_path.read_text())
        assert summary["model"] == name and 0.0 <= summary["metrics"]["test_oa"] <= 1.0

        # 4. MLflow has it, under the stable names the compare view lines up.
        client = mlflow.MlflowClient(store)
        run = client.get_run(summary["run_id"])
        assert run.info.status == "FINISHED"
        assert run.data.params["model"] == name
        assert run.data.params["model_package"] == package
        assert run.data.params["cfg.model_options.width"] == "8"
        assert {"test_oa", "test_aa", "test_kappa", "test_class_acc/01_alfalfa"} <= set(run.data.metrics)
        assert [m.step for m in client.get_metric_history(run.info.run_id, "val_oa")] == [1]
    finally:
        subprocess.run([*pip, "uninstall", "--yes", "--quiet", package], capture_output=True, env=_clean_env())
        for mod in [m for m in sys.modules if m.startswith(module)]:
            del sys.modules[mod]
    # Nothing leaks into the other tests.
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.distribution(package)

"""The package as hsframe sees it: discovered through the entry point, listed with its papers, torch-free
at import, inspectable, and refusing inputs an architecture cannot take before any run starts."""
import json
import os
import re
import sqlite3
import subprocess
import sys

import pytest

import hsframe_zoo
from hsframe import InputSpec

NAMES = ["hu_cnn1d", "hamida_3dcnn", "li_3dcnn", "chen_3dcnn", "he_m3dcnn", "lee_contextual", "luo_hsicnn",
         "sharma_hscnn", "mou_rnn", "spectralformer", "ssftt", "svm_rbf", "random_forest"]
PAPER = re.compile(r"^[A-Z][A-Za-z ]+(et al\.| & [A-Z][a-z]+), (19|20)\d\d: \S")  # "Hu et al., 2015: ..."


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hsframe", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env={**os.environ, "COLUMNS": "200"})


def test_discovered_through_entry_point():
    from hsframe.plugins import load_plugins

    plugins = load_plugins()
    assert sorted(plugins.info["zoo"].models) == sorted(NAMES) == sorted([*hsframe_zoo.MODELS, *hsframe_zoo.ESTIMATORS])
    for name in NAMES:
        spec = plugins.model(name)
        assert (spec.plugin, spec.package, spec.data_kinds) == ("zoo", "hsframe-zoo", ("hsi",))
        zoo = hsframe_zoo.MODELS[name].all_defaults() if name in hsframe_zoo.MODELS else hsframe_zoo.ESTIMATORS[name].defaults
        assert spec.defaults == zoo
    assert not [p for p in plugins.problems if p.package == "hsframe-zoo"]


def test_hsframe_plugins_lists_every_model_with_its_paper():
    out = _cli("plugins", "--json")
    assert out.returncode == 0, out.stderr
    listed = {m["name"]: m for m in json.loads(out.stdout)["models"]}
    for name in NAMES:
        assert listed[name]["package"] == "hsframe-zoo"
        assert PAPER.match(listed[name]["description"]), listed[name]["description"]
    table = _cli("plugins")
    assert table.returncode == 0, table.stderr
    for name in NAMES:  # the table shows the same line next to the model's name
        assert re.search(rf"{name}\s.*{re.escape(listed[name]['description'][:30])}", table.stdout), name


def test_defaults_are_valid_config():
    from hsframe.config import valid_keys

    assert hsframe_zoo.HSFRAME_PLUGIN_API == 1
    for model in hsframe_zoo.MODELS.values():
        defaults = model.all_defaults()
        assert {k for k in defaults if not k.startswith("model_options.")} <= set(valid_keys())
        assert defaults["data.patch_size"] % 2 == 1  # the framework wants odd patches


def test_importing_the_plugin_does_not_import_torch():
    code = "import sys, hsframe_zoo; hsframe_zoo.MODELS; print('torch' in sys.modules, 'sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False False"


@pytest.mark.parametrize("name,shape,params", [("li_3dcnn", "1,200,5,5", 12_652), ("ssftt", "1,30,13,13", 153_224)])
def test_hsframe_inspect(name, shape, params):
    out = _cli("inspect", "--model", name, "--input", shape, "--classes", "16", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["total_params"] == params  # test_zoo_parameters.py derives the same figure
    assert summary["output_shape"] == [1, 16]


# name: (an input one step too small, the smallest input the message must name)
TOO_SMALL = {
    "hu_cnn1d": ((1, 8, 1, 1), "bands (data.pca_components, or every band with null) of at least 9; got 8"),
    "hamida_3dcnn": ((1, 30, 3, 3), "patches of at least 5x5 (data.patch_size=5); got 3x3"),
    "li_3dcnn": ((1, 8, 5, 5), "bands of at least 9; got 8"),
    "chen_3dcnn": ((1, 100, 25, 25), "patches of at least 27x27 (data.patch_size=27); got 25x25"),
    "he_m3dcnn": ((1, 22, 7, 7), "bands of at least 23; got 22"),
    "lee_contextual": ((1, 30, 3, 3), "patches of at least 5x5 (data.patch_size=5); got 3x3"),
    "luo_hsicnn": ((1, 41, 3, 3), "bands of at least 42; got 41"),
    "sharma_hscnn": ((1, 30, 55, 55), "patches of at least 57x57 (data.patch_size=57); got 55x55"),
    "ssftt": ((1, 30, 3, 3), "patches of at least 5x5 (data.patch_size=5); got 3x3"),
}
# The smallest accepted input builds (one step above TOO_SMALL), so the message names the true minimum.
SMALLEST = {"hu_cnn1d": (1, 9, 1, 1), "hamida_3dcnn": (1, 3, 5, 5), "li_3dcnn": (1, 9, 5, 5), "chen_3dcnn": (1, 94, 27, 27),
            "he_m3dcnn": (1, 23, 5, 5), "lee_contextual": (1, 1, 5, 5), "luo_hsicnn": (1, 42, 3, 3),
            "sharma_hscnn": (1, 1, 57, 57), "ssftt": (1, 3, 5, 5), "mou_rnn": (1, 1, 1, 1), "spectralformer": (1, 1, 1, 1)}


@pytest.mark.parametrize("name", TOO_SMALL)
def test_too_small_an_input_is_a_value_error_naming_the_smallest(name):
    shape, message = TOO_SMALL[name]
    with pytest.raises(ValueError, match=re.escape(message)):
        hsframe_zoo.MODELS[name].build(InputSpec(*shape, 4))


@pytest.mark.parametrize("name", SMALLEST)
def test_smallest_input_builds_and_runs(name):
    import torch

    shape = SMALLEST[name]
    options = {"widths": [2, 2, 2]} if name == "chen_3dcnn" else {}
    model = hsframe_zoo.MODELS[name].build(InputSpec(*shape, 4), **options).eval()
    with torch.no_grad():
        assert model(torch.randn(2, *shape)).shape == (2, 4)


def test_cli_refuses_a_patch_too_small_before_any_run(tmp_path):
    db = tmp_path / "zoo.db"
    out = _cli("run", "--model", "hamida_3dcnn", "--set", "data.patch_size=1", "--set", "train.epochs=1",
               "--tracking-uri", f"sqlite:///{db}", cwd=tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    # One error line; the only other lines are MLflow's INFO notes on creating the (empty) store.
    [line] = [x for x in out.stderr.splitlines() if x.strip() and " INFO mlflow." not in x]
    assert line.startswith("Error: model 'hamida_3dcnn' cannot be built") and "at least 5x5 (data.patch_size=5); got 1x1" in line
    if db.exists():  # no MLflow run was started
        with sqlite3.connect(db) as con:
            tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
            assert "runs" not in tables or con.execute("select count(*) from runs").fetchone()[0] == 0

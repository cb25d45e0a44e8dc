"""The documented comparisons (experiments/temporal, experiments/zoo) stay runnable: their configs resolve, their one command runs and tabulates."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import REPO, SHARED

from hsframe.config import build_config, load_yaml, parse_set, resolve
from hsframe.plugins import get_plugins

TEMPORAL = REPO / "experiments" / "temporal"
MODELS = ("td_conv2d", "conv3d_133", "r2plus1d", "orthoplane", "conv3d")


@pytest.mark.parametrize("dataset", ["synthetic-sequences", "eolearn-ndvi"])
@pytest.mark.parametrize("model", MODELS)
def test_every_config_resolves_with_the_datasets_protocol(model, dataset):
    cfg = build_config(get_plugins(), config_file=TEMPORAL / f"{model}.yaml", sets=[f"data.dataset={dataset}"])
    assert cfg.model == model and cfg.experiment == "temporal-comparison"
    # one recipe for all five models, so that differences come from the architectures
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.lr, cfg.model_options["width"], cfg.model_options["depth"]) == (12, 64, 1e-3, 16, 3)
    # the dataset's defaults (windows, split) win over the plugin's and lose to the YAML
    if dataset == "synthetic-sequences":
        assert (cfg.data.window, cfg.data.stride, cfg.split.method) == (8, 4, "blocks")
    else:
        assert (cfg.data.window, cfg.data.stride, cfg.data.patch_size) == (16, 16, 9)


def test_the_one_command_runs_and_prints_the_table(tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = subprocess.run(
        [sys.executable, str(TEMPORAL / "run.py"), "--models", "td_conv2d,r2plus1d", "--protocols", "synthetic-sequences",
         "--seeds", "0,1", "--tracking-uri", store, "--set", "train.epochs=1", "--set", "model.depth=2",
         "--set", "data.dataset_options={segments: 48}"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    rows = [line for line in out.stdout.splitlines() if line.startswith("| ") and "synthetic-sequences" in line]
    assert len(rows) == 2 and {"td_conv2d", "r2plus1d"} == {r.split("|")[1].strip() for r in rows}
    assert all("±" in r for r in rows)  # two seeds: mean ± std


def test_an_unknown_protocol_is_refused():
    out = subprocess.run([sys.executable, str(TEMPORAL / "run.py"), "--protocols", "nope"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "unknown protocol(s) nope; choose from synthetic-sequences, eolearn-ndvi" in out.stderr


# The model-zoo comparison (experiments/zoo): the same checks, plus the skipping of models that are not installed.
ZOO = REPO / "experiments" / "zoo"
_spec = importlib.util.spec_from_file_location("zoo_comparison", ZOO / "run.py")
zoo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(zoo)


def test_the_zoo_has_one_config_per_model():
    assert sorted(p.stem for p in ZOO.glob("*.yaml")) == sorted(zoo.MODELS)
    assert {"svm_rbf", "random_forest"} < set(zoo.MODELS) and len(zoo.MODELS) == 13


@pytest.mark.parametrize("protocol", list(zoo.PROTOCOLS))
@pytest.mark.parametrize("model", zoo.MODELS)
def test_every_zoo_config_resolves_with_the_protocol(model, protocol):
    path = ZOO / f"{model}.yaml"
    dataset, overrides, _ = zoo.PROTOCOLS[protocol]
    sets = [f"data.dataset={dataset}", *overrides]
    plugins = get_plugins()
    if model in plugins.models:
        cfg = build_config(plugins, config_file=path, sets=sets)
        # the YAML keeps the model's declared input (patch, bands / PCA) and learning rate
        for key, value in plugins.model(model).defaults.items():
            if key in {"data.patch_size", "data.pca_components", "train.lr"}:
                section, name = key.split(".")
                assert getattr(getattr(cfg, section), name) == value, key
    else:  # not installed here (yet): the file and the protocol still validate against the run config
        cfg = resolve([(str(path), load_yaml(path)), ("--set", parse_set(sets))], plugins.splits)
    assert (cfg.model, cfg.experiment, cfg.data.dataset, cfg.eval.full_map) == (model, "zoo-comparison", dataset, False)
    if protocol == "samson-blocks":
        assert (cfg.split.method, cfg.split.block_size, cfg.split.margin, cfg.split.train_fraction) == ("blocks", 24, 6, 0.3)


@pytest.mark.skipif(not (SHARED / "hsi" / "samson" / "Samson.mat").is_file(), reason="the real Samson scene is absent")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_samson_blocks_keep_every_class_and_leak_nothing_into_patches_up_to_13(seed):
    from hsframe.data.catalog import load_scene
    from hsframe.data.leakage import leakage_report
    from hsframe.data.split import block_split

    scene = load_scene("samson", root=SHARED / "hsi")
    cfg = build_config(get_plugins(), config_file=ZOO / "hu_cnn1d.yaml", sets=["data.dataset=samson", *zoo.PROTOCOLS["samson-blocks"][1]])
    s = cfg.split
    split = block_split(scene.labels, scene.class_names, seed, s.block_size, s.margin, s.train_fraction, s.val_fraction)
    for subset in (split.train, split.val, split.test):
        assert set(scene.labels.reshape(-1)[subset]) == {1, 2, 3}
    assert leakage_report(split, scene.labels.shape, 13)["test_in_train_window"] == 0.0
    # the zoo models whose patch is wider than 13 px (the README lists them with their leakage)
    wide = {m for m in zoo.MODELS if get_plugins().models.get(m) and get_plugins().model(m).defaults.get("data.patch_size", 1) > 13}
    assert wide == {"chen_3dcnn", "sharma_hscnn"}


def test_installed_keeps_the_requested_order():
    assert zoo.installed(["svm_rbf", "ssftt", "hu_cnn1d"], {"hu_cnn1d", "ssftt", "conv3d"}) == (["ssftt", "hu_cnn1d"], ["svm_rbf"])


def test_a_model_that_is_not_installed_is_reported_and_skipped(monkeypatch, capsys):
    calls, tables = [], []

    def fake_run(config, *, seeds, tracking_uri, sets):
        calls.append((Path(config).name, seeds, sets))
        return SimpleNamespace(mean={"test_oa": 0.5}, std={"test_oa": 0.1})

    monkeypatch.setattr(zoo.hsframe, "run", fake_run)
    monkeypatch.setattr(zoo, "print_table", tables.append)
    monkeypatch.setattr("hsframe.plugins.get_plugins", lambda: SimpleNamespace(models={"hu_cnn1d": None, "mou_rnn": None}))
    zoo.main(["--models", "svm_rbf,mou_rnn,random_forest,hu_cnn1d", "--protocols", "embedded", "--seeds", "0,1", "--set", "train.epochs=1"])
    out = capsys.readouterr().out
    assert "svm_rbf: not installed, skipped" in out and "random_forest: not installed, skipped" in out
    assert calls == [(f"{m}.yaml", [0, 1], ["data.dataset=synthetic-pines", "train.epochs=1"]) for m in ("mou_rnn", "hu_cnn1d")]
    assert "mou_rnn on embedded: test OA 0.5000 ± 0.1000" in out and tables == [None]
    calls.clear()
    zoo.main(["--models", "hu_cnn1d", "--protocols", "embedded"])  # the protocol's own seeds
    assert calls == [("hu_cnn1d.yaml", [0, 1, 2], ["data.dataset=synthetic-pines"])]


def _zoo(args, **env):
    return subprocess.run([sys.executable, str(ZOO / "run.py"), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def test_no_installed_model_is_refused(tmp_path):
    out = _zoo(["--models", "hu_cnn1d,svm_rbf", "--protocols", "embedded", "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"],
               HSFRAME_DISABLE_PLUGINS="zoo")
    assert out.returncode == 2 and "none of the models hu_cnn1d, svm_rbf is installed" in out.stderr
    assert not (tmp_path / "m.db").exists()


def test_missing_samson_is_refused_before_any_run(tmp_path):
    out = _zoo(["--protocols", "embedded,samson-blocks", "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"], HSFRAME_DATA=str(tmp_path))
    assert out.returncode == 2 and out.stderr.startswith("error: protocol samson-blocks: dataset 'samson' is not available")
    assert not (tmp_path / "m.db").exists()


def test_a_model_without_a_zoo_config_or_an_unknown_protocol_is_refused():
    out = _zoo(["--models", "ssftt,hybridsn"])
    assert out.returncode == 2 and "no config for model(s) hybridsn" in out.stderr
    out = _zoo(["--protocols", "indian_pines"])
    assert out.returncode == 2 and "unknown protocol(s) indian_pines; choose from embedded, samson-blocks" in out.stderr

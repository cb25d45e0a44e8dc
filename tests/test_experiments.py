"""The documented temporal comparison stays runnable: its configs resolve, its one command runs and tabulates."""
import subprocess
import sys

import pytest
from conftest import REPO

from hsframe.config import build_config
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

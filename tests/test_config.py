import pytest

from hsframe.config import RunConfig, build_config, flatten, parse_set, resolve, valid_keys
from hsframe.errors import HsframeError
from hsframe.plugins import load_plugins
from hsframe_hybridsn import DEFAULTS as HYBRIDSN_DEFAULTS


@pytest.fixture(scope="module")
def plugins():
    return load_plugins()


def test_layers_apply_in_order(plugins, tmp_path):
    cfg_file = tmp_path / "run.yaml"
    cfg_file.write_text("train:\n  epochs: 7\n  lr: 0.01\ndata:\n  patch_size: 11\n")
    # framework default lr 1e-3 < plugin default < preset < YAML (lr 0.01, epochs 7) < --set (epochs 3)
    cfg = build_config(plugins, "hybridsn", "paper", cfg_file, ["train.epochs=3"])
    assert cfg.train.epochs == 3
    assert cfg.train.lr == 0.01
    assert cfg.data.patch_size == 11
    assert cfg.data.pca_components == 30  # from the paper preset over the plugin's 15
    assert cfg.split.train_fraction == 0.3


def test_plugin_defaults_sit_above_framework_defaults(plugins):
    cfg = build_config(plugins, "hybridsn")
    assert cfg.data.patch_size == HYBRIDSN_DEFAULTS["data.patch_size"] != RunConfig().data.patch_size
    assert cfg.train.epochs == HYBRIDSN_DEFAULTS["train.epochs"]


def test_paper_preset_is_the_published_recipe(plugins):
    cfg = build_config(plugins, "hybridsn", "paper")
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.optimizer, cfg.train.lr) == (100, 256, "adam", 1e-3)
    assert (cfg.data.patch_size, cfg.data.pca_components, cfg.split.train_fraction) == (25, 30, 0.3)
    pavia = build_config(plugins, "hybridsn", "paper", sets=["data.dataset=pavia_university"])
    assert pavia.data.pca_components == 15


def test_unknown_key_suggests_the_nearest(plugins):
    with pytest.raises(HsframeError, match=r"unknown config key 'train.epoch'.*Did you mean 'train.epochs'"):
        build_config(plugins, "hybridsn", sets=["train.epoch=3"])
    with pytest.raises(HsframeError, match=r"'epochs'.*Did you mean 'train.epochs'"):
        resolve([("--set", {"epochs": 3})])


def test_unknown_key_in_yaml_names_the_file(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("data:\n  patchsize: 5\n")
    with pytest.raises(HsframeError, match=r"'data.patchsize' \(from .*bad.yaml\).*'data.patch_size'"):
        build_config(load_plugins(), "hybridsn", config_file=f)


@pytest.mark.parametrize("setting,match", [
    ("split.train_fraction=1.5", r"split.train_fraction.*less than 1.*1.5"),
    ("split.train_fraction=0", r"split.train_fraction.*greater than 0"),
    ("train.optimizer=adamax", r"train.optimizer"),
    ("data.patch_size=10", r"odd"),
    ("train.epochs=many", r"train.epochs.*integer"),
])
def test_bad_values_name_the_key(plugins, setting, match):
    with pytest.raises(HsframeError, match=match):
        build_config(plugins, "hybridsn", sets=[setting])


def test_set_values_are_typed():
    assert parse_set(["a=1", "b=1e-3", "c=true", "d=null", "e=reflect"]) == {
        "a": 1, "b": 1e-3, "c": True, "d": None, "e": "reflect"}
    with pytest.raises(HsframeError, match="key=value"):
        parse_set(["train.epochs"])


def test_model_options_pass_through_and_flatten(plugins):
    cfg = build_config(plugins, "hybridsn", sets=["model_options.dropout=0.2"])
    assert cfg.model == "hybridsn" and cfg.model_options == {"dropout": 0.2}
    flat = flatten(cfg.model_dump())
    assert flat["model_options.dropout"] == 0.2 and flat["train.epochs"] == cfg.train.epochs
    assert set(k for k in flat if not k.startswith("model_options")) <= set(valid_keys())


def test_older_spellings_still_resolve(plugins, tmp_path):
    """YAML files written before `model` / `model_options`: `plugin: NAME` and `model: {options}`."""
    f = tmp_path / "old.yaml"
    f.write_text("plugin: nin\nmodel: {dropout: 0.3}\n")
    cfg = build_config(plugins, config_file=f, sets=["model.width=8"])
    assert cfg.model == "nin" and cfg.model_options == {"dropout": 0.3, "width": 8}


def test_model_flag_wins_over_config(plugins, tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("model: nonexistent\n")
    assert build_config(plugins, "hybridsn", config_file=f).model == "hybridsn"
    with pytest.raises(HsframeError, match="unknown model 'nonexistent'"):
        build_config(plugins, None, config_file=f)


def test_split_options_are_typed_by_the_chosen_method(plugins):
    cfg = build_config(plugins, "hybridsn", sets=["split.method=blocks", "split.block_size=8"])
    # the resolved section holds the method's options, defaults filled in, nothing of the other methods
    assert cfg.split.model_dump() == {"method": "blocks", "train_fraction": 0.1, "val_fraction": 0.1, "block_size": 8,
                                      "margin": None, "drop_unsplittable": False}
    # a key of another method is known (a dataset's defaults may carry it) and dropped
    assert "block_size" not in build_config(plugins, "hybridsn", sets=["split.block_size=8"]).split.model_dump()
    with pytest.raises(HsframeError, match="unknown split method 'blokcs'.*Did you mean 'blocks'"):
        build_config(plugins, "hybridsn", sets=["split.method=blokcs"])
    with pytest.raises(HsframeError, match="unknown config key 'split.block_sise'.*Did you mean 'split.block_size'"):
        build_config(plugins, "hybridsn", sets=["split.block_sise=3"])
    with pytest.raises(HsframeError, match="split.block_size"):
        build_config(plugins, "hybridsn", sets=["split.method=blocks", "split.block_size=big"])

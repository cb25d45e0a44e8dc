"""Splits and metrics are registries: a plugin adds one with a hook, and a run uses it by name."""
from __future__ import annotations

import types

import numpy as np
import pytest
from pydantic import Field

import hsframe
from hsframe import hookimpl
from hsframe.data.split import Split
from hsframe.errors import HsframeError
from hsframe.metrics import Metric
from hsframe.plugins import get_plugins, load_plugins
from hsframe.recording import MemoryRecorder
from hsframe.splits import SplitGrid, SplitMethod, SplitOptions

# A fast HybridSN run (smallest sizes the architecture accepts).
FAST = {"train": {"epochs": 1, "batch_size": 64}, "data": {"patch_size": 9, "pca_components": 13}, "eval": {"full_map": False}}


class ParitySplit(SplitMethod):
    """Pixels of even flat index train, odd ones test: a toy with an option of its own."""

    name = "parity"

    class Options(SplitOptions):
        train_parity: int = Field(0, ge=0, le=1)
        val_every: int = Field(5, ge=2)

    def split(self, grid: SplitGrid, seed: int, options: Options) -> Split:  # type: ignore[override]
        labeled = np.flatnonzero(grid.labels.reshape(-1) > 0)
        train = labeled[labeled % 2 == options.train_parity]
        val = train[::options.val_every]
        return Split(np.setdiff1d(train, val), val, labeled[labeled % 2 != options.train_parity],
                     f"parity {options.train_parity}")


def error_rate(cm: np.ndarray) -> float:
    return float(1 - np.trace(cm) / cm.sum())


def toy_plugin() -> types.ModuleType:
    module = types.ModuleType("toy_registries")

    @hookimpl
    def register_splits(register):
        register(ParitySplit())

    @hookimpl
    def register_metrics(register):
        register(Metric("error_rate", error_rate, label="error"))

    module.register_splits = register_splits
    module.register_metrics = register_metrics
    return module


@pytest.fixture
def toy(monkeypatch):
    plugins = load_plugins(extra={"toy-registries": toy_plugin()})
    monkeypatch.setattr("hsframe.plugins.get_plugins", lambda: plugins)
    return plugins


def test_a_plugin_split_and_metric_are_used_in_a_run(toy):
    assert toy.split("parity").package == "toy-registries" and "parity" in toy.info["toy-registries"].splits
    rec = MemoryRecorder()
    summary = hsframe.run({**FAST, "split": {"method": "parity", "train_parity": 1}}, recorder=rec, quiet=True)
    run = rec.runs[summary.run_id]
    assert run.params["split"] == "parity 1" and run.params["cfg.split.train_parity"] == "1"
    assert int(run.params["n_test"]) == summary.counts["test"] > 0
    # the toy metric is logged beside the built-ins, from the same confusion matrix
    assert summary.metrics["test_error_rate"] == pytest.approx(1 - summary.metrics["test_oa"])
    assert run.metric("test_error_rate") == summary.metrics["test_error_rate"]


def test_a_split_option_is_known_only_through_its_method(toy):
    assert hsframe.load_config({"split": {"method": "parity", "train_parity": 1}}).split.train_parity == 1
    with pytest.raises(HsframeError, match="split.train_parity"):
        hsframe.load_config({"split": {"method": "parity", "train_parity": 3}})
    # without the plugin, neither the method nor its option exists
    plain = load_plugins()
    with pytest.raises(HsframeError, match="unknown config key 'split.train_parity'"):
        hsframe.load_config({"split.train_parity": 1}, plugins=plain)
    with pytest.raises(HsframeError, match="unknown split method 'parity'"):
        hsframe.load_config({"split.method": "parity"}, plugins=plain)


def _grid(shape=(24, 24), classes=3, seed=0) -> SplitGrid:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.repeat(rng.integers(1, classes + 1, (shape[0] // 4, shape[1] // 4)), 4, 0), 4, 1)
    return SplitGrid(labels, [f"c{k}" for k in range(1, classes + 1)], (3, 3))


def _options(method: SplitMethod, grid: SplitGrid, tmp_path) -> SplitOptions:
    values = {"train_fraction": 0.3, "block_size": 4}
    if method.name == "fixed":  # a fixed split reads its maps from files
        train = np.where(np.arange(grid.labels.size).reshape(grid.labels.shape) % 3 == 0, grid.labels, 0)
        np.save(tmp_path / "train.npy", train)
        values["train_map"] = str(tmp_path / "train.npy")
    return method.options(values)


@pytest.mark.parametrize("name", sorted(get_plugins().splits))
def test_every_registered_split_gives_disjoint_subsets_of_labeled_samples(name, tmp_path):
    method = get_plugins().split(name)
    grid = _grid()
    if name == "files":  # a per-tile split needs tiles: the four quadrants of the grid
        quadrant = np.add.outer(np.arange(24) // 12 * 2, np.arange(24) // 12)
        grid = SplitGrid(grid.labels, grid.class_names, grid.window, groups=quadrant, group_names=("a", "b", "c", "d"),
                         group_subsets={"a": "train", "b": "train", "c": "val", "d": "test"})
    options = _options(method, grid, tmp_path)
    method.check(grid, options)
    split = method.split(grid, 0, options)
    subsets = [set(split.train.tolist()), set(split.val.tolist()), set(split.test.tolist())]
    assert subsets[0] and subsets[2] and not (subsets[0] & subsets[2]) and not (subsets[1] & subsets[2])
    labeled = set(np.flatnonzero(grid.labels.reshape(-1) > 0).tolist())
    assert set().union(*subsets) <= labeled
    assert split.description


@pytest.mark.parametrize("name", sorted(get_plugins().metrics))
def test_every_registered_metric_is_one_on_a_perfect_confusion_matrix(name):
    metric = get_plugins().metric(name)
    perfect = np.diag([5, 3, 7])
    assert metric.compute(perfect) == pytest.approx(1.0)
    assert metric.compute(np.array([[0, 5], [4, 0]])) < 1.0
    assert metric.key == f"test_{name}"

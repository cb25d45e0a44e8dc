"""Samples of volumes and series: windows cut on the fly equal a direct slicing, splits and statistics
never mix training with test data."""
import numpy as np
import pytest
import torch

from hsframe.config import RunConfig, resolve
from hsframe.data.leakage import leakage_report
from hsframe.data.patches import VolumeSource, WindowSource
from hsframe.data.series import FrameSeries, window_labels, window_starts
from hsframe.data.volumes import ArrayVolumes, LabeledVolume, VolumeSet
from hsframe.engine.prepare import prepare
from hsframe.errors import HsframeError
from hsframe.plugins import get_plugins
from hsframe.recording import MemoryRecorder
from hsframe.tasks import make_task


def cfg(**values) -> RunConfig:
    return resolve([("test", values)])


def split_task(c: RunConfig, task):
    """The split of the task's grid, and the same split over its samples, as a run draws them."""
    split = prepare(c, task, get_plugins()).split
    return split.grid, split.samples


def fitted(task, train, standardize=True):
    """The task's samples fitted on ``train``, and the per-channel statistics the run records."""
    task.cfg = task.cfg.model_copy(update={"data": task.cfg.data.model_copy(update={"standardize": standardize})})
    rec = MemoryRecorder()
    with rec.run("test", {}) as run_id:
        samples = task.fit_samples(train, torch.device("cpu"), rec)
    stats = rec.runs[run_id].artifacts["preprocess/samples.json"]
    return samples, np.array(stats["channel_mean"]), np.array(stats["channel_std"])


def sample_source(task):
    """Samples without scaling (mean 0, std 1), so that they equal the raw data."""
    return fitted(task, np.arange(len(task.labels)), standardize=False)[0].source


def series(t=20, h=9, w=11, c=2, per_pixel=True, seed=0) -> FrameSeries:
    rng = np.random.default_rng(seed)
    frames = rng.normal(size=(t, h, w, c)).astype(np.float32)
    labels = rng.integers(0, 4, size=(h, w)) if per_pixel else np.arange(t) // 10 % 4 + 1  # segments of 10 frames
    return FrameSeries("s", frames, labels, ["a", "b", "c", "d"])


def test_window_starts_and_labels():
    assert window_starts(10, 4, 3).tolist() == [0, 3, 6]  # 9 would run past frame 9
    assert window_starts(4, 4, 1).tolist() == [0]
    with pytest.raises(HsframeError, match="data.window 11 is longer than the series \\(10 frames\\); use at most 10"):
        window_starts(10, 11, 1)
    # windows straddling two classes are unlabeled
    assert window_labels(np.array([1, 1, 1, 2, 2, 2, 2]), 3, 1).tolist() == [1, 0, 0, 2, 2]


@pytest.mark.parametrize("window,pad", [((3, 5, 5), (1, 2, 2)), ((1, 3, 3), (0, 1, 1)), ((5, 1, 3), (2, 0, 1))])
def test_dense_windows_equal_direct_slicing(window, pad):
    rng = np.random.default_rng(1)
    vol = rng.normal(size=(2, 6, 7, 8)).astype(np.float32)
    src = WindowSource(torch.from_numpy(vol), window, (6, 7, 8), pad=pad)
    padded = np.pad(vol, [(0, 0)] + [(p, p) for p in pad])
    idx = rng.choice(6 * 7 * 8, 40, replace=False)
    got = src.samples(idx).numpy()
    for i, j in enumerate(idx):
        d, r, c = np.unravel_index(j, (6, 7, 8))
        want = padded[:, d : d + window[0], r : r + window[1], c : c + window[2]]  # centred on the voxel
        np.testing.assert_array_equal(got[i], want)
        # the centre of the window is the voxel itself
        np.testing.assert_array_equal(got[i][:, window[0] // 2, window[1] // 2, window[2] // 2], vol[:, d, r, c])


def test_series_pixel_windows_equal_direct_slicing():
    s = series()
    task = make_task(cfg(**{"data.window": 8, "data.stride": 5, "data.patch_size": 3}), s)
    assert task.sampling == "pixel-windows" and task.starts.tolist() == [0, 5, 10]
    assert task.input_spec.as_tuple() == (2, 8, 3, 3) and len(task.labels) == 3 * 9 * 11
    src = sample_source(task)
    padded = np.pad(np.moveaxis(s.frames, -1, 0), [(0, 0), (0, 0), (1, 1), (1, 1)])
    for i in [0, 98, 99, 200, 3 * 99 - 1]:
        a, pix = divmod(i, 99)
        r, c = divmod(pix, 11)
        want = padded[:, 5 * a : 5 * a + 8, r : r + 3, c : c + 3]
        np.testing.assert_array_equal(src.samples([i]).numpy()[0], want)
        assert task.labels[i] == s.labels[r, c]


def test_series_frame_windows_are_whole_frames():
    s = series(per_pixel=False)
    task = make_task(cfg(**{"data.window": 4, "data.stride": 2}), s)
    assert task.sampling == "frame-windows" and task.input_spec.as_tuple() == (2, 4, 9, 11)
    assert task.grid.window == (3,)  # windows 4 frames long, 2 apart: a window shares frames with its neighbour only
    src = sample_source(task)
    np.testing.assert_array_equal(src.samples([3]).numpy()[0], np.moveaxis(s.frames[6:10], -1, 0))
    assert task.labels.tolist() == window_labels(s.labels, 4, 2).tolist() == [1, 1, 1, 1, 0, 2, 2, 2, 2]


def test_make_task_refuses_what_cannot_work():
    with pytest.raises(HsframeError, match="data.window 30 is longer than the series \\(20 frames\\)"):
        make_task(cfg(**{"data.window": 30}), series())
    with pytest.raises(HsframeError, match="data.patch_size 21 is larger than the frames \\(9x11\\)"):
        make_task(cfg(**{"data.patch_size": 21}), series())
    vol = LabeledVolume("v", np.zeros((1, 4, 9, 9), np.float32), np.ones((4, 9, 9), np.int64), ["a"])
    with pytest.raises(HsframeError, match="data.patch_depth 9 is larger than the volume allows"):
        make_task(cfg(**{"data.patch_size": 3, "data.patch_depth": 9}), vol)


def test_every_window_of_a_pixel_lands_in_the_pixels_subset():
    s = series(h=30, w=30)
    c = cfg(**{"data.window": 8, "data.stride": 4, "data.patch_size": 5, "split.train_fraction": 0.3})
    task = make_task(c, s)
    base, samples = split_task(c, task)
    n = 30 * 30
    for name in ("train", "val", "test"):
        pix = getattr(base, name)
        got = getattr(samples, name)
        assert len(got) == len(pix) * len(task.starts)
        assert set(np.unique(got % n)) == set(pix)
    assert not set(samples.train % n) & set(samples.test % n)


def test_block_split_of_series_pixels_leaks_nothing():
    s = series(h=48, w=48)
    c = cfg(**{"data.window": 8, "data.stride": 4, "data.patch_size": 5, "split.method": "blocks",
               "split.block_size": 12, "split.train_fraction": 0.5})
    task = make_task(c, s)
    base, samples = split_task(c, task)
    assert leakage_report(base, (48, 48), 5)["test_in_train_window"] == 0.0
    random_base, _ = split_task(cfg(**{"data.window": 8, "data.patch_size": 5}), task)
    assert leakage_report(random_base, (48, 48), 5)["test_in_train_window"] > 0.5


def test_frame_windows_split_in_time_blocks_share_no_frame():
    rng = np.random.default_rng(5)
    labels = np.arange(800) // 40 % 4 + 1  # segments of 40 frames cycling through 4 classes
    s = FrameSeries("s", rng.normal(size=(800, 4, 4, 1)).astype(np.float32), labels, ["a", "b", "c", "d"])
    c = cfg(**{"data.window": 8, "data.stride": 4, "split.method": "blocks", "split.block_size": 5, "split.val_fraction": 0.3,
               "split.train_fraction": 0.5})
    task = make_task(c, s)
    _, split = split_task(c, task)
    frames = lambda idx: set((task.starts[idx][:, None] + np.arange(8)).reshape(-1).tolist())  # noqa: E731
    assert not frames(split.train) & frames(split.test)
    assert not frames(split.val) & frames(split.test)
    # a random split of the same windows does share frames: that is what the block split is for
    _, leaky = split_task(cfg(**{"data.window": 8, "data.stride": 4, "split.train_fraction": 0.5}), task)
    assert frames(leaky.train) & frames(leaky.test)


def test_volumes_take_random_splits_only():
    vs = VolumeSet("v", ArrayVolumes(np.zeros((20, 1, 4, 4, 4), np.float32)), np.arange(20) % 2 + 1, ["a", "b"])
    task = make_task(cfg(), vs)
    with pytest.raises(HsframeError, match="volumes are independent samples"):
        split_task(cfg(**{"split.method": "blocks"}), task)
    with pytest.raises(HsframeError, match="split.method=fixed"):
        split_task(cfg(**{"split.method": "fixed"}), task)


@pytest.mark.parametrize("layout", ["volumes", "voxel-patches", "pixel-windows", "frame-windows"])
def test_statistics_come_from_training_samples_only(layout):
    rng = np.random.default_rng(3)
    if layout == "volumes":
        data = VolumeSet("v", ArrayVolumes(rng.normal(size=(40, 2, 4, 4, 4)).astype(np.float32)),
                         np.arange(40) % 2 + 1, ["a", "b"])
        c = cfg(**{"split.train_fraction": 0.5})
    elif layout == "voxel-patches":
        data = LabeledVolume("v", rng.normal(size=(2, 6, 6, 6)).astype(np.float32), rng.integers(1, 3, (6, 6, 6)), ["a", "b"])
        c = cfg(**{"data.patch_size": 3})
    else:
        data = series(t=200, per_pixel=layout == "pixel-windows")
        c = cfg(**{"data.window": 4, "data.stride": 4, "data.patch_size": 3, "split.train_fraction": 0.5,
                   "split.val_fraction": 0.3})
    task = make_task(c, data)
    assert task.sampling == layout
    _, split = split_task(c, task)
    _, mean, std = fitted(task, split.train)
    # Corrupt everything the test samples hold that no training sample holds: the statistics must not move.
    if layout == "volumes":
        data.volumes.volumes[split.test] = 1e6
    elif layout == "voxel-patches":
        data.volume.reshape(2, -1)[:, split.test] = 1e6
    elif layout == "pixel-windows":
        test_pixels = np.unique(split.test % task.grid.labels.size)
        data.frames.reshape(200, -1, 2)[:, test_pixels] = 1e6
    else:
        used = np.unique((task.starts[split.train][:, None] + np.arange(4)).reshape(-1))
        data.frames[np.setdiff1d(np.arange(200), used)] = 1e6
    _, mean2, std2 = fitted(task, split.train)
    np.testing.assert_array_equal(mean, mean2)
    np.testing.assert_array_equal(std, std2)
    assert np.all(np.abs(mean) < 1) and np.all(np.abs(std - 1) < 0.5)  # standard normal data
    _, m0, s0 = fitted(task, split.train, standardize=False)
    assert m0.tolist() == [0, 0] and s0.tolist() == [1, 1]


def test_volume_source_reads_and_standardizes():
    vols = np.random.default_rng(4).normal(3, 2, size=(10, 2, 3, 4, 5)).astype(np.float32)
    src = VolumeSource(ArrayVolumes(vols), np.array([3, 3]), np.array([2, 2]), "cpu")
    got = src.samples(np.array([7, 2])).numpy()
    np.testing.assert_allclose(got, (vols[[7, 2]] - 3) / 2, rtol=1e-6)
    x, y = next(src.batches(np.arange(10), np.arange(10) % 2, 4))
    assert x.shape == (4, 2, 3, 4, 5) and y.tolist() == [0, 1, 0, 1]


def test_pixel_vote_is_the_majority_of_a_pixels_windows():
    s = series(h=2, w=2)
    task = make_task(cfg(**{"data.window": 4, "data.stride": 4, "data.patch_size": 1}), s)  # 5 windows per pixel
    index = np.arange(len(task.labels))
    pred = np.array([0, 1, 2, 3] * 5)  # pixel i always predicted class i (0-based)
    pred[[4, 8]] = 2  # pixel 0: windows say 0, 2, 2, 0, 0 -> 0
    pixels, voted = task.pixel_vote(index, pred)
    assert pixels.tolist() == [0, 1, 2, 3] and voted.tolist() == [0, 1, 2, 3]


def test_per_pixel_series_take_fixed_train_and_test_maps(tmp_path):
    s = series(h=12, w=12)
    s.labels[s.labels == 0] = 1  # every pixel labeled
    train_map = np.where(np.arange(144).reshape(12, 12) < 72, s.labels, 0)  # the top half trains
    np.save(tmp_path / "train.npy", train_map)
    c = cfg(**{"data.window": 8, "data.stride": 4, "data.patch_size": 3, "split.method": "fixed",
               "split.train_map": str(tmp_path / "train.npy")})
    task = make_task(c, s)
    base, samples = split_task(c, task)
    assert set(np.concatenate([base.train, base.val]).tolist()) == set(range(72))
    assert set(base.test.tolist()) == set(range(72, 144))
    assert set(np.unique(samples.test % 144).tolist()) == set(range(72, 144))

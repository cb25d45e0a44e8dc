"""The embedded volume and sequence datasets: determinism, format, balance, and difficulty.

Difficulty is checked the way tests/test_synthetic.py checks the hyperspectral scene: a baseline
that lacks what the models are meant to exploit must fail, and one that has it must succeed.

- Shape volumes: global intensity statistics (what a shape-blind model sees) stay near chance,
  while a rotation-invariant shape descriptor (radial mass profile + inertia eigenvalues of the
  segmented object) recovers the shape.
- Motion sequences: features that ignore frame order (per-frame features averaged over time, the
  spectrum of the time-mean image) cannot tell opposite directions apart, while the correlation of
  consecutive frames under candidate shifts recovers the class.

Scores are measured with cross-validation that keeps every segment's windows in one fold: windows
of one segment share a texture, and a random split would let a classifier memorise it.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import ndimage

from hsframe.data.series import FrameSeries, window_labels, window_starts
from hsframe.data.synthetic_sequences import CLASS_NAMES as SEQ_CLASSES
from hsframe.data.synthetic_sequences import DIRECTIONS, _generate, synthetic_sequences
from hsframe.data.synthetic_volumes import CLASS_NAMES as VOL_CLASSES
from hsframe.data.synthetic_volumes import synthetic_volumes
from hsframe.data.volumes import ArrayVolumes, VolumeSet

WINDOW, STRIDE, SEGMENT = 8, 4, 16


# --------------------------------------------------------------------------- helpers


def _cv_logreg(features: np.ndarray, labels: np.ndarray, groups: np.ndarray | None = None) -> float:
    """Mean 5-fold accuracy of standardised logistic regression (folds by group when given)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = GroupKFold(5) if groups is not None else StratifiedKFold(5, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return float(cross_val_score(clf, features, labels, groups=groups, cv=cv).mean())


def _global_stats(volumes: np.ndarray) -> np.ndarray:
    """``(N, 3)``: mean, standard deviation and count of voxels above 0.5 of each volume."""
    x = volumes.reshape(len(volumes), -1)
    return np.stack([x.mean(1), x.std(1), (x > 0.5).sum(1)], axis=1)


def _foreground(volumes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Object masks ``(N, V)`` (float 0/1) of ``(N, 1, S, S, S)`` volumes, and voxel coordinates ``(V, 3)``.

    Fits a quadratic background to the voxels off the object (iterating: fit, threshold the
    residual at half its 99.5th percentile, refit without the dilated mask), as the generator's
    background is a smooth quadratic trend.
    """
    n, s = len(volumes), volumes.shape[-1]
    axis = np.arange(s) - (s - 1) / 2
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    u = grid / axis.max()
    basis = np.stack([np.ones(len(u)), *u.T, *(u**2).T, u[:, 0] * u[:, 1], u[:, 0] * u[:, 2], u[:, 1] * u[:, 2]], 1)
    outer = (basis[:, :, None] * basis[:, None, :]).reshape(len(basis), -1).astype(np.float32)
    x = ndimage.gaussian_filter(volumes[:, 0], sigma=(0, 0.7, 0.7, 0.7)).reshape(n, -1)
    keep = np.ones_like(x)
    kth = x.shape[1] - x.shape[1] // 200
    for _ in range(3):
        # Weighted least squares for all volumes at once: Gram matrices from one matmul.
        gram = (keep @ outer).reshape(n, 10, 10).astype(np.float64)
        rhs = ((keep * x) @ basis.astype(np.float32)).astype(np.float64)
        coef = np.linalg.solve(gram, rhs[..., None])[..., 0]
        residual = x - (coef @ basis.T).astype(np.float32)
        top = np.partition(residual, kth, axis=1)[:, kth : kth + 1]
        mask = residual > 0.5 * top
        dilated = ndimage.maximum_filter(mask.reshape(n, s, s, s), size=(1, 3, 3, 3)).reshape(n, -1)
        keep = 1.0 - dilated.astype(np.float32)
    return mask.astype(np.float32), grid


def _shape_descriptor(volumes: np.ndarray, bins: int = 10) -> np.ndarray:
    """Rotation- and scale-invariant shape features ``(N, bins + 3)`` of the segmented object.

    Histogram of voxel distance to the centre of mass in units of the radius of gyration (a hole
    at the centre, a sharp outer edge, a long tail), plus the normalised inertia eigenvalues
    (elongated, flat or isotropic).
    """
    w, grid = _foreground(volumes)
    n = len(w)
    mass = w.sum(1, keepdims=True)
    centre = (w @ grid) / mass
    second = (w @ (grid[:, :, None] * grid[:, None, :]).reshape(len(grid), 9)) / mass
    cov = second.reshape(n, 3, 3) - centre[:, :, None] * centre[:, None, :]
    r2 = np.maximum((grid**2).sum(1)[None] - 2 * centre @ grid.T + (centre**2).sum(1, keepdims=True), 0)
    gyration2 = (w * r2).sum(1, keepdims=True) / mass
    b = np.minimum((np.sqrt(r2 / gyration2) / 2 * bins).astype(np.int64), bins)  # last bin: beyond 2 r_g
    hist = np.bincount((b + np.arange(n)[:, None] * (bins + 1)).ravel(), weights=w.ravel(), minlength=n * (bins + 1))
    hist = hist.reshape(n, bins + 1)[:, :bins] / mass
    eig = np.linalg.eigvalsh(cov)
    return np.concatenate([hist, eig / eig.sum(1, keepdims=True)], axis=1)


def _windows(series: FrameSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows inside one segment ``(n, WINDOW, H, W)``, their classes ``(n,)`` and segment ids ``(n,)``.

    Windows across two segments of one class are left out, so every window belongs to one group.
    """
    labels = window_labels(series.labels, WINDOW, STRIDE)
    starts = window_starts(len(series.labels), WINDOW, STRIDE)
    keep = (labels > 0) & (starts % SEGMENT + WINDOW <= SEGMENT)
    frames = series.frames[starts[keep][:, None] + np.arange(WINDOW)][..., 0]
    return frames, labels[keep], starts[keep] // SEGMENT


def _per_frame_features(windows: np.ndarray) -> np.ndarray:
    """Order-invariant: per-frame low-frequency power spectrum, mean and sd, averaged over time.

    What a per-frame network with global pooling followed by temporal average pooling can see.
    """
    centred = windows - windows.mean((2, 3), keepdims=True)
    power = (np.abs(np.fft.rfft2(centred)) ** 2)[:, :, :6, :6].reshape(*windows.shape[:2], -1)
    moments = np.stack([windows.mean((2, 3)), windows.std((2, 3))], -1)
    return np.concatenate([power, moments], -1).mean(1)


def _time_mean_spectrum(windows: np.ndarray) -> np.ndarray:
    """Order-invariant: low-frequency power spectrum of the window's time-mean image (sees motion blur)."""
    mean = windows.mean(1)
    power = np.abs(np.fft.rfft2(mean - mean.mean((1, 2), keepdims=True))) ** 2
    return power[:, :8, :8].reshape(len(windows), -1)


_SHIFTS = [(int(dy) * s, int(dx) * s) for dy, dx in DIRECTIONS for s in (1, 2)]


def _motion_features(windows: np.ndarray) -> np.ndarray:
    """Order-aware: correlation of frame t + 1 with frame t rolled by each candidate velocity ``(n, 8)``."""
    a = windows[:, :-1] - windows[:, :-1].mean((2, 3), keepdims=True)
    b = windows[:, 1:] - windows[:, 1:].mean((2, 3), keepdims=True)
    norm = np.sqrt((a**2).sum((1, 2, 3)) * (b**2).sum((1, 2, 3)))
    return np.stack([(b * np.roll(a, shift, axis=(2, 3))).sum((1, 2, 3)) / norm for shift in _SHIFTS], 1)


# --------------------------------------------------------------------------- volumes


@pytest.fixture(scope="module")
def volume_set() -> VolumeSet:
    return synthetic_volumes(0)


def test_volumes_same_seed_identical_other_seed_different(volume_set: VolumeSet) -> None:
    again = synthetic_volumes(0)
    np.testing.assert_array_equal(again.volumes.volumes, volume_set.volumes.volumes)
    np.testing.assert_array_equal(again.labels, volume_set.labels)
    other = synthetic_volumes(1)
    assert not np.array_equal(other.labels, volume_set.labels)
    assert not np.allclose(other.volumes.volumes, volume_set.volumes.volumes)


def test_volumes_format_and_balance(volume_set: VolumeSet) -> None:
    assert volume_set.kind == "volume" and volume_set.name == "synthetic-volumes"
    assert isinstance(volume_set.volumes, ArrayVolumes)
    assert volume_set.volumes.volumes.shape == (600, 1, 24, 24, 24)
    assert volume_set.volumes.volumes.dtype == np.float32
    assert volume_set.sample_shape == (1, 24, 24, 24)
    assert volume_set.class_names == VOL_CLASSES and volume_set.num_classes == 6
    assert volume_set.labels.dtype == np.int64 and volume_set.labels.shape == (600,)
    assert np.array_equal(np.bincount(volume_set.labels), [0] + [100] * 6)
    assert np.isfinite(volume_set.volumes.volumes).all()
    assert volume_set.volumes.read(np.array([3, 1])).shape == (2, 1, 24, 24, 24)
    # Labels come shuffled, not in class blocks.
    assert (np.diff(volume_set.labels) != 0).mean() > 0.5

    small = synthetic_volumes(3, n=50, size=16)
    assert small.volumes.volumes.shape == (50, 1, 16, 16, 16)
    assert np.bincount(small.labels, minlength=7)[1:].min() >= 50 // 6


def test_volumes_class_needs_shape_not_global_statistics(volume_set: VolumeSet) -> None:
    pytest.importorskip("sklearn")
    v, y = volume_set.volumes.volumes, volume_set.labels
    stats_acc = _cv_logreg(_global_stats(v), y)
    shape_acc = _cv_logreg(_shape_descriptor(v), y)
    # Occupied volume, contrast, background and noise follow the same law for every shape, so
    # global statistics stay near chance (1/6) ... (5-fold CV measured 0.14-0.22 over seeds 0-9)
    assert stats_acc < 0.35, stats_acc
    # ... while a rotation-invariant shape descriptor recovers the class (measured 0.94-0.97).
    assert shape_acc > 0.85, shape_acc


# --------------------------------------------------------------------------- sequences


@pytest.fixture(scope="module")
def series() -> FrameSeries:
    return synthetic_sequences(0)


def test_sequences_same_seed_identical_other_seed_different(series: FrameSeries) -> None:
    again = synthetic_sequences(0)
    np.testing.assert_array_equal(again.frames, series.frames)
    np.testing.assert_array_equal(again.labels, series.labels)
    other = synthetic_sequences(1)
    assert not np.array_equal(other.labels, series.labels)
    assert not np.allclose(other.frames, series.frames)


def test_sequences_format_and_balance(series: FrameSeries) -> None:
    assert series.name == "synthetic-sequences"
    assert series.frames.shape == (300 * 16, 32, 32, 1) and series.frames.dtype == np.float32
    assert series.labels.shape == (4800,) and series.labels.dtype == np.int64
    assert not series.per_pixel
    assert series.class_names == SEQ_CLASSES and series.num_classes == 4
    assert np.isfinite(series.frames).all()
    segments = series.labels.reshape(300, 16)
    assert (segments == segments[:, :1]).all()  # one class per 16-frame segment
    assert np.array_equal(np.bincount(segments[:, 0]), [0, 75, 75, 75, 75])
    assert (np.diff(segments[:, 0]) != 0).mean() > 0.5  # random order, not class blocks
    # The framework's windows: 3 inside each segment; one straddling two segments is labeled
    # only when both segments share the class.
    win = window_labels(series.labels, WINDOW, STRIDE)
    same_class_neighbours = int((segments[1:, 0] == segments[:-1, 0]).sum())
    assert (win > 0).sum() == 300 * 3 + same_class_neighbours

    small = synthetic_sequences(2, segments=10, segment_length=8, size=16)
    assert small.frames.shape == (80, 16, 16, 1) and small.labels.shape == (80,)


def test_every_frame_is_a_wrapped_translation_of_its_segment_texture() -> None:
    frames, clean, labels, velocity = _generate(0, segments=40, segment_length=16, size=32)
    clean = clean.reshape(40, 16, 32, 32)
    frames = frames.reshape(40, 16, 32, 32)
    seg_labels = labels.reshape(40, 16)[:, 0]
    assert set(np.abs(velocity).sum(1)) <= {1, 2}  # 1 or 2 px per frame
    for s in range(40):
        v = tuple(int(c) for c in velocity[s])
        assert np.array_equal(np.sign(velocity[s]), DIRECTIONS[seg_labels[s] - 1])
        # Noise-free part: exactly the previous frame rolled by the velocity.
        np.testing.assert_array_equal(clean[s, 1:], np.roll(clean[s, :-1], v, axis=(1, 2)))
    # Noisy frames: the class velocity is the best-correlated shift for every consecutive pair.
    motion = _motion_features(frames)
    best = np.array(_SHIFTS)[motion.argmax(1)]
    np.testing.assert_array_equal(best, velocity)
    assert motion.max(1).min() > 0.6


def test_frame_order_is_the_only_cue(series: FrameSeries) -> None:
    pytest.importorskip("sklearn")
    windows, y, segment = _windows(series)
    # Per-frame features pooled over time (a TimeDistributed CNN + average pooling): chance
    # (0.25) for all four classes (measured 0.22-0.28 over seeds 0-9).
    per_frame = _cv_logreg(_per_frame_features(windows), y, segment)
    assert per_frame < 0.40, per_frame
    # Even the time-mean image, whose motion blur reveals the axis, cannot tell the sign: a
    # reversed right-moving clip is a left-moving clip (measured: axis 0.98-1.00, sign 0.46-0.54).
    spectrum = _time_mean_spectrum(windows)
    axis_acc = _cv_logreg(spectrum, (y <= 2).astype(int), segment)
    sign_acc = _cv_logreg(spectrum, np.isin(y, [1, 3]).astype(int), segment)
    assert axis_acc > 0.90, axis_acc
    assert sign_acc < 0.62, sign_acc
    # Frame-to-frame correlation under shifts, which needs the order, recovers the class (measured 1.00).
    motion = _cv_logreg(_motion_features(windows), y, segment)
    assert motion > 0.95, motion


# --------------------------------------------------------------------------- registration


def test_both_datasets_are_registered_builtins() -> None:
    from hsframe.plugins import load_plugins

    plugins = load_plugins()
    volumes = plugins.dataset("synthetic-volumes")
    assert volumes.kind == "volume" and volumes.package == "hsframe"
    loaded = volumes.load(seed=1, n=12, size=12)
    assert isinstance(loaded, VolumeSet) and loaded.sample_shape == (1, 12, 12, 12) and len(loaded) == 12

    sequences = plugins.dataset("synthetic-sequences")
    assert sequences.kind == "sequence" and sequences.package == "hsframe"
    assert sequences.defaults == {
        "data.window": 8, "data.stride": 4, "split.method": "blocks", "split.block_size": 16, "split.margin": 1,
        "split.train_fraction": 0.5, "split.val_fraction": 0.2,
    }
    assert volumes.defaults == {"split.train_fraction": 0.5, "split.val_fraction": 0.2}
    loaded = sequences.load(seed=1, segments=8, segment_length=16, size=16)
    assert isinstance(loaded, FrameSeries) and loaded.frames.shape == (128, 16, 16, 1)
    assert loaded.labels.shape == (128,)
    assert volumes.description and sequences.description

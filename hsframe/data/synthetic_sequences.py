"""Synthetic motion sequences, generated from a seed with no download.

A single series of ``segments * segment_length`` frames ``(size, size, 1)``, labeled per frame.
Each segment shows its own random texture translating at a constant velocity, wrapping around
the frame edges; the class is the direction of motion:

1. moving right (+x, columns), 2. moving left (-x), 3. moving down (+y, rows), 4. moving up (-y).

Generative model, per segment:

- **Texture.** White noise low-pass filtered with an isotropic Gaussian of random width
  (1.5-3 px), computed in the Fourier domain so it is periodic, normalised to unit sd. A new
  texture every segment.
- **Motion.** Frame ``t`` of the segment is ``np.roll(texture, t * velocity)``, with velocity the
  class direction times a speed of 1 or 2 px/frame: every frame is an exact wrapped translation
  of the same texture.
- **Intensity.** ``offset + gain * moved texture + flicker_t + noise``: a per-segment brightness
  offset (-0.5..0.5) and gain (0.6-1.4), a small per-frame brightness flicker and i.i.d. Gaussian
  noise of random strength (sd 0.15-0.3).

Why frame order is the whole signal: the texture law is stationary and isotropic, so every frame
of every class has the same distribution. Reversing a window of a right-moving clip yields a
left-moving clip of a shifted (equally likely) texture with the same flicker and noise law, so any
function of the *set* of frames -- a per-frame network averaged over time, the time-mean image --
has exactly the same distribution for opposite directions and cannot tell them apart. Only the
order of the frames (which way the texture moved between t and t + 1) carries the class. (An
order-invariant model can still pick up the *axis* weakly, e.g. from the motion blur of a
time-averaged image; per-frame features averaged over time hardly see even that.)
"""
from __future__ import annotations

import numpy as np

from hsframe.data.series import FrameSeries

CLASS_NAMES: list[str] = ["moving right", "moving left", "moving down", "moving up"]
# Unit (dy, dx) per class, in array axes: rows grow downwards, np.roll moves content to +index.
DIRECTIONS: np.ndarray = np.array([(0, 1), (0, -1), (1, 0), (-1, 0)], dtype=np.int64)

_SPEEDS = (1, 2)  # px per frame, integer so every frame is an exact np.roll of the texture
_TEXTURE_SIGMA = (1.5, 3.0)  # px, Gaussian correlation length of the texture
_OFFSET = (-0.5, 0.5)
_GAIN = (0.6, 1.4)
_FLICKER_SD = 0.05  # per-frame brightness jitter
_NOISE_SD = (0.15, 0.3)


def _textures(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """``(n, size, size)`` periodic, isotropic smooth-noise textures with zero mean and unit sd."""
    sigma = rng.uniform(*_TEXTURE_SIGMA, n)
    white = rng.standard_normal((n, size, size))
    f = np.fft.fftfreq(size)
    f2 = f[:, None] ** 2 + f[None, :] ** 2
    # Gaussian blur in the Fourier domain: the same as a wrap-around spatial blur, so the
    # texture tiles seamlessly and np.roll never shows a seam.
    transfer = np.exp(-2 * np.pi**2 * sigma[:, None, None] ** 2 * f2[None])
    tex = np.fft.ifft2(np.fft.fft2(white) * transfer).real
    tex -= tex.mean(axis=(1, 2), keepdims=True)
    return tex / tex.std(axis=(1, 2), keepdims=True)


def _generate(
    seed: int, segments: int, segment_length: int, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The series and its parts.

    Returns ``frames (T, size, size)`` float32 (noisy), ``clean (T, size, size)`` float32 (the same
    without flicker and noise: ``offset + gain * moved texture``), per-frame ``labels (T,)`` int64 in
    1..4, and per-segment ``velocity (segments, 2)`` int64 ``(dy, dx)`` in px/frame.
    """
    if segments < 1 or segment_length < 2 or size < 4:
        raise ValueError(
            f"need segments >= 1, segment_length >= 2 and size >= 4, got {segments}, {segment_length}, {size}"
        )
    rng = np.random.default_rng(seed)
    k = len(CLASS_NAMES)
    seg_labels = rng.permutation(np.arange(segments) % k + 1).astype(np.int64)  # balanced, shuffled
    speed = rng.choice(np.array(_SPEEDS), segments)
    velocity = DIRECTIONS[seg_labels - 1] * speed[:, None]
    tex = _textures(rng, segments, size)
    offset = rng.uniform(*_OFFSET, segments)
    gain = rng.uniform(*_GAIN, segments)
    noise_sd = rng.uniform(*_NOISE_SD, segments)
    t_total = segments * segment_length
    flicker = rng.normal(0.0, _FLICKER_SD, t_total)
    noise = rng.standard_normal((t_total, size, size))

    # np.roll(tex, (dy t, dx t)) for every (segment, t) at once: out[y, x] = tex[y - dy t, x - dx t].
    t = np.arange(segment_length)
    rows = (np.arange(size)[None, None, :] - velocity[:, 0, None, None] * t[None, :, None]) % size  # (S, L, H)
    cols = (np.arange(size)[None, None, :] - velocity[:, 1, None, None] * t[None, :, None]) % size  # (S, L, W)
    seg = np.arange(segments)[:, None, None, None]
    moved = tex[seg, rows[..., :, None], cols[..., None, :]]  # (S, L, H, W)

    clean = offset[:, None, None, None] + gain[:, None, None, None] * moved
    clean = clean.reshape(t_total, size, size)
    frames = clean + flicker[:, None, None] + np.repeat(noise_sd, segment_length)[:, None, None] * noise
    labels = np.repeat(seg_labels, segment_length)
    return frames.astype(np.float32), clean.astype(np.float32), labels, velocity


def synthetic_sequences(
    seed: int = 0, segments: int = 300, segment_length: int = 16, size: int = 32
) -> FrameSeries:
    """Generate a labeled motion series, deterministically from ``seed``.

    Returns a :class:`FrameSeries` with frames ``(T, size, size, 1)`` float32, ``T = segments *
    segment_length``, and per-frame labels ``(T,)`` in 1..4 for ``CLASS_NAMES`` (moving right,
    left, down, up): each run of ``segment_length`` frames is one segment of one class, classes
    balanced to within one segment and in random order.
    """
    frames, _, labels, _ = _generate(seed, segments, segment_length, size)
    return FrameSeries(
        name="synthetic-sequences",
        frames=frames[..., None],
        labels=labels,
        class_names=list(CLASS_NAMES),
    )

"""Synthetic 3-D shape volumes, generated from a seed with no download.

Each sample is one scalar volume ``(1, size, size, size)`` holding a single solid shape; the class
is the shape:

1. sphere, 2. cube, 3. cylinder, 4. cone, 5. torus, 6. hollow sphere (a thick spherical shell).

Generative model, per volume:

- **Size.** The occupied volume ``V`` is drawn log-uniformly from the *same* range for every class
  (2 %-6 % of the box), and each shape's dimensions are solved from ``V`` (given a random aspect
  ratio: cylinder height/radius, cone height/radius, torus tube ratio, shell thickness). The
  number of bright voxels therefore says nothing about the class.
- **Pose.** A uniformly random 3-D rotation (random unit quaternion) is applied to the sample
  coordinates, and the centre is offset at random within the slack the shape leaves in the box.
- **Rendering.** The signed distance to the surface goes through a sigmoid of random width
  (0.3-0.6 voxel), giving soft, anti-aliased partial-volume edges.
- **Intensity.** ``background + contrast * occupancy + noise``: a random contrast (0.5-1.5), a
  smooth background (random level plus a random linear and quadratic trend across the box) and
  i.i.d. Gaussian noise of random strength (sd 0.1-0.25).

Why global statistics fail but shape descriptors work: mean, standard deviation and the count of
voxels above a threshold depend on ``V``, the contrast, the background and the noise, all drawn
from class-independent distributions; only the *arrangement* of the bright voxels (flat faces vs
round, a hole through the middle, a cavity, an apex) carries the class, and it must be read
independently of the random rotation.
"""
from __future__ import annotations

import numpy as np

from hsframe.data.volumes import ArrayVolumes, VolumeSet

CLASS_NAMES: list[str] = ["sphere", "cube", "cylinder", "cone", "torus", "hollow sphere"]

# Occupied volume as a fraction of the box, shared by all classes (log-uniform in this range).
_VOLUME_FRACTION = (0.02, 0.06)
# Per-shape aspect ranges, chosen so the largest shape still fits the box (bounding radius
# <= ~0.4 * size around the centre of mass).
_CYLINDER_HALF_HEIGHT_OVER_RADIUS = (0.5, 1.2)
_CONE_HEIGHT_OVER_RADIUS = (1.0, 1.6)
_TORUS_MAJOR_OVER_MINOR = (1.7, 2.6)
_SHELL_THICKNESS_OVER_RADIUS = (0.3, 0.5)
_EDGE_SOFTNESS = (0.3, 0.6)  # voxels, sigmoid width of the surface
_CONTRAST = (0.5, 1.5)
_BACKGROUND_LEVEL = (-0.5, 0.5)
_BACKGROUND_TREND = 0.15  # sd of the linear / quadratic background coefficients (box = [-1, 1])
_NOISE_SD = (0.1, 0.25)
_CHUNK_VOXELS = 2**20  # voxels rendered at once: bounds the (chunk, size^3, 3) coordinate arrays


def _random_rotations(rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n, 3, 3)`` rotation matrices, uniform on SO(3) (Shoemake's random unit quaternions)."""
    u1, u2, u3 = rng.random((3, n))
    a, b = np.sqrt(1 - u1), np.sqrt(u1)
    w, x = a * np.sin(2 * np.pi * u2), a * np.cos(2 * np.pi * u2)
    y, z = b * np.sin(2 * np.pi * u3), b * np.cos(2 * np.pi * u3)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=1,
    )


def _shape_params(rng: np.random.Generator, labels: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample dimensions ``(n, 2)`` (in voxels) and bounding radius ``(n,)`` around the shape's origin.

    Dimensions per class: sphere (r, -), cube (half side, -), cylinder (radius, half height),
    cone (base radius, height), torus (major radius, tube radius), shell (outer radius, thickness).
    """
    n = len(labels)
    lo, hi = _VOLUME_FRACTION
    vol = np.exp(rng.uniform(np.log(lo), np.log(hi), n)) * size**3  # same law for every class
    aspect = rng.random(n)  # position inside each class's aspect range
    dims = np.zeros((n, 2))
    bound = np.zeros(n)

    def span(rng_: tuple[float, float], sel: np.ndarray) -> np.ndarray:
        return rng_[0] + aspect[sel] * (rng_[1] - rng_[0])

    s = labels == 1  # sphere: V = 4/3 pi r^3
    r = (3 * vol[s] / (4 * np.pi)) ** (1 / 3)
    dims[s, 0], bound[s] = r, r
    s = labels == 2  # cube: V = (2a)^3
    a = vol[s] ** (1 / 3) / 2
    dims[s, 0], bound[s] = a, a * np.sqrt(3)
    s = labels == 3  # cylinder: V = 2 pi r^2 h, h = k r
    k = span(_CYLINDER_HALF_HEIGHT_OVER_RADIUS, s)
    r = (vol[s] / (2 * np.pi * k)) ** (1 / 3)
    dims[s, 0], dims[s, 1], bound[s] = r, k * r, r * np.sqrt(1 + k * k)
    s = labels == 4  # cone: V = pi R^2 H / 3, H = q R; origin at the centre of mass (H/4 above the base)
    q = span(_CONE_HEIGHT_OVER_RADIUS, s)
    r = (3 * vol[s] / (np.pi * q)) ** (1 / 3)
    h = q * r
    dims[s, 0], dims[s, 1], bound[s] = r, h, np.maximum(0.75 * h, np.hypot(r, 0.25 * h))
    s = labels == 5  # torus: V = 2 pi^2 R r^2, R = m r
    m = span(_TORUS_MAJOR_OVER_MINOR, s)
    r = (vol[s] / (2 * np.pi**2 * m)) ** (1 / 3)
    dims[s, 0], dims[s, 1], bound[s] = m * r, r, (m + 1) * r
    s = labels == 6  # shell: V = 4/3 pi (R^3 - (R - t)^3), t = f R
    f = span(_SHELL_THICKNESS_OVER_RADIUS, s)
    r = (3 * vol[s] / (4 * np.pi * (1 - (1 - f) ** 3))) ** (1 / 3)
    dims[s, 0], dims[s, 1], bound[s] = r, f * r, r
    return dims, bound


def _signed_distance(cls: int, p: np.ndarray, dims: np.ndarray) -> np.ndarray:
    """Signed distance (negative inside, in voxels) of local points ``p (m, V, 3)`` to shape ``cls``.

    ``dims (m, 2)`` as in :func:`_shape_params`. Exact for all but the cone, whose distance is the
    usual max of the slanted side and the base plane (right sign, near-exact close to the surface,
    which is all the soft edge needs).
    """
    d0, d1 = dims[:, 0, None], dims[:, 1, None]
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    if cls == 1:
        return np.sqrt(x * x + y * y + z * z) - d0
    if cls == 2:
        q = np.abs(p) - d0[..., None]
        outside = np.sqrt((np.maximum(q, 0) ** 2).sum(-1))
        return outside + np.minimum(q.max(-1), 0)
    if cls == 3:
        a, b = np.sqrt(x * x + y * y) - d0, np.abs(z) - d1
        return np.minimum(np.maximum(a, b), 0) + np.sqrt(np.maximum(a, 0) ** 2 + np.maximum(b, 0) ** 2)
    if cls == 4:
        zb = z + 0.25 * d1  # height above the base plane (origin sits at the centre of mass)
        radius_here = d0 * (1 - zb / d1)  # the cone's radius at that height
        slant = (np.sqrt(x * x + y * y) - radius_here) * (d1 / np.sqrt(d0 * d0 + d1 * d1))
        return np.maximum(np.maximum(slant, -zb), zb - d1)
    if cls == 5:
        ring = np.sqrt(x * x + y * y) - d0
        return np.sqrt(ring * ring + z * z) - d1
    if cls == 6:
        return np.abs(np.sqrt(x * x + y * y + z * z) - (d0 - d1 / 2)) - d1 / 2
    raise ValueError(f"unknown shape class {cls}")


def synthetic_volumes(seed: int = 0, n: int = 600, size: int = 24) -> VolumeSet:
    """Generate ``n`` labeled shape volumes, deterministically from ``seed``.

    Returns a :class:`VolumeSet` (kind "volume") over an in-memory ``(n, 1, size, size, size)``
    float32 array; labels ``(n,)`` are 1..6 for ``CLASS_NAMES`` (sphere, cube, cylinder, cone,
    torus, hollow sphere), balanced to within one sample and in random order.
    """
    if n < 1 or size < 8:
        raise ValueError(f"need n >= 1 and size >= 8, got n={n}, size={size}")
    rng = np.random.default_rng(seed)
    k = len(CLASS_NAMES)
    labels = rng.permutation(np.arange(n) % k + 1).astype(np.int64)

    # Every random draw happens here, in a fixed order, so a seed fixes the whole set.
    dims, bound = _shape_params(rng, labels, size)
    rotations = _random_rotations(rng, n).astype(np.float32)
    half = (size - 1) / 2
    slack = np.maximum(0.0, 0.92 * half - bound)  # room to move without leaving the box
    offsets = rng.uniform(-1, 1, (n, 3)) * (slack / np.sqrt(3))[:, None]
    softness = rng.uniform(*_EDGE_SOFTNESS, n)
    contrast = rng.uniform(*_CONTRAST, n)
    level = rng.uniform(*_BACKGROUND_LEVEL, n)
    trend = rng.normal(0.0, _BACKGROUND_TREND, (n, 9))  # 3 linear + 6 quadratic terms
    noise_sd = rng.uniform(*_NOISE_SD, n)
    noise = rng.standard_normal((n, size, size, size), dtype=np.float32)

    axis = np.arange(size, dtype=np.float32) - half
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)  # (V, 3) voxel coords
    u = grid / half  # [-1, 1]^3 for the background trend
    basis = np.stack(
        [u[:, 0], u[:, 1], u[:, 2], u[:, 0] ** 2 - 1 / 3, u[:, 1] ** 2 - 1 / 3, u[:, 2] ** 2 - 1 / 3,
         u[:, 0] * u[:, 1], u[:, 0] * u[:, 2], u[:, 1] * u[:, 2]],
        axis=0,
    ).astype(np.float32)  # (9, V)

    occupancy = np.empty((n, size**3), dtype=np.float32)
    chunk = max(1, _CHUNK_VOXELS // size**3)
    for cls in range(1, k + 1):
        members = np.flatnonzero(labels == cls)
        for start in range(0, len(members), chunk):
            idx = members[start : start + chunk]
            # Local coordinates: undo the offset, then rotate (p_local = R^T (x - c)).
            local = (grid[None] - offsets[idx, None, :].astype(np.float32)) @ rotations[idx]
            sdf = _signed_distance(cls, local, dims[idx].astype(np.float32))
            # Soft partial-volume edge; clip the exponent so far voxels do not overflow.
            occupancy[idx] = 1.0 / (1.0 + np.exp(np.clip(sdf / softness[idx, None], -30, 30)))

    background = level[:, None] + trend @ basis  # (n, V) smooth, class-independent
    volumes = (
        background + contrast[:, None] * occupancy + noise_sd[:, None] * noise.reshape(n, -1)
    ).astype(np.float32)
    volumes = volumes.reshape(n, 1, size, size, size)
    return VolumeSet(
        name="synthetic-volumes",
        volumes=ArrayVolumes(volumes),
        labels=labels,
        class_names=list(CLASS_NAMES),
        kind="volume",
    )

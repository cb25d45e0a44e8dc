"""A synthetic Indian Pines-style scene, generated from a seed with no download.

Generative model, in the order it runs:

1. **Layout.** The 145 x 145 image is cut into parcels by a random treemap (recursive splits
   of the longer side). Each parcel holds one roughly rectangular field of one class, with
   slightly irregular edges; whatever the field does not cover is unlabeled margin (label 0):
   weedy soil and gravel, plus asphalt roads between the top-level blocks, so background
   pixels still have plausible spectra. Every class is spread over 1-6 fields and the
   per-class pixel counts follow the real Indian Pines imbalance (46 ... 2455 pixels), so
   spatially disjoint splits are possible and rare classes stay rare.
2. **Materials.** Seven smooth endmember spectra over 400-2500 nm: two green vegetations
   (broadleaf and grass-like, red edge near 700 nm, leaf-water dips near 1400/1900 nm), dry
   vegetation, bare soil, shadow/water, asphalt/concrete and metal.
3. **Classes.** Each class is a fixed mixture of those materials. Corn-*, soybean-* and
   grass-* classes differ only by a few percent of residue/soil/vegetation cover, so their
   mean spectra are close, as in the real scene. Each field perturbs its class mixture a
   little and adds its own gain and smooth spectral offset (within-class variability).
4. **Mixed edges.** The per-pixel mean abundance maps are blurred with a small Gaussian before
   rendering, so pixels on field boundaries mix their neighbours.
5. **Pixels.** Each pixel draws its abundances from a Dirichlet centred on the (blurred) field
   mixture, independently of its neighbours, then gets a small gain jitter and band noise
   (stronger in the atmospheric water bands).

Why it is hard pixel by pixel yet easy with context: the Dirichlet jitter moves each pixel
*along the material directions that separate the classes*, by more than the gap between
similar crops. No per-pixel classifier can undo that (it is not noise orthogonal to the
signal, which a linear model over 200 bands would simply average away). The jitter is i.i.d.
across pixels, so averaging a neighbourhood (a 7 x 7 window has 49 draws) shrinks it about
seven-fold and the class mixtures separate cleanly. Pixels on field edges are the hard part
even with context: their windows take in margin, whose gravel/asphalt content (absent from
crop fields) lets a classifier tell "edge of field X" from "another crop".
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from hsframe.data.scene import Scene

HEIGHT = 145
WIDTH = 145
NUM_BANDS = 200

CLASS_NAMES: list[str] = [
    "Alfalfa",
    "Corn-notill",
    "Corn-mintill",
    "Corn",
    "Grass-pasture",
    "Grass-trees",
    "Grass-pasture-mowed",
    "Hay-windrowed",
    "Oats",
    "Soybean-notill",
    "Soybean-mintill",
    "Soybean-clean",
    "Wheat",
    "Woods",
    "Buildings-Grass-Trees-Drives",
    "Stone-Steel-Towers",
]

# Labeled pixels per class in the real Indian Pines ground truth (10,249 in all).
TARGET_COUNTS: tuple[int, ...] = (
    46, 1428, 830, 237, 483, 730, 28, 478, 20, 972, 2455, 593, 205, 1265, 386, 93,
)

# Fields per class: one for the tiny classes, up to six for the biggest (49 fields in all).
FIELDS_PER_CLASS: tuple[int, ...] = (1, 5, 4, 2, 3, 4, 1, 3, 1, 4, 6, 3, 2, 5, 3, 2)

# Endmember order used by the abundance tables below.
MATERIALS: tuple[str, ...] = (
    "green_broadleaf", "green_grass", "dry_vegetation", "soil", "shadow", "asphalt", "metal",
)

# Mean abundance fractions per class (rows sum to 1). Similar crops sit close together:
# tillage practice (notill > mintill > clean) only shifts residue vs soil by ~0.1.
_CLASS_ABUNDANCE = np.array(
    [
        # broad  grass  dry   soil  shadow asph  metal
        [0.50, 0.06, 0.12, 0.29, 0.03, 0.00, 0.00],  # Alfalfa
        [0.03, 0.21, 0.32, 0.41, 0.03, 0.00, 0.00],  # Corn-notill
        [0.03, 0.25, 0.21, 0.48, 0.03, 0.00, 0.00],  # Corn-mintill
        [0.03, 0.29, 0.10, 0.55, 0.03, 0.00, 0.00],  # Corn
        [0.08, 0.52, 0.18, 0.19, 0.03, 0.00, 0.00],  # Grass-pasture
        [0.22, 0.42, 0.08, 0.10, 0.18, 0.00, 0.00],  # Grass-trees
        [0.05, 0.44, 0.30, 0.18, 0.03, 0.00, 0.00],  # Grass-pasture-mowed
        [0.02, 0.14, 0.60, 0.21, 0.03, 0.00, 0.00],  # Hay-windrowed
        [0.03, 0.38, 0.30, 0.26, 0.03, 0.00, 0.00],  # Oats
        [0.19, 0.03, 0.32, 0.43, 0.03, 0.00, 0.00],  # Soybean-notill
        [0.23, 0.03, 0.21, 0.50, 0.03, 0.00, 0.00],  # Soybean-mintill
        [0.27, 0.03, 0.10, 0.57, 0.03, 0.00, 0.00],  # Soybean-clean
        [0.03, 0.68, 0.10, 0.14, 0.05, 0.00, 0.00],  # Wheat
        [0.55, 0.10, 0.05, 0.03, 0.27, 0.00, 0.00],  # Woods
        [0.15, 0.24, 0.06, 0.15, 0.10, 0.30, 0.00],  # Buildings-Grass-Trees-Drives
        [0.02, 0.06, 0.02, 0.25, 0.05, 0.28, 0.32],  # Stone-Steel-Towers
    ]
)
# Unlabeled margins (weedy soil between fields) and roads.
_MARGIN_ABUNDANCE = np.array([0.03, 0.12, 0.15, 0.40, 0.05, 0.25, 0.00])
_ROAD_ABUNDANCE = np.array([0.01, 0.05, 0.08, 0.30, 0.04, 0.52, 0.00])

# Difficulty knobs (calibrated; see tests/test_synthetic.py for the protocol).
_DIRICHLET_CONCENTRATION = 10.0  # lower = stronger per-pixel abundance jitter
_FIELD_ABUNDANCE_SD = 0.008  # per-field shift of the class mixture
_FIELD_GAIN_SD = 0.02  # per-field brightness
_FIELD_OFFSET_SD = 0.004  # per-field smooth additive spectral offset
_PIXEL_GAIN_SD = 0.03  # per-pixel illumination
_BAND_NOISE_SD = 0.004  # sensor noise, scaled up in the atmospheric water bands
_EDGE_BLUR_SIGMA = 0.7  # pixels; mixes abundances across field boundaries
_ROAD_WIDTH = 2.0
_LAYOUT_TRIES = 30
_MARGIN_VARIATION = 0.03  # smooth spatial variation of the margin mixture
_PARCEL_PAD = 9.0  # treemap weight (sqrt(area) + pad)^2: small fields get relatively wider margins


def _gauss(x: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - centre) / width) ** 2)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _endmembers(wl_nm: np.ndarray) -> np.ndarray:
    """Smooth reflectance curves, shape (len(MATERIALS), B), for wavelengths in nm."""
    x = wl_nm / 1000.0  # micrometres: the absorption features are easier to read there

    def green(edge: float, nir: float, green_peak: float) -> np.ndarray:
        visible = 0.035 + green_peak * _gauss(x, 0.55, 0.035) - 0.015 * _gauss(x, 0.67, 0.03)
        rise = _sigmoid((x - edge) / 0.017)
        plateau = nir * (1 - 0.35 * _sigmoid((x - 1.55) / 0.12) - 0.3 * _sigmoid((x - 2.1) / 0.15))
        leaf_water = (
            1
            - 0.12 * _gauss(x, 0.97, 0.03)
            - 0.18 * _gauss(x, 1.19, 0.04)
            - 0.55 * _gauss(x, 1.45, 0.06)
            - 0.70 * _gauss(x, 1.94, 0.08)
        )
        return (visible * (1 - rise) + plateau * rise) * leaf_water

    broadleaf = green(edge=0.712, nir=0.52, green_peak=0.06)
    grass = green(edge=0.722, nir=0.44, green_peak=0.045) + 0.03 * _sigmoid((x - 1.5) / 0.2)
    dry = (0.07 + 0.33 * _sigmoid((x - 0.8) / 0.22)) * (
        1
        - 0.15 * _gauss(x, 1.45, 0.06)
        - 0.25 * _gauss(x, 1.94, 0.07)
        - 0.30 * _gauss(x, 2.10, 0.045)  # cellulose / lignin
    ) - 0.06 * _sigmoid((x - 2.25) / 0.05)
    soil = (0.06 + 0.30 * (1 - np.exp(-(x - 0.4) / 0.6))) * (
        1
        - 0.08 * _gauss(x, 1.41, 0.04)
        - 0.12 * _gauss(x, 1.91, 0.05)
        - 0.10 * _gauss(x, 2.20, 0.03)  # clay hydroxyl
    )
    shadow = 0.012 + 0.05 * np.exp(-(x - 0.4) / 0.25)
    asphalt = (0.10 + 0.06 * (x - 0.4) / 2.1 + 0.02 * _gauss(x, 0.6, 0.2)) * (
        1 - 0.05 * _gauss(x, 1.73, 0.03) - 0.06 * _gauss(x, 2.3, 0.04)  # hydrocarbons
    )
    metal = 0.40 - 0.07 * (x - 0.4) / 2.1 + 0.03 * _gauss(x, 0.9, 0.15)
    return np.stack([broadleaf, grass, dry, soil, shadow, asphalt, metal])


def _atmospheric_absorption(wl_nm: np.ndarray) -> np.ndarray:
    """0..1 depth of the atmospheric water bands: where the sensor sees little light."""
    x = wl_nm / 1000.0
    return np.clip(
        0.3 * _gauss(x, 0.94, 0.02)
        + 0.4 * _gauss(x, 1.13, 0.025)
        + 1.0 * _gauss(x, 1.38, 0.04)
        + 1.0 * _gauss(x, 1.88, 0.05)
        + 0.3 * _gauss(x, 2.48, 0.05),
        0.0,
        1.0,
    )


def _field_sizes(rng: np.random.Generator) -> list[tuple[int, int]]:
    """(class id, target pixel count) for every field; a class's fields sum to its count."""
    fields: list[tuple[int, int]] = []
    for cls, (total, n) in enumerate(zip(TARGET_COUNTS, FIELDS_PER_CLASS), start=1):
        # Uneven shares, but no field under ~12 px so every field stays a visible patch.
        shares = rng.dirichlet(np.full(n, 4.0))
        sizes = np.maximum(np.round(shares * total).astype(int), min(12, total))
        sizes[np.argmax(sizes)] += total - sizes.sum()  # exact class total, absorbed by the biggest
        fields.extend((cls, int(s)) for s in sizes)
    return fields


def _treemap(
    rng: np.random.Generator,
    weights: np.ndarray,
    order: list[int],
    rect: tuple[float, float, float, float],
    depth: int,
    parcels: dict[int, tuple[float, float, float, float]],
    roads: list[tuple[float, float, float, float]],
) -> None:
    """Split ``rect`` (y0, x0, y1, x1) among ``order`` in proportion to ``weights``.

    Cuts the longer side so parcels stay compact; the two top levels leave a road in the cut.
    """
    if len(order) == 1:
        parcels[order[0]] = rect
        return
    y0, x0, y1, x1 = rect
    w = weights[order]
    cum = np.cumsum(w) / w.sum()
    # Cut near the middle of the weight, with a little randomness so layouts differ by seed.
    target = 0.5 + rng.uniform(-0.12, 0.12)
    k = int(np.clip(np.argmin(np.abs(cum[:-1] - target)) + 1, 1, len(order) - 1))
    frac = cum[k - 1]
    gap = _ROAD_WIDTH if depth < 2 else 0.0
    if (y1 - y0) >= (x1 - x0):
        cut = y0 + frac * (y1 - y0 - gap)
        first = (y0, x0, cut, x1)
        second = (cut + gap, x0, y1, x1)
        if gap:
            roads.append((cut, x0, cut + gap, x1))
    else:
        cut = x0 + frac * (x1 - x0 - gap)
        first = (y0, x0, y1, cut)
        second = (y0, cut + gap, y1, x1)
        if gap:
            roads.append((y0, cut, y1, cut + gap))
    _treemap(rng, weights, order[:k], first, depth + 1, parcels, roads)
    _treemap(rng, weights, order[k:], second, depth + 1, parcels, roads)


def _wobble(rng: np.random.Generator, n: int) -> np.ndarray:
    """Per-row (or per-column) edge offsets in {-1, 0, 1}, in short runs rather than salt."""
    noise = np.convolve(rng.standard_normal(n + 2), np.ones(3) / 3, mode="valid")
    return (noise > 0.55).astype(int) - (noise < -0.55).astype(int)


def _round_box(rect: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """Float treemap rectangle to pixel bounds; neighbours share edges, so none overlap."""
    y0, x0, y1, x1 = (int(round(v)) for v in rect)
    return y0, x0, y1, x1


def _field_box(parcel: tuple[int, int, int, int], size: int) -> tuple[int, int]:
    """Height and width of a ``size``-pixel field shaped like its parcel, inside a 1-px rim."""
    py0, px0, py1, px1 = parcel
    in_h, in_w = max(py1 - py0 - 2, 1), max(px1 - px0 - 2, 1)
    h = int(np.clip(round(np.sqrt(size * in_h / in_w)), 1, in_h))
    w = int(np.clip(round(size / h), 1, in_w))
    h = int(np.clip(round(size / w), 1, in_h))
    return h, w


def _layout(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """Label map, field-id map (-1 = background), road mask, and each field's class."""
    fields = _field_sizes(rng)
    sizes = np.array([s for _, s in fields], dtype=float)
    weights = (np.sqrt(sizes) + _PARCEL_PAD) ** 2

    # A random treemap can pair a big and a tiny field into a sliver the tiny one does not
    # fit in; draw a few layouts and keep the first (else best) where every field fits.
    best_fit = -1.0
    parcels: list[tuple[int, int, int, int]] = []
    roads: list[tuple[float, float, float, float]] = []
    for _ in range(_LAYOUT_TRIES):
        cand: dict[int, tuple[float, float, float, float]] = {}
        cand_roads: list[tuple[float, float, float, float]] = []
        order = [int(i) for i in rng.permutation(len(fields))]
        _treemap(rng, weights, order, (0.0, 0.0, float(HEIGHT), float(WIDTH)), 0, cand, cand_roads)
        boxes = [_round_box(cand[i]) for i in range(len(fields))]
        # Fit: worst share of a field's target that its box holds; slivers under 3 px count half.
        fit = 1.0
        for box, (_, size) in zip(boxes, fields):
            h, w = _field_box(box, size)
            fit = min(fit, h * w / size * (1.0 if min(h, w) >= 3 else 0.5))
        if fit > best_fit:
            best_fit, parcels, roads = fit, boxes, cand_roads
        if fit >= 0.95:
            break

    labels = np.zeros((HEIGHT, WIDTH), dtype=np.int64)
    field_id = np.full((HEIGHT, WIDTH), -1, dtype=np.int64)
    road = np.zeros((HEIGHT, WIDTH), dtype=bool)
    for rect in roads:
        ry0, rx0, ry1, rx1 = _round_box(rect)
        road[ry0:ry1, rx0:rx1] = True

    for i, (cls, size) in enumerate(fields):
        py0, px0, py1, px1 = parcels[i]
        h, w = _field_box(parcels[i], size)
        in_h, in_w = max(py1 - py0 - 2, 1), max(px1 - px0 - 2, 1)
        y = py0 + 1 + int(rng.integers(0, in_h - h + 1))
        x = px0 + 1 + int(rng.integers(0, in_w - w + 1))
        # Irregular edges: each row's left/right end and each column's top/bottom end may move
        # by a pixel; the box is clipped to the parcel so a one-pixel rim always stays free.
        # Narrow fields keep straight edges: a pixel of wobble would eat a third of them.
        ys = np.arange(max(y - 1, py0 + 1), min(y + h + 1, py1 - 1))[:, None]
        xs = np.arange(max(x - 1, px0 + 1), min(x + w + 1, px1 - 1))[None, :]
        amp = int(min(h, w) >= 6)
        left = x + amp * _wobble(rng, ys.shape[0])[:, None]
        right = x + w + amp * _wobble(rng, ys.shape[0])[:, None]
        top = y + amp * _wobble(rng, xs.shape[1])[None, :]
        bottom = y + h + amp * _wobble(rng, xs.shape[1])[None, :]
        inside = (xs >= left) & (xs < right) & (ys >= top) & (ys < bottom)
        # Wobbled corners can leave stray pixels; keep the field in one 4-connected piece.
        parts, n_parts = ndimage.label(inside)
        if n_parts > 1:
            inside = parts == np.argmax(np.bincount(parts.ravel())[1:]) + 1
        labels[ys, xs] = np.where(inside, cls, labels[ys, xs])
        field_id[ys, xs] = np.where(inside, i, field_id[ys, xs])

    road &= labels == 0
    return labels, field_id, road, [cls for cls, _ in fields]


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Zero-mean, unit-ish spatially smooth noise with correlation length ``scale`` pixels."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=scale, mode="wrap")
    return field / (field.std() + 1e-12)


def synthetic_pines(seed: int = 0) -> Scene:
    """Generate a 145 x 145 x 200 Indian Pines-like scene, deterministically from ``seed``."""
    rng = np.random.default_rng(seed)
    wavelengths = np.linspace(400.0, 2500.0, NUM_BANDS)
    endmembers = _endmembers(wavelengths)  # (M, B)
    n_mat = endmembers.shape[0]

    labels, field_id, road, field_class = _layout(rng)
    n_fields = len(field_class)

    # Per-field mixture: the class mixture nudged a little (only on materials the class has).
    base = _CLASS_ABUNDANCE[np.array(field_class) - 1]
    present = base > 0
    field_abund = base + present * rng.normal(0.0, _FIELD_ABUNDANCE_SD, base.shape)
    field_abund = np.clip(field_abund, 0.005 * present, None)
    field_abund /= field_abund.sum(axis=1, keepdims=True)

    # Background mixture varies smoothly (weedier here, barer there); roads are mostly asphalt.
    bg = np.broadcast_to(_MARGIN_ABUNDANCE, (HEIGHT, WIDTH, n_mat)).copy()
    bg[..., 5] += _MARGIN_VARIATION * _smooth_noise(rng, (HEIGHT, WIDTH), 6.0)
    bg[..., 4] += 0.5 * _MARGIN_VARIATION * _smooth_noise(rng, (HEIGHT, WIDTH), 6.0)
    bg[road] = _ROAD_ABUNDANCE
    bg = np.clip(bg, 0.0, None)
    bg /= bg.sum(axis=-1, keepdims=True)

    # Smooth spectral offset per field: low-order Legendre shapes across the band range.
    t = np.linspace(-1.0, 1.0, NUM_BANDS)
    offset_basis = np.stack([t, 1.5 * t**2 - 0.5, 2.5 * t**3 - 1.5 * t])  # (3, B)
    field_offset = rng.normal(0.0, _FIELD_OFFSET_SD, (n_fields, offset_basis.shape[0]))
    field_gain = 1.0 + rng.normal(0.0, _FIELD_GAIN_SD, n_fields)

    # Stack abundances, offsets and gain into one map so a single blur mixes them all at edges.
    is_field = field_id >= 0
    fid = np.where(is_field, field_id, 0)
    maps = np.concatenate(
        [
            np.where(is_field[..., None], field_abund[fid], bg),
            np.where(is_field[..., None], field_offset[fid], 0.0),
            np.where(is_field, field_gain[fid], 1.0)[..., None],
        ],
        axis=-1,
    )
    blur = (_EDGE_BLUR_SIGMA, _EDGE_BLUR_SIGMA, 0.0)
    maps = ndimage.gaussian_filter(maps, sigma=blur, mode="nearest")
    mean_abund = maps[..., :n_mat]
    offsets = maps[..., n_mat : n_mat + offset_basis.shape[0]]
    gain = maps[..., -1]

    # Per-pixel abundances ~ Dirichlet(concentration * mean), drawn through normalised gammas
    # (numpy's dirichlet takes one alpha vector; gamma is vectorised over per-pixel shapes).
    shape = _DIRICHLET_CONCENTRATION * mean_abund + 1e-3
    draws = rng.gamma(shape)
    abund = draws / draws.sum(axis=-1, keepdims=True)

    pixel_gain = gain * (1.0 + rng.normal(0.0, _PIXEL_GAIN_SD, (HEIGHT, WIDTH)))
    cube = pixel_gain[..., None] * (abund @ endmembers) + offsets @ offset_basis
    noise_sd = _BAND_NOISE_SD * (1.0 + 3.0 * _atmospheric_absorption(wavelengths))
    cube += rng.standard_normal(cube.shape) * noise_sd
    cube = cube.astype(np.float32)

    rgb = tuple(int(np.argmin(np.abs(wavelengths - nm))) for nm in (650.0, 550.0, 450.0))
    return Scene(
        name="synthetic-pines",
        cube=cube,
        labels=labels,
        class_names=list(CLASS_NAMES),
        wavelengths=wavelengths,
        rgb_bands=rgb,  # type: ignore[arg-type]
    )

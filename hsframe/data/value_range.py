"""The range of a cube's values, recorded at training and compared at prediction: a model trained on
reflectance in [0, 1] and given raw digital numbers up to 1402 predicts nonsense without any error."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np

# Percentiles are taken over at most this many values (an even stride through the cube): enough for
# the 1st/99th percentile, and seconds at most on any cube.
SAMPLE_VALUES = 2_000_000
# The prediction's 1st..99th percentile may reach this share of the training range beyond either end of it...
OUTSIDE_SHARE = 0.5
# ...and its spread (99th - 1st percentile) may differ from the training data's by up to this factor.
SPREAD_FACTOR = 10.0


@dataclass(frozen=True)
class ValueRange:
    """A cube's minimum, maximum and 1st / 50th / 99th percentiles."""

    min: float
    max: float
    p1: float
    p50: float
    p99: float

    @classmethod
    def of(cls, cube: Any) -> ValueRange:
        """Of an array, or of an out-of-core cube read a block of rows at a time (the same values either way)."""
        from hsframe.data.lazy_cube import LazyCube, row_blocks

        if not isinstance(cube, LazyCube):
            flat = cube.reshape(-1)
            sample = flat[:: max(1, flat.size // SAMPLE_VALUES)]
            p1, p50, p99 = (float(v) for v in np.percentile(sample, [1, 50, 99]))
            return cls(float(flat.min()), float(flat.max()), p1, p50, p99)
        step = max(1, cube.size // SAMPLE_VALUES)
        lows, highs, parts = [], [], []
        row = cube.shape[1] * cube.shape[2]
        for lo, _, block in row_blocks(cube):
            flat = block.reshape(-1)
            lows.append(flat.min())
            highs.append(flat.max())
            parts.append(flat[(-lo * row) % step :: step])  # the values at flat offsets that are multiples of step
        p1, p50, p99 = (float(v) for v in np.percentile(np.concatenate(parts), [1, 50, 99]))
        return cls(float(min(lows)), float(max(highs)), p1, p50, p99)

    def to_json(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ValueRange:
        return cls(**{k: float(raw[k]) for k in ("min", "max", "p1", "p50", "p99")})

    def describe(self) -> str:
        return f"[{self.min:.4g}, {self.max:.4g}] (1st-99th percentile {self.p1:.4g}..{self.p99:.4g})"

    def differs_from(self, trained: ValueRange) -> bool:
        """Whether these values are on another scale than ``trained``: most of them beyond its range, or spread
        over a range ten times wider or narrower."""
        span = max(trained.max - trained.min, 1e-12)
        outside = self.p99 > trained.max + OUTSIDE_SHARE * span or self.p1 < trained.min - OUTSIDE_SHARE * span
        spread, trained_spread = self.p99 - self.p1, trained.p99 - trained.p1
        if trained_spread <= 0 or spread <= 0:
            return outside
        return outside or not 1 / SPREAD_FACTOR <= spread / trained_spread <= SPREAD_FACTOR

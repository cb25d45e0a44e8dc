"""Band wavelengths as the formats store them (nm or µm, with or without a unit) -> nanometres."""
from __future__ import annotations

import numpy as np

_MICROMETRES = ("micrometers", "micrometer", "microns", "micron", "um", "µm")


def to_nm(values: list[float], units: str) -> np.ndarray:
    """``(B,)`` float64 wavelengths in nanometres; micrometres are recognised by their unit or by values below 30."""
    wl = np.asarray(values, dtype=np.float64)
    u = units.strip().lower()
    if u in _MICROMETRES or (u in ("", "unknown") and wl.max(initial=0) < 30):
        wl = wl * 1000.0
    return wl

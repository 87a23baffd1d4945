"""Force and centre of pressure of one foot from its sensor pressures."""

from __future__ import annotations

import logging

import numpy as np

from ..constants import N_SENSORS, SENSOR_CHANNELS
from ..model import RecordingMeta
from ..protocol.layout import SensorLayout, reference_layout

log = logging.getLogger(__name__)

__all__ = ["force_and_cop", "layout_for", "sensor_channels", "NO_LOAD_N"]

#: a foot whose force stays below this carries no load (an insole that is not
#: worn, not working, or a file without forces), N
NO_LOAD_N = 20.0


def force_and_cop(pressure_kpa: np.ndarray, *, x_mm: np.ndarray, y_mm: np.ndarray, area_mm2: np.ndarray,
                  min_force_n: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertical force and centre of pressure of one foot.

    ``F = sum(p_i * A_i)``; ``COP = sum(F_i * r_i) / F`` (docs/science.md).

    Parameters
    ----------
    pressure_kpa : numpy.ndarray
        ``(n, 16)`` pressures, kPa (NaN rows stay NaN).
    x_mm, y_mm : numpy.ndarray
        Sensor positions in the foot frame, mm (x lateral, y toward the toes).
    area_mm2 : numpy.ndarray
        Area each sensor stands for, mm^2.
    min_force_n : float
        Below this force the COP is undefined and set to NaN, N.

    Returns
    -------
    force_n, cop_x_mm, cop_y_mm : numpy.ndarray
        float32 arrays of length n. kPa * mm^2 = 1e-3 N.
    """
    a = np.asarray(area_mm2, dtype=np.float32) * np.float32(1e-3)
    force = pressure_kpa @ a
    with np.errstate(invalid="ignore", divide="ignore"):
        cop_x = (pressure_kpa @ (a * np.asarray(x_mm, dtype=np.float32))) / force
        cop_y = (pressure_kpa @ (a * np.asarray(y_mm, dtype=np.float32))) / force
    low = ~(force >= min_force_n)
    cop_x[low] = np.nan
    cop_y[low] = np.nan
    return force.astype(np.float32), cop_x.astype(np.float32), cop_y.astype(np.float32)


def sensor_channels(columns, side: str) -> tuple[str, ...]:
    """The per-sensor channels ``p01``, ``p02``, ... a samples frame has for
    one foot, in order (16 for our insoles and Moticon's, 8 for gaitpdb's,
    none for an import of totals only).

    Parameters
    ----------
    columns : pandas.Index
        The samples frame's ``(side, channel)`` columns.
    side : str
    """
    out = []
    for ch in SENSOR_CHANNELS:
        if (side, ch) not in columns:
            break
        out.append(ch)
    return tuple(out)


def layout_for(meta: RecordingMeta, side: str) -> SensorLayout:
    """The insole's sensor layout: the one its device stored, else the one
    its importer gave (``meta.extra["sensor_layouts"][side]``, e.g.
    gaitpdb's 8 sensors), else the reference layout (also when the stored
    one is unusable: a damaged file)."""
    dev = meta.devices.get(side)
    imported = meta.extra.get("sensor_layouts") if isinstance(meta.extra.get("sensor_layouts"), dict) else {}
    stored = dev.layout if dev is not None and dev.layout else imported.get(side)
    if stored:
        try:
            layout = SensorLayout.from_dict(stored)
        except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: int() of a JSON 1e999
            layout = None
        if layout is not None and _layout_ok(layout):
            return layout
        log.warning("%s: the stored sensor layout is damaged; using the reference layout", side)
    else:
        log.info("%s: no sensor layout stored; using the reference layout", side)
    return reference_layout(side)


def _layout_ok(layout: SensorLayout) -> bool:
    arrays = (layout.x_mm, layout.y_mm, layout.area_mm2)
    n = layout.x_mm.shape[0] if layout.x_mm.ndim == 1 else 0
    return (1 <= n <= N_SENSORS and all(a.shape == (n,) and np.isfinite(a).all() for a in arrays)
            and bool((layout.area_mm2 > 0).all()) and 0 < layout.pressure_lsb_kpa < 100
            and 0 < layout.length_mm < 1000)

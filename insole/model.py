"""Data model: recording metadata, phases, and the loaded recording.

The samples tier is a ``pandas.DataFrame`` indexed by ``time_s`` (seconds
since the recording started, host clock, drift-corrected) with two-level
columns ``(side, channel)``. See docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .constants import STANDARD_GRAVITY_M_S2

if TYPE_CHECKING:  # pandas is imported by the decode stage, not by the data model
    import pandas as pd

__all__ = ["Phase", "DeviceInfo", "RecordingMeta", "Recording", "check_body_mass_kg"]


#: the body masses accepted, kg (a small child to the heaviest adults)
BODY_MASS_RANGE_KG = (10.0, 350.0)


def check_body_mass_kg(body_mass_kg: float | None) -> None:
    """Raise :class:`~insole.errors.InsoleError` unless the body mass (kg) is
    None or within :data:`BODY_MASS_RANGE_KG`."""
    import math

    from .errors import InsoleError

    lo, hi = BODY_MASS_RANGE_KG
    if body_mass_kg is not None and not (math.isfinite(body_mass_kg) and lo <= body_mass_kg <= hi):
        raise InsoleError(f"body mass must be from {lo:g} to {hi:g} kg; got {body_mass_kg}")


@dataclass(frozen=True)
class Phase:
    """A named stretch of a protocol (e.g. ``eyes_open``), seconds since start."""

    name: str
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class DeviceInfo:
    """What one insole told us about itself (Device Information service,
    battery, sensor layout)."""

    side: str
    name: str = ""
    address: str = ""
    manufacturer: str = ""
    model: str = ""
    serial: str = ""
    hardware_revision: str = ""
    firmware_revision: str = ""
    battery_pct: int | None = None
    layout: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DeviceInfo":
        """From a stored dict (a recording's devices table). Values of the
        wrong type (a damaged or hand-edited file) are dropped: text fields
        become "", ``battery_pct`` None unless a number 0-100, ``layout``
        None unless a dict (whose contents the decode stage validates)."""
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        out: dict[str, Any] = {k: (v if isinstance(v, str) else "") for k, v in known.items()
                               if k not in ("battery_pct", "layout")}
        battery = known.get("battery_pct")
        if isinstance(battery, (int, float)) and not isinstance(battery, bool) and 0 <= battery <= 100:
            out["battery_pct"] = battery
        if isinstance(known.get("layout"), dict):
            out["layout"] = known["layout"]
        return cls(**out)


@dataclass(frozen=True)
class RecordingMeta:
    """Facts about a recording that travel next to the samples frame.

    Attributes
    ----------
    source : str
        Where the data came from: ``"simulator"``, ``"virtual-radio"``,
        ``"ble"``, or ``"import:<format>"``.
    protocol : str
        ``"standing"``, ``"run"``, ``"walk"`` or ``"unknown"``.
    sampling_rate_hz : float
        Nominal sampling rate of the samples frame.
    body_mass_kg : float or None
        Subject's body mass, when given.
    started_utc : str
        ISO 8601 wall-clock start of the recording.
    truth : dict or None
        Ground truth stored by the simulator, else None.
    """

    source: str
    protocol: str
    sampling_rate_hz: float
    subject: str = ""
    body_mass_kg: float | None = None
    started_utc: str = ""
    app_version: str = ""
    devices: dict[str, DeviceInfo] = field(default_factory=dict)
    phases: tuple[Phase, ...] = ()
    truth: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def body_weight_n(self) -> float | None:
        """The subject's body weight, N (None when the body mass is unknown)."""
        return body_weight_n(self.body_mass_kg)


def body_weight_n(body_mass_kg: float | None) -> float | None:
    """Body weight of a body mass, N (standard gravity); None for an unknown (None or 0) mass.

    Parameters
    ----------
    body_mass_kg : float or None
        Body mass, kg.
    """
    return float(body_mass_kg) * STANDARD_GRAVITY_M_S2 if body_mass_kg else None


@dataclass(frozen=True, eq=False)
class Recording:
    """A loaded recording: the samples frame, its metadata and data quality.

    Attributes
    ----------
    samples : pandas.DataFrame
        Index ``time_s`` (float seconds), columns ``(side, channel)``;
        channels ``p01``..``p16`` (kPa), ``force_n`` (N), ``cop_x_mm``,
        ``cop_y_mm`` (foot frame: x lateral, y from the heel toward the toes;
        NaN when the foot is unloaded). Missing samples are NaN rows.
    meta : RecordingMeta
    quality : dict
        Packet loss per side (%), gaps, clock fits, invalid packets; see
        :func:`insole.signals.build.decode_recording`.
    path : str
        The file it came from ("" when built in memory).
    """

    samples: pd.DataFrame
    meta: RecordingMeta
    quality: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    @classmethod
    def from_frame(cls, df: pd.DataFrame, *, sampling_rate_hz: float, protocol: str,
                   body_mass_kg: float | None = None, phases: Any = ()) -> "Recording":
        """A recording from a pandas DataFrame (a force plate's export, a
        notebook's data).

        Parameters
        ----------
        df : pandas.DataFrame
            Flat columns ``left_force_n``, ``right_force_n`` (N, required),
            ``left_cop_x_mm``, ``left_cop_y_mm``, ``right_cop_x_mm``,
            ``right_cop_y_mm`` (GROUND frame: x to the subject's right, y
            forward, origin midway between the heels), ``left_p01`` ..
            ``left_p16`` (kPa); or ``(side, channel)`` columns as
            :attr:`samples` (COP in the foot frame). Time from a ``time_s``
            column (s), else the index (float seconds, timedeltas, or the
            default RangeIndex as sample numbers).
        sampling_rate_hz : float
            The data's sampling rate, Hz; times that jitter around it are
            interpolated onto its grid.
        protocol : str
            ``standing``, ``run``, ``walk`` or ``auto``.
        body_mass_kg : float, optional
            Subject's body mass, kg.
        phases : iterable
            :class:`Phase` or ``(name, start_s, end_s)`` tuples, s.

        Raises
        ------
        insole.errors.RecordingError
            For a missing or malformed column, times that do not increase or
            do not match the rate, or a bad argument.

        See Also
        --------
        insole.importers.frame.recording_from_frame : the implementation.
        """
        from .importers.frame import recording_from_frame

        return recording_from_frame(df, sampling_rate_hz=sampling_rate_hz, protocol=protocol,
                                    body_mass_kg=body_mass_kg, phases=phases)

    @property
    def duration_s(self) -> float:
        """Seconds covered by the samples frame (0 when empty)."""
        idx = self.samples.index
        if len(idx) == 0:
            return 0.0
        return float(idx[-1] - idx[0] + 1.0 / self.meta.sampling_rate_hz)

    def require_both_feet(self, what: str) -> None:
        """Raise :class:`~insole.errors.InsoleError` unless both feet have data.

        Parameters
        ----------
        what : str
            The analysis that needs them, for the message.
        """
        from .errors import InsoleError

        if set(self.sides) != {"left", "right"}:
            raise InsoleError(f"the {what} needs both feet; this recording has "
                              + (", ".join(self.sides) or "no foot") + " only")

    @property
    def sides(self) -> tuple[str, ...]:
        """Sides that have data, in (left, right) order."""
        present = set(self.samples.columns.get_level_values(0))
        return tuple(s for s in ("left", "right") if s in present)

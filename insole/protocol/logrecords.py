"""Clock evidence carried in an on-insole log (protocol v1.1): sync points
with a host and beacons heard from the other insole.

These two record kinds are what the logged clock fit
(:func:`insole.signals.timebase.fit_logged_clocks`) works from; the log codec
(:mod:`insole.protocol.log`) produces them from pages, and the recording file
stores them with the pages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SyncPoints", "Beacons"]


def _arr(x, dtype) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(x, dtype=dtype).reshape(-1))


@dataclass(frozen=True)
class SyncPoints:
    """(device time, host time) pairs logged when a host was connected.

    Attributes
    ----------
    device_time_us : numpy.ndarray
        uint64, the insole's clock at the host instant, microseconds.
    host_time_us : numpy.ndarray
        uint64, the host clock at that instant, Unix time in microseconds.
    uncertainty_us : numpy.ndarray
        uint32, half the round trip of the exchange that produced the pair,
        microseconds: the true host time lies within +- this.
    """

    device_time_us: np.ndarray
    host_time_us: np.ndarray
    uncertainty_us: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "device_time_us", _arr(self.device_time_us, np.uint64))
        object.__setattr__(self, "host_time_us", _arr(self.host_time_us, np.uint64))
        object.__setattr__(self, "uncertainty_us", _arr(self.uncertainty_us, np.uint32))
        if not (self.device_time_us.size == self.host_time_us.size == self.uncertainty_us.size):
            raise ValueError("SyncPoints: the arrays differ in length")

    @classmethod
    def empty(cls) -> "SyncPoints":
        return cls(np.zeros(0), np.zeros(0), np.zeros(0))

    def __len__(self) -> int:
        return int(self.device_time_us.size)

    def concat(self, other: "SyncPoints") -> "SyncPoints":
        """Both sets, in device-time order."""
        d = np.concatenate([self.device_time_us, other.device_time_us])
        o = np.argsort(d, kind="stable")
        return SyncPoints(d[o], np.concatenate([self.host_time_us, other.host_time_us])[o],
                          np.concatenate([self.uncertainty_us, other.uncertainty_us])[o])


@dataclass(frozen=True)
class Beacons:
    """Beacons one insole heard from the other while logging.

    Attributes
    ----------
    device_time_us : numpy.ndarray
        uint64, this insole's clock when the beacon's first bit arrived, us.
    peer_device_time_us : numpy.ndarray
        uint64, the other insole's clock at its transmission (carried in
        the beacon), us.
    peer_side : numpy.ndarray
        uint8, the other insole's side code (0 left, 1 right).
    peer_session : numpy.ndarray
        uint16, the other insole's session id.
    counter : numpy.ndarray
        uint16, the other insole's beacon counter.
    rssi_dbm : numpy.ndarray
        int8, received signal strength, dBm.
    """

    device_time_us: np.ndarray
    peer_device_time_us: np.ndarray
    peer_side: np.ndarray
    peer_session: np.ndarray
    counter: np.ndarray
    rssi_dbm: np.ndarray

    def __post_init__(self) -> None:
        for name, dtype in (("device_time_us", np.uint64), ("peer_device_time_us", np.uint64),
                            ("peer_side", np.uint8), ("peer_session", np.uint16), ("counter", np.uint16),
                            ("rssi_dbm", np.int8)):
            object.__setattr__(self, name, _arr(getattr(self, name), dtype))
        n = self.device_time_us.size
        if any(getattr(self, f).size != n for f in ("peer_device_time_us", "peer_side", "peer_session",
                                                     "counter", "rssi_dbm")):
            raise ValueError("Beacons: the arrays differ in length")

    @classmethod
    def empty(cls) -> "Beacons":
        z = np.zeros(0)
        return cls(z, z, z, z, z, z)

    def __len__(self) -> int:
        return int(self.device_time_us.size)

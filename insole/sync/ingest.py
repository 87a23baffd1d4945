"""Downloaded log sessions -> ordinary ``.insole`` recordings.

The pages go into the recording file exactly as downloaded (so a session can
be decoded again after a fix), with the device information the insole gave
and the metadata the rest of the pipeline reads. The left and right
sessions of one run are paired by their time spans on the host clock (from
their sync points), so two feet holding different numbers of sessions still
pair correctly; a session without a partner becomes a one-foot recording.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..constants import SIDES
from ..errors import InsoleError, RecordingError
from ..protocol.layout import decode_layout
from ..protocol.log import DecodedLog, SessionHeader, decode_log
from ..recording.store import SUFFIX, RecordingReader, RecordingWriter
from ..signals.timebase import fit_logged_clocks

log = logging.getLogger(__name__)

__all__ = ["LoggedSession", "pair_sessions", "write_synced", "recording_name", "holds_sessions"]


@dataclass(frozen=True)
class LoggedSession:
    """One foot's downloaded session.

    Attributes
    ----------
    side : str
    session_id : int
    image : bytes
        The session's pages in sequence order, as downloaded and verified.
    device : dict
        What the insole said about itself when it was synced (name, address,
        serial, revisions, battery, layout).
    start_host_us, end_host_us : int
        The session's span on the host clock (Unix microseconds), from its
        sync points.
    header : SessionHeader
        The session's header page (rate, layout, device, host note).
    truth : dict, optional
        A virtual insole's simulated truth for this session.
    """

    side: str
    session_id: int
    image: bytes = field(repr=False)
    device: dict[str, Any] = field(repr=False)
    start_host_us: int
    end_host_us: int
    header: SessionHeader = field(repr=False)
    truth: dict[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def from_image(cls, side: str, session_id: int, image: bytes, *, device: dict[str, Any],
                   truth: dict[str, Any] | None = None) -> "LoggedSession":
        """A downloaded session, its span and header read from its pages once.

        Raises
        ------
        RecordingError, ProtocolError
            The image holds no samples, or is of a log format this host does
            not know.
        """
        start_us, end_us, decoded = session_span_us(image)
        return cls(side, session_id, image, device, start_us, end_us, decoded.header, truth)

    @property
    def serial(self) -> str:
        return str(self.device.get("serial", ""))


def session_span_us(image: bytes) -> tuple[int, int, DecodedLog]:
    """A session's first and last sample on the host clock (Unix us), from
    its own sync points (and nominal rate when it has only one)."""
    d = decode_log(image, decode_codes=False)
    if d.header is None or d.count.size == 0:
        raise RecordingError(f"log session {d.session_id} holds no samples")
    side = d.header.side
    clock = fit_logged_clocks({side: d.sync}, {side: d.beacons}, host_origin_ns=0)[side]
    last = int(np.argmax(d.first_index))
    t0 = float(clock.host_ns(np.array([float(d.device_time_us[0])]))[0])
    t1 = float(clock.host_ns(np.array([float(d.device_time_us[last]) +
                                       (d.count[last] - 1) * 1e6 / d.header.sampling_rate_hz]))[0])
    return int(t0 // 1000), int(t1 // 1000), d


def pair_sessions(sessions: list[LoggedSession]) -> list[dict[str, LoggedSession]]:
    """Group left and right sessions of the same run: each left session
    pairs with the right session whose host-time span overlaps it most.

    Returns
    -------
    list of dict
        Side -> session, in start order; a lone session is a one-key dict.
    """
    left = sorted((s for s in sessions if s.side == "left"), key=lambda s: s.start_host_us)
    right = sorted((s for s in sessions if s.side == "right"), key=lambda s: s.start_host_us)
    groups: list[dict[str, LoggedSession]] = []
    free = list(right)
    for s in left:
        overlaps = [(min(s.end_host_us, r.end_host_us) - max(s.start_host_us, r.start_host_us), r) for r in free]
        best = max(overlaps, key=lambda o: o[0], default=None)
        if best is not None and best[0] > 0:
            free.remove(best[1])
            groups.append({"left": s, "right": best[1]})
        else:
            groups.append({"left": s})
    groups.extend({"right": r} for r in free)
    return sorted(groups, key=lambda g: min(s.start_host_us for s in g.values()))


def recording_name(group: dict[str, LoggedSession]) -> str:
    """File name of a synced run: ``run-YYYYmmdd-HHMMSS.insole`` (UTC start)."""
    start = min(s.start_host_us for s in group.values())
    stamp = dt.datetime.fromtimestamp(start / 1e6, tz=dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"run-{stamp}{SUFFIX}"


def _key(group: dict[str, LoggedSession]) -> dict[str, list]:
    return {side: [s.serial, s.session_id] for side, s in group.items()}


def holds_sessions(path: str | os.PathLike, group: dict[str, LoggedSession]) -> bool:
    """True when ``path`` is a recording of exactly these sessions, with
    their pages intact (a sync that was stopped after writing it)."""
    try:
        with RecordingReader(path) as r:
            if r.meta.get("log_sessions_key") != _key(group):
                return False
            return all(r.log_image(side) == s.image for side, s in group.items())
    except (RecordingError, InsoleError, OSError):
        return False


def write_synced(path: str | os.PathLike, group: dict[str, LoggedSession]) -> Path:
    """Write one run (a left and/or right session) as a recording.

    The file says ``source: insole-log``; its time 0 is the earliest first
    sample of the two feet on the host clock (``meta.host_origin_unix_us``).
    Written under a temporary name and renamed when complete and read back.

    Parameters
    ----------
    path : path
        The new file (must not exist).
    group : dict
        Side -> :class:`LoggedSession`.
    """
    origin_us = min(s.start_host_us for s in group.values())
    end_us = max(s.end_host_us for s in group.values())
    headers = {side: s.header for side, s in group.items()}
    note = next((h.note for h in headers.values() if h.note), {})
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    meta = _meta(group, headers, note, origin_us)
    try:
        with RecordingWriter(tmp, meta=meta, overwrite=True) as w:
            for side in SIDES:
                if side not in group:
                    continue
                s = group[side]
                w.set_device(side, _device(s, headers[side]))
                w.add_log_pages(side, s.session_id, s.image)
            w.add_marker(0, "phase_start", meta["protocol"])
            w.add_marker((end_us - origin_us) * 1000, "phase_end", meta["protocol"])
        if not holds_sessions(tmp, group):
            raise RecordingError(f"{tmp}: the recording just written does not read back as downloaded")
        if path.exists():
            raise InsoleError(f"{path} exists; not replaced")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _meta(group: dict[str, LoggedSession], headers: dict, note: dict, origin_us: int) -> dict[str, Any]:
    started = dt.datetime.fromtimestamp(origin_us / 1e6, tz=dt.timezone.utc).isoformat(timespec="milliseconds")
    meta: dict[str, Any] = {
        "source": "insole-log",
        "protocol": str(note.get("protocol", "run")),
        "sampling_rate_hz": float(next(iter(headers.values())).sampling_rate_hz),
        "started_utc": started.replace("+00:00", "Z"),
        "host_origin_unix_us": int(origin_us),
        "app_version": __version__,
        "log_sessions": {side: {"session_id": s.session_id, "serial": s.serial, "bytes": len(s.image),
                                "trigger": headers[side].trigger} for side, s in group.items()},
        "log_sessions_key": _key(group),
    }
    for key in ("subject", "body_mass_kg", "distance_m"):
        if note.get(key) is not None:
            meta[key] = note[key]
    truths = [s.truth for s in group.values() if s.truth]
    if truths:
        meta["truth"] = truth_on_recording_axis(truths[0], origin_us=origin_us)
    return meta


def truth_on_recording_axis(truth: dict[str, Any], *, origin_us: int) -> dict[str, Any]:
    """A virtual run's truth with its steps (``ic_s``, ``to_s``) moved from
    the scenario's time axis onto the recording's, as ``insole simulate``
    stores them; ``scenario_start_s`` says where scenario time 0 lies."""
    out = dict(truth)
    start_us = truth.get("scenario_start_host_time_us")
    if not isinstance(start_us, (int, float)):
        return out
    shift_s = (float(start_us) - origin_us) / 1e6
    out["scenario_start_s"] = shift_s
    scenario = dict(out.get("scenario") or {})
    steps = scenario.get("steps")
    if isinstance(steps, dict):
        scenario["steps"] = {k: ([x + shift_s if x is not None else None for x in v] if k in ("ic_s", "to_s") else v)
                             for k, v in steps.items()}
        out["scenario"] = scenario
    return out


def _device(s: LoggedSession, header) -> dict[str, Any]:
    """The device entry: what the insole said at sync time, with the layout
    and identity its session header recorded (they win: the log is what was
    measured)."""
    info = dict(s.device)
    names = {"firmware": "firmware_revision", "hardware": "hardware_revision"}
    info.update({names.get(k, k): v for k, v in header.device.items() if v})
    try:
        info["layout"] = decode_layout(header.layout).to_dict()
    except InsoleError as exc:  # the header's layout is unreadable: keep what the insole says now
        log.warning("%s: the session's layout is unreadable (%s); using the insole's present layout", s.side, exc)
    return info

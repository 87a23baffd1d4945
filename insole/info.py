"""What a recording holds, as plain data (``insole info``)."""

from __future__ import annotations

from typing import Any

from .jsonsafe import json_safe
from .model import Recording

__all__ = ["describe"]

INFO_SCHEMA = "insole.info/1"


def describe(recording: Recording) -> dict[str, Any]:
    """Duration, devices, sampling rate, packets, loss, gaps and phases.

    Returns
    -------
    dict
        JSON-serialisable; ``schema`` is ``insole.info/1``. Loss is in %
        of the samples each foot should have sent between its first and last
        received sample.
    """
    meta = recording.meta
    q = recording.quality
    sides = {}
    for side in recording.sides:
        sq = q["sides"].get(side, {})
        dev = meta.devices.get(side)
        sides[side] = {
            "device": None if dev is None else {
                "name": dev.name, "address": dev.address, "serial": dev.serial,
                "firmware_revision": dev.firmware_revision, "battery_pct": dev.battery_pct,
            },
            "packets": sq.get("packets"),
            "invalid_packets": sq.get("invalid_packets", {}),
            "samples_received": sq.get("samples_received"),
            "samples_expected": sq.get("samples_expected"),
            "packet_loss_pct": sq.get("loss_pct"),
            "gaps": len(sq.get("gaps", [])),
            "clock_rate_ppm": sq["clock"][0]["rate_ppm"] if sq.get("clock") else None,
        }
        if "pages" in sq:  # synced from the insole's own log
            sides[side]["log"] = {"pages": sq["pages"], "invalid_pages": sq.get("invalid_pages", {}),
                                  "end": sq.get("end"), "clock_evidence": sq["clock"][0].get("evidence")}
    return json_safe({
        "schema": INFO_SCHEMA,
        "path": recording.path,
        "source": meta.source,
        "protocol": meta.protocol,
        "subject": meta.subject,
        "body_mass_kg": meta.body_mass_kg,
        "started_utc": meta.started_utc,
        "duration_s": round(recording.duration_s, 3),
        "sampling_rate_hz": meta.sampling_rate_hz,
        "feet": list(recording.sides),
        "sides": sides,
        "gaps": q.get("gaps", []),
        "clock_drift_between_feet_ppm": q.get("clock_drift_between_feet_ppm"),
        "battery_pct": q.get("battery_pct", {}),
        "damaged_file": q.get("damaged_file", False),
        "missing_wal": q.get("missing_wal", False),
        "phases": [{"name": p.name, "start_s": p.start_s, "end_s": p.end_s} for p in meta.phases],
        "has_ground_truth": meta.truth is not None,
    })

"""The link to a pair of insoles, on bleak's public API only.

Scan once (filtered by the insole service UUID), tell left from right by the
advertised name, connect the two feet one after the other (concurrent
connects fail on several stacks), read what each device says about itself,
subscribe, and start streaming with an explicit START (WinRT drops
notifications sent before the subscription). The notification callback only
stamps the host time and enqueues the bytes; one consumer writes them. A
dropped link is re-established with back-off while the other foot keeps
recording; the gap shows in the sample indices.

``backend`` selects bleak's backend: ``None`` for the operating system's
stack, or the virtual radio's (:mod:`insole.ble.virtual.backend`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..constants import (
    ADVERTISED_NAMES,
    BATTERY_LEVEL_UUID,
    CONTROL_POINT_UUID,
    DATA_CHAR_UUID,
    DEVICE_INFO_CHARS,
    LAYOUT_CHAR_UUID,
    SERVICE_UUID,
    SIDES,
    STATUS_CHAR_UUID,
)
from ..errors import InsoleError, ProtocolError
from ..protocol.control import Opcode, decode_status, encode_command
from ..protocol.layout import decode_layout

log = logging.getLogger(__name__)

__all__ = ["FoundInsole", "scan_insoles", "describe_insoles", "read_device_info", "pick_pair", "FootLink", "Packet"]

#: reconnection back-off: first wait, factor, longest wait, seconds
BACKOFF_S = (0.05, 2.0, 0.8)


@dataclass(frozen=True)
class FoundInsole:
    """An insole seen while scanning."""

    side: str
    name: str
    address: str
    rssi: int | None
    device: Any = field(repr=False)


@dataclass(frozen=True)
class Packet:
    """One notification as received: side, host time (ns since the session
    started) and the raw bytes."""

    side: str
    host_time_ns: int
    payload: bytes


def _side_of(name: str | None) -> str | None:
    for side, adv in ADVERTISED_NAMES.items():
        if name and name.startswith(adv):
            return side
    return None


async def scan_insoles(*, timeout_s: float = 5.0, backend: Any = None, until_pair: bool = False,
                       stop_when: Callable[[list[FoundInsole]], bool] | None = None) -> list[FoundInsole]:
    """Insoles in range, strongest signal first.

    Parameters
    ----------
    timeout_s : float
        Longest scan, s.
    backend : type, optional
        bleak scanner backend (None: the operating system's).
    until_pair : bool
        Stop as soon as a left and a right insole have been seen.
    stop_when : callable, optional
        ``stop_when(found)`` with the insoles seen so far (in the order first
        seen), after each new one: True stops the scan.
    """
    from bleak import BleakScanner
    from bleak.exc import BleakError

    seen: dict[str, FoundInsole] = {}
    done = asyncio.Event()

    def detected(device: Any, adv: Any) -> None:
        name = adv.local_name or device.name
        side = _side_of(name)
        if side is None:
            return
        new = device.address not in seen
        seen[device.address] = FoundInsole(side=side, name=name, address=device.address, rssi=adv.rssi,
                                           device=device)
        if until_pair and {f.side for f in seen.values()} >= set(SIDES):
            done.set()
        if new and stop_when is not None and stop_when(list(seen.values())):
            done.set()

    kwargs = {"backend": backend} if backend is not None else {}
    scanner = BleakScanner(detection_callback=detected, service_uuids=[SERVICE_UUID], **kwargs)
    try:
        await scanner.start()
    except (BleakError, OSError) as exc:  # no adapter, adapter off, no BlueZ / D-Bus, no permission
        why = f"cannot reach the system's Bluetooth service: {exc.strerror or exc}" if isinstance(exc, OSError) \
            else str(exc)
        raise InsoleError(f"Bluetooth is not available here ({why}); switch the adapter on (on Linux BlueZ must "
                          "be running) or try --virtual") from None
    try:
        await asyncio.wait_for(done.wait(), timeout=timeout_s)
    except asyncio.TimeoutError:
        pass
    finally:
        await scanner.stop()
    return sorted(seen.values(), key=lambda f: -(f.rssi if f.rssi is not None else -999))


async def describe_insoles(*, timeout_s: float = 5.0, backend: Any = None,
                           on_row: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Scan, and connect to each insole in turn for its battery and firmware
    as soon as it is seen; stop once a left and a right insole are described.

    The scan pauses while an insole is connected to (scanning and connecting
    at once fail on several stacks) and goes on for what is left of
    ``timeout_s`` until both sides are there.

    Parameters
    ----------
    timeout_s : float
        Longest scan, s (the connections come on top).
    backend : (scanner, client), optional
        bleak backends; None for the operating system's stack.
    on_row : callable, optional
        ``on_row(row)`` for each insole as soon as it is described (to show
        it at once).

    Returns
    -------
    list of dict
        ``side``, ``name``, ``address``, ``rssi`` (dBm), ``battery_pct``,
        ``firmware_revision`` per insole, left first.
    """
    scanner_backend, client_backend = backend or (None, None)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    rows: dict[str, dict[str, Any]] = {}  # address -> row

    def something_new(found: list[FoundInsole]) -> bool:
        return any(f.address not in rows for f in found)

    while (remaining := deadline - loop.time()) > 0:
        found = await scan_insoles(timeout_s=remaining, backend=scanner_backend, stop_when=something_new)
        new = [f for f in found if f.address not in rows]
        if not new:
            break  # the timeout: nothing more in range
        for f in new:
            rows[f.address] = row = await _describe(f, client_backend, timeout_s=timeout_s)
            if on_row is not None:
                on_row(row)
        if {r["side"] for r in rows.values()} >= set(SIDES):
            log.info("a left and a right insole found: scan stopped")
            break
    return sorted(rows.values(), key=lambda r: r["side"])


async def _describe(f: FoundInsole, client_backend: Any, *, timeout_s: float) -> dict[str, Any]:
    """One insole's row: connect, read its firmware and battery, disconnect."""
    from bleak import BleakClient

    row = {"side": f.side, "name": f.name, "address": f.address, "rssi": f.rssi, "battery_pct": None,
           "firmware_revision": ""}
    kwargs = {"backend": client_backend} if client_backend is not None else {}
    try:
        async with BleakClient(f.device, timeout=timeout_s, **kwargs) as client:
            row["firmware_revision"] = bytes(await client.read_gatt_char(
                DEVICE_INFO_CHARS["firmware_revision"])).decode("utf-8", "replace")
            try:
                row["battery_pct"] = int(bytes(await client.read_gatt_char(BATTERY_LEVEL_UUID))[0])
            except Exception:  # BlueZ hides the Battery service: the status characteristic has it
                row["battery_pct"] = decode_status(await client.read_gatt_char(STATUS_CHAR_UUID)).battery_pct
    except Exception as exc:
        log.warning("%s insole: could not read its details (%s)", f.side, exc)
    return row


async def read_device_info(client: Any, found: FoundInsole) -> dict[str, Any]:
    """What a connected insole says about itself: name, address, Device
    Information strings, battery and sensor layout (the recording's device
    entry)."""
    info: dict[str, Any] = {"name": found.name, "address": found.address}
    for key, uuid in DEVICE_INFO_CHARS.items():
        try:
            info[key] = bytes(await client.read_gatt_char(uuid)).decode("utf-8", "replace").strip("\x00")
        except Exception:
            info[key] = ""
    # BlueZ hides the standard Battery service: the status characteristic carries it too
    try:
        info["battery_pct"] = int(bytes(await client.read_gatt_char(BATTERY_LEVEL_UUID))[0])
    except Exception:
        info["battery_pct"] = decode_status(await client.read_gatt_char(STATUS_CHAR_UUID)).battery_pct
    info["layout"] = decode_layout(await client.read_gatt_char(LAYOUT_CHAR_UUID)).to_dict()
    return info


def pick_pair(found: list[FoundInsole]) -> dict[str, FoundInsole]:
    """The strongest left and right insoles; an error says which is missing."""
    pair = {}
    for f in found:
        pair.setdefault(f.side, f)
    missing = [s for s in SIDES if s not in pair]
    if missing:
        raise InsoleError(f"no {' and no '.join(missing)} insole found: switch it on, bring it closer, and "
                          "check that no other app is connected to it")
    return pair


class FootLink:
    """One foot's connection: connect, configure, stream, reconnect.

    Parameters
    ----------
    found : FoundInsole
    on_packet : callable
        ``on_packet(Packet)``; called in the event loop for every
        notification (keep it cheap: enqueue).
    clock_ns : callable
        The session's host clock, ns since it started.
    backend : type, optional
        bleak client backend.
    sampling_rate_hz : int
    on_event : callable, optional
        ``on_event(side, kind, data)`` for connection events and battery.
    """

    def __init__(self, found: FoundInsole, *, on_packet: Callable[[Packet], None], clock_ns: Callable[[], int],
                 backend: Any = None, sampling_rate_hz: int = 200,
                 on_event: Callable[[str, str, dict], None] | None = None) -> None:
        self.found = found
        self.side = found.side
        self._on_packet = on_packet
        self._clock_ns = clock_ns
        self._backend = backend
        self._rate = sampling_rate_hz
        self._on_event = on_event or (lambda *a: None)
        self._client = None
        self._stopping = False
        self._reconnect_task: asyncio.Task | None = None
        self.info: dict[str, Any] = {}
        self.reconnects = 0

    def _callback(self, _char: Any, data: bytearray) -> None:
        # stamp first, then hand over: nothing slow here
        self._on_packet(Packet(self.side, self._clock_ns(), bytes(data)))

    def _disconnected(self, _client: Any) -> None:
        if self._stopping:
            return
        self._on_event(self.side, "disconnected", {"host_time_ns": self._clock_ns()})
        log.warning("%s insole: link lost; reconnecting", self.side)
        loop = asyncio.get_running_loop()
        if self._reconnect_task is None or self._reconnect_task.done():
            self._reconnect_task = loop.create_task(self._reconnect())

    async def connect(self, *, timeout_s: float = 10.0) -> dict[str, Any]:
        """Connect, read device information and layout, subscribe, start.

        Returns
        -------
        dict
            Device information for the recording (name, address,
            manufacturer, model, serial, revisions, battery, layout).
        """
        from bleak import BleakClient
        from bleak.exc import BleakError

        kwargs = {"backend": self._backend} if self._backend is not None else {}
        client = BleakClient(self.found.device, disconnected_callback=self._disconnected, timeout=timeout_s, **kwargs)
        try:
            await client.connect()
        except Exception as exc:  # bleak raises several types across platforms (and TimeoutError)
            raise InsoleError(f"could not connect to the {self.side} insole ({self.found.address}): {exc}") from None
        self._client = client
        try:
            await self._start(client)
        except (BleakError, asyncio.TimeoutError, OSError, ProtocolError) as exc:
            with contextlib.suppress(Exception):
                await client.disconnect()
            raise InsoleError(f"the {self.side} insole ({self.found.address}) connected but could not be set up: "
                              f"{exc}") from None
        self._on_event(self.side, "connected", {"host_time_ns": self._clock_ns(), "mtu": client.mtu_size})
        return self.info

    async def _start(self, client: Any) -> None:
        """Device information and layout (first time), subscriptions, rate, START."""
        if not self.info:
            self.info = await self._read_info(client)
        await client.start_notify(DATA_CHAR_UUID, self._callback)
        try:
            await client.start_notify(STATUS_CHAR_UUID, self._status)
        except Exception:  # status notifications are a convenience
            log.info("%s insole: no status notifications", self.side)
        if self.reconnects == 0 and not self._reconnect_task:
            # the rate can only change while the insole is not sampling (after a
            # link drop it still samples: the link-loss hold)
            await client.write_gatt_char(CONTROL_POINT_UUID, encode_command(Opcode.SET_RATE, self._rate),
                                         response=True)
        await client.write_gatt_char(CONTROL_POINT_UUID, encode_command(Opcode.START_STREAM), response=True)

    async def _read_info(self, client: Any) -> dict[str, Any]:
        return await read_device_info(client, self.found)

    def _status(self, _char: Any, data: bytearray) -> None:
        try:
            st = decode_status(bytes(data))
        except InsoleError:
            return
        self._on_event(self.side, "battery", {"battery_pct": st.battery_pct, "host_time_ns": self._clock_ns()})

    async def _reconnect(self) -> None:
        wait, factor, longest = BACKOFF_S
        while not self._stopping:
            await asyncio.sleep(wait)
            try:
                await self.connect(timeout_s=2.0)
                self.reconnects += 1
                log.info("%s insole: reconnected", self.side)
                return
            except InsoleError as exc:
                log.info("%s insole: reconnect failed (%s); retrying", self.side, exc)
                wait = min(wait * factor, longest)

    async def stop(self) -> None:
        """Stop streaming and disconnect (safe to call twice)."""
        self._stopping = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
            try:
                await self._reconnect_task
            except (asyncio.CancelledError, Exception):
                pass
        client = self._client
        if client is not None and client.is_connected:
            try:
                await client.write_gatt_char(CONTROL_POINT_UUID, encode_command(Opcode.STOP_STREAM), response=True)
            except Exception:
                pass
            try:
                await client.disconnect()
            except Exception:
                pass


def monotonic_clock(time_scale: float = 1.0) -> Callable[[], int]:
    """A session clock: ns since now, optionally running ``time_scale`` times
    faster (a virtual session that streams faster than real time).

    The clock's ``origin_ns`` attribute is ``time.monotonic_ns()`` at its 0
    (the host's monotonic clock, which other processes of the same boot
    share): host time ``h`` ns of the session is ``origin_ns + h / time_scale``
    on that clock."""
    t0 = time.monotonic_ns()
    if time_scale == 1.0:
        def clock() -> int:
            return time.monotonic_ns() - t0
    else:
        def clock() -> int:
            return int((time.monotonic_ns() - t0) * time_scale)
    clock.origin_ns = t0  # type: ignore[attr-defined]
    return clock

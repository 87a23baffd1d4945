"""A virtual insole: a Bumble GATT peripheral that implements insole
protocol v1 (``firmware_specs/protocol_v1.md``) on the virtual radio, fed in
real time (or faster) by the simulator's hardware model.

The insole is an :class:`~insole.sim.device.InsoleModel` (clock error, gain,
noise, creep, link latency, bursts, packet loss, link drops, battery) wearing
a :class:`~insole.sim.base.Scenario`. It advertises, accepts one connection,
answers the control point with the spec's ATT errors, and streams data
notifications paced against the event loop's clock::

    radio = VirtualRadio.current()
    insole = VirtualInsole(model, scenario, radio=radio, time_scale=20.0)
    await insole.start()          # powers on and advertises
    ...                           # a central scans, connects, START_STREAM
    await insole.stop()           # disconnects, stops advertising, no tasks left

Time
----
"True time" ``t`` is the scenario's time axis, in seconds. It runs
``time_scale`` times faster than the event loop's clock from an epoch
(``loop.time()`` at which ``t = 0``; by default the moment :meth:`start` is
called; pass the same ``epoch`` to both insoles of a pair so they wear the
same scenario on the same axis). Every duration of the model and of the
protocol (sample period, link latency, bursts, link drops, the 30 s link-loss
hold, ZERO duration, advertising intervals, battery minutes) is true time.

The sample clock: grid tick ``k`` of the insole's crystal is at
``model.start_s + k * period`` with ``period = 1 / (rate * (1 + ppm 1e-6))``
(``model.true_period_s`` at the model's rate), and its device time is
``k * 1e6 / rate`` microseconds (plus the TIME_SYNC offset), exactly as in
:func:`insole.sim.device.sample_packets`. A START_STREAM begins a sampling run
at the next tick whose grid number is a multiple of the batch size (so the
run's packets are the simulator's packets, at most 40 ms after the write);
the codes of tick ``k`` are ``model.codes(scenario, k)``. The sample index
counts from ``model.first_index`` at power-on and advances only while
sampling (spec section 7).

Link
----
Packet ``p`` is ready when its last sample is taken and leaves at
``max(previous departure, ready + latency)`` with the latency, bursts and
random losses drawn from the same random stream as ``sample_packets`` (the
simulator's packet number is ``first grid tick // batch size``). A lost packet
is never sent, but its indices are consumed. ``model.link_drops`` are real
disconnections: at ``start_s`` the insole drops the connection (the central
sees reason 0x08, connection timeout) and does not advertise for
``duration_s``; sampling goes on (link-loss hold), one second of packets is
kept in the transmit queue and later samples are discarded (counted in
Status), and the queue is sent after the host reconnects, enables
notifications and writes START_STREAM.

Differences from ``sample_packets`` (same model, same seed)
-----------------------------------------------------------
- Sample indices are offset: the simulator gives tick ``k`` the index
  ``first_index + k``, the virtual insole ``first_index + (k - k_run0)``
  where ``k_run0`` is the first tick after START_STREAM (the index does not
  advance before sampling starts). Codes, device times, batching, latencies
  and random losses of a given tick / packet are the same.
- The power-on sampling rate is 100 Hz (spec section 11), not
  ``model.sampling_rate_hz``: the host sets the rate with SET_RATE. The
  simulator's random draws are precomputed for ``model.sampling_rate_hz`` and
  ``model.att_mtu``; at another rate or MTU the packets map onto them by the
  same rule (deterministic, but not the simulator's packets).
- Link drops: the simulator loses the packets that become ready during the
  drop; the virtual insole disconnects and follows the link-loss hold, so the
  host gets the first second of the outage from the queue (unless the outage
  exceeds the queue) and loses the samples from then until it restarts the
  stream, including its reconnection time.
- The zeroed flag is set only after a ZERO command (the simulator always sets
  it). The model's codes stand for already-zeroed sensors (``offset_kpa`` is
  the residual after zeroing); ZERO subtracts only the scenario load present
  during the zeroing window (zero for an unloaded foot).
- Packets are sent at the loop's clock: late wake-ups (a busy loop, or
  a large ``time_scale``) delay departures, never reorder them.
- Beyond ``scenario.duration_s`` the draws come from another deterministic
  stream of the same seed.
- A TIME_SYNC or ZERO accepted while the insole is still sampling after a
  disconnection (link-loss hold) ends the packet in progress; the batches
  after it no longer line up with the simulator's.
- STOP_STREAM during the link-loss hold (sampling, not streaming) stops the
  sampling, like the end of the hold.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from ...constants import (
    ADVERTISED_NAMES,
    BATTERY_LEVEL_UUID,
    BATTERY_SERVICE_UUID,
    CONTROL_POINT_UUID,
    DATA_CHAR_UUID,
    DEVICE_INFO_CHARS,
    DEVICE_INFO_SERVICE_UUID,
    LAYOUT_CHAR_UUID,
    SERVICE_UUID,
    SIDE_CODE,
    STATUS_CHAR_UUID,
)
from ...errors import ProtocolError
from ...protocol import AttError, Opcode, Status, decode_command, encode_layout, encode_packets, encode_status
from ...protocol.packet import MAX_RAW, max_samples_per_packet

if TYPE_CHECKING:
    from ...sim.base import Scenario
    from ...sim.device import InsoleModel
    from .radio import VirtualRadio

log = logging.getLogger(__name__)

__all__ = ["VirtualInsole", "advertising_payload"]

#: ATT MTU the device answers with and requests itself (spec section 4)
DEVICE_MTU = 247
#: smallest ATT MTU that carries one sample (no IMU)
MIN_STREAM_MTU = 42
#: link-loss hold: sampling goes on this long without a connection (true s)
LINK_LOSS_HOLD_S = 30.0
#: transmit queue, in seconds of packets
TX_QUEUE_S = 1.0
#: samples are computed this many seconds of the loop's clock at a time
#: (0.25 true s in real time), and never more than LOOKAHEAD_MAX_S of true
#: time ahead (a cued person, sim.cued, is exact when cued further ahead than
#: that; at 200 Hz that is at most 200 samples a chunk)
CHUNK_S, LOOKAHEAD_MAX_S = 0.25, 1.0
#: advertising intervals (true ms): fast for 30 s after power-on / disconnection
ADV_FAST_MS, ADV_SLOW_MS, ADV_FAST_S = 20.0, 1022.5, 30.0
#: shortest advertising interval on the loop's clock (the BLE minimum), ms
ADV_MIN_WALL_MS = 20.0
#: link-loss disconnection reason the central sees (HCI connection timeout)
LINK_LOSS_REASON = 0x08
#: LE ACL data length of the insole's controller (Data Length Extension)
LE_DATA_LENGTH = 251
#: random draws per block beyond the simulator's packets
_DRAW_BLOCK = 4096

_ATT_READ_NOT_PERMITTED = 0x02
_ATT_WRITE_NOT_PERMITTED = 0x03


def advertising_payload(side: str) -> bytes:
    """The spec's 31-byte advertising payload (section 3)."""
    name = ADVERTISED_NAMES[side].encode("ascii")
    svc = uuid.UUID(SERVICE_UUID).bytes[::-1]
    return bytes([2, 0x01, 0x06, 1 + len(svc), 0x07]) + svc + bytes([1 + len(name), 0x08]) + name


class _Waker:
    """A resettable wake-up for one waiting coroutine, with an optional
    deadline on the loop's clock (no task per wait)."""

    def __init__(self) -> None:
        self._fut: asyncio.Future | None = None
        self._flag = False

    def kick(self) -> None:
        self._flag = True
        if self._fut is not None and not self._fut.done():
            self._fut.set_result(None)

    async def wait(self, deadline: float | None) -> None:
        """Return at ``deadline`` (loop time) or at the first kick since the
        last wait, whichever comes first."""
        if self._flag:
            self._flag = False
            return
        loop = asyncio.get_running_loop()
        fut = self._fut = loop.create_future()
        handle = None
        if deadline is not None:
            handle = loop.call_at(deadline, lambda: fut.done() or fut.set_result(None))
        try:
            await fut
        finally:
            if handle is not None:
                handle.cancel()
            self._fut = None
            self._flag = False


@dataclasses.dataclass
class _Packet:
    """One packet from the moment its last sample is taken until it leaves."""

    ready_s: float
    n: int
    payload: bytes
    delay_s: float
    lost: bool
    depart_s: float | None = None


@dataclasses.dataclass
class _Run:
    """A sampling run: consecutive ticks of one rate and batch size."""

    rate: int
    m: int
    k0: int               # grid tick of the first sample
    idx0: int             # sample index of k0
    k_next: int           # next tick not yet packed
    offsets: np.ndarray | None
    zeroed: bool
    clock_offset_us: int
    time_synced: bool
    future: deque = dataclasses.field(default_factory=deque)   # (ready_s, k_first, n, payload, delay, lost)

    def index(self, k: int) -> int:
        return self.idx0 + (k - self.k0)


class VirtualInsole:
    """One virtual insole (GATT peripheral) on the virtual radio.

    Parameters
    ----------
    model : InsoleModel
        Hardware and link of this insole (side, clock, sensor errors, loss,
        latency, link drops, battery, seed, layout).
    scenario : Scenario
        The simulated person.
    radio : VirtualRadio, optional
        Default: ``VirtualRadio.current()`` at :meth:`start`.
    time_scale : float
        True seconds per second of the event loop's clock (2.0 = twice real
        time).
    firmware_revision : str
    serial : str, optional
        Serial Number String (default derived from side, seed and address).
    epoch : float, optional
        ``loop.time()`` at which true time is 0 (default: when :meth:`start`
        is called). Give both insoles of a pair the same epoch.
    request_mtu : int or None
        The device asks for this ATT MTU right after a connection (spec
        section 4 "should"); None: it only answers the central's request.
    extra_services : sequence
        More GATT services (e.g. :class:`~insole.ble.virtual.log_service.LogService`):
        objects with ``services(insole) -> list of bumble Service`` (called
        when the GATT database is built), ``on_connection(conn)`` and
        ``on_disconnection(conn, reason)``.

    Attributes
    ----------
    address : str
        Bluetooth address on the virtual link.
    side : str
    name : str
        Advertised name and GAP device name.
    serial : str
    """

    manufacturer = "insole project"
    model_number = "virtual insole v1"
    hardware_revision = "virtual"

    def __init__(self, model: InsoleModel, scenario: Scenario, *, radio: VirtualRadio | None = None,
                 time_scale: float = 1.0, firmware_revision: str = "1.0.0-virtual", serial: str | None = None,
                 epoch: float | None = None, request_mtu: int | None = DEVICE_MTU,
                 extra_services: tuple = ()) -> None:
        from .radio import VirtualRadio

        if not time_scale > 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale}")
        self.model = model
        self.scenario = scenario
        self.side = model.side
        self.name = ADVERTISED_NAMES[model.side]
        self.time_scale = float(time_scale)
        self.firmware_revision = firmware_revision
        self.address = VirtualRadio.next_address()
        code = "L" if model.side == "left" else "R"
        self.serial = serial or f"V{code}-{model.seed:04d}-{self.address[-5:].replace(':', '')}"
        for what, text in (("serial", self.serial), ("firmware_revision", firmware_revision)):
            if len(text.encode()) > 20:
                raise ValueError(f"{what} {text!r} is longer than 20 bytes")
        self._radio = radio
        self._epoch = epoch
        self._request_mtu = request_mtu
        self._extra = tuple(extra_services)
        self._layout_bytes = encode_layout(model.layout)
        self._models: dict[int, Any] = {}
        self._draws = self._sim_draws()

        # device state (power-on, spec section 13)
        self._index = int(model.first_index)
        self._rate = 100
        self._zero_offsets: np.ndarray | None = None
        self._zeroed = False
        self._clock_offset_us = 0
        self._time_synced = False
        self._zeroing_until: float | None = None
        self._zero_from = 0.0
        self.identify_until_s = 0.0
        self._battery = model.battery_pct(0.0)
        self._dropped_samples = 0

        # link state
        self._conn = None
        self._streaming = False
        self._tx_enabled = False
        self._hold_until: float | None = None
        self._unreachable = False
        self._adv_since = 0.0
        self._run: _Run | None = None
        self._txq: deque[_Packet] = deque()
        self._txq_capacity = 25
        self._last_depart = 0.0
        self._drops = sorted((float(a), float(b)) for a, b in model.link_drops)
        self._drop_i = 0
        self._outage_until: float | None = None
        self._next_battery_s = 60.0
        self._status_sent: tuple | None = None  # (state key, discarded samples) last notified
        self._status_sent_s = -math.inf
        self._force_status = False

        self._device = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task] = []
        self._aux: set[asyncio.Task] = set()
        self._engine_wake = _Waker()
        self._lock: asyncio.Lock | None = None  # engine step / control-point write, one at a time
        self._adv_wake = _Waker()
        self._started = False
        self._stopped = False
        self.packets_sent = 0
        self.packets_lost = 0

    # -- public ----------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._conn is not None

    @property
    def streaming(self) -> bool:
        return self._streaming

    @property
    def sampling(self) -> bool:
        return self._run is not None

    @property
    def queued_packets(self) -> int:
        """Packets in the transmit queue, not sent yet (0 once a stream is
        drained)."""
        return len(self._txq)

    @property
    def dropped_samples(self) -> int:
        """Samples discarded on the device (transmit queue full)."""
        return self._dropped_samples

    @property
    def device(self):
        """The Bumble device (after :meth:`start`)."""
        return self._device

    def now_s(self) -> float:
        """Current true time, seconds."""
        return (self._loop.time() - self._epoch) * self.time_scale

    def schedule_link_drop(self, start_s: float, duration_s: float) -> None:
        """Go out of range at true time ``start_s`` for ``duration_s`` (s),
        as a ``model.link_drops`` entry does: fault injection at a moment
        chosen while running (e.g. once streaming, whatever the set-up took).

        Raises
        ------
        ValueError
            For a start already past or a duration that is not positive.
        """
        if not duration_s > 0:
            raise ValueError(f"duration_s must be > 0, got {duration_s}")
        if self._loop is not None and start_s < self.now_s():
            raise ValueError(f"start_s {start_s} is in the past (now {self.now_s():.3f} s)")
        self._drops[self._drop_i:] = sorted([*self._drops[self._drop_i:], (float(start_s), float(duration_s))])
        self._engine_wake.kick()

    def status(self) -> Status:
        """The Status characteristic's current value, decoded."""
        return Status(
            battery_pct=self._battery,
            streaming=self._streaming,
            battery_low=self._battery <= 10,
            zeroed=self._zeroed,
            time_synced=self._time_synced,
            sampling_rate_hz=self._rate,
            samples_per_packet=self._samples_per_packet(),
            device_dropped_samples=self._dropped_samples % 2**32,
        )

    async def start(self) -> None:
        """Power on and advertise."""
        if self._started:
            raise RuntimeError("a VirtualInsole starts once")
        self._started = True
        from .radio import VirtualRadio

        self._loop = asyncio.get_running_loop()
        self._lock = asyncio.Lock()
        if self._radio is None:
            self._radio = VirtualRadio.current()
        if self._epoch is None:
            self._epoch = self._loop.time()
        now = self.now_s()
        self._battery = self.model.battery_pct(max(now, 0.0))
        self._next_battery_s = 60.0 * (math.floor(max(now, 0.0) / 60.0) + 1)
        self._adv_since = now
        while self._drop_i < len(self._drops) and sum(self._drops[self._drop_i]) <= now:
            self._drop_i += 1  # drops that ended before power-on
        self._device = self._radio.new_device(self.name, self.address)
        controller = self._controller()
        if controller is not None:
            # LE Data Length Extension (spec section 4): a 207-byte notification
            # is one link-layer PDU instead of eight 27-byte fragments
            controller.le_acl_data_packet_length = LE_DATA_LENGTH
        self._build_gatt()
        self._device.on("connection", self._on_connection)
        await self._device.power_on()
        self._tasks = [asyncio.create_task(self._engine(), name=f"{self.name} engine"),
                       asyncio.create_task(self._advertising(), name=f"{self.name} advertising")]
        log.debug("virtual %s at %s powered on", self.name, self.address)

    async def stop(self) -> None:
        """Stop streaming, disconnect, stop advertising and power off; no task
        of this insole is left."""
        if self._stopped or not self._started:
            self._stopped = True
            return
        self._stopped = True
        # the loops end when they see _stopped; wake them, then cancel what is left
        self._adv_wake.kick()
        self._engine_wake.kick()
        tasks = [*self._tasks, *self._aux]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks, self._aux = [], set()
        device = self._device
        conn = self._conn
        if conn is not None:
            try:
                await asyncio.wait_for(conn.disconnect(), 2.0)
            except Exception as exc:  # noqa: BLE001 - already gone is fine
                log.debug("virtual %s: disconnect at stop: %r", self.name, exc)
        try:
            await device.stop_advertising()
            await device.power_off()
        except Exception as exc:  # noqa: BLE001
            log.debug("virtual %s: power off: %r", self.name, exc)
        controller = self._controller()
        if controller is not None:
            self._radio.link.remove_controller(controller)
        self._run = None
        self._txq.clear()

    def _controller(self):
        """This insole's virtual controller on the radio's link."""
        return next((c for c in list(self._radio.link.controllers)
                     if str(c.public_address).upper().startswith(self.address.upper())), None)

    async def __aenter__(self) -> "VirtualInsole":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    # -- GATT ------------------------------------------------------------------
    def _build_gatt(self) -> None:
        from bumble.att import ATT_Error
        from bumble.gatt import Characteristic, CharacteristicValue, Service

        props = Characteristic.Properties

        def read_only(value_fn):
            def write(_conn, _value):
                raise ATT_Error(_ATT_WRITE_NOT_PERMITTED)
            return CharacteristicValue(read=lambda _conn: value_fn(), write=write)

        def not_readable(_conn):
            raise ATT_Error(_ATT_READ_NOT_PERMITTED)

        def not_writable(_conn, _value):
            raise ATT_Error(_ATT_WRITE_NOT_PERMITTED)

        self._data_char = Characteristic(DATA_CHAR_UUID, props.NOTIFY, 0,
                                         CharacteristicValue(read=not_readable, write=not_writable))
        self._cp_char = Characteristic(CONTROL_POINT_UUID, props.WRITE, Characteristic.WRITEABLE,
                                       CharacteristicValue(read=not_readable, write=self._on_control_point))
        self._layout_char = Characteristic(LAYOUT_CHAR_UUID, props.READ, Characteristic.READABLE,
                                           read_only(lambda: self._layout_bytes))
        self._status_char = Characteristic(STATUS_CHAR_UUID, props.READ | props.NOTIFY, Characteristic.READABLE,
                                           read_only(lambda: encode_status(self.status())))
        self._battery_char = Characteristic(BATTERY_LEVEL_UUID, props.READ | props.NOTIFY, Characteristic.READABLE,
                                            read_only(lambda: bytes([self._battery])))
        info = {
            "manufacturer": self.manufacturer,
            "model": self.model_number,
            "serial": self.serial,
            "hardware_revision": self.hardware_revision,
            "firmware_revision": self.firmware_revision,
        }
        info_chars = [Characteristic(DEVICE_INFO_CHARS[key], props.READ, Characteristic.READABLE,
                                     read_only(lambda v=value.encode(): v)) for key, value in info.items()]
        self._device.add_services([
            Service(SERVICE_UUID, [self._data_char, self._cp_char, self._layout_char, self._status_char]),
            Service(BATTERY_SERVICE_UUID, [self._battery_char]),
            Service(DEVICE_INFO_SERVICE_UUID, info_chars),
            *(svc for extra in self._extra for svc in extra.services(self)),
        ])
        server = self._device.gatt_server
        server.max_mtu = DEVICE_MTU
        # the control point has no Write Without Response: such a write is
        # ignored (Bumble's server would otherwise run it)
        on_write_command = server.on_att_write_command

        def write_command(bearer, request):
            if request.attribute_handle == self._cp_char.handle:
                log.debug("virtual %s: Write Command to the control point ignored", self.name)
                return None
            return on_write_command(bearer, request)

        server.on_att_write_command = write_command

    def _data_subscribed(self, conn) -> bool:
        cccd = self._device.gatt_server.read_cccd(conn, self._data_char)
        return bool(cccd and cccd[0] & 0x01)

    def _att_mtu(self) -> int:
        return self._conn.att_mtu if self._conn is not None else 23

    def _samples_per_packet(self) -> int:
        try:
            return max_samples_per_packet(att_mtu=self._att_mtu(), sampling_rate_hz=self._rate)
        except ProtocolError:
            return 0

    # -- connection ------------------------------------------------------------
    def _on_connection(self, conn) -> None:
        from bumble.hci import Role

        if conn.role != Role.PERIPHERAL or self._stopped:
            return
        if self._conn is not None or self._unreachable:
            # one connection at a time; out of range: refuse
            self._spawn(conn.disconnect())
            return
        self._conn = conn
        self._streaming = self._tx_enabled = False
        self._hold_until = None
        self._status_sent = None
        conn.on("disconnection", lambda reason, c=conn: self._on_disconnection(c, reason))
        conn.on("connection_att_mtu_update", self._engine_wake.kick)
        if self._request_mtu:
            self._spawn(self._exchange_mtu(conn))
        log.debug("virtual %s: connected to %s", self.name, conn.peer_address)
        for extra in self._extra:
            extra.on_connection(conn)
        self._adv_wake.kick()
        self._engine_wake.kick()

    async def _exchange_mtu(self, conn) -> None:
        from bumble.device import Peer

        try:
            await conn.cancel_on_disconnection(Peer(conn).request_mtu(self._request_mtu))
        except Exception as exc:  # noqa: BLE001 - the central may have gone
            log.debug("virtual %s: MTU exchange: %r", self.name, exc)

    def _on_disconnection(self, conn, reason: int) -> None:
        if conn is not self._conn:
            return
        now = self.now_s()
        self._conn = None
        self._streaming = self._tx_enabled = False
        for pk in self._txq:
            pk.depart_s = None
        if self._run is not None:
            self._hold_until = now + LINK_LOSS_HOLD_S
        self._adv_since = now
        for extra in self._extra:
            extra.on_disconnection(conn, reason)
        log.debug("virtual %s: disconnected (reason 0x%02x) at %.3f s", self.name, reason, now)
        self._adv_wake.kick()
        self._engine_wake.kick()

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._aux.add(task)
        task.add_done_callback(self._aux.discard)
        task.add_done_callback(_retrieve)

    # -- advertising -----------------------------------------------------------
    async def _advertising(self) -> None:
        from bumble.device import AdvertisingType
        from bumble.hci import OwnAddressType

        payload = advertising_payload(self.side)
        current: float | None = None
        while not self._stopped:
            deadline = None
            want = not self._stopped and not self._unreachable and self._conn is None
            if want:
                since = self.now_s() - self._adv_since
                fast = since < ADV_FAST_S
                interval = max(ADV_MIN_WALL_MS, (ADV_FAST_MS if fast else ADV_SLOW_MS) / self.time_scale)
                if not self._device.is_advertising or current != interval:
                    try:
                        await self._device.start_advertising(
                            advertising_type=AdvertisingType.UNDIRECTED_CONNECTABLE_SCANNABLE,
                            own_address_type=OwnAddressType.RANDOM, advertising_data=payload,
                            scan_response_data=b"", advertising_interval_min=interval,
                            advertising_interval_max=interval)
                        current = interval
                    except Exception:  # noqa: BLE001 - try again shortly
                        log.exception("virtual %s: could not start advertising", self.name)
                        await asyncio.sleep(0.1)
                    continue  # the state may have changed while starting
                if fast:
                    deadline = self._loop.time() + (ADV_FAST_S - since) / self.time_scale
            elif self._device.is_advertising:
                await self._device.stop_advertising()
                current = None
                continue
            await self._adv_wake.wait(deadline)

    # -- control point ---------------------------------------------------------
    async def _on_control_point(self, conn, value: bytes) -> None:
        async with self._lock:
            await self._control_point(conn, value)
        self._engine_wake.kick()

    async def _control_point(self, conn, value: bytes) -> None:
        from bumble.att import ATT_Error

        try:
            cmd = decode_command(bytes(value))
        except ProtocolError as exc:
            raise ATT_Error(int(exc.att_error), message=str(exc)) from None
        if cmd.opcode is Opcode.SET_IMU and cmd.value == 1:
            raise ATT_Error(AttError.INVALID_PARAMETER, message="this insole has no IMU")
        now = self.now_s()
        refuse = ATT_Error(AttError.INVALID_STATE)
        op = cmd.opcode
        if op is Opcode.START_STREAM:
            if self._streaming:
                return
            if (self._zeroing_until is not None or conn is not self._conn or not self._data_subscribed(conn)
                    or conn.att_mtu < MIN_STREAM_MTU):
                raise refuse
            await self._start_stream(now)
        elif op is Opcode.STOP_STREAM:
            self._streaming = False
            if self._run is not None:
                await self._end_run(now)
        elif op is Opcode.SET_RATE:
            if self._streaming:
                raise refuse
            self._rate = int(cmd.value)
        elif op is Opcode.SET_IMU:
            if self._streaming:
                raise refuse
        elif op is Opcode.ZERO:
            if self._streaming or self._zeroing_until is not None:
                raise refuse
            if cmd.value == 0:
                await self._cut(now)
                self._zero_offsets, self._zeroed = None, False
                self._apply_params()
            else:
                self._zero_from = now
                self._zeroing_until = now + cmd.value / 1000.0
        elif op is Opcode.TIME_SYNC:
            if self._streaming:
                raise refuse
            await self._cut(now)
            since_power_on = (now - self.model.start_s) * (1.0 + self.model.clock_ppm * 1e-6) * 1e6
            self._clock_offset_us = int(cmd.value) - int(round(since_power_on))
            self._time_synced = True
            self._apply_params()
        elif op is Opcode.IDENTIFY:
            self.identify_until_s = now + cmd.value
        log.debug("virtual %s: %s %s accepted at %.3f s", self.name, op.name, cmd.value, now)

    async def _start_stream(self, now: float) -> None:
        m = max_samples_per_packet(att_mtu=self._conn.att_mtu, sampling_rate_hz=self._rate)
        run = self._run
        if run is not None and (run.rate != self._rate or run.m != m):
            await self._end_run(now)
        if self._run is None:
            self._begin_run(now, m)
        self._streaming = self._tx_enabled = True
        self._hold_until = None
        # the queue leaves now, in order; what no longer fits the MTU is discarded
        limit = self._conn.att_mtu - 3
        self._last_depart = max(self._last_depart, now)
        kept: deque[_Packet] = deque()
        for pk in self._txq:
            if len(pk.payload) > limit:
                self._dropped_samples += pk.n
                continue
            if pk.depart_s is None:
                pk.depart_s = self._last_depart = max(self._last_depart, now + pk.delay_s)
            kept.append(pk)
        self._txq = kept

    # -- sampling --------------------------------------------------------------
    def _model_at(self, rate: int):
        model = self._models.get(rate)
        if model is None:
            model = self.model if rate == self.model.sampling_rate_hz else dataclasses.replace(
                self.model, sampling_rate_hz=rate)
            self._models[rate] = model
        return model

    def _begin_run(self, now: float, m: int) -> None:
        model = self._model_at(self._rate)
        k = max(0, math.ceil((now - model.start_s) / model.true_period_s - 1e-9))
        k0 = -(-k // m) * m
        self._run = _Run(rate=self._rate, m=m, k0=k0, idx0=self._index, k_next=k0,
                         offsets=self._zero_offsets, zeroed=self._zeroed,
                         clock_offset_us=self._clock_offset_us, time_synced=self._time_synced)
        self._txq_capacity = max(1, math.ceil(TX_QUEUE_S * self._rate / m))
        log.debug("virtual %s: sampling from tick %d (index %d) at %d Hz, %d per packet",
                  self.name, k0, self._index, self._rate, m)

    def _apply_params(self) -> None:
        """Packets from the next tick on use the current zero / clock state."""
        run = self._run
        if run is not None:
            run.offsets, run.zeroed = self._zero_offsets, self._zeroed
            run.clock_offset_us, run.time_synced = self._clock_offset_us, self._time_synced

    async def _end_run(self, t: float) -> None:
        """Stop sampling at true time t: flush the samples taken."""
        run = self._run
        await self._cut(t)
        self._index = run.index(run.k_next)
        self._run = None
        self._hold_until = None

    async def _cut(self, t: float) -> None:
        """End the packet in progress at true time t (flags, clock or sampling
        change): the samples taken so far leave as a shorter packet, the
        precomputed rest is forgotten and recomputed from the next tick."""
        run = self._run
        if run is None:
            return
        await self._advance(t)
        _, k_first, n, _, _, _ = run.future[0]
        model = self._model_at(run.rate)
        taken = int(np.clip(math.floor((t - model.start_s) / model.true_period_s + 1e-9) - k_first + 1, 0, n))
        run.future.clear()
        run.k_next = k_first + taken
        if taken:
            payload = self._encode(run, k_first, taken)[0]
            delay, lost = self._link_draws(np.array([k_first // run.m]))
            self._enqueue(_Packet(t, taken, payload, float(delay[0]), bool(lost[0])))

    def _encode(self, run: _Run, k_first: int, n: int) -> list[bytes]:
        model = self._model_at(run.rate)
        k = np.arange(k_first, k_first + n, dtype=np.int64)
        codes = model.codes(self.scenario, k)
        if run.offsets is not None:
            codes = np.clip(codes.astype(np.int32) - run.offsets, 0, MAX_RAW).astype(np.uint16)
        us = np.maximum(k * (1_000_000 // run.rate) + run.clock_offset_us, 0)
        return encode_packets(codes, first_index=run.index(k_first), device_time_us=us.astype(np.uint64),
                              sampling_rate_hz=run.rate, samples_per_packet=run.m, zeroed=run.zeroed,
                              time_synced=run.time_synced)

    def _fill(self, run: _Run) -> None:
        """Precompute the next chunk of packets (one numpy pass)."""
        m = run.m
        chunk_s = min(CHUNK_S * max(1.0, self.time_scale), LOOKAHEAD_MAX_S)
        n_pk = max(1, math.ceil(chunk_s * run.rate / m))
        k_first = run.k_next
        payloads = self._encode(run, k_first, n_pk * m)
        starts = k_first + np.arange(n_pk, dtype=np.int64) * m
        ready = self._model_at(run.rate).sample_times_s(starts + (m - 1))
        delay, lost = self._link_draws(starts // m)
        run.future.extend(zip(ready.tolist(), starts.tolist(), [m] * n_pk, payloads, delay.tolist(), lost.tolist()))
        run.k_next = k_first + n_pk * m

    async def _advance(self, t: float) -> None:
        """Play the device up to true time t, event by event in true-time
        order: a packet joins the transmit queue when its last sample is
        taken (or is discarded when the queue is full); the queue's head
        leaves at its departure time while the stream is on. (A late wake-up
        of the loop therefore sends late, but never overflows the queue.)"""
        while True:
            run = self._run
            ready = math.inf
            if run is not None:
                if not run.future:
                    self._fill(run)
                ready = run.future[0][0]
            depart = math.inf
            conn = self._conn
            if self._tx_enabled and conn is not None and self._txq and self._txq[0].depart_s is not None:
                depart = self._txq[0].depart_s
            if min(ready, depart) > t:
                return
            if depart <= ready:
                pk = self._txq.popleft()
                if pk.lost:
                    self.packets_lost += 1
                else:
                    await self._device.gatt_server.notify_subscriber(conn, self._data_char, pk.payload)
                    self.packets_sent += 1
            else:
                ready_s, _, n, payload, delay, lost = run.future.popleft()
                self._enqueue(_Packet(ready_s, n, payload, delay, lost))

    def _enqueue(self, pk: _Packet) -> None:
        if len(self._txq) >= self._txq_capacity:
            self._dropped_samples += pk.n
            return
        if self._tx_enabled:
            pk.depart_s = self._last_depart = max(self._last_depart, pk.ready_s + pk.delay_s)
        self._txq.append(pk)

    # -- random link draws (the simulator's stream) ------------------------------
    def _sim_draws(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-packet latency (s) and loss of ``sample_packets`` for the
        scenario's duration, in the same order of draws."""
        model = self.model
        n = int(np.floor((self.scenario.duration_s - model.start_s) / model.true_period_s))
        n_pk = max(0, -(-n // model.samples_per_packet))
        rng = np.random.default_rng((model.seed, SIDE_CODE[model.side], 1 << 20))
        delay = (model.latency_min_ms + rng.exponential(model.latency_mean_extra_ms, n_pk)) / 1e3
        stall = rng.random(n_pk) < model.burst_prob
        delay[stall] += model.burst_delay_ms / 1e3
        lost = rng.random(n_pk) < model.drop_pct / 100.0
        return delay, lost

    def _link_draws(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latency (s) and loss of the simulator's packets number q."""
        sim_delay, sim_lost = self._draws
        q = np.asarray(q, dtype=np.int64)
        inside = q < sim_delay.size
        delay = np.empty(q.size)
        lost = np.empty(q.size, dtype=bool)
        delay[inside] = sim_delay[q[inside]]
        lost[inside] = sim_lost[q[inside]]
        if not inside.all():
            model = self.model
            extra = q[~inside] - sim_delay.size
            d = np.empty(extra.size)
            lo = np.empty(extra.size, dtype=bool)
            for b in np.unique(extra // _DRAW_BLOCK):
                sel = extra // _DRAW_BLOCK == b
                rng = np.random.default_rng((model.seed, SIDE_CODE[model.side], (1 << 20) + 1, int(b)))
                bd = (model.latency_min_ms + rng.exponential(model.latency_mean_extra_ms, _DRAW_BLOCK)) / 1e3
                bd[rng.random(_DRAW_BLOCK) < model.burst_prob] += model.burst_delay_ms / 1e3
                bl = rng.random(_DRAW_BLOCK) < model.drop_pct / 100.0
                d[sel], lo[sel] = bd[extra[sel] % _DRAW_BLOCK], bl[extra[sel] % _DRAW_BLOCK]
            delay[~inside], lost[~inside] = d, lo
        return delay, lost

    # -- the engine ------------------------------------------------------------
    async def _engine(self) -> None:
        """One task does everything timed: packets, link drops, the link-loss
        hold, ZERO, battery and Status notifications."""
        while not self._stopped:
            async with self._lock:
                try:
                    await self._step(self.now_s())
                    nxt = self._next_event_s()
                except Exception:  # noqa: BLE001 - keep the insole alive, but say so
                    log.exception("virtual %s: engine step failed", self.name)
                    nxt = self.now_s() + 0.1 * self.time_scale
            deadline = None if nxt == math.inf else self._epoch + nxt / self.time_scale
            await self._engine_wake.wait(deadline)

    async def _step(self, now: float) -> None:
        # link drops: out of range from start_s for duration_s
        if self._outage_until is not None and now >= self._outage_until:
            self._outage_until = None
            self._unreachable = False
            self._adv_since = now
            log.debug("virtual %s: back in range at %.3f s", self.name, now)
            self._adv_wake.kick()
        if self._drop_i < len(self._drops) and now >= self._drops[self._drop_i][0]:
            start, length = self._drops[self._drop_i]
            self._drop_i += 1
            self._outage_until = start + length
            self._unreachable = True
            self._adv_wake.kick()
            log.debug("virtual %s: out of range at %.3f s for %.3f s", self.name, now, length)
            if self._conn is not None:
                await self._advance(start)
                conn = self._conn
                try:
                    await conn.disconnect(reason=LINK_LOSS_REASON)
                except Exception as exc:  # noqa: BLE001
                    log.debug("virtual %s: link-loss disconnect: %r", self.name, exc)
                self._on_disconnection(conn, LINK_LOSS_REASON)
            return await self._step(self.now_s())

        if self._zeroing_until is not None and now >= self._zeroing_until:
            await self._finish_zero()
        if self._run is not None and self._hold_until is not None and now >= self._hold_until:
            log.debug("virtual %s: link-loss hold over, sampling stops", self.name)
            await self._end_run(self._hold_until)
        await self._advance(now)

        if now >= self._next_battery_s:
            while self._next_battery_s <= now:
                due_s = self._next_battery_s
                self._next_battery_s += 60.0
            # the level of the minute that is due: a late wake-up of the loop does not change it
            self._battery = self.model.battery_pct(due_s)
            if self._conn is not None:
                await self._device.gatt_server.notify_subscriber(self._conn, self._battery_char,
                                                                 bytes([self._battery]))
            self._force_status = True
        await self._notify_status(now)

    async def _finish_zero(self) -> None:
        """ZERO done: offsets = the scenario load under each sensor during the
        window (the model's codes are already zeroed hardware)."""
        model = self._model_at(self._rate)
        t_end = self._zeroing_until
        first = max(0, math.ceil((self._zero_from - model.start_s) / model.true_period_s))
        k = np.arange(first, max(first + 1, math.floor((t_end - model.start_s) / model.true_period_s) + 1))
        p = self.scenario.pressures_kpa(self.side, model.sample_times_s(k)) * model.gain
        offsets = np.rint(p.mean(axis=0) / model.layout.pressure_lsb_kpa).astype(np.int32)
        self._zeroing_until = None
        await self._cut(t_end)
        self._zero_offsets = offsets if offsets.any() else None
        self._zeroed = True
        self._apply_params()
        self._force_status = True
        log.debug("virtual %s: zeroed, offsets %s", self.name, offsets.tolist())

    async def _notify_status(self, now: float) -> None:
        if self._conn is None:
            return
        # bytes 0-3 (battery, state, rate, samples per packet) at once; the
        # discarded-samples counter alone at most once per second
        key = (self._battery, self._streaming, self._zeroed, self._time_synced, self._rate, self._att_mtu())
        last = self._status_sent
        if not self._force_status and last is not None and key == last[0]:
            if self._dropped_samples == last[1] or now - self._status_sent_s < 1.0:
                return
        value = encode_status(self.status())
        self._force_status = False
        self._status_sent, self._status_sent_s = (key, self._dropped_samples), now
        await self._device.gatt_server.notify_subscriber(self._conn, self._status_char, value)

    def _next_event_s(self) -> float:
        times = [self._next_battery_s]
        run = self._run
        if run is not None:
            if not run.future:
                self._fill(run)
            times.append(run.future[0][0])
            if self._hold_until is not None:
                times.append(self._hold_until)
        if self._tx_enabled and self._txq and self._txq[0].depart_s is not None:
            times.append(self._txq[0].depart_s)
        if self._drop_i < len(self._drops):
            times.append(self._drops[self._drop_i][0])
        if self._outage_until is not None:
            times.append(self._outage_until)
        if self._zeroing_until is not None:
            times.append(self._zeroing_until)
        if self._status_sent is not None and self._conn is not None and self._status_sent[1] != self._dropped_samples:
            times.append(self._status_sent_s + 1.0)
        return min(times)


def _retrieve(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("virtual insole task %s failed: %r", task.get_name(), task.exception())

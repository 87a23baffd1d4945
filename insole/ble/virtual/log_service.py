"""The Log service (protocol v1.1) of a virtual insole, on Bumble GATT.

Characteristics: Log control point (write with response + notify), Log data
(notify: download chunks), Log info (read, 32 bytes), Challenge (read: the
16-byte nonce). The firmware behind it is the pair state's
:class:`~insole.ble.virtual.logger.Logger` of this side.

- CLAIM works inside the claim window (120 s of world time after power-on,
  always while unclaimed): a fresh X25519 key pair per claim, the key
  derived as the contract says, kept in one of 4 slots.
- Protected commands are checked by :func:`insole.protocol.logctl.decode_log_command`
  (opcode 0x80, length 0x81, auth 0x83, values 0x81), then the state (0x82,
  0x84-0x86). A fresh nonce on every connection and after every protected
  command, accepted or refused: a replayed command fails its tag.
- A READ starts a windowed download from its offset (a new READ restarts:
  go-back-N): chunks of :func:`~insole.protocol.logctl.chunk_data_bytes` of
  the connection's MTU while ``next - acked < window x chunk``, paced at a
  modelled link throughput of ``link_kB_s`` (1 kB = 1000 bytes) times the
  insole's ``time_scale``, so a sync's wall time is honest at scale 1.
- Fault hook: :meth:`LogService.drop_link_after` drops the link (reason
  0x08) once that many more image bytes have been sent.

Everything runs on the virtual insole's event loop; the download is one
task that sleeps between bursts (no busy loop).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ...constants import LOG_CHALLENGE_UUID, LOG_CONTROL_UUID, LOG_DATA_UUID, LOG_INFO_UUID, LOG_SERVICE_UUID
from ...errors import ProtocolError
from ...protocol import auth, logctl
from ...protocol.logctl import LogAttError, LogOpcode
from .logger import LoggerError
from .run import catch_up

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_LINK_KB_S", "LogService"]

DEFAULT_LINK_KB_S = 120.0
#: the logger is brought up to date before a command when behind by more than this, true s
_CATCH_UP_S = 1.0
#: shortest sleep of the download pacing, wall s
_MIN_SLEEP_S = 0.002
_LINK_LOSS_REASON = 0x08
_ATT_WRITE_NOT_PERMITTED, _ATT_READ_NOT_PERMITTED = 0x03, 0x02


class LogService:
    """The Log service of one virtual insole; pass it to
    :class:`~insole.ble.virtual.insole.VirtualInsole` as an extra service.

    Parameters
    ----------
    state : VirtualPairState
    side : str
    link_kB_s : float
        Modelled download throughput at time scale 1, kB/s (1000 bytes).
    """

    def __init__(self, state: Any, side: str, *, link_kB_s: float = DEFAULT_LINK_KB_S) -> None:
        if not link_kB_s > 0:
            raise ValueError(f"link_kB_s must be > 0, got {link_kB_s}")
        self.state = state
        self.side = side
        self.link_kB_s = float(link_kB_s)
        self.nonce = auth.new_nonce()
        self.bytes_sent = 0
        self._insole = None
        self._conn = None
        self._drop_after: int | None = None
        self._read: dict[str, Any] | None = None  # session, image, next, acked, window, chunk
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    @property
    def logger(self):
        return self.state.loggers[self.side]

    # -- GATT ------------------------------------------------------------------------
    def services(self, insole: Any) -> list:
        """The Bumble Service (called by the insole when it builds its GATT)."""
        from bumble.att import ATT_Error
        from bumble.gatt import Characteristic, CharacteristicValue, Service

        self._insole = insole
        props = Characteristic.Properties

        def no_write(_conn, _value):
            raise ATT_Error(_ATT_WRITE_NOT_PERMITTED)

        def no_read(_conn):
            raise ATT_Error(_ATT_READ_NOT_PERMITTED)

        self.control_char = Characteristic(LOG_CONTROL_UUID, props.WRITE | props.NOTIFY, Characteristic.WRITEABLE,
                                           CharacteristicValue(read=no_read, write=self._on_write))
        self.data_char = Characteristic(LOG_DATA_UUID, props.NOTIFY, 0, CharacteristicValue(read=no_read,
                                                                                            write=no_write))
        self.info_char = Characteristic(LOG_INFO_UUID, props.READ, Characteristic.READABLE,
                                        CharacteristicValue(read=lambda _c: self.info_bytes(), write=no_write))
        self.challenge_char = Characteristic(LOG_CHALLENGE_UUID, props.READ, Characteristic.READABLE,
                                             CharacteristicValue(read=lambda _c: self.nonce, write=no_write))
        return [Service(LOG_SERVICE_UUID, [self.control_char, self.data_char, self.info_char,
                                           self.challenge_char])]

    def on_connection(self, conn) -> None:
        self._conn = conn
        self.nonce = auth.new_nonce()
        self._read = None

    def on_disconnection(self, conn, reason: int) -> None:
        if conn is self._conn:
            self._conn = None
            self._read = None
            self._cancel()

    def drop_link_after(self, n_bytes: int) -> None:
        """Fault: drop the link (reason 0x08) once ``n_bytes`` more image
        bytes have been sent (once)."""
        self._drop_after = self.bytes_sent + int(n_bytes)

    async def stop(self) -> None:
        """End the download task (the insole is powering off)."""
        self._cancel()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    # -- Log info ------------------------------------------------------------------------
    def _catch_up(self) -> None:
        lg = self.logger
        if lg.state == "logging":
            behind = self.state.true_time_s() - float(self.state.tracks[self.side].true_time_s(lg.ram.next_tau_us))
            if behind > _CATCH_UP_S:
                catch_up(self.state)

    def info(self) -> logctl.LogInfo:
        """The Log info value now."""
        self._catch_up()
        st, lg = self.state, self.logger
        battery = round(st.battery_pct(self.side))
        return logctl.LogInfo(format_version=1, state=lg.state, claimed=bool(st.claims(self.side)),
                              window_open=st.window_open(self.side), battery_low=battery <= 10,
                              battery_pct=battery, page_size=lg.flash.page_size, capacity_pages=lg.flash.n_pages,
                              used_pages=lg.used_pages(), sessions=len(lg.sessions()),
                              current_session=lg.ram.session_id if lg.state == "logging" else 0,
                              device_time_us=st.device_time_us(self.side))

    def info_bytes(self) -> bytes:
        return logctl.encode_log_info(self.info())

    # -- control point ---------------------------------------------------------------------
    async def _notify(self, char, value: bytes) -> None:
        if self._conn is not None:
            await self._insole.device.gatt_server.notify_subscriber(self._conn, char, value)

    async def _on_write(self, conn, value: bytes) -> None:
        from bumble.att import ATT_Error

        data = bytes(value)
        protected = bool(data) and data[0] in {int(o) for o in logctl.PROTECTED_OPCODES}
        try:
            try:
                cmd = logctl.decode_log_command(data, keys=self.state.claims(self.side), nonce=self.nonce)
            finally:
                if protected:
                    self.nonce = auth.new_nonce()
            reply = await self._execute(conn, cmd)
        except (logctl.LogCommandError, LoggerError) as exc:
            log.debug("virtual %s log: refused 0x%02x (%s)", self.side, exc.att_error, exc)
            raise ATT_Error(int(exc.att_error), message=str(exc)) from None
        for note in reply:
            await self._notify(self.control_char, note)

    async def _execute(self, conn, cmd: logctl.LogCommand) -> list[bytes]:
        """Run an accepted command; the notifications to send."""
        op, p, st, lg = cmd.opcode, cmd.params, self.state, self.logger
        if op is LogOpcode.ACK:
            self._ack(p)
            return []
        if op is LogOpcode.CLAIM:
            return [self._claim(p)]
        self._catch_up()
        if op is LogOpcode.LOG_START:
            lg.start(device_time_us=st.device_time_us(self.side), rate_hz=p.sampling_rate_hz, auto=p.auto,
                     idle_stop_s=p.idle_stop_s, note=p.note, battery_pct=st.battery_pct(self.side))
        elif op is LogOpcode.LOG_STOP:
            if lg.state == "logging":
                catch_up(st)
            lg.stop(device_time_us=st.device_time_us(self.side))
        elif op is LogOpcode.SYNC_POINT:
            lg.sync_point(p.device_time_us, p.host_time_us, p.uncertainty_us)
        elif op is LogOpcode.LIST_SESSIONS:
            now = st.device_time_us(self.side)
            out = [logctl.encode_session_entry(s.entry(extra_samples=lg.pending_samples() if s.open else 0,
                                                       now_us=now)) for s in lg.sessions()]
            return [*out, logctl.SESSION_LIST_END]  # one per session, then the end mark (no bare answer)
        elif op is LogOpcode.READ:
            self._start_read(conn, p)
        elif op is LogOpcode.ERASE:
            if self._read is not None and self._read["session"] == p.session_id:
                self._read = None
            lg.erase(p.session_id, p.image_crc32)
        return [logctl.encode_response(op)]

    def _claim(self, p: logctl.ClaimParams) -> bytes:
        if not self.state.window_open(self.side):
            raise LoggerError(f"the {self.side} insole's claim window is closed", LogAttError.WINDOW_CLOSED)
        pair = auth.new_keypair()
        try:
            key = auth.claim_key(private=pair.private, peer_public=p.public_key, host_id=p.host_id,
                                 serial=self.state.serial(self.side))
        except ProtocolError as exc:
            raise LoggerError(str(exc), LogAttError.INVALID) from None
        self.state.add_claim(self.side, p.host_id, key)
        log.debug("virtual %s log: claimed by %s", self.side, p.host_id.hex())
        return logctl.encode_claim_response(pair.public)

    # -- download -----------------------------------------------------------------------------
    def _start_read(self, conn, p: logctl.ReadParams) -> None:
        image = self.logger.image(p.session_id)  # 0x85 / 0x82
        if p.offset > len(image):
            raise LoggerError(f"offset {p.offset} is beyond session {p.session_id}'s {len(image)} bytes",
                              LogAttError.NO_SESSION)
        chunk = logctl.chunk_data_bytes(conn.att_mtu)
        self._read = {"session": p.session_id, "image": image, "next": p.offset, "acked": p.offset,
                      "window": p.window, "chunk": chunk}
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._sender(), name=f"{self.side} log download")

    def _ack(self, p: logctl.AckParams) -> None:
        r = self._read
        if r is None or r["session"] != p.session_id:
            return
        r["acked"] = max(r["acked"], min(p.offset, r["next"]))
        self._wake.set()

    def _cancel(self) -> None:
        self._read = None
        self._wake.set()
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _sender(self) -> None:
        """Send chunks of the current READ within its window, paced at the
        modelled throughput; wait for ACKs or a new READ in between."""
        loop = asyncio.get_running_loop()
        t_next = loop.time()
        while self._conn is not None:
            r = self._read
            if r is None or r["next"] >= len(r["image"]) or r["next"] - r["acked"] >= r["window"] * r["chunk"]:
                self._wake.clear()
                await self._wake.wait()
                continue
            off = r["next"]
            data = r["image"][off:off + r["chunk"]]
            r["next"] = off + len(data)
            await self._notify(self.data_char, logctl.encode_chunk(off, data))
            self.bytes_sent += len(data)
            if self._drop_after is not None and self.bytes_sent >= self._drop_after:
                self._drop_after = None
                await self._drop()
                return
            rate = self.link_kB_s * 1000.0 * self._insole.time_scale  # bytes per wall s
            t_next = max(t_next, loop.time() - 0.05) + (len(data) + 8) / rate
            wait = t_next - loop.time()
            await asyncio.sleep(wait if wait > _MIN_SLEEP_S else 0)

    async def _drop(self) -> None:
        conn = self._conn
        log.debug("virtual %s log: link dropped after %d bytes", self.side, self.bytes_sent)
        if conn is None:
            return
        try:
            await conn.disconnect(reason=_LINK_LOSS_REASON)
        except Exception as exc:  # noqa: BLE001 - already gone is fine
            log.debug("virtual %s log: drop: %r", self.side, exc)
        self._insole._on_disconnection(conn, _LINK_LOSS_REASON)

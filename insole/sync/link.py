"""One insole's Log service, from the host, on bleak's public API only.

The host side of firmware_specs/protocol_v1_1.md: read the Log info, claim
the insole, sign protected commands with the claim key and a fresh
challenge, log a sync point (the best of several clock reads), start and
stop logging, list the sessions, download a session over notifications with
a window of chunks and acknowledgements (resuming from a given offset), and
erase a session once the host has proved it verified the image.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..constants import LOG_CHALLENGE_UUID, LOG_CONTROL_UUID, LOG_DATA_UUID, LOG_INFO_UUID
from ..errors import InsoleError, ProtocolError
from ..protocol import auth, logctl
from ..protocol.logrecords import SyncPoints

log = logging.getLogger(__name__)

__all__ = ["LogLink", "LinkLost", "att_code", "SYNC_READS"]

#: clock reads per sync point (the one with the shortest round trip is kept)
SYNC_READS = 8
#: chunks in flight during a download (the spec's recommendation: the
#: maximum, so the ACK round trip of a fast link is covered), and how often
#: the host acknowledges, chunks
WINDOW_CHUNKS = 64
ACK_EVERY_CHUNKS = 8
#: no chunk for this long: the link is taken as lost, s
STALL_S = 5.0
#: a response on the control point takes at most this long, s
RESPONSE_S = 10.0

_ATT_MEANING = {
    0x82: "not allowed in the insole's present state",
    0x83: "this computer has not claimed the insole (run `insole claim` with the insoles just switched on)",
    0x84: "the insole's claiming window is closed: switch the insole off and on again (or take it off its "
          "charger), then claim within 2 minutes",
    0x85: "no such session on the insole",
    0x86: "the insole refused to erase: the image it holds differs from the one downloaded",
}


class LinkLost(InsoleError):
    """The link dropped (or stalled) during a transfer; resume from the last
    good offset."""


def att_code(exc: BaseException) -> int | None:
    """The ATT error code a bleak exception carries, if any."""
    from bleak.exc import BleakGATTProtocolError

    if isinstance(exc, BleakGATTProtocolError):
        return int(exc.args[0])
    return None


@dataclass
class Download:
    """Progress of one session's download (bytes so far are ``data``)."""

    session_id: int
    size: int
    data: bytearray


class LogLink:
    """The Log service of one connected insole.

    Parameters
    ----------
    client : bleak.BleakClient
        Connected.
    side : str
    serial : str
        The insole's serial number (keys are kept per serial).
    host_id : bytes
        This host's 8-byte id.
    key : bytes or None
        The claim key shared with this insole (None: not claimed yet).
    host_clock_us : callable
        The host clock, Unix microseconds (the virtual world supplies its own).
    """

    def __init__(self, client: Any, *, side: str, serial: str, host_id: bytes, key: bytes | None,
                 host_clock_us: Callable[[], int]) -> None:
        self.client, self.side, self.serial = client, side, serial
        self.host_id, self.key = host_id, key
        self.host_clock_us = host_clock_us
        self._responses: asyncio.Queue[bytes] = asyncio.Queue()
        self._chunks: asyncio.Queue[bytes] = asyncio.Queue()

    async def open(self) -> None:
        """Subscribe to the control point's responses and the data chunks."""
        await self.client.start_notify(LOG_CONTROL_UUID, lambda _c, d: self._responses.put_nowait(bytes(d)))
        await self.client.start_notify(LOG_DATA_UUID, lambda _c, d: self._chunks.put_nowait(bytes(d)))

    # -- plain reads -----------------------------------------------------
    async def info(self) -> logctl.LogInfo:
        try:
            return logctl.decode_log_info(bytes(await self.client.read_gatt_char(LOG_INFO_UUID)))
        except ProtocolError as exc:
            raise InsoleError(f"the {self.side} insole's Log info is unreadable ({exc})") from None

    # -- commands --------------------------------------------------------
    async def _write(self, command: bytes, *, protected: bool) -> None:
        if protected:
            if self.key is None:
                raise InsoleError(f"this computer has not claimed the {self.side} insole ({self.serial}): run "
                                  "`insole claim` with the insoles just switched on")
            nonce = bytes(await self.client.read_gatt_char(LOG_CHALLENGE_UUID))
            command = auth.sign(command, key=self.key, host_id=self.host_id, nonce=nonce)
        try:
            await self.client.write_gatt_char(LOG_CONTROL_UUID, command, response=True)
        except Exception as exc:
            code = att_code(exc)
            if code is None:
                raise
            what = _ATT_MEANING.get(code, f"ATT error 0x{code:02x}")
            raise InsoleError(f"the {self.side} insole refused {logctl.LogOpcode(command[0]).name}: {what}") \
                from None

    async def _response(self, opcode: int) -> tuple[logctl.LogResponse, bytes]:
        """The next response notification to ``opcode`` (decoded, and raw)."""
        while True:
            try:
                raw = await asyncio.wait_for(self._responses.get(), RESPONSE_S)
            except asyncio.TimeoutError:
                raise LinkLost(f"the {self.side} insole did not answer") from None
            try:
                r = logctl.decode_response(raw)
            except ProtocolError as exc:
                log.warning("%s: an unreadable response (%s) ignored", self.side, exc)
                continue
            if r.opcode == opcode:
                return r, raw

    async def claim(self) -> bytes:
        """Claim the insole: key exchange; returns the shared key."""
        pair = auth.new_keypair()
        await self._write(logctl.encode_claim(self.host_id, pair.public), protected=False)
        _, raw = await self._response(logctl.LogOpcode.CLAIM)
        self.key = auth.claim_key(private=pair.private, peer_public=logctl.decode_claim_response(raw),
                                  host_id=self.host_id,
                                  serial=self.serial)
        return self.key

    async def sync_point(self, *, reads: int = SYNC_READS) -> SyncPoints:
        """Log a (device time, host time) pair: read the insole's clock
        ``reads`` times, keep the read with the shortest round trip, map the
        device time to its midpoint (uncertainty: half the round trip)."""
        best = None
        for _ in range(reads):
            t0 = self.host_clock_us()
            info = await self.info()
            t1 = self.host_clock_us()
            if best is None or t1 - t0 < best[2] - best[1]:
                best = (info.device_time_us, t0, t1)
        dev, t0, t1 = best
        host, unc = (t0 + t1) // 2, max(1, (t1 - t0 + 1) // 2)
        await self._write(logctl.encode_sync_point(dev, host, unc), protected=True)
        return SyncPoints([dev], [host], [unc])

    async def start(self, *, sampling_rate_hz: int, auto: bool, idle_stop_s: int, note: dict) -> None:
        await self._write(logctl.encode_log_start(sampling_rate_hz, auto=auto, idle_stop_s=idle_stop_s, note=note),
                          protected=True)

    async def stop(self) -> None:
        await self._write(logctl.encode_log_stop(), protected=True)

    async def sessions(self) -> list[logctl.SessionEntry]:
        await self._write(logctl.encode_list_sessions(), protected=True)
        out = []
        while True:
            _, raw = await self._response(logctl.LogOpcode.LIST_SESSIONS)
            entry = logctl.decode_session_entry(raw)
            if entry is None:
                return out
            out.append(entry)

    async def erase(self, session_id: int, image: bytes) -> None:
        await self._write(logctl.encode_erase(session_id, zlib.crc32(image)), protected=True)

    # -- download --------------------------------------------------------
    async def download(self, dl: Download, *, on_bytes: Callable[[int], None] | None = None,
                       window: int = WINDOW_CHUNKS) -> bytes:
        """Read the rest of a session into ``dl.data`` (from its length on).

        Chunks whose CRC fails or that are not the next expected offset are
        dropped and the read restarts from the last good offset (the device
        goes back N). Raises :class:`LinkLost` when the link drops or
        stalls; ``dl.data`` then holds every byte verified so far.
        """
        while len(dl.data) < dl.size:
            self._drain()
            await self._write(logctl.encode_read(dl.session_id, len(dl.data), window), protected=True)
            await self._receive(dl, on_bytes=on_bytes, window=window)
        return bytes(dl.data)

    async def _receive(self, dl: Download, *, on_bytes, window: int) -> None:
        """Take chunks until the image is complete or one is bad (then the
        caller READs again from the last good offset)."""
        ack_every = max(1, min(ACK_EVERY_CHUNKS, window // 2))
        since_ack = 0
        restarted = False  # chunks of an earlier READ may still arrive until the device restarts
        while len(dl.data) < dl.size:
            if not self.client.is_connected:
                raise LinkLost(f"the {self.side} insole's link dropped")
            try:
                raw = await asyncio.wait_for(self._chunks.get(), STALL_S)
            except asyncio.TimeoutError:
                raise LinkLost(f"the {self.side} insole stopped sending") from None
            try:
                offset, data = logctl.decode_chunk(raw)
            except ProtocolError:
                log.info("%s: a chunk failed its CRC; reading again from %d", self.side, len(dl.data))
                return
            if offset != len(dl.data):
                if offset < len(dl.data) or not restarted:
                    continue  # bytes already held, or the tail of an earlier READ
                log.info("%s: chunk at %d, expected %d; reading again", self.side, offset, len(dl.data))
                return
            restarted = True
            dl.data += data[:dl.size - len(dl.data)]
            if on_bytes is not None:
                on_bytes(len(data))
            since_ack += 1
            if since_ack >= ack_every or len(dl.data) >= dl.size:
                since_ack = 0
                await self.client.write_gatt_char(LOG_CONTROL_UUID, logctl.encode_ack(dl.session_id, len(dl.data)),
                                                  response=True)

    def _drain(self) -> None:
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                self._chunks.get_nowait()

"""The recording file: one SQLite database per session.

Why SQLite: it is transactional (a committed packet survives ``kill -9``),
ships with Python, and any SQLite tool can open the file. The writer runs
in WAL mode and commits at least every ``commit_interval_s`` (0.25 s by
default, 0.1 s in a live session), so a crash loses at most that much. The
committed data sit in the ``-wal`` file beside the recording until a
checkpoint copies them into the main file: the writer checkpoints at the
start (so the main file is a recording from its first second) and at least
every ``checkpoint_interval_s`` (1 s), so a copy of the main file alone,
taken after a crash without its ``-wal``, lacks at most that much more.
:meth:`RecordingWriter.close` checkpoints and switches back to a rollback
journal so the finished file is one self-contained file.

Schema (``format = insole.recording/1`` in ``meta``)::

    meta(key TEXT PRIMARY KEY, value TEXT)           -- JSON values
    devices(side TEXT PRIMARY KEY, info TEXT)        -- JSON DeviceInfo
    packets(id INTEGER PRIMARY KEY, side INTEGER,    -- 0 left, 1 right
            host_time_ns INTEGER, payload BLOB)      -- raw notification
    markers(id INTEGER PRIMARY KEY, host_time_ns INTEGER,
            kind TEXT, name TEXT, data TEXT)         -- phases, notes, link
    log_pages(id INTEGER PRIMARY KEY, side INTEGER,  -- a synced on-insole log:
              session INTEGER, page BLOB)            -- 4096-byte pages as read

``host_time_ns`` is the host's monotonic clock at arrival, in nanoseconds
since the recording started (``meta.started_utc`` gives the wall clock).
Raw packet bytes are kept as received so a recording can be decoded again
after a parser fix. A recording synced from the insoles' own log
(``source = insole-log``) holds the log pages exactly as downloaded instead
of packets (firmware_specs/protocol_v1_1.md); the decoder turns them into the
same per-foot sample blocks, and ``host_time_ns`` of its markers is measured
from ``meta.host_origin_unix_us``.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..constants import SIDE_CODE, SIDE_FROM_CODE, SIDES
from ..errors import RecordingError, UnknownFormatError
from ..paths import require_file

log = logging.getLogger(__name__)

__all__ = ["FORMAT", "SUFFIX", "RecordingWriter", "check_new_recording", "RawRecording", "RecordingReader",
           "SideHeaders", "read_raw", "is_recording_file", "wal_missing", "PacketTail", "PacketBatch"]

#: packets fetched per round trip when streaming payloads
PAYLOAD_CHUNK = 2048
#: rows whose types damage has changed are not packets: every packet query
#: filters them the same way, so the header and payload passes agree
_TYPED = "typeof(side) = 'integer' AND typeof(host_time_ns) = 'integer' AND typeof(payload) = 'blob'"

FORMAT = "insole.recording/1"
SUFFIX = ".insole"
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (side TEXT PRIMARY KEY, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS packets (
    id INTEGER PRIMARY KEY, side INTEGER NOT NULL,
    host_time_ns INTEGER NOT NULL, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS markers (
    id INTEGER PRIMARY KEY, host_time_ns INTEGER NOT NULL,
    kind TEXT NOT NULL, name TEXT NOT NULL, data TEXT);
CREATE TABLE IF NOT EXISTS log_pages (
    id INTEGER PRIMARY KEY, side INTEGER NOT NULL,
    session INTEGER NOT NULL, page BLOB NOT NULL);
"""
_LOG_TYPED = "typeof(side) = 'integer' AND typeof(page) = 'blob'"


def check_new_recording(path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """``path`` as a Path if a new recording may be written there.

    Raises
    ------
    OutputError
        The file exists (and ``overwrite`` is False), is a folder or a
        device, or its folder does not exist.
    """
    from ..paths import check_output

    return check_output(path, force=overwrite, force_flag=None)


class RecordingWriter:
    """Append raw packets, markers and metadata to a recording file.

    Parameters
    ----------
    path : str or Path
        File to create (``.insole`` by convention).
    meta : dict
        Initial metadata (JSON-serialisable values), e.g. ``protocol``,
        ``source``, ``subject``, ``body_mass_kg``, ``sampling_rate_hz``.
    overwrite : bool
        Replace an existing file; otherwise an existing file is an error.
    commit_interval_s : float
        Longest time between commits, seconds (what a crash can lose). In WAL
        mode with ``synchronous=NORMAL`` a commit is an append without fsync,
        so committing often is cheap.
    checkpoint_interval_s : float
        Longest time between checkpoints of the WAL into the main file,
        seconds (what a copy of the main file alone can lack beyond that).

    Notes
    -----
    Use as a context manager. Not thread-safe: one consumer task writes.
    """

    def __init__(self, path: str | os.PathLike, *, meta: dict[str, Any] | None = None,
                 overwrite: bool = False, commit_interval_s: float = 0.25,
                 checkpoint_interval_s: float = 1.0) -> None:
        self.path = check_new_recording(path, overwrite=overwrite)
        if self.path.exists():
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
        self.commit_interval_s = commit_interval_s
        self.checkpoint_interval_s = checkpoint_interval_s
        self._t0_ns = time.monotonic_ns()
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._last_checkpoint = time.monotonic()
        self._conn.execute("BEGIN")
        self._last_commit = time.monotonic()
        self._closed = False
        self.n_packets = 0
        base = {"format": FORMAT, "started_utc": _utc_now()}
        base.update(meta or {})
        self.update_meta(**base)
        self.commit()
        self.checkpoint()

    # -- time --------------------------------------------------------------
    def now_ns(self) -> int:
        """Host monotonic time since the writer was opened, ns."""
        return time.monotonic_ns() - self._t0_ns

    # -- writing -----------------------------------------------------------
    def update_meta(self, **items: Any) -> None:
        """Set metadata keys (values are stored as JSON)."""
        self._conn.executemany(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
            [(k, json.dumps(v)) for k, v in items.items()],
        )
        self._maybe_commit()

    def set_device(self, side: str, info: dict[str, Any]) -> None:
        """Store what a device told us (Device Information, battery, layout)."""
        _check_side(side)
        self._conn.execute("INSERT OR REPLACE INTO devices(side, info) VALUES (?, ?)", (side, json.dumps(info)))
        self._maybe_commit()

    def add_packet(self, side: str, host_time_ns: int, payload: bytes) -> None:
        """Append one notification as received."""
        self._conn.execute(
            "INSERT INTO packets(side, host_time_ns, payload) VALUES (?, ?, ?)",
            (SIDE_CODE[side], int(host_time_ns), bytes(payload)),
        )
        self.n_packets += 1
        self._maybe_commit()

    def add_packets(self, side: str, host_time_ns: Sequence[int] | np.ndarray, payloads: Iterable[bytes]) -> None:
        """Append many notifications of one side (bulk path for simulations)."""
        code = SIDE_CODE[side]
        rows = [(code, int(t), p) for t, p in zip(host_time_ns, payloads, strict=True)]
        self._conn.executemany("INSERT INTO packets(side, host_time_ns, payload) VALUES (?, ?, ?)", rows)
        self.n_packets += len(rows)
        self._maybe_commit()

    def add_log_pages(self, side: str, session_id: int, image: bytes) -> None:
        """Append one foot's downloaded log session: its image (pages in
        sequence order, a multiple of 4096 bytes), one row per page."""
        from ..protocol.log import PAGE_SIZE

        _check_side(side)
        if len(image) % PAGE_SIZE:
            raise RecordingError(f"a log image must be whole {PAGE_SIZE}-byte pages, got {len(image)} bytes")
        code = SIDE_CODE[side]
        view = memoryview(image)
        self._conn.executemany("INSERT INTO log_pages(side, session, page) VALUES (?, ?, ?)",
                               ((code, int(session_id), bytes(view[i:i + PAGE_SIZE]))
                                for i in range(0, len(image), PAGE_SIZE)))
        self._maybe_commit()

    def add_marker(self, host_time_ns: int, kind: str, name: str, data: dict[str, Any] | None = None) -> None:
        """Append a marker: ``kind`` is ``phase_start``, ``phase_end``, ``note``,
        ``link`` (connect/disconnect) or ``battery``."""
        self._conn.execute(
            "INSERT INTO markers(host_time_ns, kind, name, data) VALUES (?, ?, ?, ?)",
            (int(host_time_ns), kind, name, json.dumps(data) if data is not None else None),
        )
        self._maybe_commit()

    def _maybe_commit(self) -> None:
        if time.monotonic() - self._last_commit >= self.commit_interval_s:
            self.commit()

    def commit(self) -> None:
        """Make everything written so far durable (and checkpoint the WAL
        into the main file when one is due)."""
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")
        self._last_commit = time.monotonic()
        if self._last_commit - self._last_checkpoint >= self.checkpoint_interval_s:
            self.checkpoint()
        self._conn.execute("BEGIN")

    def checkpoint(self) -> None:
        """Copy the committed WAL frames into the main file (a passive
        checkpoint: it never waits for readers)."""
        in_tx = self._conn.in_transaction
        if in_tx:
            self._conn.execute("COMMIT")
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        self._last_checkpoint = time.monotonic()
        if in_tx:
            self._conn.execute("BEGIN")

    def close(self) -> None:
        """Commit, checkpoint, and leave one self-contained file."""
        if self._closed:
            return
        self._closed = True
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.execute("PRAGMA journal_mode=DELETE")
        self._conn.close()

    def __enter__(self) -> "RecordingWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class SideHeaders:
    """The first 15 bytes and the length of every packet of one side.

    Attributes
    ----------
    host_time_ns : numpy.ndarray
        int64 arrival times, ns since the start, arrival order.
    header_bytes : numpy.ndarray
        ``(n, 15)`` uint8, zero-padded for shorter packets.
    lengths : numpy.ndarray
        int64 full payload lengths.
    """

    host_time_ns: np.ndarray
    header_bytes: np.ndarray
    lengths: np.ndarray
    #: rows of this side skipped because damage changed their column types
    #: (not a packet: counted as invalid, never decoded)
    untyped_rows: int = 0


def _headers_from_payloads(host_time_ns: np.ndarray, payloads: list[bytes], untyped_rows: int = 0) -> SideHeaders:
    from ..protocol.packet import HEADER_SIZE

    pad = bytes(HEADER_SIZE)
    head = b"".join((p[:HEADER_SIZE] + pad)[:HEADER_SIZE] for p in payloads)
    return SideHeaders(
        host_time_ns=np.asarray(host_time_ns, dtype=np.int64),
        header_bytes=np.frombuffer(head, dtype=np.uint8).reshape(len(payloads), HEADER_SIZE),
        lengths=np.fromiter(map(len, payloads), dtype=np.int64, count=len(payloads)),
        untyped_rows=untyped_rows,
    )


@dataclass
class RawRecording:
    """Everything a recording file holds, undecoded.

    Attributes
    ----------
    meta : dict
        Metadata keys and JSON-decoded values.
    devices : dict
        Side -> device info dict.
    host_time_ns : dict
        Side -> int64 array of arrival times (ns since start), arrival order.
    payloads : dict
        Side -> list of notification payloads (bytes), same order.
    markers : list of dict
        ``host_time_ns``, ``kind``, ``name``, ``data`` in file order.
    damaged : bool
        True when parts of the file could not be read and were skipped.
    """

    meta: dict[str, Any]
    devices: dict[str, dict[str, Any]]
    host_time_ns: dict[str, np.ndarray]
    payloads: dict[str, list[bytes]]
    markers: list[dict[str, Any]] = field(default_factory=list)
    damaged: bool = False
    skipped_rows: int = 0
    untyped_rows: dict[str, int] = field(default_factory=dict)
    missing_wal: bool = False
    #: side -> the synced on-insole log's pages, concatenated in file order
    log_pages: dict[str, bytes] = field(default_factory=dict)

    # the packet-source interface shared with RecordingReader
    def sides(self) -> list[str]:
        return [s for s in SIDES if s in self.payloads]

    def log_sides(self) -> list[str]:
        return [s for s in SIDES if self.log_pages.get(s)]

    def log_image(self, side: str) -> bytes:
        return self.log_pages.get(side, b"")

    def headers(self, side: str) -> SideHeaders:
        return _headers_from_payloads(self.host_time_ns[side], self.payloads[side], self.untyped_rows.get(side, 0))

    def iter_payloads(self, side: str, chunk: int = PAYLOAD_CHUNK) -> Iterable[list[bytes]]:
        p = self.payloads[side]
        for lo in range(0, len(p), chunk):
            yield p[lo:lo + chunk]


class RecordingReader:
    """Stream a recording file side by side without holding all its bytes.

    Offers the packet-source interface (``meta``, ``devices``, ``markers``,
    ``damaged``, ``sides()``, ``headers(side)``, ``iter_payloads(side)``)
    that :func:`insole.signals.build.decode_recording` reads, so loading a
    long recording needs memory for one foot's codes at a time. A damaged
    file falls back to :func:`read_raw`'s salvage, in memory.

    Use as a context manager.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._fallback: RawRecording | None = None
        self.missing_wal = wal_missing(self.path)
        self._recovered = _left_by_a_crash(self.path)
        try:
            self._conn = _open_checked(self.path)
        except _Damaged:
            self._fallback = read_raw(self.path)
            self.meta, self.devices, self.markers = self._fallback.meta, self._fallback.devices, self._fallback.markers
            self.damaged = True
            return
        try:
            self.meta = _read_meta(self._conn, self.path)
            self.devices = _devices(self._conn.execute("SELECT side, info FROM devices").fetchall(), self.path)
            self.markers = _markers(self._conn.execute(
                "SELECT id, host_time_ns, kind, name, data FROM markers ORDER BY id").fetchall())
            self._codes = [r[0] for r in self._conn.execute(f"SELECT DISTINCT side FROM packets WHERE {_TYPED}")]
            self._log_codes = _log_side_codes(self._conn)
            self._untyped = _untyped_rows(self._conn)
        except (sqlite3.DatabaseError, RecordingError) as exc:
            if isinstance(exc, sqlite3.DatabaseError) and not _is_damage(exc):
                self._conn.close()
                raise RecordingError(f"{self.path}: cannot read the recording ({exc})") from None
            self._conn.close()
            self._fallback = read_raw(self.path)
            self.meta, self.devices, self.markers = self._fallback.meta, self._fallback.devices, self._fallback.markers
        self.damaged = self._fallback.damaged if self._fallback else False

    def sides(self) -> list[str]:
        if self._fallback:
            return self._fallback.sides()
        return [s for s in SIDES if SIDE_CODE[s] in self._codes]

    def log_sides(self) -> list[str]:
        if self._fallback:
            return self._fallback.log_sides()
        return [s for s in SIDES if SIDE_CODE[s] in self._log_codes]

    def log_image(self, side: str) -> bytes:
        """One foot's synced log pages, concatenated in file order."""
        if self._fallback:
            return self._fallback.log_image(side)
        try:
            rows = self._conn.execute(f"SELECT page FROM log_pages WHERE side = ? AND {_LOG_TYPED} ORDER BY id",
                                      (SIDE_CODE[side],)).fetchall()
        except sqlite3.DatabaseError as exc:
            if not _is_damage(exc):
                raise RecordingError(f"{self.path}: cannot read the recording ({exc})") from None
            return self._fall_back().log_image(side)
        return b"".join(r[0] for r in rows)

    def headers(self, side: str) -> SideHeaders:
        if self._fallback:
            return self._fallback.headers(side)
        try:
            rows = self._conn.execute(
                # substr() of a zero-length blob is NULL, not an empty blob
                "SELECT host_time_ns, length(payload), ifnull(substr(payload, 1, 15), x'') FROM packets "
                f"WHERE side = ? AND {_TYPED} ORDER BY id", (SIDE_CODE[side],)).fetchall()
        except sqlite3.DatabaseError as exc:
            if not _is_damage(exc):
                raise RecordingError(f"{self.path}: cannot read the recording ({exc})") from None
            return self._fall_back().headers(side)
        untyped = self._untyped.get(side, 0)
        if not rows:
            return SideHeaders(np.zeros(0, np.int64), np.zeros((0, 15), np.uint8), np.zeros(0, np.int64), untyped)
        times, lengths, heads = zip(*rows)
        lengths = np.asarray(lengths, dtype=np.int64)
        if (lengths < 15).any():  # short (invalid) packets: pad their headers
            heads = [(h + bytes(15))[:15] for h in heads]
        return SideHeaders(
            host_time_ns=np.asarray(times, dtype=np.int64),
            header_bytes=np.frombuffer(b"".join(heads), dtype=np.uint8).reshape(len(rows), 15),
            lengths=lengths,
            untyped_rows=untyped,
        )

    def iter_payloads(self, side: str, chunk: int = PAYLOAD_CHUNK) -> Iterable[list[bytes]]:
        if self._fallback:
            yield from self._fallback.iter_payloads(side, chunk)
            return
        cur = self._conn.execute(f"SELECT payload FROM packets WHERE side = ? AND {_TYPED} ORDER BY id",
                                 (SIDE_CODE[side],))
        while True:
            try:
                rows = cur.fetchmany(chunk)
            except sqlite3.DatabaseError as exc:
                raise RecordingError(f"{self.path} is damaged part-way through its packets ({exc})") from None
            if not rows:
                return
            yield [r[0] for r in rows]

    def _fall_back(self) -> RawRecording:
        log.warning("%s: reading failed part-way; salvaging what is intact", self.path)
        self._conn.close()
        self._fallback = read_raw(self.path)
        self.damaged = self._fallback.damaged
        return self._fallback

    def close(self) -> None:
        if self._fallback is None:
            if self._recovered:
                _finish_recovery(self._conn, self.path)
            self._conn.close()

    def __enter__(self) -> "RecordingReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wal_missing(path: str | os.PathLike) -> bool:
    """True when ``path`` is a recording that was never closed (still in WAL
    mode: its writer was killed, or it was copied while recording) and its
    ``-wal`` file is not beside it, so the last data committed before the
    crash (at most the writer's checkpoint interval, 1 s) are not in it.
    Checked before the file is opened (opening may create a new ``-wal``)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(20)
    except OSError:
        return False
    return (len(head) == 20 and head[:16] == _SQLITE_MAGIC and head[18] == 2
            and not Path(str(path) + "-wal").exists())


def _left_by_a_crash(path: str | os.PathLike) -> bool:
    """True when ``path`` is still in WAL mode with its ``-wal`` beside it:
    its writer was killed (or is still writing)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(20)
    except OSError:
        return False
    return len(head) == 20 and head[18] == 2 and Path(str(path) + "-wal").exists()


def _finish_recovery(conn: sqlite3.Connection, path: Path) -> None:
    """Do what the killed writer's close would have done: checkpoint the WAL
    into the main file and leave one self-contained file (rollback journal).
    The data are unchanged. Skipped when another process still writes the
    file (it holds the lock) or the file is read-only."""
    try:
        conn.execute("PRAGMA busy_timeout=0")  # a writer still at work: give up at once, never block it
        conn.execute("PRAGMA journal_mode=DELETE").fetchall()
        log.info("%s was left by a crash: its -wal was merged into it", path)
    except sqlite3.DatabaseError as exc:
        log.debug("%s: not merging its -wal (%s)", path, exc)


def is_recording_file(path: str | os.PathLike) -> bool:
    """True when ``path`` starts like an SQLite database (cheap sniff)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(16) == _SQLITE_MAGIC
    except OSError:
        return False


def read_raw(path: str | os.PathLike) -> RawRecording:
    """Read a recording file without decoding its packets.

    A file left by a crashed writer (with its ``-wal`` beside it) reads
    normally. Damaged parts are skipped with a warning where the rest can
    still be read.

    Raises
    ------
    RecordingError
        The file is missing, empty, truncated before any data, or not an
        insole recording.
    """
    import tempfile

    path = Path(path)
    missing_wal = wal_missing(path)
    recovered = _left_by_a_crash(path)
    with tempfile.TemporaryDirectory(prefix="insole-repair-") as tmp:
        try:
            conn = _open_checked(path)
            damaged = False
        except _Damaged:
            log.warning("%s is damaged (truncated?); reading the pages that are intact", path)
            try:
                conn = _open(_repaired_copy(path, Path(tmp)))
            except _Damaged as exc:
                raise RecordingError(f"{path} is damaged beyond repair ({exc})") from None
            damaged = True
        try:
            try:
                meta = _read_meta(conn, path)
            except RecordingError:
                if not damaged:
                    raise
                meta = _read_meta_salvaging(conn, path)
            try:
                devices = _devices(conn.execute("SELECT side, info FROM devices").fetchall(), path)
            except sqlite3.DatabaseError:
                devices, damaged = {}, True
            rows, skipped = _read_rows(conn, "packets", "id, side, host_time_ns, payload", where=_TYPED)
            untyped = _untyped_rows(conn)
            markers_rows, skipped_m = _read_rows(conn, "markers", "id, host_time_ns, kind, name, data")
            log_rows, skipped_l = _read_log_rows(conn)
            if recovered and not damaged:
                _finish_recovery(conn, path)
        finally:
            conn.close()
    damaged = damaged or skipped > 0 or skipped_m > 0 or skipped_l > 0
    if damaged:
        log.warning("%s is damaged: %d unreadable packet rows skipped; loading what is intact", path, skipped)
    host: dict[str, np.ndarray] = {}
    payloads: dict[str, list[bytes]] = {}
    if rows:
        _, sides, times, blobs = zip(*rows)
        side_arr = np.asarray(sides, dtype=np.int64)
        time_arr = np.asarray(times, dtype=np.int64)
        for code, side in SIDE_FROM_CODE.items():
            sel = np.flatnonzero(side_arr == code)
            if sel.size:
                host[side] = time_arr[sel]
                payloads[side] = [blobs[i] for i in sel] if sel.size != len(blobs) else list(blobs)
    markers = _markers(markers_rows)
    log_pages = {side: b"".join(page for code, page in log_rows if code == c)
                 for c, side in SIDE_FROM_CODE.items() if any(code == c for code, _ in log_rows)}
    return RawRecording(meta=meta, devices=devices, host_time_ns=host, payloads=payloads, markers=markers,
                        damaged=damaged, skipped_rows=skipped + skipped_m + skipped_l, untyped_rows=untyped,
                        missing_wal=missing_wal, log_pages=log_pages)


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    try:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() \
            is not None
    except sqlite3.DatabaseError:
        return False


def _log_side_codes(conn: sqlite3.Connection) -> list[int]:
    """Side codes that have log pages (none in a file from before v1.1)."""
    if not _has_table(conn, "log_pages"):
        return []
    return [r[0] for r in conn.execute(f"SELECT DISTINCT side FROM log_pages WHERE {_LOG_TYPED}")]


def _read_log_rows(conn: sqlite3.Connection) -> tuple[list[tuple], int]:
    """(side code, page) rows of the log pages, id order; salvaged on damage."""
    if not _has_table(conn, "log_pages"):
        return [], 0
    rows, skipped = _read_rows(conn, "log_pages", "id, side, page", where=_LOG_TYPED)
    return [(code, page) for _, code, page in rows], skipped


def _untyped_rows(conn: sqlite3.Connection) -> dict[str, int]:
    """Side -> packet rows whose other columns damage has given the wrong
    type (empty when the table cannot be read)."""
    try:
        rows = conn.execute("SELECT side, count(*) FROM packets WHERE typeof(side) = 'integer' AND NOT "
                            f"({_TYPED}) GROUP BY side").fetchall()
    except sqlite3.DatabaseError:
        return {}
    return {SIDE_FROM_CODE[code]: int(n) for code, n in rows if code in SIDE_FROM_CODE}


_DAMAGE_CODES = {10, 11, 26}  # SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_NOTADB


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    """True for errors that mean a damaged file (not a bug in a query)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in _DAMAGE_CODES


def _text(value: Any) -> str | None:
    """A TEXT column read as bytes (text_factory) -> str, or None if damaged."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _json(value: Any) -> tuple[bool, Any]:
    """Parse a JSON TEXT column; ``(False, None)`` when damaged."""
    text = _text(value)
    if text is None:
        return False, None
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


def _devices(rows: list[tuple], path: Path) -> dict[str, dict[str, Any]]:
    """Device rows; a damaged one is skipped with a warning."""
    out = {}
    for side, info in rows:
        ok, value = _json(info)
        side = _text(side)
        if ok and side in SIDES and isinstance(value, dict):
            out[side] = value
        else:
            log.warning("%s: a damaged device entry is skipped", path)
    return out


def _markers(rows: list[tuple]) -> list[dict[str, Any]]:
    """Marker rows; damaged ones (wrong types, broken JSON) are skipped."""
    out = []
    for _, t, k, n, d in rows:
        kind, name = _text(k), _text(n)
        ok, data = _json(d) if d is not None else (True, None)
        if isinstance(t, int) and kind is not None and name is not None and ok:
            out.append({"host_time_ns": t, "kind": kind, "name": name, "data": data})
    return out


def _open_checked(path: Path) -> sqlite3.Connection:
    """Open ``path`` as SQLite after the cheap checks (exists, not empty,
    SQLite magic)."""
    require_file(path)
    if not is_recording_file(path):
        raise UnknownFormatError(f"{path} is not an insole recording")
    return _open(path)


def _read_meta(conn: sqlite3.Connection, path: Path) -> dict[str, Any]:
    """The meta table; raises when the file is not (or no longer) a recording."""
    try:
        tables = {_text(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"meta", "packets"} <= tables:
            conn.close()
            raise UnknownFormatError(f"{path} is an SQLite file but not an insole recording")
        meta = {}
        for k, v in conn.execute("SELECT key, value FROM meta"):
            ok, value = _json(v)
            if not ok or _text(k) is None:
                raise RecordingError(f"{path} is damaged: its metadata cannot be read")
            meta[_text(k)] = value
    except sqlite3.DatabaseError as exc:
        raise RecordingError(f"{path} is damaged and its metadata cannot be read ({exc})") from None
    if meta.get("format") != FORMAT:
        conn.close()
        raise UnknownFormatError(f"{path} is an SQLite file but not an insole recording")
    return meta


def _open(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(str(path), isolation_level=None)
        conn.text_factory = bytes  # damage can leave invalid UTF-8 in TEXT columns: decode ourselves
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        # read-only location: open without write access
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
            conn.text_factory = bytes
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            raise RecordingError(f"{path} cannot be opened as a recording ({_message(exc)})") from None
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        # a damaged schema can even make SQLite's error message undecodable
        raise _Damaged(_message(exc)) from None


def _message(exc: Exception) -> str:
    return "undecodable text" if isinstance(exc, UnicodeDecodeError) else str(exc)


class _Damaged(Exception):
    """The file opened as SQLite but its structure is damaged."""


_KNOWN_META_KEYS = ("format", "source", "protocol", "sampling_rate_hz", "subject", "body_mass_kg", "started_utc",
                    "app_version", "truth")


def _repaired_copy(path: Path, folder: Path) -> Path:
    """A copy of a truncated database whose header agrees with its length.

    SQLite trusts the page count in the header; a file cut short (an
    interrupted copy, a full disk) then reads as malformed although most of
    its pages are intact. The copy drops the partial last page and states the
    real page count, so the intact pages can be read.
    """
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or len(data) < page_size:
        raise RecordingError(f"{path} is damaged beyond repair: not even its first page is intact")
    n_pages = len(data) // page_size
    del data[n_pages * page_size:]
    data[28:32] = n_pages.to_bytes(4, "big")
    out = folder / "repaired.sqlite"
    out.write_bytes(data)
    return out


def _read_meta_salvaging(conn: sqlite3.Connection, path: Path) -> dict[str, Any]:
    """The meta table read key by key, skipping values that cannot be read."""
    try:
        keys = [_text(r[0]) for r in conn.execute("SELECT key FROM meta")]
    except sqlite3.DatabaseError:
        keys = list(_KNOWN_META_KEYS)
    meta: dict[str, Any] = {}
    for key in keys:
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError:
            log.warning("%s: metadata %r is damaged and skipped", path, key)
            continue
        ok, value = _json(row[0]) if row is not None else (False, None)
        if ok:
            meta[key] = value
    if meta.get("format") != FORMAT:
        raise RecordingError(f"{path} is damaged beyond repair: its metadata is lost")
    return meta


def _read_rows(conn: sqlite3.Connection, table: str, cols: str, *, where: str = "1") -> tuple[list[tuple], int]:
    """All rows of ``table`` in id order; on damage, salvage by id ranges."""
    try:
        return conn.execute(f"SELECT {cols} FROM {table} WHERE {where} ORDER BY id").fetchall(), 0
    except sqlite3.DatabaseError:
        pass
    rows: list[tuple] = []
    skipped = 0
    chunk = 1024
    lo, empty_run = 1, 0
    while empty_run < 64:
        got, bad = _salvage_range(conn, table, cols, where, lo, lo + chunk - 1)
        rows.extend(got)
        skipped += bad
        # rows are numbered densely from 1: once many chunks in a row yield
        # nothing (empty or unreadable), the rest of the table is gone
        empty_run = empty_run + 1 if not got else 0
        lo += chunk
    return rows, skipped


def _salvage_range(conn: sqlite3.Connection, table: str, cols: str, where: str, lo: int,
                   hi: int) -> tuple[list[tuple], int]:
    try:
        return conn.execute(f"SELECT {cols} FROM {table} WHERE id BETWEEN ? AND ? AND {where} ORDER BY id",
                            (lo, hi)).fetchall(), 0
    except (sqlite3.DatabaseError, UnicodeDecodeError):
        if hi - lo < 64:
            return [], hi - lo + 1
        mid = (lo + hi) // 2
        a, na = _salvage_range(conn, table, cols, where, lo, mid)
        b, nb = _salvage_range(conn, table, cols, where, mid + 1, hi)
        return a + b, na + nb


def _check_side(side: str) -> None:
    if side not in SIDES:
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")


def _utc_now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --- a recording being written: its new packets, read as they are committed ----
@dataclass(frozen=True)
class PacketBatch:
    """Packets of a recording in file (arrival) order.

    Attributes
    ----------
    side : numpy.ndarray
        ``"left"`` or ``"right"`` per packet (str).
    host_time_ns : numpy.ndarray
        int64 arrival times, ns since the recording started.
    payloads : list of bytes
        The notifications as received.
    """

    side: np.ndarray
    host_time_ns: np.ndarray
    payloads: list[bytes]

    def __len__(self) -> int:
        return len(self.payloads)

    def of_side(self, side: str) -> tuple[np.ndarray, list[bytes]]:
        """One side's arrival times (ns) and payloads, in arrival order."""
        sel = np.flatnonzero(self.side == side)
        return self.host_time_ns[sel], [self.payloads[i] for i in sel.tolist()]  # per packet, not per sample


class PacketTail:
    """Read-only, incremental reading of a recording file while its writer
    (:class:`RecordingWriter`) is still appending to it.

    Each read opens the file read-only and closes it again: SQLite in WAL
    mode lets a reader see every commit, and no connection stays open (a
    reader left open between reads makes the writer's close fail with
    "database is locked"). A file that does not exist yet, or whose schema
    is not written yet, reads as empty. Rows whose column types damage has
    changed are skipped, as :class:`RecordingReader` skips them.

    Parameters
    ----------
    path : str or Path
        The recording being written.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._last_id = 0

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        if not self.path.exists():
            return []
        try:
            conn = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None)
        except sqlite3.DatabaseError:
            return []
        try:
            conn.text_factory = bytes  # decoded by _text/_json, as the reader does
            return conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError:  # not written yet (or locked for a moment): next time
            return []
        finally:
            conn.close()

    def meta(self) -> dict[str, Any]:
        """The metadata committed so far (JSON-decoded; unreadable values skipped)."""
        out = {}
        for k, v in self._query("SELECT key, value FROM meta"):
            ok, value = _json(v)
            if ok and (key := _text(k)) is not None:
                out[key] = value
        return out

    def devices(self) -> dict[str, dict[str, Any]]:
        """Side -> device info committed so far."""
        return _devices(self._query("SELECT side, info FROM devices"), self.path)

    def new_packets(self) -> PacketBatch:
        """The packets committed since the previous call (all of them on the first)."""
        rows = self._query(f"SELECT id, side, host_time_ns, payload FROM packets WHERE id > ? AND {_TYPED} "
                           "ORDER BY id", (self._last_id,))
        if rows:
            self._last_id = int(rows[-1][0])
        rows = [r for r in rows if r[1] in SIDE_FROM_CODE]
        side = np.array([SIDE_FROM_CODE[r[1]] for r in rows], dtype=object)
        return PacketBatch(side=side, host_time_ns=np.fromiter((r[2] for r in rows), np.int64, count=len(rows)),
                           payloads=[r[3] for r in rows])

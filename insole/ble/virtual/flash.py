"""A NOR flash chip, modelled: what a virtual insole logs into.

The chip is ``capacity_bytes`` of 4096-byte pages; a page is also the erase
sector. Erased bytes read 0xFF. A page can be programmed once after an erase
(programming a page that is not erased is an error, as NOR can only clear
bits); erasing sets a page back to 0xFF. The model counts page programs and
erases (wear).

The chip persists as one file (``path``) that grows only as far as pages
have been written: bytes past its end read as 0xFF. Every program and erase
goes to the file at once (a real chip keeps its bytes through a power loss).

Fault hooks, for tests of what the log survives:

- :meth:`NorFlash.tear_next_program`: the power fails while the next page
  is programmed: only a prefix of it is written (the rest stays 0xFF) and
  :class:`PowerLost` is raised;
- :meth:`NorFlash.flip_byte`: a written byte changes (bit rot, a bad cell).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ...errors import InsoleError

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_CAPACITY_BYTES", "PAGE_SIZE", "FlashError", "NorFlash", "PowerLost"]

PAGE_SIZE = 4096
DEFAULT_CAPACITY_BYTES = 64 * 1024 * 1024
_ERASED = 0xFF


class FlashError(InsoleError):
    """A flash operation the chip cannot do: programming a page that is not
    erased, a page outside the chip, data of the wrong size."""


class PowerLost(InsoleError):
    """The power failed during a flash operation (fault injection)."""


class NorFlash:
    """A NOR flash chip backed by a file.

    Parameters
    ----------
    path : str or Path or None
        File that holds the chip's bytes (created on the first program);
        None: in memory only.
    capacity_bytes : int
        Size of the chip, bytes (a multiple of 4096).

    Attributes
    ----------
    n_pages : int
        Pages on the chip.
    programs, erases : int
        Page programs and page erases since the counters were set.
    """

    page_size = PAGE_SIZE

    def __init__(self, path: str | os.PathLike | None, *, capacity_bytes: int = DEFAULT_CAPACITY_BYTES,
                 programs: int = 0, erases: int = 0) -> None:
        if capacity_bytes <= 0 or capacity_bytes % PAGE_SIZE:
            raise FlashError(f"flash capacity must be a positive multiple of {PAGE_SIZE} bytes, "
                             f"got {capacity_bytes}")
        self.path = None if path is None else Path(path)
        self.capacity_bytes = int(capacity_bytes)
        self.n_pages = self.capacity_bytes // PAGE_SIZE
        self.programs = int(programs)
        self.erases = int(erases)
        self._tear_keep: int | None = None
        self._mem = bytearray()
        if self.path is not None and self.path.exists():
            self._mem = bytearray(self.path.read_bytes()[: self.capacity_bytes])
            self._mem += b"\xff" * (-len(self._mem) % PAGE_SIZE)

    # -- reading ------------------------------------------------------------------
    @property
    def written_pages(self) -> int:
        """Pages up to the highest one ever written (the file's extent)."""
        return len(self._mem) // PAGE_SIZE

    def read(self, page: int, n_pages: int = 1) -> bytes:
        """Bytes of ``n_pages`` consecutive pages from ``page`` (no wrap).

        Parameters
        ----------
        page : int
            First page, 0-based.
        n_pages : int
        """
        self._check(page, n_pages)
        a, b = page * PAGE_SIZE, (page + n_pages) * PAGE_SIZE
        out = bytes(self._mem[a:b])
        return out + b"\xff" * (b - a - len(out))

    def read_pages(self, pages) -> bytes:
        """The given pages (any order, e.g. a session across the ring's
        end), concatenated."""
        return b"".join(self.read(int(p)) for p in pages)

    def headers(self, n_bytes: int = 32) -> np.ndarray:
        """The first ``n_bytes`` of every page up to :attr:`written_pages`,
        as a ``(written_pages, n_bytes)`` uint8 array (what a firmware scans
        after a reboot)."""
        buf = np.frombuffer(self._mem, dtype=np.uint8).reshape(-1, PAGE_SIZE)
        out = buf[:, :n_bytes].copy()
        del buf  # release the export: the buffer may grow again
        return out

    def is_erased(self, page: int) -> bool:
        """Whether every byte of ``page`` reads 0xFF."""
        self._check(page, 1)
        a = page * PAGE_SIZE
        if a >= len(self._mem):
            return True
        return self._mem[a:a + PAGE_SIZE].count(_ERASED) == PAGE_SIZE

    # -- writing ------------------------------------------------------------------
    def program(self, page: int, data: bytes) -> None:
        """Program one erased page with exactly 4096 bytes.

        Raises
        ------
        FlashError
            The page is not erased, outside the chip, or ``data`` is not one page.
        PowerLost
            A torn write was armed (:meth:`tear_next_program`): only a prefix
            was written.
        """
        data = bytes(data)
        if len(data) != PAGE_SIZE:
            raise FlashError(f"a page program takes {PAGE_SIZE} bytes, got {len(data)}")
        if not self.is_erased(page):
            raise FlashError(f"flash page {page} is not erased: erase it before programming")
        keep = self._tear_keep
        if keep is not None:
            self._tear_keep = None
            data = data[:keep] + b"\xff" * (PAGE_SIZE - keep)
        self._store(page, data)
        self.programs += 1
        if keep is not None:
            log.debug("flash: power lost while programming page %d (%d bytes written)", page, keep)
            raise PowerLost(f"power lost while programming flash page {page}")

    def erase(self, page: int, n_pages: int = 1) -> None:
        """Erase ``n_pages`` consecutive pages from ``page`` to 0xFF (no wrap)."""
        self._check(page, n_pages)
        for p in range(page, page + n_pages):
            if p * PAGE_SIZE < len(self._mem) and not self.is_erased(p):
                self._store(p, b"\xff" * PAGE_SIZE)
            self.erases += 1

    # -- faults ---------------------------------------------------------------------
    def tear_next_program(self, keep_bytes: int) -> None:
        """Fault: the power fails during the next page program, after its
        first ``keep_bytes`` bytes (0..4095) are written.

        Parameters
        ----------
        keep_bytes : int
        """
        if not 0 <= keep_bytes < PAGE_SIZE:
            raise FlashError(f"keep_bytes must be in 0..{PAGE_SIZE - 1}, got {keep_bytes}")
        self._tear_keep = int(keep_bytes)

    def flip_byte(self, page: int, offset: int, *, mask: int = 0x01) -> None:
        """Fault: XOR the byte at ``offset`` of ``page`` with ``mask`` (a
        corrupted cell), bypassing the program rules."""
        self._check(page, 1)
        if not 0 <= offset < PAGE_SIZE:
            raise FlashError(f"offset must be in 0..{PAGE_SIZE - 1}, got {offset}")
        data = bytearray(self.read(page))
        data[offset] ^= mask & 0xFF
        self._store(page, bytes(data))

    # -- internals ------------------------------------------------------------------
    def _check(self, page: int, n_pages: int) -> None:
        if n_pages < 0 or page < 0 or page + n_pages > self.n_pages:
            raise FlashError(f"flash pages {page}..{page + n_pages - 1} are outside the chip "
                             f"(0..{self.n_pages - 1})")

    def _store(self, page: int, data: bytes) -> None:
        a = page * PAGE_SIZE
        grow = a + PAGE_SIZE - len(self._mem)
        if grow > 0:
            self._mem += b"\xff" * grow
        self._mem[a:a + PAGE_SIZE] = data
        if self.path is None:
            return
        mode = "r+b" if self.path.exists() else "w+b"
        with open(self.path, mode) as f:
            size = f.seek(0, os.SEEK_END)
            if size < a:
                f.write(b"\xff" * (a - size))
            f.seek(a)
            f.write(data)

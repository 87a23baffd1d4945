"""Fonts for the report: DejaVu Sans with fallbacks for what people type.

A subject's name may be Chinese, Japanese or Korean, or carry an emoji. The
report's text uses matplotlib's per-glyph font fallback through
:data:`FAMILIES`; characters that no font covers are replaced by
:func:`printable` with their Unicode name, so a PDF never shows empty boxes.
See ``README.md`` beside this file for the fonts' sources and licences.
"""

from __future__ import annotations

import functools
import logging
import unicodedata
from pathlib import Path

__all__ = ["FAMILIES", "register", "printable", "rc"]

_HERE = Path(__file__).parent
_FILES = ("DroidSansFallback.ttf", "SymbolaEmoji.ttf")
#: font families in fallback order
FAMILIES = ["DejaVu Sans", "Droid Sans Fallback", "Symbola"]


@functools.cache
def register() -> frozenset[int]:
    """Register the bundled fonts with matplotlib (once); the code points
    that DejaVu Sans and the fallbacks cover together."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    logging.getLogger("matplotlib.font_manager").addFilter(_no_bold_fallback_warning)
    covered: set[int] = set(FT2Font(font_manager.findfont("DejaVu Sans", fallback_to_default=True)).get_charmap())
    for name in _FILES:
        path = _HERE / name
        font_manager.fontManager.addfont(str(path))
        covered.update(FT2Font(str(path)).get_charmap())
    return frozenset(covered)


def _no_bold_fallback_warning(record: logging.LogRecord) -> bool:
    """matplotlib warns each time bold text falls back to a bundled font,
    which has one weight only: expected, so not shown."""
    msg = record.getMessage()
    return not ("Failed to find font weight" in msg and any(f in msg for f in FAMILIES[1:]))


def rc() -> dict[str, object]:
    """matplotlib rc settings for report text: the fallback chain, and
    TrueType (Type 42) embedding so the PDF's text stays text."""
    register()
    return {"font.family": FAMILIES, "pdf.fonttype": 42}


def printable(text: str, *, max_chars: int | None = None) -> str:
    """``text`` as the report can draw it.

    Parameters
    ----------
    text : str
        Text from a user or a file (a subject's name, a file name).
    max_chars : int, optional
        Longer text is cut to this width, ending in an ellipsis (wide East
        Asian characters count as two).

    Returns
    -------
    str
        Control and format characters (zero-width joiners, variation
        selectors, bidirectional marks) removed; a character no bundled font
        covers replaced by its Unicode name in brackets; ``$`` kept literal
        (matplotlib would read a pair as mathematics).
    """
    covered = register()
    out = []
    for ch in str(text):
        if unicodedata.category(ch) in ("Cc", "Cf") or 0xFE00 <= ord(ch) <= 0xFE0F:
            continue  # controls, joiners, bidi marks, variation selectors
        if ord(ch) not in covered and not ch.isspace():
            out.append(f"[{unicodedata.name(ch, 'unknown character').lower()}]")
        else:
            out.append(ch)
    s = " ".join("".join(out).split())  # newlines and runs of spaces: one line
    if max_chars is not None and _width(s) > max_chars:
        s = s[:max_chars]
        while _width(s) > max_chars - 1:
            s = s[:-1]
        s = s.rstrip() + "\u2026"
    return s.replace("$", r"\$")


def _width(text: str) -> int:
    """Width in character cells: East Asian wide and full-width characters
    count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)

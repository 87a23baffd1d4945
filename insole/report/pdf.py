"""The physiotherapist's PDF: summary, standing, running, where the load
goes, history, data quality and methods pages.

A4 pages with a header (subject, session date, protocols, device) and page
numbers; text is real text (TrueType fonts embedded, selectable and
searchable); figures are vector graphics. Recordings from different days are
sessions: the latest one is reported in full, and a history page follows the
key asymmetries across all of them.
"""

from __future__ import annotations

import logging
import os
import textwrap
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from collections.abc import Callable
from typing import Any

import matplotlib
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from .. import __version__
from ..analysis.analyze import AnalysisResult
from ..errors import InsoleError, OutputError
from ..model import Recording
from ..paths import atomic_output, check_output, check_output_folder
from .figures import (
    asymmetry_figure,
    cop_paths_figure,
    drift_figure,
    force_curves_figure,
    force_over_time_figure,
    history_figure,
    load_share_figure,
    steps_over_time_figure,
)
from . import fonts
from .fonts import printable
from .maps import load_map_figure, load_map_page
from .text import headline, key_numbers, methods_text, quality_rows, quality_verdict

log = logging.getLogger(__name__)

__all__ = ["Session", "sessions_of", "write_report"]

A4_IN = (8.27, 11.69)
#: longest subject name in the page header; longer ones end in an ellipsis
SUBJECT_MAX_CHARS = 36
_QUALITY_COLOURS = {"good": "#1b7837", "fair": "#b35806", "poor": "#c51b7d"}


@dataclass(frozen=True)
class Session:
    """Recordings of one day, with their analyses."""

    date: str
    items: tuple[tuple[Recording, AnalysisResult], ...]

    @property
    def standing(self):
        return next((r.standing for _, r in reversed(self.items) if r.standing is not None), None)

    @property
    def gait(self):
        return next((r.gait for _, r in reversed(self.items) if r.gait is not None), None)

    def recording_of(self, kind: str) -> Recording | None:
        return next((rec for rec, r in reversed(self.items) if getattr(r, kind) is not None), None)


def sessions_of(recordings: list[Recording], results: list[AnalysisResult]) -> list[Session]:
    """Group recordings into sessions by the day they started, oldest first."""
    days: dict[str, list[tuple[Recording, AnalysisResult]]] = {}
    for rec, res in zip(recordings, results):
        days.setdefault(rec.meta.started_utc[:10] or "undated", []).append((rec, res))
    return [Session(d, tuple(v)) for d, v in sorted(days.items())]


class _Pages:
    """Page factory: header, footer, numbering, saving."""

    def __init__(self, pdf: PdfPages, subject: str, session: Session) -> None:
        self.pdf, self.subject, self.session, self.n = pdf, subject, session, 0
        recs = [rec for rec, _ in session.items]
        self.protocols = ", ".join(sorted({r.protocol for _, r in session.items}))
        dev = next((d for rec in recs for d in rec.meta.devices.values()), None)
        self.device = (f"{dev.model or dev.name} fw {dev.firmware_revision}" if dev else recs[0].meta.source)
        self.device = printable(self.device, max_chars=48)

    def new(self, title: str) -> Figure:
        self.n += 1
        fig = Figure(figsize=A4_IN)
        fig.text(0.07, 0.955, title, fontsize=16, weight="bold")
        fig.text(0.07, 0.935, f"{printable(self.subject, max_chars=SUBJECT_MAX_CHARS) or 'unnamed subject'}  |  "
                              f"session {self.session.date}  |  {self.protocols}  |  {printable(self.device)}",
                 fontsize=8.5, color="0.35")
        fig.text(0.93, 0.955, f"page {self.n}", ha="right", fontsize=8, color="0.4")
        fig.text(0.5, 0.015, f"insole {__version__}, report made {date.today().isoformat()}", ha="center",
                 fontsize=7, color="0.5")
        return fig

    def save(self, fig: Figure) -> None:
        self.pdf.savefig(fig)


def _paragraph(fig: Figure, y: float, text: str, *, width: int = 95, size: float = 10, **kw: Any) -> float:
    lines = textwrap.wrap(text, width)
    fig.text(0.07, y, "\n".join(lines), fontsize=size, va="top", linespacing=1.45, **kw)
    return y - (len(lines) * 1.45 * size / 72.0 + 0.12) / A4_IN[1]


def _table(fig: Figure, y: float, rows: list[list[str]], header: list[str], widths: list[float],
           *, size: float = 8.5) -> float:
    x0 = 0.07
    step = 1.6 * size / 72.0 / A4_IN[1]
    xs = [x0]
    for w in widths[:-1]:
        xs.append(xs[-1] + w)
    for x, h in zip(xs, header):
        fig.text(x, y, h, fontsize=size, weight="bold", va="top")
    y -= step
    fig.add_artist(matplotlib.lines.Line2D([x0, x0 + sum(widths)], [y + 0.3 * step] * 2, color="0.6", lw=0.6))
    for row in rows:
        for x, cell in zip(xs, row):
            fig.text(x, y, cell, fontsize=size, va="top")
        y -= step
    return y


def write_report(recordings: list[Recording], results: list[AnalysisResult], path: str | os.PathLike, *,
                 subject: str = "", png_dir: str | os.PathLike | None = None, overwrite: bool = False) -> Path:
    """Write the physiotherapist's PDF (and, with ``png_dir``, each figure as PNG).

    Parameters
    ----------
    recordings, results : list
        The recordings and their :func:`insole.analyze` results, any order;
        recordings started on different days become sessions of a history.
    path : str or Path
    subject : str
        Defaults to the recordings' subject.
    png_dir : str or Path, optional
        Folder for the figures as PNG files (created if missing).
    overwrite : bool
        Replace an existing PDF and existing PNGs of the same names (never
        one of the recordings).

    Raises
    ------
    OutputError
        An output exists (without ``overwrite``), is one of the recordings,
        is a folder (``png_dir``: a file), or cannot be written. The PDF is
        written to a temporary file and renamed into place, so a failure
        leaves no half-written PDF and no changed file.
    """
    if not recordings:
        raise InsoleError("no recording to report on")
    inputs = [r.path for r in recordings if r.path]
    path = check_output(path, inputs=inputs, force=overwrite)
    if png_dir is not None:
        check_output_folder(png_dir, flag="--png")
    with atomic_output(path) as tmp, matplotlib.rc_context(fonts.rc()):
        pngs, n_pages = _write_pdf(tmp, recordings, results, subject=subject)
        if png_dir is not None:
            _write_pngs(pngs, Path(png_dir), inputs=inputs, overwrite=overwrite)
    log.info("wrote %s: %d pages", path, n_pages)
    return path


def _write_pngs(figures: dict[str, "_LazyFigure"], folder: Path, *, inputs: list[str], overwrite: bool) -> None:
    """Each figure as ``folder/<name>.png`` (drawn here); every target is
    checked before the first is written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--png: cannot create the folder {folder}: {exc.strerror or exc}") from None
    targets = {name: check_output(folder / f"{name}.png", inputs=inputs, force=overwrite, flag="--png")
               for name in figures}
    for name, draw in figures.items():
        with atomic_output(targets[name]) as tmp:
            draw().savefig(tmp, dpi=150, format="png")


#: a figure for a PNG file, drawn only when PNGs are asked for
_LazyFigure = Callable[[], Figure]


def _write_pdf(path: Path, recordings: list[Recording], results: list[AnalysisResult], *,
               subject: str) -> tuple[dict[str, _LazyFigure], int]:
    """Write the pages to ``path``, one function per page; the figures for
    PNG files (drawn only if called) and the page count."""
    sessions = sessions_of(recordings, results)
    cur = sessions[-1]
    subject = subject or next((r.meta.subject for r in recordings if r.meta.subject), "")
    standing, gait = cur.standing, cur.gait
    st_rec, g_rec = cur.recording_of("standing"), cur.recording_of("gait")
    pngs: dict[str, _LazyFigure] = {}
    with PdfPages(path) as pdf:
        pages = _Pages(pdf, subject, cur)
        level, sentence = quality_verdict([rec for rec, _ in cur.items], [gait])
        _summary_page(pages, sessions, standing, gait, level=level, sentence=sentence)
        if standing is not None:
            pngs.update(_standing_pages(pages, standing, st_rec))
        if gait is not None:
            pngs.update(_gait_pages(pages, gait, g_rec))
        map_rec = g_rec if gait is not None else st_rec
        if map_rec is not None:
            pngs.update(_maps_page(pages, map_rec, gait, standing))
        if len(sessions) > 1:
            pngs.update(_history_page(pages, sessions))
        _quality_page(pages, cur, level=level, sentence=sentence)
        _methods_page(pages, standing, gait)
        n_pages = pages.n
    return pngs, n_pages


def _summary_page(pages: "_Pages", sessions: list[Session], standing, gait, *, level: str, sentence: str) -> None:
    """Page 1: the headline, the key numbers and the data-quality sentence."""
    cur = sessions[-1]
    fig = pages.new("Weight-bearing report")
    y = _paragraph(fig, 0.9, headline(standing, gait), width=72, size=13, weight="bold")
    y = _paragraph(fig, y, "A little asymmetry is normal: people need to be functional, not perfectly "
                   "symmetrical. Each verdict below compares the difference with the typical variation of "
                   "healthy people and with its own 95 % confidence interval.", size=9.5, color="0.25")
    y = _table(fig, y - 0.01, key_numbers(standing, gait), ["measure", "value", "95 % CI", "typical", "verdict"],
               [0.34, 0.10, 0.13, 0.17, 0.14])
    y = _paragraph(fig, y - 0.02, sentence, size=10, color=_QUALITY_COLOURS[level], weight="bold")
    if len(sessions) > 1:
        _paragraph(fig, y - 0.005, f"History: {len(sessions)} sessions from {sessions[0].date} to {cur.date}; "
                   "the history page follows them.", size=9.5)
    _paragraph(fig, 0.07, "Signs: every asymmetry is positive when the RIGHT side is larger, and every verdict "
               "names the side in words. 'Favoured' is the side that carries more.", size=8, color="0.35")
    pages.save(fig)


def _standing_pages(pages: "_Pages", standing, st_rec: Recording) -> dict[str, _LazyFigure]:
    """The standing test's load-share and sway pages."""
    fig = pages.new("Standing test: load share")
    _paragraph(fig, 0.9, standing.verdict)
    load_share_figure(standing, ax=fig.add_axes((0.12, 0.5, 0.8, 0.28)),
                      title="The left foot's share of the load over time")
    force_over_time_figure(st_rec, ax=fig.add_axes((0.12, 0.1, 0.8, 0.25)),
                           title="Force under each foot (foot lifts first: zeroing and calibration)")
    pages.save(fig)
    fig = pages.new("Standing test: sway, eyes open and closed")
    cop_paths_figure(standing, fig=fig, rect=(0.12, 0.27, 0.8, 0.6))
    rows = [[p.name.replace("_", " "), f"{p.sway['mean_velocity_mm_s']:.1f}", f"{p.sway['ellipse95_area_mm2']:.0f}",
             f"{p.sway['rms_ap_mm']:.1f} / {p.sway['rms_ml_mm']:.1f}", f"{p.sway['mean_frequency_hz']:.2f}"]
            for p in standing.phases if p.sway]
    if standing.romberg:
        rows.append(["Romberg ratio", f"{standing.romberg['mean_velocity']:.2f}",
                     f"{standing.romberg['ellipse95_area']:.2f}", "", ""])
    _table(fig, 0.17, rows, ["phase", "velocity (mm/s)", "ellipse (mm2)", "RMS AP / ML (mm)",
                             "mean freq. (Hz)"], [0.2, 0.17, 0.17, 0.2, 0.15])
    pages.save(fig)
    return {"standing_load_share": lambda: load_share_figure(standing),
            "standing_sway": lambda: cop_paths_figure(standing),
            "standing_forces": lambda: force_over_time_figure(st_rec)}


def _gait_pages(pages: "_Pages", gait, g_rec: Recording) -> dict[str, _LazyFigure]:
    """The run's or walk's left-against-right and over-the-run pages."""
    kind = "Running" if gait.mode == "run" else "Walking"
    fig = pages.new(f"{kind}: left against right")
    _paragraph(fig, 0.9, gait.verdict)
    force_curves_figure(g_rec, gait, ax=fig.add_axes((0.12, 0.52, 0.8, 0.25)),
                        title="Mean force over stance (band: +-1 SD across steps)")
    asymmetry_figure(gait, ax=fig.add_axes((0.22, 0.14, 0.7, 0.28)),
                     title="Asymmetry with 95 % intervals against typical variation")
    pages.save(fig)
    fig = pages.new(f"{kind}: over the {gait.mode}")
    _paragraph(fig, 0.9, gait.drift["verdict"])
    steps_over_time_figure(gait, ax=fig.add_axes((0.12, 0.5, 0.8, 0.3)),
                           title="Contact time of every step (line: one-minute median; hollow: left out)")
    drift_figure(gait, ax=fig.add_axes((0.12, 0.1, 0.8, 0.3)), title="Symmetry index per window")
    pages.save(fig)
    return {"gait_force_curves": lambda: force_curves_figure(g_rec, gait),
            "gait_asymmetry": lambda: asymmetry_figure(gait),
            "gait_steps": lambda: steps_over_time_figure(gait), "gait_drift": lambda: drift_figure(gait)}


def _maps_page(pages: "_Pages", map_rec: Recording, gait, standing) -> dict[str, _LazyFigure]:
    """Where the load goes: maps, gait line, regional shares in words."""
    kinds = {"gait": gait} if gait is not None else {"standing": standing}
    fig = pages.new("Where the load goes")
    load_map_page(fig, map_rec, **kinds)
    pages.save(fig)
    return {"load_maps": lambda: load_map_figure(map_rec, **kinds)}


def _history_page(pages: "_Pages", sessions: list[Session]) -> dict[str, _LazyFigure]:
    """Every session with its interval against the typical band."""
    fig = pages.new("History across sessions")
    _paragraph(fig, 0.9, "Each point is one session with its 95 % interval; shaded: typical variation "
               "(standing: 45-55 %; running: twice the typical symmetry angle of healthy runners). Points "
               "moving into the band mean the asymmetry is shrinking.")
    hist = [(s.date, s.standing, s.gait) for s in sessions]
    history_figure(hist, fig=fig, rect=(0.12, 0.07, 0.8, 0.72))
    pages.save(fig)
    return {"history": lambda: history_figure(hist)}


def _quality_page(pages: "_Pages", cur: Session, *, level: str, sentence: str) -> None:
    """Data quality of each recording of the session."""
    fig = pages.new("Data quality")
    y = _paragraph(fig, 0.9, sentence, color=_QUALITY_COLOURS[level], weight="bold")
    for rec, res in cur.items:
        y = _paragraph(fig, y - 0.01, f"{printable(Path(rec.path).name or rec.meta.source, max_chars=80)}: "
                       f"{res.protocol}, "
                       f"{rec.duration_s:.0f} s at {rec.meta.sampling_rate_hz:g} Hz ({rec.meta.source})",
                       size=10, weight="bold")
        y = _table(fig, y, quality_rows(rec, res.standing, res.gait), ["", "left", "right"], [0.42, 0.22, 0.22])
    pages.save(fig)


def _methods_page(pages: "_Pages", standing, gait) -> None:
    """Every definition and parameter used, and where the sources are."""
    fig = pages.new("Methods")
    y = 0.9
    for head, text in methods_text(standing, gait):
        y = _paragraph(fig, y, head, size=9.5, weight="bold")
        y = _paragraph(fig, y + 0.008, text, width=110, size=8.5)
    _paragraph(fig, max(y - 0.01, 0.06), "Definitions and sources: docs/science.md in the insole repository (the "
               "documentation site's Science page); the parameters above are those used for "
               "this report.", size=8, color="0.35")
    pages.save(fig)

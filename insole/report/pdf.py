"""The PDF report (first version: summary page and one page per recording).

A4 pages, real (searchable) text, vector figures.
"""

from __future__ import annotations

import logging
import os
import textwrap
from datetime import date
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from .. import __version__
from ..model import Recording
from .figures import (
    asymmetry_figure,
    cop_paths_figure,
    drift_figure,
    force_curves_figure,
    force_over_time_figure,
    load_share_figure,
    steps_over_time_figure,
)

log = logging.getLogger("insole")

__all__ = ["write_report"]

A4_IN = (8.27, 11.69)


def _page(title: str, subject: str, page_no: int) -> Figure:
    fig = Figure(figsize=A4_IN)
    fig.text(0.07, 0.955, title, fontsize=16, weight="bold")
    fig.text(0.07, 0.935, f"{subject}    {date.today().isoformat()}    insole {__version__}", fontsize=9, color="0.35")
    fig.text(0.5, 0.02, f"page {page_no}", ha="center", fontsize=8, color="0.4")
    return fig


def write_report(recordings: list[Recording], path: str | os.PathLike, *, subject: str = "",
                 summaries: list[dict[str, Any]] | None = None, analyses: list[Any] | None = None) -> Path:
    """Write a PDF: a summary page, then each recording's force over time.

    Parameters
    ----------
    recordings : list of Recording
    path : str or Path
    subject : str
        Shown in every page header; defaults to the first recording's subject.
    summaries : list of dict, optional
        One per recording: ``{"title": str, "lines": [str, ...]}`` shown on
        the summary page.
    analyses : list, optional
        One :class:`~insole.analysis.analyze.AnalysisResult` (or None) per
        recording; a standing result adds its load-share and sway pages.
    """
    path = Path(path)
    subject = subject or (recordings[0].meta.subject if recordings else "")
    with matplotlib.rc_context({"pdf.fonttype": 42}), PdfPages(path) as pdf:
        fig = _page("Weight-bearing summary", subject, 1)
        y = 0.88
        for rec, summ in zip(recordings, summaries or [{}] * len(recordings)):
            fig.text(0.07, y, summ.get("title", Path(rec.path).name), fontsize=12, weight="bold")
            y -= 0.025
            for line in summ.get("lines", []):
                for part in textwrap.wrap(line, 95):
                    fig.text(0.09 if part is line or line.startswith(part) else 0.11, y, part, fontsize=10)
                    y -= 0.02
            y -= 0.02
        fig.text(0.07, 0.08, "Signs: positive asymmetry means the RIGHT side is larger; every verdict names the side "
                 "in words.", fontsize=8, color="0.35")
        pdf.savefig(fig)
        page_no = 1
        for rec, res in zip(recordings, analyses or [None] * len(recordings)):
            standing = getattr(res, "standing", None)
            if standing is not None:
                page_no += 1
                page = _page("Standing test: load share", subject, page_no)
                page.text(0.07, 0.895, "\n".join(textwrap.wrap(standing.verdict, 100)), fontsize=10, va="top",
                          linespacing=1.4)
                load_share_figure(standing, ax=page.add_axes((0.1, 0.5, 0.82, 0.3)),
                                  title="The left foot's share of the load over time")
                force_over_time_figure(rec, ax=page.add_axes((0.1, 0.1, 0.82, 0.25)),
                                       title="Force under each foot (foot lifts first: zeroing and calibration)")
                pdf.savefig(page)
                page_no += 1
                page = _page("Standing test: sway", subject, page_no)
                cop_paths_figure(standing, fig=page.add_subfigure(page.add_gridspec(1, 1, top=0.9, bottom=0.16)[0]))
                if standing.romberg:
                    page.text(0.07, 0.1, f"Romberg ratio (eyes closed / eyes open): sway velocity "
                              f"{standing.romberg['mean_velocity']:.2f}, ellipse area "
                              f"{standing.romberg['ellipse95_area']:.2f}.", fontsize=10)
                pdf.savefig(page)
                continue
            gait = getattr(res, "gait", None)
            if gait is not None:
                page_no += 1
                page = _page(f"{gait.mode.capitalize()}: asymmetry", subject, page_no)
                page.text(0.07, 0.895, "\n".join(textwrap.wrap(gait.verdict, 100)), fontsize=10, va="top",
                          linespacing=1.4)
                force_curves_figure(rec, gait, ax=page.add_axes((0.1, 0.56, 0.82, 0.25)),
                                    title="Mean force over stance (band: +-1 SD across steps)")
                asymmetry_figure(gait, ax=page.add_axes((0.2, 0.17, 0.72, 0.28)),
                                 title="Asymmetry with 95 % intervals against typical variation")
                pdf.savefig(page)
                page_no += 1
                page = _page(f"{gait.mode.capitalize()}: over the run", subject, page_no)
                page.text(0.07, 0.895, "\n".join(textwrap.wrap(gait.drift["verdict"], 100)), fontsize=10,
                          va="top", linespacing=1.4)
                steps_over_time_figure(gait, ax=page.add_axes((0.1, 0.5, 0.82, 0.3)),
                                       title="Contact time of every step (line: one-minute median)")
                drift_figure(gait, ax=page.add_axes((0.1, 0.1, 0.82, 0.3)), title="Symmetry index per window")
                pdf.savefig(page)
                continue
            page_no += 1
            page = _page(f"{rec.meta.protocol.capitalize()} recording", subject, page_no)
            gait = rec.meta.protocol in ("run", "walk")
            force_over_time_figure(rec, ax=page.add_axes((0.1, 0.56, 0.85, 0.3)), mean_window_s=10.0 if gait else None,
                                   title="Mean force under each foot over 10-s windows" if gait
                                   else "Force under each foot, whole recording")
            if gait and rec.duration_s > 10:
                mid = rec.samples.index[len(rec.samples) // 2]
                force_over_time_figure(rec, start_s=mid, end_s=mid + 4.0, ax=page.add_axes((0.1, 0.13, 0.85, 0.3)),
                                       title="Four seconds from the middle of the run")
            pdf.savefig(page)
    log.info("wrote %s", path)
    return path

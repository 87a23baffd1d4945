"""The PDF report (first version: summary page and one page per recording).

A4 pages, real (searchable) text, vector figures.
"""

from __future__ import annotations

import logging
import os
from datetime import date
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from .. import __version__
from ..model import Recording
from .figures import force_over_time_figure

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
                 summaries: list[dict[str, Any]] | None = None) -> Path:
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
                fig.text(0.09, y, line, fontsize=10)
                y -= 0.02
            y -= 0.02
        fig.text(0.07, 0.08, "Signs: positive asymmetry means the RIGHT side is larger.", fontsize=8, color="0.35")
        pdf.savefig(fig)
        for i, rec in enumerate(recordings, start=2):
            page = _page(f"{rec.meta.protocol.capitalize()} recording", subject, i)
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

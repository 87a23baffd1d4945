"""The physiotherapist's PDF: pages, searchable text, and that page 1 says
what the analysis found."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pypdf import PdfReader

import insole
from insole.cli import main
from insole.sim.gait import GaitScenario
from insole.sim.session import default_insoles, simulate_recording
from insole.sim.standing import StandingScenario


def _sim(path, scenario, *, days_ago=0, **insole_kw):
    when = (datetime.now(timezone.utc) - timedelta(days=days_ago)).isoformat(timespec="seconds")
    simulate_recording(path, scenario, insoles=default_insoles(seed=3, **insole_kw), subject="Test Person",
                       extra_meta={"started_utc": when})
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    return {
        "standing": _sim(d / "standing.insole", StandingScenario(left_load_pct=58.0, seed=1)),
        "run": _sim(d / "run.insole", GaitScenario(mode="run", duration_s=200.0, contact_time_si_pct=-7.0, seed=2)),
        "old_run": _sim(d / "old_run.insole", GaitScenario(mode="run", duration_s=120.0, contact_time_si_pct=-11.0,
                                                           seed=3), days_ago=10),
        "lossy_run": _sim(d / "lossy.insole", GaitScenario(mode="run", duration_s=60.0, seed=4), drop_pct=15.0),
    }


def _pages(path):
    return [page.extract_text() for page in PdfReader(str(path)).pages]


def test_full_report_pages_and_searchable_text(files, tmp_path):
    out = tmp_path / "r.pdf"
    assert main(["report", str(files["standing"]), str(files["run"]), "-o", str(out), "--png", str(tmp_path / "png")]) == 0
    pages = _pages(out)
    titles = ["Weight-bearing report", "Standing test: load share", "Standing test: sway, eyes open and closed",
              "Running: left against right", "Running: over the run", "Where the load goes", "Data quality", "Methods"]
    assert len(pages) == len(titles)
    for page, title in zip(pages, titles):  # text order in the PDF is not reading order: search
        assert title in page
    assert all("Test Person" in p for p in pages)
    assert all(f"page {i}" in p for i, p in enumerate(pages, start=1))
    # page 1 says what the analysis found, in words
    st = insole.analyze(insole.load(files["standing"])).standing
    g = insole.analyze(insole.load(files["run"])).gait
    assert (st.favoured_side, g.favoured_side) == ("left", "left")
    assert "The left side is favoured" in pages[0]
    assert "Data quality is good" in pages[0]
    assert f"{st.phases[0].left_load_pct:.1f} %" in pages[0]
    # methods carry the parameters actually used
    assert f"initial contact at {g.thresholds_n['left']['event']:.0f} N" in pages[-1]
    assert "event convention: paired" in pages[-1]
    assert "2000 replicates" in pages[-1]
    pngs = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert "standing_load_share.png" in pngs and "gait_asymmetry.png" in pngs and "load_maps.png" in pngs
    assert len(pngs) == 8


def test_standing_only_and_run_only_omit_the_other_section(files, tmp_path):
    a, b = tmp_path / "s.pdf", tmp_path / "r.pdf"
    assert main(["report", str(files["standing"]), "-o", str(a)]) == 0
    assert main(["report", str(files["run"]), "-o", str(b)]) == 0
    sa, sb = "\n".join(_pages(a)), "\n".join(_pages(b))
    assert "Standing test" in sa and "Running:" not in sa and "Running/walking" not in sa
    assert "Running:" in sb and "Standing test" not in sb and "Standing: load share" not in sb
    # each with its "Where the load goes" page (standing: of the mean load; run: of the stance impulse)
    assert len(_pages(a)) == 6 and len(_pages(b)) == 6
    assert "Where the load goes" in sa and "Where the load goes" in sb


def test_two_sessions_show_the_history_page(files, tmp_path):
    out = tmp_path / "h.pdf"
    assert main(["report", str(files["old_run"]), str(files["run"]), "-o", str(out), "--subject", "Test Person"]) == 0
    pages = _pages(out)
    assert any("History across sessions" in p for p in pages)
    assert "History: 2 sessions" in pages[0]


def test_heavy_loss_is_said_on_page_one(files, tmp_path):
    out = tmp_path / "l.pdf"
    assert main(["report", str(files["lossy_run"]), "-o", str(out)]) == 0
    first = _pages(out)[0]
    assert "Data quality is poor" in first and "heavy packet loss" in first


def test_report_of_a_missing_file_is_a_user_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope.insole"), "-o", str(tmp_path / "x.pdf")]) == 2

"""The documentation site builds strictly, and stands alone.

``mkdocs build --strict`` turns every warning (a broken link or anchor, an
unresolvable cross-reference, a docstring griffe cannot parse, a missing
snippet) into an error. The docs packages come with ``pip install -e
".[docs]"``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: pages that must exist in the built site
KEY_PAGES = (
    "index.html",
    "getting-started/index.html",
    "science/index.html",
    "formats/index.html",
    "firmware/protocol_v1/index.html",
    "firmware/protocol_v1_1/index.html",
    "api/insole/index.html",
    "api/analysis/index.html",
)
#: paths that exist only on a developer's machine, never in the repository
#: (spelt in two parts so that this file does not mention them itself)
FORBIDDEN = ("../" + "shared", "/" + "work/")
#: the only hosts the site may link to or load from: published sources
ALLOWED_HOSTS = ("doi.org", "physionet.org")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "MPLBACKEND": "Agg", "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return out


@pytest.mark.parametrize("page", KEY_PAGES)
def test_key_page_built(site: Path, page: str) -> None:
    assert (site / page).is_file(), f"{page} missing from the built site"


def test_links_leave_the_site_only_for_published_sources(site: Path) -> None:
    outside = {m.group(2) for page in site.rglob("*.html")
               for m in re.finditer(r'(href|src)="(https?://[^"]+)"', page.read_text(encoding="utf-8"))}
    assert outside, "the Science page cites its sources by DOI"
    assert {u for u in outside if urlparse(u).hostname not in ALLOWED_HOSTS} == set()


def test_api_reference_rendered_from_docstrings(site: Path) -> None:
    html = (site / "api" / "analysis" / "index.html").read_text(encoding="utf-8")
    # mkdocstrings renders each object with its dotted path as the anchor
    for name in ("insole.analysis.standing.StandingResult", "insole.analysis.gait.GaitOptions",
                 "insole.analysis.contacts.ContactOptions"):
        assert f'id="{name}"' in html, name


def test_example_was_executed(site: Path) -> None:
    html = (site / "getting-started" / "index.html").read_text(encoding="utf-8")
    # the block's printed output, not just its source
    assert "eyes_open    left" in html


def test_firmware_spec_included_not_copied(site: Path) -> None:
    spec = (ROOT / "firmware_specs" / "protocol_v1.md").read_text(encoding="utf-8")
    for page in ("protocol_v1.md", "protocol_v1_1.md"):
        text = (ROOT / "docs" / "firmware" / page).read_text(encoding="utf-8")
        assert "--8<--" in text and len(text) < 200, page
    html = (site / "firmware" / "protocol_v1" / "index.html").read_text(encoding="utf-8")
    assert "--8&lt;--" not in html and "--8<--" not in html
    heading = next(line for line in spec.splitlines() if line.startswith("## 5."))
    assert heading.removeprefix("## ").split()[-1] in html


def _shipped_docs() -> list[Path]:
    files = [p for p in (ROOT / "docs").rglob("*") if p.is_file()]
    return files + [ROOT / "README.md", ROOT / "mkdocs.yml"]


def _mentions(paths: list[Path]) -> list[str]:
    """``file: word`` for every forbidden word a file mentions."""
    return [f"{p.name}: {word}" for p in paths
            for word in FORBIDDEN if word in p.read_text(encoding="utf-8", errors="replace")]


def test_docs_stand_alone() -> None:
    assert not _mentions(_shipped_docs())


def test_stand_alone_check_finds_a_mention(tmp_path: Path) -> None:
    bad = tmp_path / "page.md"
    bad.write_text(f"definitions: see {FORBIDDEN[0]}/design/SCIENCE.md", encoding="utf-8")
    assert _mentions([bad]) == [f"page.md: {FORBIDDEN[0]}"]


def test_the_dataframe_example_of_the_python_guide_runs(tmp_path, monkeypatch):
    """The guide's force-plate example, run on a CSV made from a simulated
    standing test: a researcher following the docs gets an analysis and a PDF."""
    import re

    import numpy as np
    import pandas as pd

    import insole
    from insole.signals.cop import foot_cop_ground
    from insole.sim import make_scenario
    from insole.sim.session import simulate_recording

    text = (ROOT / "docs" / "user-guide" / "python.md").read_text(encoding="utf-8")
    section = text[text.index("## From a DataFrame"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    simulate_recording(tmp_path / "s.insole", make_scenario("standing", duration_s=60.0, asymmetry_pct=8.0))
    rec = insole.load(tmp_path / "s.insole")
    s = rec.samples
    cols = {"t": s.index.to_numpy() - s.index[0]}
    for side, k in (("left", "L"), ("right", "R")):
        x, y = foot_cop_ground(s, side)
        cols[f"Fz_{k}"], cols[f"CoPx_{k}"], cols[f"CoPy_{k}"] = s[(side, "force_n")].to_numpy(), x, y
    pd.DataFrame(cols).iloc[::1].to_csv(tmp_path / "plates.csv", index=False)
    rate = rec.meta.sampling_rate_hz
    code = code.replace("sampling_rate_hz=1000.0", f"sampling_rate_hz={rate}")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "python.md", "exec"), {})  # noqa: S102 - the documented example itself
    assert (tmp_path / "plates_report.pdf").stat().st_size > 10_000
    assert np.isfinite(insole.analyze(pd.read_csv(tmp_path / "plates.csv").rename(
        columns={"t": "time_s", "Fz_L": "left_force_n", "Fz_R": "right_force_n"})[
        ["time_s", "left_force_n", "right_force_n"]], sampling_rate_hz=rate, protocol="standing").standing.left_load_pct)

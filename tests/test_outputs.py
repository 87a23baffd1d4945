"""Nothing a user already has is destroyed: every output refuses an existing
file (unless --force), never replaces one of the inputs, is written through
a temporary file and an atomic rename, and every number the CLI takes has a
range with its unit in a one-line message naming the flag."""

from __future__ import annotations

import errno
import hashlib
import json
import warnings

import pandas as pd
import pytest
from conftest import run_cli

import insole
from insole.cli import main
from insole.errors import OutputError
from insole.paths import atomic_output, check_output


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("out") / "r.insole"
    assert main(["simulate", "--scenario", "run", "--duration", "20", "--seed", "4", "-o", str(path)]) == 0
    return path


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("insole: error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("force", [[], ["--force"]])
@pytest.mark.parametrize("cmd", [["export", "{f}", "--to", "csv", "-o", "{f}"],
                                 ["export", "{f}", "--to", "parquet", "-o", "{f}"],
                                 ["report", "{f}", "-o", "{f}"]])
def test_an_output_that_is_an_input_is_refused_even_with_force(run_file, capsys, cmd, force):
    before = _digest(run_file)
    assert main([a.format(f=run_file) for a in cmd] + force) == 2
    assert "is one of the inputs" in _one_line_error(capsys)
    assert _digest(run_file) == before
    assert insole.load(run_file).duration_s > 19


def test_the_same_file_under_another_spelling_is_still_an_input(run_file, capsys):
    other = run_file.parent / ".." / run_file.parent.name / run_file.name
    assert main(["export", str(run_file), "--to", "csv", "-o", str(other), "--force"]) == 2
    assert "is one of the inputs" in _one_line_error(capsys)


@pytest.mark.parametrize("cmd", [["export", "{f}", "--to", "csv", "-o", "{o}"], ["report", "{f}", "-o", "{o}"]])
def test_an_existing_output_is_kept_unless_force(run_file, tmp_path, capsys, cmd):
    out = tmp_path / "taken"
    out.write_bytes(b"keep me")
    args = [a.format(f=run_file, o=out) for a in cmd]
    assert main(args) == 2
    line = _one_line_error(capsys)
    assert "already exists" in line and "--force" in line
    assert out.read_bytes() == b"keep me"
    assert main(args + ["--force"]) == 0
    assert out.read_bytes() != b"keep me" and out.stat().st_size > 1000
    assert not list(tmp_path.glob(".*.part"))  # no temporary file left behind


@pytest.mark.parametrize("target", ["folder", "/dev/full"])
def test_a_folder_or_a_device_is_not_an_output(run_file, tmp_path, capsys, target):
    out = tmp_path if target == "folder" else target
    for extra in ([], ["--force"]):
        for cmd in (["export", str(run_file), "--to", "csv", "-o", str(out)], ["report", str(run_file), "-o", str(out)]):
            assert main(cmd + extra) == 2
            line = _one_line_error(capsys)
            assert "is a folder" in line or "not a regular file" in line


def test_png_must_be_a_folder_and_existing_pngs_are_kept(run_file, tmp_path, capsys):
    a_file = tmp_path / "figs"
    a_file.write_text("not a folder")
    assert main(["report", str(run_file), "-o", str(tmp_path / "a.pdf"), "--png", str(a_file)]) == 2
    assert "--png" in _one_line_error(capsys) and not (tmp_path / "a.pdf").exists()
    pngs = tmp_path / "pngs"
    pngs.mkdir()
    (pngs / "gait_steps.png").write_bytes(b"old figure")
    assert main(["report", str(run_file), "-o", str(tmp_path / "b.pdf"), "--png", str(pngs)]) == 2
    assert "gait_steps.png already exists" in _one_line_error(capsys)
    assert (pngs / "gait_steps.png").read_bytes() == b"old figure"
    assert not (tmp_path / "b.pdf").exists()  # all or nothing: no PDF either
    assert main(["report", str(run_file), "-o", str(tmp_path / "b.pdf"), "--png", str(pngs), "--force"]) == 0
    assert (pngs / "gait_steps.png").read_bytes()[:4] == b"\x89PNG"


def test_a_failed_write_leaves_the_old_file_and_no_part(tmp_path, monkeypatch):
    out = tmp_path / "x.csv"
    out.write_text("the old export\n")
    with pytest.raises(OutputError, match="No space left on device"):
        with atomic_output(check_output(out, force=True)) as tmp:
            tmp.write_text("half a fi")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert out.read_text() == "the old export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]


def test_export_through_the_atomic_path_is_complete(run_file, tmp_path):
    out = tmp_path / "r.csv"
    assert main(["export", str(run_file), "--to", "csv", "-o", str(out)]) == 0
    df = pd.read_csv(out)
    assert len(df) == len(insole.load(run_file).samples)
    assert (out.stat().st_mode & 0o777) != 0o600  # an ordinary new file, not mkstemp's private mode


def test_simulate_force_replaces_and_a_missing_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "s.insole"
    assert main(["simulate", "--scenario", "standing", "--duration", "30", "-o", str(out)]) == 0
    assert main(["simulate", "--scenario", "standing", "--duration", "30", "-o", str(out)]) == 2
    assert "--force" in _one_line_error(capsys)
    assert main(["simulate", "--scenario", "standing", "--duration", "30", "--seed", "2", "-o", str(out),
                 "--force"]) == 0
    assert insole.load(out).meta.phases
    assert [p.name for p in tmp_path.iterdir()] == ["s.insole"]
    assert main(["simulate", "--scenario", "run", "-o", str(tmp_path / "no" / "x.insole")]) == 2
    assert "does not exist" in _one_line_error(capsys)


def test_the_demo_keeps_an_earlier_demo_unless_force(tmp_path, capsys):
    (tmp_path / "run.insole").write_bytes(b"an earlier demo")
    assert main(["demo", "--out", str(tmp_path)]) == 2  # refused before anything is recorded
    assert "--force" in _one_line_error(capsys)
    assert (tmp_path / "run.insole").read_bytes() == b"an earlier demo"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.insole"]


# --- numbers -----------------------------------------------------------------------
@pytest.mark.parametrize("args, flag, unit", [
    (["analyze", "{f}", "--distance-km", "inf"], "--distance-km", "km"),
    (["analyze", "{f}", "--distance-km", "-3"], "--distance-km", "km"),
    (["analyze", "{f}", "--body-mass-kg", "1e9"], "--body-mass-kg", "kg"),
    (["analyze", "{f}", "--body-mass-kg", "nan"], "--body-mass-kg", "kg"),
    (["steps", "{f}", "--csv", "--body-mass-kg", "0"], "--body-mass-kg", "kg"),
    (["simulate", "--scenario", "run", "--duration", "inf", "-o", "{o}"], "--duration", "s"),
    (["simulate", "--scenario", "run", "--duration", "0", "-o", "{o}"], "--duration", "s"),
    (["simulate", "--scenario", "run", "--loss-pct", "100", "-o", "{o}"], "--loss-pct", "%"),
    (["simulate", "--scenario", "run", "--asymmetry-pct", "300", "-o", "{o}"], "--asymmetry-pct", "%"),
    (["simulate", "--scenario", "run", "--seed", "-1", "-o", "{o}"], "--seed", ""),
    (["simulate", "--scenario", "run", "--duration", "ten", "-o", "{o}"], "--duration", "s"),
    (["replay", "{f}", "--speed", "nan"], "--speed", "x real time"),
    (["replay", "{f}", "--speed", "inf"], "--speed", "x real time"),
    (["replay", "{f}", "--speed", "0"], "--speed", "x real time"),
    (["scan", "--virtual", "--timeout", "-1"], "--timeout", "s"),
    (["record", "--virtual", "--protocol", "run", "--duration", "inf", "-o", "{o}"], "--duration", "s"),
    (["record", "--virtual", "--protocol", "run", "--body-mass-kg", "1e9", "-o", "{o}"], "--body-mass-kg", "kg"),
    (["record", "--virtual", "--protocol", "standing", "--duration", "5", "-o", "{o}"], "--duration", "s"),
])
def test_every_number_has_a_range_named_by_its_flag(run_file, tmp_path, capsys, args, flag, unit):
    out = tmp_path / "new.insole"
    try:
        code = main([a.format(f=run_file, o=out) for a in args])
    except SystemExit as exc:  # argparse's own checks exit
        code = exc.code
    assert code == 2
    line = _one_line_error(capsys)
    assert flag in line and unit in line.split(flag, 1)[1]
    assert not out.exists()


def test_simulated_loss_at_the_top_of_its_range_still_gives_a_readable_file(tmp_path):
    out = tmp_path / "lossy.insole"
    assert main(["simulate", "--scenario", "run", "--duration", "20", "--loss-pct", "50", "-o", str(out)]) == 0
    proc = run_cli("info", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    loss = json.loads(proc.stdout)["sides"]["left"]["packet_loss_pct"]
    assert 40 < loss < 60


# --- text the user gives -------------------------------------------------------------
def test_info_never_echoes_escape_sequences_or_markup(tmp_path):
    from insole.sim import make_scenario
    from insole.sim.session import simulate_recording

    out = tmp_path / "odd.insole"
    simulate_recording(out, make_scenario("standing", duration_s=20), subject="\x1b[2J\x1b]0;pwned\x07[bold]Eve\u202e")
    proc = run_cli("info", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout and "\u202e" not in proc.stdout
    assert "\\x1b[2J" in proc.stdout and "[bold]Eve" in proc.stdout
    assert json.loads(run_cli("info", str(out), "--json").stdout)["subject"].startswith("\x1b[2J")


def test_report_draws_cjk_and_emoji_and_keeps_a_long_subject_on_the_page(run_file, tmp_path):
    from pypdf import PdfReader

    from insole.report.fonts import printable
    from insole.report.pdf import SUBJECT_MAX_CHARS

    out = tmp_path / "r.pdf"
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*missing from font")
        assert main(["report", str(run_file), "-o", str(out), "--subject", "王小明 さくら 김민준 🏃 😀 $x$"]) == 0
    header = PdfReader(out).pages[0].extract_text().splitlines()[1]
    assert header.startswith("王小明 さくら 김민준") and "$x$" in header

    long = tmp_path / "long.pdf"
    assert main(["report", str(run_file), "-o", str(long), "--subject", "Anne " * 1000]) == 0
    header = PdfReader(long).pages[0].extract_text().splitlines()[1]
    assert "\u2026" in header and header.count("Anne") <= SUBJECT_MAX_CHARS // 5
    assert printable("\U00013000") == "[egyptian hieroglyph a001]"  # no font has it: its name, not a box


# --- the verdict agrees with the number printed ----------------------------------------
@pytest.mark.parametrize("left, expected", [(55.04, "none"), (55.06, "left"), (44.96, "none"), (44.94, "right")])
def test_the_favoured_side_is_judged_on_the_share_as_printed(left, expected):
    from insole.analysis.standing import favoured_side

    ci = (left - 0.5, left + 0.5)
    assert favoured_side(left, ci, (45.0, 55.0)) == expected


def test_the_demo_shows_progress_before_the_first_insole_connects(tmp_path, monkeypatch):
    """The first progress update comes before the virtual pair is even
    powered up, so the terminal is never blank while it connects."""
    import insole.ble.virtual.pair as pair
    from insole.demo import run_demo

    calls = []

    async def no_radio(path, *args, **kwargs):
        calls.append("connect")
        raise RuntimeError("stop here")

    monkeypatch.setattr(pair, "record_virtual", no_radio)
    with pytest.raises(RuntimeError, match="stop here"):
        run_demo(tmp_path, progress=lambda step, done, total: calls.append((step, done)))
    assert calls[0] == ("streaming earlier_standing.insole over the virtual radio", 0.0) and calls[1] == "connect"


def test_a_run_with_too_few_usable_steps_gets_no_side_and_poor_quality(tmp_path):
    """Heavy loss leaves most steps with a gap inside: no verdict rests on
    the handful that remain, and the data-quality verdict says so."""
    from insole.analysis.gait import MIN_STEPS_FOR_VERDICT
    from insole.report.text import quality_verdict

    out = tmp_path / "lossy.insole"
    assert main(["simulate", "--scenario", "run", "--duration", "40", "--loss-pct", "30", "--asymmetry-pct", "20",
                 "-o", str(out)]) == 0
    rec = insole.load(out)
    g = insole.analyze(rec).gait
    assert min(g.n_steps.values()) < MIN_STEPS_FOR_VERDICT
    assert g.favoured_side == "none" and g.verdict.startswith("Too few steps")
    level, sentence = quality_verdict([rec], [g])
    assert level == "poor" and "too few steps" in sentence

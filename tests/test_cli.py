"""The command line as a user meets it: exit codes, one-line errors, output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from conftest import run_cli

from insole.cli import main


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "r.insole"
    assert main(["simulate", "--scenario", "run", "--duration", "30", "--seed", "3", "-o", str(path)]) == 0
    return path


def test_info_json_reports_duration_feet_rate_and_zero_loss(run_file, capsys):
    assert main(["info", str(run_file), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["schema"] == "insole.info/1"
    assert info["feet"] == ["left", "right"]
    assert info["sampling_rate_hz"] == 200
    assert 29.0 < info["duration_s"] <= 30.0
    for side in ("left", "right"):
        assert info["sides"][side]["packet_loss_pct"] == 0.0
        assert info["sides"][side]["packets"] > 600
    assert info["has_ground_truth"] is True


def test_info_text_is_readable(run_file, capsys):
    assert main(["info", str(run_file)]) == 0
    out = capsys.readouterr().out
    assert "duration" in out and "left" in out and "right" in out and "loss 0.00 %" in out


@pytest.mark.parametrize("to", ["csv", "parquet"])
def test_export_writes_the_samples(run_file, tmp_path, to):
    out = tmp_path / f"r.{to}"
    assert main(["export", str(run_file), "--to", to, "-o", str(out)]) == 0
    df = pd.read_csv(out) if to == "csv" else pd.read_parquet(out)
    assert df.columns[0] == "time_s"
    assert {"left_force_n", "right_force_n", "left_p01", "right_foot_cop_y_mm"} <= set(df.columns)
    assert 5900 < len(df) <= 6000
    assert df["left_force_n"].max() > 1000  # running peaks


def test_simulate_refuses_to_overwrite(run_file, capsys):
    assert main(["simulate", "--scenario", "run", "--duration", "5", "-o", str(run_file)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("content", [b"", b"this is not a recording\n" * 40, "truncated"])
def test_bad_files_exit_2_with_one_line_and_no_traceback(tmp_path, run_file, content):
    bad = tmp_path / "bad.insole"
    if content == "truncated":
        data = run_file.read_bytes()
        bad.write_bytes(data[:4096])
    else:
        bad.write_bytes(content)
    for cmd in (["info", str(bad)], ["export", str(bad), "--to", "csv", "-o", str(tmp_path / "x.csv")]):
        proc = run_cli(*cmd)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("insole: error: ")


def test_missing_file_and_folder(tmp_path):
    proc = run_cli("info", str(tmp_path / "nope.insole"))
    assert proc.returncode == 2 and "no such file" in proc.stderr
    proc = run_cli("info", str(tmp_path))
    assert proc.returncode == 2 and "folder" in proc.stderr


def test_console_script_is_installed():
    # the README's commands call `insole`; it must be on PATH in the venv
    exe = os.path.join(os.path.dirname(sys.executable), "insole")
    if not os.path.exists(exe):
        pytest.skip("package not installed (running from a source tree)")
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("insole ")

"""``insole batch``: cohorts analysed on Dask (insole.cohort, insole.cli_batch)."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("distributed")

from distributed import Client, LocalCluster

from insole import cohort
from insole.cli import _Parser
from insole.cli_batch import add_batch_parser, cmd_batch
from insole.errors import InsoleError, OutputError
from insole.sim import make_scenario
from insole.sim.session import default_insoles, simulate_recording

GOOD = {"walk.insole": ("walk", 15.0), "run.insole": ("run", 12.0), "sub/standing.insole": ("standing", 30.0)}


def _batch_args(*argv: str) -> argparse.Namespace:
    parser = _Parser(prog="insole")
    add_batch_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["batch", *argv])


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory) -> Path:
    """Three short simulated recordings, a broken recording, a text file and a hidden file."""
    d = tmp_path_factory.mktemp("cohort")
    for i, (name, (scenario, duration_s)) in enumerate(GOOD.items()):
        (d / name).parent.mkdir(exist_ok=True)
        simulate_recording(d / name, make_scenario(scenario, duration_s=duration_s, seed=i),
                           insoles=default_insoles(sampling_rate_hz=100, seed=i))
    (d / "broken.insole").write_bytes((d / "walk.insole").read_bytes()[:3000])
    (d / "notes.txt").write_text("not a recording\n")
    (d / ".hidden.insole").write_bytes(b"x")
    return d


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _spy_stats(monkeypatch) -> list:
    seen = []
    real = cohort.run_batch

    def spy(*args, **kwargs):
        seen.append(real(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(cohort, "run_batch", spy)
    return seen


def _check_outputs(folder: Path, out: Path) -> None:
    table = pd.read_parquet(out)
    assert sorted(table["path"]) == sorted(str(folder / n) for n in GOOD)
    assert table.columns[0] == "path"
    assert {"subject", "protocol", "favoured_side", "data_quality", "cadence_spm", "left_load_pct"} <= set(table)
    assert set(table["protocol"]) == {"walk", "run", "standing"}
    failures = pd.read_csv(out.with_name(out.stem + ".failures.csv"))
    assert list(failures["path"]) == [str(folder / "broken.insole")]
    assert failures["error"].str.contains("damaged").all() and not failures["error"].str.contains("\n").any()
    steps = pd.read_parquet(out.with_name(out.stem + ".steps"))
    assert set(steps["path"]) == {str(folder / "walk.insole"), str(folder / "run.insole")}
    assert {"side", "contact_time_s", "peak_force_n"} <= set(steps)
    per_file = steps.groupby("path").size()
    n_steps = table.set_index("path")[["n_steps_left", "n_steps_right"]].dropna().sum(axis=1)
    assert (per_file >= n_steps.reindex(per_file.index)).all()  # excluded steps are rows too
    assert not out.with_name(out.stem + ".parts").exists()  # the work folder goes once all is written


def test_discover_takes_recordings_and_importable_files(cohort_dir, tmp_path):
    (tmp_path / "walk.csv").write_text("time_s,left_force_n,right_force_n\n0,1,2\n0.01,1,2\n")
    (tmp_path / "walk.insole-wal").write_bytes(b"x" * 10)
    (tmp_path / "empty.txt").write_bytes(b"")
    found = [Path(f.path) for f in cohort.discover([cohort_dir, str(tmp_path / "*.csv"), str(tmp_path / "*")])]
    assert found == sorted([cohort_dir / n for n in GOOD] + [cohort_dir / "broken.insole", tmp_path / "walk.csv"])
    assert [Path(f.path).name for f in cohort.discover([f"{cohort_dir}/**/*.insole"],
                                                       exclude=[cohort_dir / "sub"])] == ["broken.insole",
                                                                                          "run.insole", "walk.insole"]
    with pytest.raises(InsoleError, match="matches no file"):
        cohort.discover([str(tmp_path / "*.nothing")])
    with pytest.raises(InsoleError, match="no such file"):
        cohort.discover([tmp_path / "missing"])


def test_batch_on_a_local_cluster(cohort_dir, tmp_path, monkeypatch, capsys):
    folder = _copy(cohort_dir, tmp_path / "in")
    seen = _spy_stats(monkeypatch)
    out = tmp_path / "cohort.parquet"
    assert cmd_batch(_batch_args(str(folder), "-o", str(out), "--workers", "1")) == 0
    _check_outputs(folder, out)
    assert (seen[0].analysed_n, seen[0].reused_n, seen[0].failed_n) == (4, 0, 1)
    assert seen[0].peak_rss_mb > 10
    assert "3 files analysed" in capsys.readouterr().out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _processes(*commands: list[str], cwd: Path):
    procs = []
    try:
        for cmd in commands:
            procs.append(subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          env={**os.environ, "MPLBACKEND": "Agg"}))
        yield procs
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _wait_for_worker(address: str, procs: list) -> None:
    deadline = time.monotonic() + 90
    while True:
        assert all(p.poll() is None for p in procs), "the dask scheduler or worker exited"
        try:
            with Client(address, timeout="2s") as client:
                client.wait_for_workers(1, timeout=60)
                return
        except (OSError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_batch_on_an_existing_scheduler(cohort_dir, tmp_path):
    folder = _copy(cohort_dir, tmp_path / "in")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
                 "--no-dashboard"]
    worker = [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny",
              "--no-dashboard"]
    with _processes(scheduler, worker, cwd=tmp_path) as procs:
        _wait_for_worker(address, procs)
        out = tmp_path / "cohort.parquet"
        assert cmd_batch(_batch_args(str(folder), "-o", str(out), "--scheduler", address)) == 0
    _check_outputs(folder, out)
    assert all(p.returncode is not None for p in procs)


def test_rerun_skips_files_done_before(cohort_dir, tmp_path, cluster, monkeypatch, capsys):
    folder = _copy(cohort_dir, tmp_path / "in")
    out = tmp_path / "cohort.parquet"
    outputs = cohort.cohort_outputs(out)
    files = cohort.discover([folder])
    with Client(cluster) as client:  # a first run that stopped after three of the five files
        first = cohort.run_batch(client, files[:3], parts_dir=outputs.parts_dir)
    assert (first.analysed_n, first.reused_n) == (3, 0)
    assert not out.exists()
    done = Path(files[0].path)
    os.utime(done, ns=(done.stat().st_atime_ns, done.stat().st_mtime_ns + 10**9))  # changed since: redone
    seen = _spy_stats(monkeypatch)
    assert cmd_batch(_batch_args(str(folder), "-o", str(out), "--scheduler", cluster.scheduler_address)) == 0
    assert (seen[0].total_n, seen[0].reused_n, seen[0].analysed_n) == (len(files), 2, len(files) - 2)
    assert "from an earlier run" in capsys.readouterr().out
    _check_outputs(folder, out)


def test_existing_table_is_refused_without_force(cohort_dir, tmp_path, cluster, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(cohort_dir / "run.insole", folder)
    out = tmp_path / "cohort.parquet"
    out.write_bytes(b"an earlier table")
    args = [str(folder), "-o", str(out), "--scheduler", cluster.scheduler_address]
    with pytest.raises(OutputError, match="already exists.*--force"):
        cmd_batch(_batch_args(*args))
    assert out.read_bytes() == b"an earlier table"
    assert not (tmp_path / "cohort.parts").exists() and not (tmp_path / "cohort.failures.csv").exists()
    seen = _spy_stats(monkeypatch)
    assert cmd_batch(_batch_args(*args, "--force", "--steps", str(tmp_path / "steps"))) == 0
    assert seen[0].analysed_n == 1
    assert list(pd.read_parquet(out)["path"]) == [str(folder / "run.insole")]
    assert len(pd.read_parquet(tmp_path / "steps")) > 10


def test_no_file_analysed_is_an_error_with_the_failures_written(cohort_dir, tmp_path, cluster):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(cohort_dir / "broken.insole", folder)
    out = tmp_path / "cohort.parquet"
    with pytest.raises(InsoleError, match=r"no file could be analysed \(1 file tried\)"):
        cmd_batch(_batch_args(str(folder), "-o", str(out), "--scheduler", cluster.scheduler_address))
    assert not out.exists()
    assert list(pd.read_csv(tmp_path / "cohort.failures.csv")["path"]) == [str(folder / "broken.insole")]
    with pytest.raises(InsoleError, match="no recording or importable file"):
        cmd_batch(_batch_args(str(cohort_dir / "notes.txt"), "-o", str(out), "--scheduler",
                              cluster.scheduler_address))


def test_steps_folder_of_other_files_is_never_replaced(cohort_dir, tmp_path):
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "thesis.docx").write_bytes(b"precious")
    outputs = cohort.cohort_outputs(tmp_path / "c.parquet", steps_dir=keep)
    with pytest.raises(OutputError, match="other files"):
        cohort.check_outputs(outputs, force=True)
    assert (keep / "thesis.docx").read_bytes() == b"precious"

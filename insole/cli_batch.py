"""The ``insole batch`` command: a cohort of recordings analysed on Dask into
one table. Like :mod:`insole.cli`, this only parses arguments, calls the
library (:mod:`insole.cohort`) and talks to the terminal."""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
from typing import Any

from .cli import _console, _number, _safe, _working
from .errors import InsoleError

__all__ = ["add_batch_parser", "cmd_batch"]

_WORKERS = _number("worker processes", 1, 256, integer=True)


def _scheduler(text: str) -> str:
    """An argparse ``type``: a scheduler address ``tcp://HOST:PORT`` (``HOST:PORT`` gets ``tcp://``)."""
    address = text if "://" in text else f"tcp://{text}"
    if not re.fullmatch(r"[a-z]+://[^\s/]+:\d{1,5}", address):
        raise argparse.ArgumentTypeError(f"expected tcp://HOST:PORT, got {text!r}")
    return address


def add_batch_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``insole batch`` among the parser's subcommands."""
    b = subparsers.add_parser(
        "batch", help="a cohort: every recording or importable file under folders or globs, analysed on Dask into "
                      "one table (one row per file)",
        description="Analyse every recording (.insole) or importable file under the folders (recursively) or globs "
                    "given, on a local Dask cluster or an existing one. Writes OUT.parquet (one row per file: path "
                    "and the summary columns), the per-step dataset OUT.steps/ and OUT.failures.csv (path,error). "
                    "An interrupted batch resumes where it stopped when run again with the same -o.")
    b.add_argument("inputs", nargs="+", metavar="DIR_OR_GLOB",
                   help="folders (searched recursively), files or glob patterns (quote them; ** spans folders)")
    b.add_argument("-o", "--output", required=True, metavar="OUT.parquet", help="the cohort table")
    b.add_argument("--workers", type=_WORKERS, default=2, metavar="N",
                   help="worker processes of the local cluster, one thread each (default %(default)s)")
    b.add_argument("--scheduler", type=_scheduler, default=None, metavar="ADDRESS",
                   help="run on an existing Dask cluster: its scheduler's tcp://HOST:PORT (the workers must see "
                        "the files at the same paths)")
    b.add_argument("--steps", default=None, metavar="DIR",
                   help="folder of the per-step Parquet dataset (default: OUT.steps beside the table)")
    b.add_argument("--force", action="store_true", help="replace an existing table, steps folder and failures file")
    b.set_defaults(func=cmd_batch)
    return b


def _quiet_dask() -> None:
    """Dask's own INFO lines (scheduler, nanny, workers, a closed comm's
    traceback at shutdown) stay off the terminal unless ``-v``: distributed
    sets its loggers to INFO when it is imported, so this comes after."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return
    for name in ("distributed", "tornado", "bokeh"):
        logging.getLogger(name).setLevel(logging.ERROR)


def cmd_batch(args: argparse.Namespace) -> int:
    from . import cohort

    outputs = cohort.cohort_outputs(args.output, steps_dir=args.steps)
    with _working("looking for recordings"):
        files = cohort.discover(args.inputs, exclude=outputs.all())
    if not files:
        raise InsoleError(f"no recording or importable file in {', '.join(args.inputs)}")
    cohort.check_outputs(outputs, inputs=files, force=args.force)
    where = f"the cluster at {args.scheduler}" if args.scheduler else f"{args.workers} local worker processes"
    if not getattr(args, "verbose", False):
        _quiet_dask()
    with contextlib.ExitStack() as stack:
        with _working(f"starting {where}"):
            client = stack.enter_context(cohort.open_client(workers_n=args.workers,
                                                            scheduler_address=args.scheduler))
        with _files_progress(_console(stderr=True)) as prog:
            done_before_n = len(files) - len(cohort.pending(files, parts_dir=outputs.parts_dir))
            task = prog.add_task("analysing", total=len(files), completed=done_before_n)
            stats = cohort.run_batch(client, files, parts_dir=outputs.parts_dir,
                                     on_outcome=lambda _outcome: prog.advance(task))
    with _working(f"writing {args.output}"):
        result = cohort.assemble(files, outputs)
    _report(stats, result, outputs)
    if result.analysed_n == 0:
        raise InsoleError(f"no file could be analysed ({_files(len(files))} tried); see {outputs.failures_csv}")
    cohort.remove_parts(outputs)
    return 0


def _report(stats: Any, result: Any, outputs: Any) -> None:
    con = _console()
    reused = f", {stats.reused_n} from an earlier run" if stats.reused_n else ""
    if result.analysed_n:
        con.print(f"wrote {_safe(outputs.table)}: {_files(result.analysed_n)} analysed{reused}; "
                  f"{result.steps_n} steps in {_safe(outputs.steps_dir)}")
    if result.failed_n:
        con.print(f"{_files(result.failed_n)} could not be analysed: see {_safe(outputs.failures_csv)}")


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def _files_progress(con: Any):
    """files done / total, files per second and the time left (only on a terminal)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    class FilesPerSecond(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(f"{task.speed:.1f} files/s" if task.speed else "- files/s")

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("files"),
                    FilesPerSecond(), TimeRemainingColumn(), console=con, transient=True,
                    disable=not con.is_terminal)

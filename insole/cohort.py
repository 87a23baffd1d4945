"""Cohorts: many recordings analysed on Dask into one table (``insole batch``).

The steps, each a function:

1. :func:`discover` the files under folders (recursively) or globs: every
   ``.insole`` recording and every file an importer claims by its content
   (:func:`insole.importers.sniff`), as :class:`CohortFile` (path, size, mtime).
2. :func:`run_batch` analyses, on a Dask distributed :class:`~distributed.Client`,
   each file not done before (one task per file: :func:`analyse_file`, whose
   :class:`FileOutcome` is a summary row and the steps, or the failure), and
   writes each outcome as it arrives (``as_completed``) as a partition in a
   work folder: a rerun after an interruption skips the files whose partition
   is there with the same size and modification time.
3. :func:`assemble` builds, from the partitions, the cohort table (one row
   per analysed file: ``path`` plus :meth:`AnalysisResult.summary()
   <insole.analysis.analyze.AnalysisResult.summary>`), the per-step dataset (a
   folder of Parquet files: the gait ``steps`` of every run or walk plus
   ``path``) and the failures table (``path,error``), each written atomically.

:func:`open_client` gives a local cluster (worker processes with one thread
each) or a client of an existing scheduler. The files are read by the
workers: with a remote cluster they must see the same paths.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InsoleError, OutputError
from .paths import atomic_output, check_output, write_atomic

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client

log = logging.getLogger(__name__)

__all__ = [
    "Assembled",
    "BatchStats",
    "CohortFile",
    "CohortOutputs",
    "FileOutcome",
    "analyse_file",
    "assemble",
    "check_outputs",
    "cohort_outputs",
    "discover",
    "open_client",
    "pending",
    "remove_parts",
    "run_batch",
    "write_part",
]

#: the recordings' own extension (always analysed, so that a broken one is reported)
RECORDING_SUFFIX = ".insole"
#: SQLite's files beside a recording, never inputs
_SIDECARS = ("-wal", "-shm", "-journal")
#: most steps rows per Parquet file of the steps dataset
STEPS_ROWS_PER_FILE_N = 500_000


@dataclass(frozen=True)
class CohortFile:
    """One input file as found.

    Attributes
    ----------
    path : str
        Absolute path.
    size_bytes : int
    mtime_ns : int
        Modification time, ns since the epoch.
    """

    path: str
    size_bytes: int
    mtime_ns: int

    @property
    def part_name(self) -> str:
        """The stem of this file's partition: a hash of the path, the size
        and the modification time (a changed file has another one)."""
        return f"{_path_key(self.path)}-{self.size_bytes}-{self.mtime_ns}"


@dataclass(frozen=True)
class FileOutcome:
    """What analysing one file gave.

    Attributes
    ----------
    file : CohortFile
    summary : dict or None
        The summary row (column -> float, int, str, bool or None), None when
        the analysis failed.
    steps : pandas.DataFrame or None
        The gait steps table (without ``path``); None for a standing
        recording or a failure.
    error : str or None
        The failure as one line, None on success.
    peak_rss_mb : float
        Peak resident memory of the process that analysed it, MB (NaN where
        unknown).
    """

    file: CohortFile
    summary: dict[str, Any] | None = None
    steps: pd.DataFrame | None = None
    error: str | None = None
    peak_rss_mb: float = float("nan")

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class BatchStats:
    """What :func:`run_batch` did.

    Attributes
    ----------
    total_n : int
        Files of the batch.
    reused_n : int
        Files skipped because a previous run's partition is there.
    analysed_n : int
        Files analysed now (successes and failures).
    failed_n : int
        Of those analysed now, the failures.
    peak_rss_mb : float
        Largest peak resident memory of a worker seen in the tasks, MB.
    """

    total_n: int
    reused_n: int
    analysed_n: int
    failed_n: int
    peak_rss_mb: float = float("nan")


@dataclass(frozen=True)
class CohortOutputs:
    """Where a batch writes.

    Attributes
    ----------
    table : Path
        ``OUT.parquet``: one row per analysed file.
    steps_dir : Path
        The per-step Parquet dataset (a folder).
    failures_csv : Path
        ``OUT.failures.csv``.
    parts_dir : Path
        The work folder of per-file partitions (kept until the end, for resuming).
    """

    table: Path
    steps_dir: Path
    failures_csv: Path
    parts_dir: Path

    def all(self) -> tuple[Path, ...]:
        return self.table, self.steps_dir, self.failures_csv, self.parts_dir


@dataclass(frozen=True)
class Assembled:
    """What :func:`assemble` wrote.

    Attributes
    ----------
    analysed_n : int
        Rows of the cohort table (0: the table and the steps were not written).
    failed_n : int
        Lines of the failures table.
    steps_n : int
        Rows of the steps dataset.
    """

    analysed_n: int
    failed_n: int
    steps_n: int


# --- 1. discover ----------------------------------------------------------------
def cohort_outputs(output: str | os.PathLike, *, steps_dir: str | os.PathLike | None = None) -> CohortOutputs:
    """The paths of a batch writing ``output`` (``cohort.parquet`` ->
    ``cohort.steps/``, ``cohort.failures.csv``, work folder ``cohort.parts/``).

    Parameters
    ----------
    output : str or Path
        The cohort table.
    steps_dir : str or Path, optional
        The steps dataset's folder instead of ``OUT.steps/``.
    """
    table = Path(output).absolute()
    stem = table.with_suffix("") if table.suffix == ".parquet" else table
    return CohortOutputs(table=table, steps_dir=Path(steps_dir).absolute() if steps_dir else stem.with_name(
        stem.name + ".steps"), failures_csv=stem.with_name(stem.name + ".failures.csv"),
        parts_dir=stem.with_name(stem.name + ".parts"))


def discover(inputs: Sequence[str | os.PathLike], *, exclude: Iterable[str | os.PathLike] = ()) -> list[CohortFile]:
    """The files a batch analyses, sorted by path, each once.

    Parameters
    ----------
    inputs : sequence of str or Path
        Files, folders (searched recursively; hidden files and folders are
        skipped) or glob patterns (``**`` matches folders at any depth).
    exclude : iterable of paths
        Files or folders never taken (the batch's own outputs).

    Returns
    -------
    list of CohortFile
        ``.insole`` files (even broken ones: they are reported as failures)
        and any other file that is a recording or an importable format by
        its content; everything else is left out.

    Raises
    ------
    InsoleError
        An input names nothing (no such file or folder, a glob that matches nothing).
    """
    skip = tuple(Path(p).absolute() for p in exclude)
    found: dict[str, CohortFile] = {}
    for candidate in _candidates(inputs):
        p = candidate.absolute()
        if any(p == s or s in p.parents for s in skip) or not _wanted(p):
            continue
        st = p.stat()
        found.setdefault(str(p), CohortFile(str(p), st.st_size, st.st_mtime_ns))
    log.info("found %d files to analyse", len(found))
    return [found[k] for k in sorted(found)]


def _candidates(inputs: Sequence[str | os.PathLike]) -> Iterator[Path]:
    """Every regular file the inputs name (folders walked, globs expanded)."""
    for item in inputs:
        text = os.fspath(item)
        named = [Path(text)] if os.path.lexists(text) else [Path(m) for m in sorted(glob.glob(text, recursive=True))]
        if not named:
            what = "matches no file" if glob.has_magic(text) else "no such file or folder"
            raise InsoleError(f"{text}: {what}")
        for p in named:
            yield from _walk(p) if p.is_dir() else ([p] if p.is_file() else [])


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root, name)


def _wanted(p: Path) -> bool:
    """A recording by name or content, or a file an importer claims."""
    from .importers import sniff
    from .recording.store import is_recording_file

    if p.name.endswith(_SIDECARS):
        return False
    if p.suffix == RECORDING_SUFFIX or is_recording_file(p):
        return True
    try:
        return sniff(p) is not None
    except InsoleError:  # empty or unreadable: not a file of any format
        return False


def check_outputs(outputs: CohortOutputs, *, inputs: Sequence[CohortFile] = (), force: bool = False) -> None:
    """Refuse outputs that would destroy something (before any work).

    The table may replace an existing file only with ``force``. The failures
    table and the steps folder may also be replaced when the work folder is
    there (they are then this batch's own, from an interrupted assembly).
    An existing steps folder is only ever replaced when it holds nothing but
    ``.parquet`` files.

    Raises
    ------
    OutputError
    """
    paths = [f.path for f in inputs]
    check_output(outputs.table, inputs=paths, force=force, flag="-o")
    ours = force or outputs.parts_dir.is_dir()
    check_output(outputs.failures_csv, inputs=paths, force=ours)
    d = outputs.steps_dir
    if d.exists() and not d.is_dir():
        raise OutputError(f"--steps {d} is a file; give a folder")
    if d.is_dir() and any(d.iterdir()):
        if not ours:
            raise OutputError(f"{d} already exists; choose another name, or give --force to replace it")
        if any(not (c.is_file() and c.suffix == ".parquet") for c in d.iterdir()):
            raise OutputError(f"{d} holds other files than a steps dataset; it is not replaced")
    if not d.parent.is_dir():
        raise OutputError(f"folder {d.parent} does not exist")
    if outputs.parts_dir.exists() and not outputs.parts_dir.is_dir():
        raise OutputError(f"{outputs.parts_dir} is a file; the batch needs that name for its work folder")


# --- 2. analyse -----------------------------------------------------------------
def analyse_file(file: CohortFile) -> FileOutcome:
    """Load and analyse one file (the task a worker runs).

    Parameters
    ----------
    file : CohortFile

    Returns
    -------
    FileOutcome
        The summary row and the steps, or the failure as one line: a user
        error's message, or the type and message of any other exception (a
        bug, logged with its traceback). Never raises for a bad file.
    """
    from . import load
    from .analysis.analyze import analyze

    try:
        result = analyze(load(file.path))
        summary = {k: _scalar(v) for k, v in result.summary().items()}
        steps = None if result.gait is None else result.gait.steps.reset_index(drop=True)
        return FileOutcome(file, summary=summary, steps=steps, peak_rss_mb=_peak_rss_mb())
    except InsoleError as exc:
        return FileOutcome(file, error=_one_line(str(exc)), peak_rss_mb=_peak_rss_mb())
    except Exception as exc:  # a batch never stops for one file
        log.exception("analysing %s failed", file.path)
        return FileOutcome(file, error=_one_line(f"{type(exc).__name__}: {exc}"), peak_rss_mb=_peak_rss_mb())


def _scalar(value: Any) -> Any:
    """A summary value as a plain Python scalar (numpy types unwrapped)."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "failed (no message)"


def _peak_rss_mb() -> float:
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def run_batch(client: Client, files: Sequence[CohortFile], *, parts_dir: str | os.PathLike,
              on_outcome: Callable[[FileOutcome], None] | None = None) -> BatchStats:
    """Analyse on ``client`` every file without a partition in ``parts_dir``.

    Parameters
    ----------
    client : distributed.Client
        Any Dask distributed client (local cluster or remote scheduler).
    files : sequence of CohortFile
        From :func:`discover`.
    parts_dir : str or Path
        Work folder (created): one partition per file, written as each result
        arrives; a file whose partition (same path, size and mtime) is there
        is not analysed again.
    on_outcome : callable, optional
        Called with each new :class:`FileOutcome` once its partition is
        written (for a progress bar), on the calling thread.

    Returns
    -------
    BatchStats
    """
    from distributed import as_completed

    parts = Path(parts_dir)
    parts.mkdir(exist_ok=True)
    todo = pending(files, parts_dir=parts)
    log.info("%d of %d files to analyse (%d done before)", len(todo), len(files), len(files) - len(todo))
    run_id = uuid.uuid4().hex[:8]  # a key never seen before: no stale result of an earlier batch is reused
    by_key = {f"insole-analyse-{run_id}-{f.part_name}": f for f in todo}
    futures = client.map(analyse_file, todo, pure=False, key=list(by_key))
    failed_n, rss_mb = 0, []
    for future in as_completed(futures):
        outcome = _outcome_of(future, by_key[future.key])
        future.release()
        write_part(outcome, parts)
        failed_n += not outcome.ok
        rss_mb.append(outcome.peak_rss_mb)
        if on_outcome:
            on_outcome(outcome)
    stats = BatchStats(total_n=len(files), reused_n=len(files) - len(todo), analysed_n=len(todo), failed_n=failed_n,
                       peak_rss_mb=max((v for v in rss_mb if not math.isnan(v)), default=math.nan))
    log.info("batch: %s", stats)
    return stats


def _outcome_of(future: Any, file: CohortFile) -> FileOutcome:
    """The future's outcome; a task that itself failed (a worker killed, a
    result that could not travel) as a failure of its file."""
    if future.status == "finished":
        return future.result()
    if future.status == "cancelled":
        raise InsoleError("the Dask cluster cancelled the batch (did the scheduler stop?); run the same command "
                          "again to go on where it stopped")
    exc = future.exception()
    return FileOutcome(file, error=_one_line(f"the worker failed: {type(exc).__name__}: {exc}"))


def pending(files: Sequence[CohortFile], *, parts_dir: str | os.PathLike) -> list[CohortFile]:
    """The files without a partition in ``parts_dir`` (for their current size
    and modification time): those :func:`run_batch` analyses."""
    done = {p.name[:-len(".json")] for p in Path(parts_dir).glob("*.json")}
    return [f for f in files if f.part_name not in done]


def write_part(outcome: FileOutcome, parts_dir: Path) -> Path:
    """Write one outcome's partition: ``<name>.steps.parquet`` (the steps,
    first) and ``<name>.json`` (the row or the failure: its presence marks
    the file as done); earlier partitions of the same path are removed."""
    name = outcome.file.part_name
    for old in parts_dir.glob(f"{_path_key(outcome.file.path)}-*"):
        if not old.name.startswith(name + "."):
            old.unlink(missing_ok=True)
    if outcome.steps is not None and len(outcome.steps):
        with atomic_output(parts_dir / f"{name}.steps.parquet") as tmp:
            outcome.steps.to_parquet(tmp, index=False)
    record = {"path": outcome.file.path, "summary": outcome.summary, "error": outcome.error}
    return write_atomic(parts_dir / f"{name}.json", json.dumps(record).encode())


def _path_key(path: str) -> str:
    return hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()[:20]


# --- 3. assemble ----------------------------------------------------------------
def assemble(files: Sequence[CohortFile], outputs: CohortOutputs) -> Assembled:
    """Build the cohort table, the steps dataset and the failures table from
    the partitions of ``files`` (only those: partitions of other or changed
    files are ignored).

    Call :func:`check_outputs` first, and :func:`run_batch` (every file
    needs its partition). The failures table is always written;
    the table and the steps only when at least one file was analysed. Each
    appears atomically (the table last).

    Returns
    -------
    Assembled
    """
    import pandas as pd

    rows, failures, steps_parts = [], [], []
    for f in files:
        part = outputs.parts_dir / f"{f.part_name}.json"
        record = json.loads(part.read_text())
        if record["error"] is not None:
            failures.append({"path": f.path, "error": record["error"]})
            continue
        rows.append({"path": f.path, **record["summary"]})
        sp = outputs.parts_dir / f"{f.part_name}.steps.parquet"
        if sp.exists():
            steps_parts.append((f.path, sp))
    with atomic_output(outputs.failures_csv) as tmp:
        pd.DataFrame(failures, columns=["path", "error"]).to_csv(tmp, index=False)
    if not rows:
        return Assembled(analysed_n=0, failed_n=len(failures), steps_n=0)
    steps_n = _write_steps(steps_parts, outputs.steps_dir)
    table = pd.DataFrame.from_records(rows).infer_objects()
    with atomic_output(outputs.table) as tmp:
        table.to_parquet(tmp, index=False)
    log.info("wrote %s: %d rows, %d failures, %d steps", outputs.table, len(rows), len(failures), steps_n)
    return Assembled(analysed_n=len(rows), failed_n=len(failures), steps_n=steps_n)


def _write_steps(parts: Sequence[tuple[str, Path]], steps_dir: Path) -> int:
    """The steps dataset: ``part-00000.parquet``, ... (each file's steps with
    ``path`` first), built in a hidden folder beside and swapped into place."""
    import pandas as pd

    tmp = Path(tempfile.mkdtemp(prefix=f".{steps_dir.name}.", dir=steps_dir.parent))
    try:
        total_n, chunk, chunk_n = 0, [], 0
        for path, sp in parts:
            df = pd.read_parquet(sp)
            df.insert(0, "path", path)
            chunk.append(df)
            chunk_n += len(df)
            if chunk_n >= STEPS_ROWS_PER_FILE_N:
                total_n += _write_chunk(chunk, tmp)
                chunk, chunk_n = [], 0
        if chunk:
            total_n += _write_chunk(chunk, tmp)
        _swap_dir(tmp, steps_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return total_n


def _write_chunk(chunk: list[pd.DataFrame], folder: Path) -> int:
    import pandas as pd

    df = pd.concat(chunk, ignore_index=True)
    df.to_parquet(folder / f"part-{len(list(folder.glob('part-*.parquet'))):05d}.parquet", index=False)
    return len(df)


def _swap_dir(new: Path, target: Path) -> None:
    """Put the folder ``new`` at ``target``, replacing an existing one (checked
    by :func:`check_outputs`) only once the new one is complete."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    try:
        os.replace(new, target)
    except OSError as exc:
        if old is not None:
            os.replace(old, target)
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def remove_parts(outputs: CohortOutputs) -> None:
    """Remove the work folder once the outputs are written."""
    shutil.rmtree(outputs.parts_dir, ignore_errors=True)


# --- the cluster ----------------------------------------------------------------
@contextlib.contextmanager
def open_client(*, workers_n: int = 2, scheduler_address: str | None = None) -> Iterator[Client]:
    """A Dask distributed client for a batch.

    Parameters
    ----------
    workers_n : int
        Worker processes of the local cluster (one thread each); ignored
        with ``scheduler_address``.
    scheduler_address : str, optional
        ``tcp://HOST:PORT`` of a running scheduler: its workers do the work.

    Raises
    ------
    InsoleError
        The scheduler cannot be reached.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InsoleError("batches run on Dask, which is not installed: pip install \"dask[distributed]\"") from None
    if scheduler_address:
        try:
            client = Client(scheduler_address, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise InsoleError(f"cannot reach the Dask scheduler at {scheduler_address}: {exc}") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers_n, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client

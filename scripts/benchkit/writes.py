"""``--writes``: the write path at scale (issue 15): ``sessions import`` (wall and CPU time, and
FTS5 alone as the floor under it), listing a ``cp -a`` copy, the snapshot refresh after an append."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

from benchkit.common import BIG_SIZE, BUILD_TIMEOUT, BenchError, Options, progress
from benchkit.fts_floor import BATCH, RUNS, measure_fts5_floor
from benchkit.pairs import time_pair
from benchkit.peers import compile_bytecode, installed_chatcli
from benchkit.procs import CpuTime, children_cpu, run_checked, run_timed
from benchkit.report import git_revision, machine
from benchkit.results import Results, Row, Stats, fmt_cpu, fmt_mb, fmt_ms, fmt_n, median_cpu, table, verdict
from benchkit.workspace import Dataset, Workspace

WRITES_SECTION = "## Write path at scale (issue 15)"
REFRESHES = 20


def time_import(work: Workspace, ds: Dataset, runs: int) -> tuple[Stats, list[CpuTime]]:
    """``chatcli sessions import`` of the data set's JSON Lines corpus into a new folder: wall
    seconds, and each run's CPU time (user + sys of the process, read around its run)."""
    seconds: list[float] = []
    cpu: list[CpuTime] = []
    targets = [work.scratch / f"import-{ds.sessions}-{i}" for i in range(runs)]
    try:
        for target in targets:
            cmd: list[str | Path] = [work.chatcli, "sessions", "--sessions-dir", target, "import", ds.corpus]
            before = children_cpu()
            seconds.append(run_timed(cmd, env=work.env(), cwd=work.root, timeout=BUILD_TIMEOUT) / 1000.0)
            cpu.append(children_cpu().since(before))
            found = sum(1 for entry in os.scandir(target) if not entry.name.startswith("."))
            if found != ds.sessions:
                raise BenchError(f"the import into {target} made {found} sessions, expected {ds.sessions}")
    finally:
        # Removed only after every run: freeing 10,000 folders right before the next import
        # slows its inode allocation on some file systems (the runs would not be alike).
        for target in targets:
            shutil.rmtree(target, ignore_errors=True)
    return Stats(tuple(seconds)), cpu


def measure_refresh_after_append(store: Path, session_id: str, runs: int) -> tuple[Stats, Stats, Stats]:
    """The REPL's snapshot refresh after one append (``SnapshotCache.refresh``), ``runs`` times;
    the search structure rebuilt after it (``warm_session_index``); and a full rebuild of the
    snapshot (``refresh(force=True)``, what every refresh cost before), all in ms."""
    from chatcli.repl.completion.ranking import warm_session_index
    from chatcli.repl.completion.snapshot import SnapshotCache
    from chatcli.session.models import Message
    from chatcli.session.service import SessionService
    from chatcli.session.store import FileRepository

    repo = FileRepository(store)
    cache = SnapshotCache(SessionService(repo))
    cache.refresh(force=True)
    refresh: list[float] = []
    warm: list[float] = []
    full: list[float] = []
    for i in range(runs):
        repo.append_message(session_id, Message(role="user", content=f"refresh benchmark {i}"))
        start = time.perf_counter()
        snapshot = cache.refresh()
        refresh.append((time.perf_counter() - start) * 1000.0)
        start = time.perf_counter()
        warm_session_index(snapshot)
        warm.append((time.perf_counter() - start) * 1000.0)
        if i < 3:
            start = time.perf_counter()
            cache.refresh(force=True)
            full.append((time.perf_counter() - start) * 1000.0)
    return Stats(tuple(refresh)), Stats(tuple(warm)), Stats(tuple(full))


def copied_store(work: Workspace, store: Path, name: str) -> Path:
    """``cp -a`` of a store (every file a new inode: every index row's stamp differs)."""
    target = work.scratch / name
    if target.exists():
        shutil.rmtree(target)
    run_checked(["cp", "-a", store, target], timeout=BUILD_TIMEOUT)
    return target


def import_rows(work: Workspace, opts: Options, results: Results, ds: Dataset, n: int) -> None:
    """``sessions import`` of the corpus (wall and CPU time), then FTS5 alone on its messages."""
    scale = f"{fmt_n(n)} sessions"
    progress(f"importing {scale} ({min(opts.runs, 3)} runs)")
    stats, cpu = time_import(work, ds, min(opts.runs, 3))
    rate = n / stats.median
    results.add(
        Row(
            "`sessions import` of a JSON Lines corpus, s (min / median / max); sessions/s of the median",
            scale,
            f"{stats.min:.2f} / {stats.median:.2f} / {stats.max:.2f} s; {rate:,.0f}/s; "
            f"CPU {fmt_cpu(median_cpu(cpu))}",
            target="≥ 2,000 sessions/s" if n == 10_000 else "",
            verdict=verdict(rate >= 2_000) if n == 10_000 else "",
        )
    )
    progress(f"FTS5 alone on the messages of {scale} ({RUNS} runs)")
    floor, messages = measure_fts5_floor(ds.corpus, work.scratch)
    wall = statistics.median(run.wall_seconds for run in floor)
    results.add(
        Row(
            "FTS5 alone: the corpus's messages inserted into an FTS5 table like chatcli's content_words "
            f"(`unicode61 remove_diacritics 2`, one transaction per {BATCH:,} messages, `executemany`, "
            f"no chatcli code), core-seconds (median of {RUNS})",
            scale,
            f"{fmt_cpu(median_cpu([run.cpu for run in floor]))}; wall {wall:.2f} s; {messages:,} messages",
        )
    )


def copy_rows(work: Workspace, opts: Options, results: Results, ds: Dataset, n: int) -> Path:
    """``sessions list`` on a ``cp -a`` copy of the store: the first listing, then the later ones
    against the original's; returns the copy."""
    scale = f"{fmt_n(n)} sessions"
    progress(f"listing a cp -a copy of {scale}")
    copy = copied_store(work, ds.store, f"copy-{n}")
    cmd: list[str | Path] = [work.chatcli, "sessions", "--sessions-dir", copy, "list", "--limit", "20"]
    first = run_timed(cmd, env=work.env(), cwd=work.root, timeout=work.timeout)
    later = time_pair(
        work, chatcli_cmd=cmd, chatcli_env=work.env(), llm_cmd=None, llm_env=None, runs=opts.runs
    )
    original = time_pair(
        work,
        chatcli_cmd=[work.chatcli, "sessions", "--sessions-dir", ds.store, "list", "--limit", "20"],
        chatcli_env=work.env(),
        llm_cmd=None,
        llm_env=None,
        runs=opts.runs,
    )
    results.add(
        Row(
            "`sessions list --limit 20` on a `cp -a` copy: first listing (re-stamps), ms",
            scale,
            fmt_ms(first),
        )
    )
    ok = (
        later.chatcli.median <= original.chatcli.median * 1.25
        and later.chatcli_rss <= original.chatcli_rss * 1.25
    )
    results.add(
        Row(
            "… the listings after it vs the original store's (medians; peak RSS)",
            scale,
            f"{later.chatcli.mmm()} vs {original.chatcli.mmm()}",
            rss=f"{fmt_mb(later.chatcli_rss)} vs {fmt_mb(original.chatcli_rss)}",
            target="as the original (≤ 1.25 ×)",
            verdict=verdict(ok),
        )
    )
    return copy


def refresh_rows(results: Results, copy: Path, ds: Dataset, n: int) -> None:
    """The snapshot refresh after an append, on the copy (removed afterwards)."""
    scale = f"{fmt_n(n)} sessions"
    progress(f"snapshot refresh after one append at {scale} ({REFRESHES} appends)")
    refresh, warm, full = measure_refresh_after_append(copy, ds.ids[len(ds.ids) // 2], REFRESHES)
    shutil.rmtree(copy)
    big = n >= BIG_SIZE
    results.add(
        Row(
            f"completion snapshot refresh after one append (`SnapshotCache.refresh`, {REFRESHES}×), ms",
            scale,
            refresh.mmm(),
            target="median ≤ 20 ms" if big else "",
            verdict=verdict(refresh.median <= 20.0) if big else "",
        )
    )
    results.add(
        Row(
            "… a full rebuild of the snapshot instead (`refresh(force=True)`, before issue 15), ms",
            scale,
            full.mmm(),
        )
    )
    results.add(Row("… then the search structure rebuilt (`warm_session_index`), ms", scale, warm.mmm()))


def write_rows(work: Workspace, opts: Options, results: Results, n: int) -> None:
    """The issue 15 figures at ``n`` sessions: import, listing after ``cp -a``, snapshot refresh."""
    ds = work.by_size(n, None)
    if n <= 10_000:
        import_rows(work, opts, results, ds, n)
    copy = copy_rows(work, opts, results, ds, n)
    refresh_rows(results, copy, ds, n)


def run_write_benchmarks(opts: Options) -> Results:
    """Only the write-path figures of issue 15 (``--writes``), on the cached data sets."""
    chatcli = Path(sys.executable).parent / "chatcli"
    work = Workspace(opts.workdir, opts.shared, chatcli, opts.timeout, rebuild=opts.rebuild)
    work.chatcli = installed_chatcli(work)
    results = Results()
    compile_bytecode(None)
    for n in opts.sizes:
        write_rows(work, opts, results, n)
    shutil.rmtree(work.scratch, ignore_errors=True)
    return results


def write_section(opts: Options, results: Results, elapsed: float, when: datetime) -> str:
    """The ``--writes`` figures as a section of BENCHMARKS.md."""
    info = machine()
    return "\n".join(
        [
            WRITES_SECTION,
            "",
            f"- date: {when.strftime('%Y-%m-%d %H:%M UTC')}; command: `{opts.command}`; "
            f"chatcli revision: {git_revision()}; harness wall time: {elapsed:.0f} s",
            f"- machine: {info.get('nproc', '?')} cores, shared with other jobs (the load average "
            f"was {os.getloadavg()[0]:.1f} at the end): figures are medians, and noisy",
            "- Import: the corpus of the N-session data set into a new folder, wall time of the "
            "whole process (its output to /dev/null); each session is durable before it is counted. "
            "CPU: user + sys time of the import process (and any child it waited for), read with "
            "`getrusage(RUSAGE_CHILDREN)` around each timed run; the run with the median total is "
            "shown, in core-seconds (above the wall time when its threads ran on both cores at once, "
            "below it while it waited: for the disk, or for a core on a busy machine).",
            "- FTS5 alone: the floor under the import on one core. The same corpus's messages "
            "inserted by the harness itself (the standard library's sqlite3, no chatcli code) into "
            "an FTS5 table shaped like chatcli's `content_words` (`body`, `original UNINDEXED`, "
            f"`unicode61 remove_diacritics 2`), one transaction per {BATCH:,} messages with "
            "`executemany`, in a new database in the scratch folder (WAL, `synchronous = NORMAL`); "
            f"CPU time of the inserts and commits, median of {RUNS} runs.",
            "- `cp -a`: a copy of the cached store (new inodes, same times); its first listing "
            "re-reads the metadata files and re-stamps the index rows, the later ones are timed "
            f"like the original's ({opts.runs} runs after a warm-up).",
            f"- Snapshot refresh: in-process, on that copy; {REFRESHES} times an append to one "
            "session, then `SnapshotCache.refresh()` (it reads only the rows changed since, from "
            "the index's log of changes); the search structure of completion is rebuilt after it, "
            "on the same background thread, and timed apart.",
            "",
            table(results.rows),
            "",
        ]
    )

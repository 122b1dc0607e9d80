"""``bench.py --searches``: the content index's figures (issue 15) on the cached data sets.

Each query is timed as a whole ``chatcli sessions search`` process (start-up included: what a
user waits for) and, apart, in-process (``SessionService.search`` on a repository opened anew,
so without the start-up). Against llm (``llm logs list -q``) where the data set has llm's data and
llm can run the query (plain words). Nothing is imported: the data sets must exist (a full run of
bench.py builds them) and the index is brought up to date by a first search, timed apart.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from benchkit.common import NOWHERE_WORD, BenchError, Options, progress
from benchkit.pairs import pair_row, time_pair
from benchkit.peers import Peer, compile_bytecode, ensure_peer, installed_chatcli
from benchkit.procs import run_timed
from benchkit.reads import index_sizes
from benchkit.report import git_revision
from benchkit.results import Results, Row, fmt_n, table, verdict
from benchkit.workspace import Workspace

SEARCH_SECTION = "## Content search (`bench.py --searches`)"
#: What each query stands for, and whether llm can run it (``llm logs list -q`` takes words).
QUERIES: tuple[tuple[str, str, bool], ...] = (
    (NOWHERE_WORD, "a word that occurs nowhere", True),
    ("kubernetes", "a word in most messages (58%)", True),
    ("retry backoff", "two words", True),
    ('"kubernetes cluster"', "a phrase", False),
    ("kub*", "a prefix of a word in most messages", False),
    ("docker*", "a prefix", False),
)
#: The page size of every timed search.
LIMIT = ("--limit", "20")
#: The issue's target: any search at 100,000 sessions.
BIG = 100_000
TARGET_MS = 150.0


def in_process(store: Path, query: str, runs: int, *, sort: str = "recent") -> tuple[float, str]:
    """Median ms of ``SessionService.search`` on a freshly opened repository, and what it said."""
    from chatcli.session.service import SessionService
    from chatcli.session.store import FileRepository

    times: list[float] = []
    said = ""
    for _ in range(runs + 1):
        start = time.perf_counter()
        result = SessionService(FileRepository(store)).search(
            query, sort="relevance" if sort == "relevance" else "recent"
        )
        times.append((time.perf_counter() - start) * 1000.0)
        counted = f"{result.total_hits:,} hits in {result.sessions_matched:,} sessions"
        said = counted if result.counted else f"more than {result.total_hits - 1:,} hits (not counted)"
    return statistics.median(times[1:]), said


class SearchRun:
    """One ``--searches`` run's context: the work folder, the peer (or why it is missing), the table."""

    def __init__(self, opts: Options, work: Workspace, peer: Peer | None, why: str) -> None:
        self.opts = opts
        self.work = work
        self.peer = peer
        self.why = why
        self.results = Results()
        self.cenv = work.env()


def _query_rows(run: SearchRun, store: Path, n: int, llm_home: Path | None) -> None:
    """Every query of :data:`QUERIES` at ``n`` sessions: as a process (against llm where it can
    run it), then in-process."""
    scale = f"{fmt_n(n)} sessions"
    missing = "" if llm_home is not None else f"unavailable ({run.why or 'no llm data at this size'})"
    for query, what, llm_can in QUERIES:
        progress(f"searching {query!r} at {scale}")
        pair = time_pair(
            run.work,
            chatcli_cmd=[run.work.chatcli, "sessions", "--sessions-dir", store, "search", query, *LIMIT],
            chatcli_env=run.cenv,
            llm_cmd=[str(run.peer.llm), "logs", "list", "-q", query, "-n", "20", "-s"]
            if llm_home is not None and llm_can and run.peer is not None
            else None,
            llm_env=run.work.env(LLM_USER_PATH=str(llm_home)) if llm_home is not None else None,
            runs=run.opts.runs,
        )
        big = n >= BIG
        nowhere_10k = query == NOWHERE_WORD and n == 10_000
        pair_row(
            run.results,
            f"`sessions search {query}` ({what}), process, ms"
            + (f"; target ≤ {TARGET_MS:.0f} ms" if big else ""),
            scale,
            pair,
            max_ratio=0.1 if nowhere_10k else None,
            peer_missing=missing if llm_can else "(llm has no such query)",
        )
        if big:
            run.results.rows[-1].target = f"≤ {TARGET_MS:.0f} ms"
            run.results.rows[-1].verdict = verdict(pair.chatcli.median <= TARGET_MS)
        inproc, said = in_process(store, query, run.opts.runs)
        run.results.add(Row(f"… in-process (no start-up), ms: {said}", scale, f"{inproc:.1f}"))


def _size_rows(run: SearchRun, n: int) -> None:
    """The first search (it indexes what is not yet), the index's size, the queries, and a
    search sorted by relevance, at ``n`` sessions."""
    ds_dir = run.work.datasets / f"sessions-{n}"
    store = ds_dir / "chatcli"
    if not store.is_dir():
        raise BenchError(f"no data set of {n} sessions in {ds_dir}: run bench.py --sizes {n} first")
    scale = f"{fmt_n(n)} sessions"
    llm_home = ds_dir / "llm"
    has_llm = run.peer is not None and (llm_home / "logs.db").exists()
    progress(f"first search at {scale}")
    first = run_timed(
        [run.work.chatcli, "sessions", "--sessions-dir", store, "search", NOWHERE_WORD],
        env=run.cenv,
        cwd=run.work.root,
        timeout=max(run.opts.timeout, 3600.0),
    )
    run.results.add(Row("first search of the run (indexes what is not yet), s", scale, f"{first / 1000:.2f}"))
    size = index_sizes(store / ".index" / "sessions.sqlite3")
    run.results.add(Row("index size (metadata + content), MB", scale, f"{size / 1e6:,.0f}"))
    _query_rows(run, store, n, llm_home if has_llm else None)
    inproc, said = in_process(store, "kubernetes", run.opts.runs, sort="relevance")
    run.results.add(
        Row(f"`search kubernetes --sort relevance` in-process, ms: {said}", scale, f"{inproc:.1f}")
    )


def run_search_benchmarks(opts: Options) -> Results:
    """The search rows at each size of ``opts.sizes``."""
    chatcli = Path(sys.executable).parent / "chatcli"
    work = Workspace(opts.workdir, opts.shared, chatcli, opts.timeout, rebuild=False)
    work.chatcli = installed_chatcli(work)
    peer, why = ensure_peer(work, install=False)
    compile_bytecode(peer)
    run = SearchRun(opts, work, peer, why)
    for n in opts.sizes:
        _size_rows(run, n)
    return run.results


def search_section(opts: Options, results: Results, elapsed: float) -> str:
    """The ``--searches`` figures as a section of BENCHMARKS.md."""
    return "\n".join(
        [
            SEARCH_SECTION,
            "",
            f"- command: `{opts.command}`; chatcli revision: {git_revision()}; "
            f"harness wall time: {elapsed:.0f} s; load average at the end {os.getloadavg()[0]:.1f}",
            f"- Process figures: medians of {opts.runs} runs after a warm-up, interleaved with llm's "
            "where it can run the query; chatcli installed as the README says (`pip install .`), "
            "both with their bytecode compiled. In-process: the search "
            "alone on a repository opened anew (what the start-up adds is the difference).",
            "- A query with more than 10,000 matching messages is not counted: the newest sessions "
            "with a match are shown (see docs/json-output.md, `counted`).",
            "",
            table(results.rows),
            "",
        ]
    )

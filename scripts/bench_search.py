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

import bench
from bench import (
    NOWHERE_WORD,
    BenchError,
    Options,
    Results,
    Row,
    Workspace,
    ensure_peer,
    fmt_n,
    index_sizes,
    pair_row,
    progress,
    table,
    time_pair,
)

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


def run_search_benchmarks(opts: Options) -> Results:
    """The search rows at each size of ``opts.sizes``."""
    chatcli = Path(sys.executable).parent / "chatcli"
    work = Workspace(opts.workdir, opts.shared, chatcli, opts.timeout, rebuild=False)
    work.chatcli = chatcli = bench.installed_chatcli(work)
    peer, why = ensure_peer(work, install=False)
    bench.compile_bytecode(peer)
    results = Results()
    cenv = work.env()
    for n in opts.sizes:
        ds_dir = work.datasets / f"sessions-{n}"
        store = ds_dir / "chatcli"
        if not store.is_dir():
            raise BenchError(f"no data set of {n} sessions in {ds_dir}: run bench.py --sizes {n} first")
        scale = f"{fmt_n(n)} sessions"
        llm_home = ds_dir / "llm"
        has_llm = peer is not None and (llm_home / "logs.db").exists()
        missing = "" if has_llm else f"unavailable ({why or 'no llm data at this size'})"
        progress(f"first search at {scale}")
        first = bench.run_timed(
            [chatcli, "sessions", "--sessions-dir", store, "search", NOWHERE_WORD],
            env=cenv,
            cwd=work.root,
            timeout=max(opts.timeout, 3600.0),
        )
        results.add(Row("first search of the run (indexes what is not yet), s", scale, f"{first / 1000:.2f}"))
        size = index_sizes(store / ".index" / "sessions.sqlite3")
        results.add(Row("index size (metadata + content), MB", scale, f"{size / 1e6:,.0f}"))
        for query, what, llm_can in QUERIES:
            progress(f"searching {query!r} at {scale}")
            pair = time_pair(
                work,
                chatcli_cmd=[chatcli, "sessions", "--sessions-dir", store, "search", query, "--limit", "20"],
                chatcli_env=cenv,
                llm_cmd=[str(peer.llm), "logs", "list", "-q", query, "-n", "20", "-s"]
                if has_llm and llm_can and peer is not None
                else None,
                llm_env=work.env(LLM_USER_PATH=str(llm_home)) if has_llm else None,
                runs=opts.runs,
            )
            big = n >= BIG
            nowhere_10k = query == NOWHERE_WORD and n == 10_000
            pair_row(
                results,
                f"`sessions search {query}` ({what}), process, ms"
                + (f"; target ≤ {TARGET_MS:.0f} ms" if big else ""),
                scale,
                pair,
                max_ratio=0.1 if nowhere_10k else None,
                peer_missing=missing if llm_can else "(llm has no such query)",
            )
            if big:
                results.rows[-1].target = f"≤ {TARGET_MS:.0f} ms"
                results.rows[-1].verdict = bench.verdict(pair.chatcli.median <= TARGET_MS)
            inproc, said = in_process(store, query, opts.runs)
            results.add(Row(f"… in-process (no start-up), ms: {said}", scale, f"{inproc:.1f}"))
        inproc, said = in_process(store, "kubernetes", opts.runs, sort="relevance")
        results.add(
            Row(f"`search kubernetes --sort relevance` in-process, ms: {said}", scale, f"{inproc:.1f}")
        )
    return results


def search_section(opts: Options, results: Results, elapsed: float) -> str:
    """The ``--searches`` figures as a section of BENCHMARKS.md."""
    return "\n".join(
        [
            SEARCH_SECTION,
            "",
            f"- command: `{opts.command}`; chatcli revision: {bench.git_revision()}; "
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

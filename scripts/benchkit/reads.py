"""The full run (issue 5): process pairs against llm at each store size (list, search, show,
``--version``), the content index's first build and size, the browser and completion.

:func:`run_benchmarks` is the order of the table; session lengths follow in :mod:`benchkit.lengths`.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
from pathlib import Path

from benchkit.browser import browser_rows, run_browser_only
from benchkit.common import BIG_SIZE, MB, NOWHERE_WORD, BenchError, Options, progress
from benchkit.inprocess import measure_completion
from benchkit.lengths import length_rows, resume_in_store_rows
from benchkit.pairs import PairResult, pair_row, time_pair
from benchkit.peers import Peer, compile_bytecode, ensure_peer, installed_chatcli
from benchkit.procs import run_timed
from benchkit.results import Results, Row, fmt_mb, fmt_ms, fmt_n, verdict
from benchkit.workspace import Dataset, Workspace


class ReadRun:
    """One run's context: the work folder, the installed chatcli, the peer (or why it is
    missing), the table being filled and the measured environment."""

    def __init__(self, opts: Options, work: Workspace, peer: Peer | None, missing: str) -> None:
        self.opts = opts
        self.work = work
        self.chatcli = work.chatcli
        self.peer = peer
        self.missing = missing
        self.results = Results()
        self.cenv = work.env()

    def llm_env(self, ds: Dataset) -> dict[str, str] | None:
        """llm's environment for a data set (None when it has no llm data)."""
        return None if ds.llm_home is None else self.work.env(LLM_USER_PATH=str(ds.llm_home))

    def llm_cmd(self, ds: Dataset, *args: str) -> list[str] | None:
        """``llm ARGS`` for a data set (None without the peer or its data)."""
        return None if self.peer is None or ds.llm_home is None else [str(self.peer.llm), *args]

    def pair(self, ds: Dataset, chatcli_args: list[str], llm_args: list[str]) -> PairResult:
        """``chatcli sessions --sessions-dir STORE ARGS`` timed against ``llm ARGS`` on ``ds``."""
        return time_pair(
            self.work,
            chatcli_cmd=[self.chatcli, "sessions", "--sessions-dir", str(ds.store), *chatcli_args],
            chatcli_env=self.cenv,
            llm_cmd=self.llm_cmd(ds, *llm_args),
            llm_env=self.llm_env(ds),
            runs=self.opts.runs,
        )


def _check_setup(opts: Options) -> Path:
    """The development virtualenv's chatcli console script; the shared corpus tools must exist."""
    chatcli = Path(sys.executable).parent / "chatcli"
    if not chatcli.exists():
        raise BenchError(
            f"no chatcli console script next to {sys.executable}; run the harness with the project's "
            "virtualenv: .venv/bin/python scripts/bench.py"
        )
    for script in ("make_corpus.py", "load_llm.py"):
        if not (opts.shared / "bench" / script).is_file():
            raise BenchError(
                f"the shared folder {opts.shared} has no bench/{script}; "
                "pass --shared PATH (the folder holding bench/make_corpus.py and bench/load_llm.py)"
            )
    return chatcli


def start_run(opts: Options) -> ReadRun:
    """Check the set-up, install chatcli, find (or install) the peer, compile both to bytecode."""
    chatcli = _check_setup(opts)
    work = Workspace(opts.workdir, opts.shared, chatcli, opts.timeout, rebuild=opts.rebuild)
    work.chatcli = installed_chatcli(work)
    peer, why = ensure_peer(work, install=opts.install_llm)
    run = ReadRun(opts, work, peer, f"unavailable ({why})" if peer is None else "")
    if peer is None:
        run.results.notes.append(f"The peer llm is unavailable: {why}. Only chatcli's figures were measured.")
        progress(f"peer llm unavailable: {why}")
    else:
        run.results.notes.append(f"Peer: {peer.version}, in its own virtualenv {peer.python.parent.parent}.")
    compile_bytecode(peer)
    return run


def version_row(run: ReadRun) -> None:
    """``--version`` (it does not depend on the data)."""
    progress("timing --version")
    pair = time_pair(
        run.work,
        chatcli_cmd=[run.chatcli, "--version"],
        chatcli_env=run.cenv,
        llm_cmd=None if run.peer is None else [run.peer.llm, "--version"],
        llm_env=run.work.env(LLM_USER_PATH=str(run.work.root / "llm-empty")),
        runs=run.opts.runs,
    )
    pair_row(run.results, "`--version`", "—", pair, max_ratio=0.25, peer_missing=run.missing)


def list_rows(run: ReadRun, ds: Dataset, n: int, scale: str) -> float:
    """``sessions list --limit 20`` against llm, and its peak RSS; returns chatcli's median."""
    pair = run.pair(ds, ["list", "--limit", "20"], ["logs", "list", "-n", "20", "-s"])
    pair_row(
        run.results,
        "`sessions list --limit 20` vs `llm logs list -n 20 -s`",
        scale,
        pair,
        max_ratio=0.25 if n == 10_000 else None,
        peer_missing=run.missing,
    )
    run.results.add(
        Row(
            "peak RSS of `sessions list --limit 20` (MB)",
            scale,
            fmt_mb(pair.chatcli_rss),
            fmt_mb(pair.llm_rss) if pair.llm_rss is not None else run.missing,
            f"{pair.chatcli_rss / pair.llm_rss:.2f}" if pair.llm_rss else "—",
            "",
            "≤ 80 MB" if n == 10_000 else "",
            verdict(pair.chatcli_rss <= 80 * MB) if n == 10_000 else "",
        )
    )
    return pair.chatcli.median


def index_sizes(index: Path) -> int:
    """Bytes of the index database and the files SQLite keeps beside it."""
    return sum(
        os.path.getsize(f"{index}{suffix}") for suffix in ("", "-wal") if os.path.exists(f"{index}{suffix}")
    )


def content_index_rows(run: ReadRun, ds: Dataset, scale: str) -> None:
    """The content index of a data set: the first search of this run (it indexes every session
    not indexed yet: all of them on a fresh store), and the index's size beside the transcripts'."""
    cmd: list[str | Path] = [run.chatcli, "sessions", "--sessions-dir", ds.store, "search", NOWHERE_WORD]
    index = ds.store / ".index" / "sessions.sqlite3"
    was = index_sizes(index)
    first = run_timed(cmd, env=run.cenv, cwd=run.work.root, timeout=run.work.timeout)
    built = index_sizes(index) > was * 1.5
    run.results.add(
        Row(
            "first search of the run, s"
            + (" (built the content index)" if built else " (index already built)"),
            scale,
            f"{first / 1000:.2f}",
        )
    )
    transcripts = sum(p.stat().st_size for p in ds.store.glob("*/conversation.jsonl"))
    size = index_sizes(index)
    run.results.add(
        Row(
            "index size (metadata + content, `.index/`), MB; transcripts MB",
            scale,
            f"{fmt_mb(size)}; {fmt_mb(transcripts)} ({size / max(transcripts, 1):.2f}×)",
        )
    )


def search_and_show_rows(run: ReadRun, ds: Dataset, n: int, scale: str) -> None:
    """A search for a word that occurs nowhere, for ``--word``, and ``show`` of the middle session."""
    word = run.opts.word
    pair = run.pair(
        ds, ["search", NOWHERE_WORD, "--limit", "20"], ["logs", "list", "-q", NOWHERE_WORD, "-n", "20", "-s"]
    )
    pair_row(
        run.results,
        f"search (word that occurs nowhere): `sessions search {NOWHERE_WORD}` vs `llm logs list -q …`",
        scale,
        pair,
        max_ratio=0.1 if n == 10_000 else None,
        peer_missing=run.missing,
    )
    pair = run.pair(ds, ["search", word, "--limit", "20"], ["logs", "list", "-q", word, "-n", "20", "-s"])
    pair_row(
        run.results,
        f"`sessions search {word} --limit 20` vs `llm logs list -q {word} -n 20 -s`",
        scale,
        pair,
        max_ratio=1.0 if n == 10_000 else None,
        peer_missing=run.missing,
    )
    show_id = ds.ids[len(ds.ids) // 2]
    pair = run.pair(ds, ["show", show_id], ["logs", "list", "--cid", show_id])
    pair_row(
        run.results,
        "`sessions show ID` vs `llm logs list --cid ID` (12 messages)",
        scale,
        pair,
        max_ratio=0.5,
        peer_missing=run.missing,
    )


def completion_rows(run: ReadRun, ds: Dataset, n: int, scale: str) -> None:
    """Completion per keystroke at ``n`` sessions, and the builds it waits for."""
    progress(f"completion at {scale}")
    every, argument, snapshot_ms, index_ms = measure_completion(ds.store, random.Random(n))
    for label, stats in (("session-argument keystrokes", argument), ("all keystrokes", every)):
        p95 = stats.percentile(95)
        run.results.add(
            Row(
                f"completion per keystroke, {label} ({len(stats.values)}), p50 / p95 ms",
                scale,
                f"{fmt_ms(stats.median)} / {fmt_ms(p95)} (max {fmt_ms(stats.max)})",
                target="p95 ≤ 5 ms" if n == 10_000 else "",
                verdict=verdict(p95 <= 5.0) if n == 10_000 else "",
            )
        )
    run.results.add(
        Row(
            "completion snapshot build (`SnapshotCache.refresh`, background thread), ms",
            scale,
            fmt_ms(snapshot_ms),
        )
    )
    run.results.add(
        Row(
            "completion search structure build (`warm_session_index`, background thread), ms",
            scale,
            fmt_ms(index_ms),
        )
    )


def size_rows(run: ReadRun, n: int) -> float:
    """Every row at ``n`` sessions, in table order; returns the median of ``sessions list``."""
    ds = run.work.by_size(n, run.peer)
    scale = f"{fmt_n(n)} sessions"
    progress(f"timing process pairs at {scale}")
    list_median = list_rows(run, ds, n, scale)
    content_index_rows(run, ds, scale)
    search_and_show_rows(run, ds, n, scale)
    browser_rows(run.results, ds.corpus, n, run.opts.runs, work=run.work, store=ds.store)
    completion_rows(run, ds, n, scale)
    if ds.build_seconds is not None:
        run.results.add(
            Row(
                "build: `chatcli sessions import` of the corpus, s"
                + ("" if ds.built_now else " (cached, from its build)"),
                scale,
                f"{ds.build_seconds:.1f}",
            )
        )
    return list_median


def list_growth_row(run: ReadRun, list_medians: dict[int, float]) -> None:
    """``sessions list`` at 100,000 sessions against 10,000, when both were measured."""
    if 10_000 in list_medians and BIG_SIZE in list_medians:
        growth = list_medians[BIG_SIZE] / list_medians[10_000]
        run.results.add(
            Row(
                "`sessions list --limit 20` median, 100,000 vs 10,000 sessions",
                "100k / 10k",
                f"{fmt_ms(list_medians[BIG_SIZE])} / {fmt_ms(list_medians[10_000])} ms = {growth:.2f}×",
                target="≤ 2 × the 10k figure",
                verdict=verdict(growth <= 2.0),
            )
        )


def run_benchmarks(opts: Options) -> Results:
    """Build what is missing, measure everything, return the table."""
    if opts.browser_only:
        return run_browser_only(opts)
    run = start_run(opts)
    version_row(run)
    list_medians = {n: size_rows(run, n) for n in opts.sizes}
    list_growth_row(run, list_medians)
    length_rows(run)
    resume_in_store_rows(run)
    shutil.rmtree(run.work.scratch, ignore_errors=True)
    return run.results

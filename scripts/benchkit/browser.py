"""The session browser (``--resume`` without an id, issue 15): first paint and cost per keystroke,
in this process over entries built from the corpus, and ``chatcli --resume`` in a pty."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchkit.common import BIG_SIZE, Options, progress
from benchkit.peers import installed_chatcli
from benchkit.results import Results, Row, Stats, fmt_ms, fmt_n, verdict
from benchkit.terminal import measure_browser_pty, pexpect_available
from benchkit.workspace import Workspace

if TYPE_CHECKING:
    from prompt_toolkit.input import Input

    from chatcli.repl.picker import _Picker


def browser_entries(corpus: Path) -> list[Any]:
    """The browser's entries for every session of ``corpus`` (newest first), as the REPL's
    snapshot holds them (built here from the corpus: the snapshot build from the index is the
    completion row's "snapshot build")."""
    from chatcli.repl.completion.snapshot import SnapshotEntry
    from chatcli.session.fields import SessionStatus

    entries = []
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            r = json.loads(line)
            messages = r["messages"]
            entries.append(
                SnapshotEntry(
                    r["id"],
                    r.get("name"),
                    messages[0]["content"] if messages else "",
                    datetime.fromisoformat(r["last_active"].replace("Z", "+00:00")),
                    SessionStatus(r.get("status", "active")),
                    len(messages),
                    bool(r.get("pinned")),
                    tuple(r.get("tags") or ()),
                )
            )
    entries.sort(key=lambda e: (e.last_active, e.id), reverse=True)
    return entries


def _paints(entries: Sequence[Any], runs: int) -> tuple[list[float], _Picker]:
    """Open the browser ``runs`` times, each from creation to its first paint (ms); the last one."""
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from chatcli.repl.picker import _Picker, _picker_app

    paints: list[float] = []

    def open_once(pipe: Input) -> _Picker:
        start = time.perf_counter()
        picker = _Picker(entries)
        app = _picker_app(picker, pipe, DummyOutput())

        def painted(_: object) -> None:
            paints.append((time.perf_counter() - start) * 1000.0)
            app.after_render -= painted
            app.exit()

        app.after_render += painted
        app.run()
        return picker

    for _ in range(runs):
        with create_pipe_input() as pipe:
            picker = open_once(pipe)
    return paints, picker


def _filter_words(entries: Sequence[Any], rng: random.Random) -> list[str]:
    """Names and message words of 10 random sessions, and two words that match nothing."""
    words: list[str] = []
    for entry in rng.sample(list(entries), 10):
        words.append(entry.name or entry.first_message.split()[0])
        words.append(rng.choice(entry.first_message.split()).lower())
    words += ["zqxjv", "kubernetesx"]  # no match: every session looked at
    return words


def _type_words(picker: _Picker, words: Sequence[str]) -> tuple[list[float], list[float]]:
    """Each word typed a letter at a time: the cost of each keystroke (filter, lay out the visible
    rows) and of each letters-in-order fill that followed one (awaited before the next), ms."""
    costs: list[float] = []
    fills: list[float] = []

    async def typing() -> None:
        picker.background = True  # as in the running browser: letters-in-order matches on the loop
        for word in words:
            for k in range(1, len(word) + 1):
                start = time.perf_counter()
                picker.query.text = word[:k]
                picker.matches()
                picker.rows(100)
                costs.append((time.perf_counter() - start) * 1000.0)
                if picker._fill is not None and not picker._fill.done():
                    start = time.perf_counter()
                    await picker._fill
                    fills.append((time.perf_counter() - start) * 1000.0)
            picker.query.text = ""

    asyncio.run(typing())
    return costs, fills


def measure_browser(
    entries: Sequence[Any], runs: int, rng: random.Random
) -> tuple[Stats, Stats, Stats, Stats]:
    """The session browser over ``entries``: (time from opening it to its first paint, ms; the
    filter's cost per keystroke, name and message words typed a letter at a time, ms; the search
    text built after the first paint, ms). A keystroke is what the browser does for it: filter,
    lay out the visible rows; the fourth: each letters-in-order fill that went on after a
    keystroke, on the event loop a slice at a time, awaited before the next keystroke, ms)."""
    paints, picker = _paints(entries, runs)
    start = time.perf_counter()
    picker.filter.prepare()
    prepare_ms = (time.perf_counter() - start) * 1000.0
    costs, fills = _type_words(picker, _filter_words(entries, rng))
    return Stats(tuple(paints)), Stats(tuple(costs)), Stats((prepare_ms,)), Stats(tuple(fills) or (0.0,))


def _pty_row(results: Results, work: Workspace, store: Path, runs: int, scale: str, *, big: bool) -> None:
    pty = measure_browser_pty(work, store, runs)
    results.add(
        Row(
            "browser: `chatcli --resume` from spawn to the first paint (pty), ms",
            scale,
            pty.mmm(),
            target="≤ 300 ms" if big else "",
            verdict=verdict(pty.median <= 300.0) if big else "",
        )
    )


def browser_rows(
    results: Results, corpus: Path, n: int, runs: int, *, work: Workspace, store: Path | None
) -> None:
    """The browser's rows at ``n`` sessions (issue 15: first paint ≤ 300 ms, ≤ 50 ms a keystroke);
    with ``store`` (the corpus imported), ``chatcli --resume`` to the first paint too."""
    progress(f"session browser at {fmt_n(n)} sessions")
    scale = f"{fmt_n(n)} sessions"
    big = n >= BIG_SIZE
    if store is not None and store.is_dir() and pexpect_available():
        _pty_row(results, work, store, runs, scale, big=big)
    paint, keys, prepare, fills = measure_browser(browser_entries(corpus), runs, random.Random(n))
    results.add(
        Row(
            "browser: opening to first paint (entries in memory), ms",
            scale,
            paint.mmm(),
            target="≤ 300 ms" if big else "",
            verdict=verdict(paint.median <= 300.0) if big else "",
        )
    )
    results.add(
        Row(
            f"browser: filter + rows per keystroke ({len(keys.values)} keystrokes), median / p95 ms",
            scale,
            f"{fmt_ms(keys.median)} / {fmt_ms(keys.percentile(95))} (max {fmt_ms(keys.max)})",
            target="≤ 50 ms" if big else "",
            verdict=verdict(keys.median <= 50.0) if big else "",
        )
    )
    results.add(
        Row(
            f"browser: letters-in-order fill after a keystroke ({len(fills.values)}; in slices, "
            "between keystrokes), median / max ms",
            scale,
            f"{fmt_ms(fills.median)} / {fmt_ms(fills.max)}",
        )
    )
    results.add(
        Row(
            "browser: search text build (worker thread, after the first paint), ms",
            scale,
            fmt_ms(prepare.median),
        )
    )


def run_browser_only(opts: Options) -> Results:
    """``--browser-only``: the browser's rows at each size, from the cached corpora (the corpus is
    written when missing; nothing is imported)."""
    chatcli = Path(sys.executable).parent / "chatcli"
    work = Workspace(opts.workdir, opts.shared, chatcli, opts.timeout, rebuild=False)
    work.chatcli = installed_chatcli(work)
    results = Results()
    results.notes.append("Only the session browser was measured (--browser-only).")
    for n in opts.sizes:
        corpus = work.datasets / f"sessions-{n}" / "corpus.jsonl"
        if not corpus.exists():
            corpus.parent.mkdir(parents=True, exist_ok=True)
            work.write_corpus(corpus, n, 6, 7, None)
        browser_rows(results, corpus, n, opts.runs, work=work, store=corpus.parent / "chatcli")
    return results

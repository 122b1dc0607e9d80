"""The benchmark harness (``scripts/bench.py`` and its package ``scripts/benchkit``): its command
line survives the split into modules, and the import's CPU figures read what they say."""

from __future__ import annotations

import contextlib
import importlib
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import REPO_ROOT, write_corpus

SCRIPTS = REPO_ROOT / "scripts"

#: Every option of ``bench.py`` (README.md, scripts/README.md and BENCHMARKS.md name them).
OPTIONS = (
    "--sizes",
    "--big",
    "--lengths",
    "--runs",
    "--quick",
    "--word",
    "--workdir",
    "--shared",
    "--output",
    "--timeout",
    "--rebuild",
    "--no-llm",
    "--browser-only",
    "--writes",
    "--searches",
)


def _module(monkeypatch: pytest.MonkeyPatch, name: str) -> ModuleType:
    """``benchkit.<name>``, imported as ``scripts/bench.py`` imports it (``scripts/`` on the path)."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    return importlib.import_module(f"benchkit.{name}")


def test_bench_py_keeps_its_command_line() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "bench.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: bench.py")
    missing = [option for option in OPTIONS if option not in done.stdout]
    assert missing == []


def test_a_childs_cpu_time_is_read_around_its_run(monkeypatch: pytest.MonkeyPatch) -> None:
    procs = _module(monkeypatch, "procs")
    before = procs.children_cpu()
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
    subprocess.run([sys.executable, "-c", burn], check=True, timeout=60)
    spent = procs.children_cpu().since(before)
    assert spent.total >= 0.3  # what the child burnt (user + sys), and its start-up
    assert spent.total == pytest.approx(spent.user + spent.sys) and spent.user > 0


def test_the_median_cpu_run_is_shown_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    procs = _module(monkeypatch, "procs")
    results = _module(monkeypatch, "results")
    runs = [procs.CpuTime(8.0, 3.0), procs.CpuTime(9.0, 0.5), procs.CpuTime(6.0, 1.0)]
    assert results.median_cpu(runs) == procs.CpuTime(9.0, 0.5)  # totals 11, 9.5, 7: the middle one
    assert results.median_cpu(runs[1:]) == procs.CpuTime(6.0, 1.0)  # an even count: the lower one
    assert results.fmt_cpu(procs.CpuTime(8.2, 1.6)) == "9.80 core-s (user 8.20 + sys 1.60)"


def test_the_fts5_floor_inserts_every_message_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    floor = _module(monkeypatch, "fts_floor")
    corpus = tmp_path / "corpus.jsonl"
    records = write_corpus(corpus, sessions=3, turns=2)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    runs, messages = floor.measure_fts5_floor(corpus, scratch, runs=2)
    assert messages == sum(len(record["messages"]) for record in records) == 12
    assert len(runs) == 2 and all(run.cpu.total >= 0 and run.wall_seconds > 0 for run in runs)
    assert list(scratch.iterdir()) == []


def test_the_fts5_floor_table_is_shaped_like_content_words(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    floor = _module(monkeypatch, "fts_floor")
    rows = [(rowid, "Grüße from the Café", "Grüße from the Café") for rowid in range(1, floor.BATCH + 2)]
    ascii_row = floor.BATCH + 2
    rows.append((ascii_row, "plain ascii text", None))
    floor._insert_all(tmp_path / "floor.sqlite3", rows)
    with contextlib.closing(sqlite3.connect(tmp_path / "floor.sqlite3")) as conn:
        count = conn.execute("SELECT count(*) FROM content_words WHERE content_words MATCH 'cafe'").fetchone()
        kept = conn.execute("SELECT original FROM content_words WHERE rowid = ?", (ascii_row,)).fetchone()
        mode = conn.execute("PRAGMA journal_mode").fetchone()
    assert count == (floor.BATCH + 1,)  # every row, over two transactions; accents folded
    assert kept == (None,)
    assert mode == ("wal",)

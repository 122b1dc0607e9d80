"""The command line of ``scripts/bench.py``: its options, and which benchmarks a run makes and
where their text goes (the whole report, or one section of it for ``--writes`` and ``--searches``)."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from benchkit.common import (
    BIG_SIZE,
    DEFAULT_LENGTHS,
    DEFAULT_OUTPUT,
    DEFAULT_RUNS,
    DEFAULT_SHARED,
    DEFAULT_SIZES,
    DEFAULT_TIMEOUT,
    DEFAULT_WORD,
    DEFAULT_WORKDIR,
    QUICK_RUNS,
    REPO,
    SCRIPT,
    BenchError,
    Options,
    progress,
)
from benchkit.reads import run_benchmarks
from benchkit.report import replace_section, report
from benchkit.results import Results
from benchkit.search import SEARCH_SECTION, run_search_benchmarks, search_section
from benchkit.writes import WRITES_SECTION, run_write_benchmarks, write_section


def parse_sizes(text: str) -> tuple[int, ...]:
    """``1000,10_000 100000`` → ``(1000, 10000, 100000)``; anything else is a usage error."""
    try:
        values = tuple(
            int(part.replace("_", "").replace(",", "")) for part in re.split(r"[,\s]+", text) if part
        )
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text!r}") from exc
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"sizes must be positive whole numbers: {text!r}")
    return values


def _add_mode_options(ap: argparse.ArgumentParser) -> None:
    """The options that measure one family only, each written as its own section."""
    ap.add_argument(
        "--browser-only",
        action="store_true",
        help="measure only the session browser, from the cached corpora of --sizes (no store is built)",
    )
    ap.add_argument(
        "--writes",
        action="store_true",
        help="only the write-path figures (issue 15: import, listing after cp -a, snapshot refresh "
        "after an append), written as their own section of the report",
    )
    ap.add_argument(
        "--searches",
        action="store_true",
        help="only the content search figures (issue 15) at --sizes, on the cached data sets, "
        "written as their own section of the report (scripts/benchkit/search.py)",
    )


def build_arg_parser() -> argparse.ArgumentParser:
    """``bench.py``'s options."""
    ap = argparse.ArgumentParser(
        prog="bench.py",
        description="Benchmark chatcli against simonw's llm on the same corpus (issue 5).",
    )
    ap.add_argument(
        "--sizes",
        type=parse_sizes,
        help="store sizes in sessions, comma separated (default 1000,10000; 100000 with --big)",
    )
    ap.add_argument("--big", action="store_true", help="also run at 100,000 sessions")
    ap.add_argument(
        "--lengths",
        type=parse_sizes,
        default=DEFAULT_LENGTHS,
        help="session lengths in messages for show/resume/append growth (default 1,1000,10000)",
    )
    ap.add_argument("--runs", type=int, help=f"timed runs per process figure (default {DEFAULT_RUNS})")
    ap.add_argument("--quick", action="store_true", help=f"smoke check: sizes 1000, {QUICK_RUNS} runs")
    ap.add_argument("--word", default=DEFAULT_WORD, help=f"search word (default {DEFAULT_WORD!r})")
    ap.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="cache and scratch folder")
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="folder holding bench/make_corpus.py")
    ap.add_argument(
        "--output",
        help="where to write the report (default BENCHMARKS.md in the repo; with --quick only if "
        "given); '-' for nowhere",
    )
    ap.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds allowed per measured command"
    )
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached data sets that are used")
    ap.add_argument("--no-llm", action="store_true", help="do not install the peer (use it if present)")
    _add_mode_options(ap)
    return ap


def _command_line(argv: Sequence[str]) -> str:
    """The command as the report shows it: this interpreter and script, relative where they can be."""
    exe = os.path.relpath(sys.executable) if sys.executable.startswith(str(REPO)) else sys.executable
    script = os.path.relpath(SCRIPT) if not os.path.relpath(SCRIPT).startswith("..") else str(SCRIPT)
    return shlex.join([exe, script, *argv])


def options(argv: Sequence[str]) -> Options:
    """The parsed command line (defaults filled in: ``--quick``, ``--big``, ``--output``)."""
    ap = build_arg_parser()
    args = ap.parse_args(argv)
    sizes: tuple[int, ...] = args.sizes or ((1_000,) if args.quick else DEFAULT_SIZES)
    if args.big and BIG_SIZE not in sizes:
        sizes = (*sizes, BIG_SIZE)
    runs = args.runs or (QUICK_RUNS if args.quick else DEFAULT_RUNS)
    if runs < 1:
        ap.error("--runs must be at least 1")
    if args.output == "-":
        output = None
    elif args.output:
        output = Path(args.output)
    else:
        output = None if args.quick else DEFAULT_OUTPUT
    return Options(
        tuple(sorted(set(sizes))),
        args.lengths,
        runs,
        args.word,
        args.workdir.absolute(),
        args.shared.absolute(),
        output,
        args.timeout,
        not args.no_llm,
        args.rebuild,
        _command_line(argv),
        args.browser_only,
        args.writes,
        args.searches,
    )


def _write_out(opts: Options, text: str, heading: str | None) -> None:
    """Print ``text``, and write it to ``--output``: the whole file, or in place of the section
    headed ``heading``."""
    print(text)
    if opts.output is None:
        return
    if heading is None:
        opts.output.write_text(text, encoding="utf-8")
    else:
        replace_section(opts.output, text, heading)
    progress(f"wrote {opts.output}")


def _searches(opts: Options, start: float) -> int:
    """``--searches``: see :mod:`benchkit.search`."""
    try:
        results = run_search_benchmarks(opts)
    except BenchError as exc:
        print(f"bench.py: error: {exc}", file=sys.stderr)
        return 1
    _write_out(opts, search_section(opts, results, time.perf_counter() - start), SEARCH_SECTION)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``bench.py`` with ``argv`` (default: this process's arguments); the exit status."""
    opts = options(sys.argv[1:] if argv is None else argv)
    when = datetime.now(UTC)
    start = time.perf_counter()
    if opts.searches:
        return _searches(opts, start)
    try:
        results: Results = run_write_benchmarks(opts) if opts.writes else run_benchmarks(opts)
    except BenchError as exc:
        print(f"bench.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench.py: interrupted", file=sys.stderr)
        return 130
    elapsed = time.perf_counter() - start
    if opts.writes:
        _write_out(opts, write_section(opts, results, elapsed, when), WRITES_SECTION)
        return 0
    _write_out(opts, report(opts, results, elapsed, when), None)
    progress(f"done in {elapsed:.0f} s")
    return 0

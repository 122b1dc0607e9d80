"""What every part of the harness shares: its settings, its one error type, progress lines.

The constants are the harness's knobs (sizes, run counts, time limits, the words searched for);
:class:`Options` is the parsed command line every benchmark family reads.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: The checkout: ``scripts/benchkit/common.py`` is three levels below it.
REPO = Path(__file__).resolve().parent.parent.parent
#: The entry point, as the report's command line names it.
SCRIPT = REPO / "scripts" / "bench.py"
DEFAULT_SHARED = REPO.parent / "shared"
DEFAULT_WORKDIR = REPO / "bench-data"
DEFAULT_OUTPUT = REPO / "BENCHMARKS.md"
DEFAULT_SIZES = (1_000, 10_000)
BIG_SIZE = 100_000
DEFAULT_LENGTHS = (1, 1_000, 10_000)
RESUME_LENGTH = 2_000
DEFAULT_RUNS = 7
QUICK_RUNS = 3
DEFAULT_WORD = "kubernetes"
#: A word that occurs in no message of the corpus: the whole index (or every file) is searched.
NOWHERE_WORD = "zqxjvuwnowhere"
DEFAULT_TIMEOUT = 300.0
BUILD_TIMEOUT = 3 * 3600.0
PIP_TIMEOUT = 900.0
APPENDS = 200
APPEND_WARMUP = 5
COMPLETION_TARGETS = 25
RSS_RUNS = 2
PROMPT = "you \u203a".encode()
CPR_REQUEST = b"\x1b[6n"
MB = 1024 * 1024


#: A command line: its parts are strings or paths.
Cmd = Sequence[str | Path]


class BenchError(Exception):
    """A failure that stops the harness, with a message for the user."""


@dataclass(frozen=True, slots=True)
class Options:
    """The command line, parsed (see :mod:`benchkit.cli`)."""

    sizes: tuple[int, ...]
    lengths: tuple[int, ...]
    runs: int
    word: str
    workdir: Path
    shared: Path
    output: Path | None
    timeout: float
    install_llm: bool
    rebuild: bool
    command: str
    browser_only: bool = False
    writes: bool = False
    searches: bool = False


_T0 = time.perf_counter()


def progress(message: str) -> None:
    """A progress line on stderr (the table goes to stdout)."""
    print(f"[bench {time.perf_counter() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)


def tail(text: str, lines: int = 25) -> str:
    """The last ``lines`` lines of ``text``, indented, for error messages."""
    kept = text.strip().splitlines()[-lines:]
    return "\n".join("    " + line for line in kept) if kept else "    (no output)"

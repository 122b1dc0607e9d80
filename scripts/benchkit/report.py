"""The report: the machine and revision measured, the full run's BENCHMARKS.md text with its
method, and the replacement of one section (``--writes``, ``--searches``) in an existing file."""

from __future__ import annotations

import contextlib
import os
import platform
import sys
from datetime import datetime
from pathlib import Path

from benchkit.common import (
    APPEND_WARMUP,
    APPENDS,
    COMPLETION_TARGETS,
    REPO,
    RESUME_LENGTH,
    RSS_RUNS,
    BenchError,
    Options,
)
from benchkit.procs import rss_method, run_checked
from benchkit.results import Results, fmt_n, table


def machine() -> dict[str, str]:
    """nproc, CPU model, memory, Python and OS of this machine."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    nproc = str(len(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else str(os.cpu_count())
    return {
        "nproc": nproc,
        "CPU": cpu,
        "memory": memory,
        "python": f"{platform.python_version()} ({sys.executable})",
        "OS": platform.platform(),
    }


def git_revision() -> str:
    """The checkout's short commit, and whether ``chatcli/`` has uncommitted changes."""
    try:
        rev = run_checked(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], timeout=30).strip()
        dirty = run_checked(["git", "-C", REPO, "status", "--porcelain", "--", "chatcli"], timeout=30)
    except BenchError:
        return "unknown"
    return rev + (" (chatcli/ has uncommitted changes)" if dirty.strip() else "")


def _method() -> list[str]:
    """The full report's "Method" section."""
    return [
        "## Method",
        "",
        "- Data: `make_corpus.py --sessions N` (6 turns = 12 messages per session, seed 7) imported "
        "with `chatcli sessions --sessions-dir DIR import corpus.jsonl`, and loaded into llm with "
        "`LLM_USER_PATH=DIR load_llm.py corpus.jsonl`. Session-length data: one session of "
        "`make_corpus.py --sessions 1 --turns ⌈L/2⌉` (cut to its first message for L = 1).",
        "- Process figures: wall time from spawn to exit of the installed console scripts (stdout to "
        "/dev/null, `NO_COLOR=1`, user folders pointed into the work folder). chatcli is installed "
        "as the README's set-up does (`pip install .` of this checkout, not editable, in its own "
        "virtualenv `chatcli-venv` in the work folder). Both tools run from "
        "bytecode, as installed: chatcli's package and llm's virtualenv are compiled with "
        "`python -m compileall` first, and no `PYTHON*` variable (`PYTHONDONTWRITEBYTECODE`) reaches "
        "the measured processes. Ratio = chatcli median / llm median, measured in the same "
        "interleaved run. Peak RSS: the "
        f"largest of {RSS_RUNS} extra runs of each command, read with {rss_method()}.",
        "- `show` at N sessions uses the corpus's middle session; llm's `logs list --cid ID` shows "
        "its default 3 newest responses, chatcli's `show` the metadata and last 6 messages. "
        "load_llm.py stores user/assistant pairs, so llm's copy of the 1-message session is empty.",
        "- Completion: `SessionCompleter.get_completions` fully consumed for every keystroke of "
        f"`/sessions show ` followed by 8 characters of an id ({COMPLETION_TARGETS} sessions spread "
        f"over the list) and by whole names ({COMPLETION_TARGETS} named sessions); the p95 target is "
        "judged on the session-argument keystrokes.",
        f"- Append: {APPENDS} appends (after {APPEND_WARMUP} warm-up) to a copy of the L-message "
        "session; each is durable (write + fsync, metadata replaced atomically).",
        "- Resume (pty): `chatcli --resume ID` spawned in a 100×40 pseudo-terminal (pexpect), "
        "timed until the `you ›` prompt is drawn; cursor-position requests are answered. The "
        f"'N + 1 sessions' rows resume the {fmt_n(RESUME_LENGTH)}-message session imported into a "
        "copy of the N-session store, where the REPL also refreshes its completion snapshot.",
        "",
    ]


def report(opts: Options, results: Results, elapsed: float, when: datetime) -> str:
    """The full run's BENCHMARKS.md: context, the table, the method."""
    info = machine()
    lines = [
        "# Benchmarks",
        "",
        "Written by `scripts/bench.py` (issue 5); re-run it to refresh this file.",
        "",
        f"- date: {when.strftime('%Y-%m-%d %H:%M UTC')}",
        f"- command: `{opts.command}`",
        f"- chatcli revision: {git_revision()}",
        *(f"- {key}: {value}" for key, value in info.items()),
        f"- runs per process figure: {opts.runs} (after one warm-up run of each tool, interleaved)",
        f"- harness wall time: {elapsed:.0f} s",
        *(f"- {note}" for note in results.notes),
        "",
        table(results.rows),
        "",
        *_method(),
    ]
    return "\n".join(lines)


def replace_section(path: Path, section: str, heading: str) -> None:
    """Put ``section`` (headed ``heading``) in place of the file's previous one (the section is
    moved to the file's end)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    start = text.find(heading)
    if start >= 0:
        following = text.find("\n## ", start + len(heading))
        text = text[:start] + (text[following + 1 :] if following >= 0 else "")
    path.write_text(text.rstrip("\n") + "\n\n" + section, encoding="utf-8")

#!/usr/bin/env python3
"""Benchmark harness for chatcli, side by side with simonw's ``llm`` (issue 5).

Data is built through the public interface only: ``<shared>/bench/make_corpus.py`` writes a
deterministic JSON Lines corpus, ``chatcli sessions --sessions-dir DIR import corpus.jsonl`` (the
real command line, in a subprocess) loads it, and ``<shared>/bench/load_llm.py`` loads the same
corpus into ``llm``'s log database. Built data sets are cached under the work folder, keyed by
their size, so re-runs only measure.

Measured:

* whole processes (a warm-up, then ``--runs`` runs of each tool, interleaved; min / median /
  max wall time and peak RSS): ``sessions list``, ``sessions search``, ``sessions show`` and
  ``--version`` against their ``llm logs …`` counterparts, with the ratio chatcli/llm of medians;
* in this process (``import chatcli``): completion per keystroke over the REPL's sessions snapshot,
  ``FileRepository.append_message`` at several session lengths, resume (load + render of the
  last messages), and ``chatcli --resume ID`` to its first prompt in a pseudo-terminal.

One table is printed and the same figures are written to ``BENCHMARKS.md`` with the machine, the
date and the command used, each next to the issue's target.

usage: .venv/bin/python scripts/bench.py [--sizes 1000,10000] [--big] [--quick] [--runs 7] ...
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import importlib.util
import io
import json
import math
import os
import platform
import random
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
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


# ---------------------------------------------------------------------------------------- output


_T0 = time.perf_counter()


def progress(message: str) -> None:
    """A progress line on stderr (the table goes to stdout)."""
    print(f"[bench {time.perf_counter() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)


def tail(text: str, lines: int = 25) -> str:
    """The last ``lines`` lines of ``text``, indented, for error messages."""
    kept = text.strip().splitlines()[-lines:]
    return "\n".join("    " + line for line in kept) if kept else "    (no output)"


# ---------------------------------------------------------------------------------------- processes


def describe_cmd(cmd: Cmd) -> str:
    """A command line as the user could type it."""
    return shlex.join(str(part) for part in cmd)


def run_timed(cmd: Cmd, *, env: Mapping[str, str], cwd: Path, timeout: float) -> float:
    """Run ``cmd`` once (stdout to /dev/null) and return its wall time in milliseconds.

    A non-zero exit or a timeout raises :class:`BenchError` with the command's stderr.
    """
    with tempfile.TemporaryFile() as err:
        # No timeout on wait(): Popen polls with sleeps of up to 50 ms when given one, which
        # would quantise the timings. A timer kills the process instead.
        start = time.perf_counter()
        proc = subprocess.Popen(
            [str(part) for part in cmd],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=dict(env),
            cwd=cwd,
        )
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            code: int | None = proc.wait()
        finally:
            timer.cancel()
        elapsed = (time.perf_counter() - start) * 1000.0
        if code == -signal.SIGKILL and elapsed >= timeout * 1000.0:
            code = None
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    if code is None:
        raise BenchError(f"timed out after {timeout:.0f} s: {describe_cmd(cmd)}\n{tail(stderr)}")
    if code != 0:
        raise BenchError(f"exit code {code}: {describe_cmd(cmd)}\n{tail(stderr)}")
    return elapsed


#: Runs a command and prints its peak RSS in KiB. A child's ``ru_maxrss`` includes the size of
#: the process it was spawned from (Linux carries the high-water mark over fork/vfork and exec),
#: so the probe is spawned by something small: GNU time, else this few-megabyte Python helper.
_RSS_HELPER = (
    "import os,sys\n"
    "pid=os.posix_spawn(sys.argv[1],sys.argv[1:],os.environ,"
    "file_actions=[(os.POSIX_SPAWN_OPEN,1,os.devnull,os.O_WRONLY,0)])\n"
    "_,st,ru=os.wait4(pid,0)\n"
    "print(ru.ru_maxrss)\n"
    "sys.exit(os.waitstatus_to_exitcode(st))\n"
)
GNU_TIME = Path("/usr/bin/time")


def rss_method() -> str:
    """How peak RSS is read, for the report."""
    if GNU_TIME.is_file():
        return "`/usr/bin/time -f %M` (GNU time)"
    return "a small Python helper that spawns the command and reads `wait4`'s `ru_maxrss`"


def run_rss(cmd: Cmd, *, env: Mapping[str, str], cwd: Path, timeout: float) -> int:
    """Run ``cmd`` once and return its peak resident set size in bytes."""
    args = [str(part) for part in cmd]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rss"
        if GNU_TIME.is_file():
            probe = [str(GNU_TIME), "-f", "%M", "-o", str(out), *args]
        else:
            probe = [sys.executable, "-I", "-S", "-c", _RSS_HELPER, *args]
        try:
            text = run_checked(probe, env=env, cwd=cwd, timeout=timeout)
        except BenchError as exc:
            _, _, detail = str(exc).partition("\n")
            raise BenchError(f"failed in its peak-RSS run: {describe_cmd(cmd)}\n{detail}") from exc
        if out.exists():
            text = out.read_text()
    try:
        return int(text.strip().splitlines()[-1]) * 1024
    except (ValueError, IndexError) as exc:
        raise BenchError(f"could not read the peak RSS of {describe_cmd(cmd)}: {text!r}") from exc


def run_checked(
    cmd: Cmd,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float,
    stdout_path: Path | None = None,
) -> str:
    """Run a build step; returns its stdout (unless sent to ``stdout_path``); failures raise."""
    args = [str(part) for part in cmd]
    try:
        if stdout_path is not None:
            with stdout_path.open("wb") as out:
                done = subprocess.run(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.PIPE,
                    env=None if env is None else dict(env),
                    cwd=cwd,
                    timeout=timeout,
                    check=False,
                )
            stdout = ""
        else:
            done = subprocess.run(
                args,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env=None if env is None else dict(env),
                cwd=cwd,
                timeout=timeout,
                check=False,
            )
            stdout = done.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as exc:
        stderr = (exc.stderr or b"").decode("utf-8", "replace")
        raise BenchError(f"timed out after {timeout:.0f} s: {describe_cmd(args)}\n{tail(stderr)}") from exc
    except OSError as exc:
        raise BenchError(f"cannot run {describe_cmd(args)}: {exc}") from exc
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        raise BenchError(
            f"exit code {done.returncode}: {describe_cmd(args)}\n{tail(stderr + chr(10) + stdout)}"
        )
    return stdout


# ---------------------------------------------------------------------------------------- statistics


@dataclass(frozen=True, slots=True)
class Stats:
    """Summary of repeated measurements (milliseconds unless stated)."""

    values: tuple[float, ...]

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    def percentile(self, pct: float) -> float:
        """Nearest-rank percentile."""
        ordered = sorted(self.values)
        rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
        return ordered[rank - 1]

    def mmm(self) -> str:
        """``min / median / max``."""
        return f"{fmt_ms(self.min)} / {fmt_ms(self.median)} / {fmt_ms(self.max)}"


def fmt_ms(value: float) -> str:
    """Milliseconds with precision that suits their size."""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def fmt_mb(value: float) -> str:
    return f"{value / MB:.1f}"


def fmt_n(n: int) -> str:
    return f"{n:,}"


# ---------------------------------------------------------------------------------------- data sets


@dataclass(frozen=True, slots=True)
class Dataset:
    """One corpus, loaded into chatcli (and into llm when the peer is available)."""

    key: str
    corpus: Path
    store: Path
    llm_home: Path | None
    sessions: int
    messages_per_session: int | None
    build_seconds: float | None
    built_now: bool
    ids: tuple[str, ...]


class Workspace:
    """The work folder: cached data sets, the peer's virtualenv and scratch space."""

    def __init__(self, root: Path, shared: Path, chatcli: Path, timeout: float, *, rebuild: bool) -> None:
        self.root = root
        self.rebuild = rebuild
        self.shared = shared
        self.chatcli = chatcli
        self.timeout = timeout
        self.make_corpus = shared / "bench" / "make_corpus.py"
        self.load_llm = shared / "bench" / "load_llm.py"
        self.generator_sha = hashlib.sha256(self.make_corpus.read_bytes()).hexdigest()
        self.datasets = root / "datasets"
        self.scratch = root / "scratch"
        self.xdg = root / "xdg"
        for folder in (self.root, self.datasets, self.xdg):
            folder.mkdir(parents=True, exist_ok=True)
        if self.scratch.exists():
            shutil.rmtree(self.scratch)
        self.scratch.mkdir()
        self._datasets: dict[str, Dataset] = {}

    def env(self, **extra: str) -> dict[str, str]:
        """The environment every measured process runs in: no colour, isolated user folders, and no
        ``PYTHON*`` variable (``PYTHONDONTWRITEBYTECODE`` among them: see :func:`compile_bytecode`)."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CHATCLI_", "OPENAI_", "LLM_", "PYTHON", "VIRTUAL_ENV"))
        }
        env.update(
            NO_COLOR="1",
            COLUMNS="100",
            XDG_CONFIG_HOME=str(self.xdg / "config"),
            XDG_DATA_HOME=str(self.xdg / "data"),
            XDG_STATE_HOME=str(self.xdg / "state"),
            XDG_CACHE_HOME=str(self.xdg / "cache"),
            CHATCLI_LOG_DIR=str(self.xdg / "log"),
        )
        env.update(extra)
        return env

    # ----------------------------------------------------------------- building

    def _write_corpus(self, target: Path, sessions: int, turns: int, seed: int, keep: int | None) -> None:
        if target.exists():
            return
        partial = target.with_name(target.name + ".partial")
        run_checked(
            [
                sys.executable,
                self.make_corpus,
                "--sessions",
                str(sessions),
                "--turns",
                str(turns),
                "--seed",
                str(seed),
            ],
            timeout=BUILD_TIMEOUT,
            stdout_path=partial,
        )
        if keep is not None:
            # Session length 1: the corpus's first session cut to its first ``keep`` messages.
            lines = []
            for line in partial.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                record["messages"] = record["messages"][:keep]
                record["last_active"] = record["messages"][-1]["timestamp"]
                lines.append(json.dumps(record))
            partial.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        partial.rename(target)

    def _import_chatcli(self, corpus: Path, store: Path, expected: int) -> float:
        """``chatcli sessions --sessions-dir STORE import CORPUS``; returns the seconds it took."""
        partial = store.with_name(store.name + ".partial")
        if partial.exists():
            shutil.rmtree(partial)
        start = time.perf_counter()
        run_checked(
            [self.chatcli, "sessions", "--sessions-dir", partial, "import", corpus],
            env=self.env(),
            cwd=self.root,
            timeout=BUILD_TIMEOUT,
            stdout_path=store.with_name("import.log"),
        )
        seconds = time.perf_counter() - start
        found = sum(1 for entry in os.scandir(partial) if not entry.name.startswith("."))
        if found != expected:
            raise BenchError(
                f"chatcli imported {found} sessions from {corpus}, expected {expected}; "
                f"see {store.with_name('import.log')}"
            )
        partial.rename(store)
        return seconds

    def _load_llm(self, corpus: Path, home: Path, peer: Peer) -> None:
        partial = home.with_name(home.name + ".partial")
        if partial.exists():
            shutil.rmtree(partial)
        run_checked(
            [peer.python, self.load_llm, corpus],
            env=self.env(LLM_USER_PATH=str(partial)),
            cwd=self.root,
            timeout=BUILD_TIMEOUT,
        )
        partial.rename(home)

    def dataset(
        self,
        key: str,
        *,
        sessions: int,
        turns: int,
        seed: int,
        keep: int | None,
        peer: Peer | None,
    ) -> Dataset:
        """A cached data set (built on first use): corpus, chatcli store and llm database."""
        known = self._datasets.get(key)
        if known is not None:
            return known
        folder = self.datasets / key
        info_path = folder / "build.json"
        recipe = {
            "sessions": sessions,
            "turns": turns,
            "seed": seed,
            "keep": keep,
            "make_corpus_sha256": self.generator_sha,
        }
        info: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            info = json.loads(info_path.read_text())
        if folder.exists() and (self.rebuild or info.get("recipe") != recipe):
            progress(f"{key}: rebuilding (--rebuild, or the cached data came from another recipe)")
            shutil.rmtree(folder)
            info = {}
        folder.mkdir(exist_ok=True)
        info["recipe"] = recipe
        info_path.write_text(json.dumps(info, indent=2))
        corpus = folder / "corpus.jsonl"
        store = folder / "chatcli"
        llm_home = folder / "llm"
        built_now = False
        if not corpus.exists():
            progress(f"{key}: writing the corpus (make_corpus.py --sessions {sessions} --turns {turns})")
            self._write_corpus(corpus, sessions, turns, seed, keep)
        if not store.exists():
            progress(f"{key}: importing {fmt_n(sessions)} session(s) with `chatcli sessions import`")
            info["chatcli_import_seconds"] = self._import_chatcli(corpus, store, sessions)
            built_now = True
            info_path.write_text(json.dumps(info, indent=2))
        if peer is not None and not llm_home.exists():
            progress(f"{key}: loading the corpus into llm (load_llm.py)")
            self._load_llm(corpus, llm_home, peer)
        ids = []
        messages: int | None = None
        with corpus.open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                ids.append(str(record["id"]))
                if messages is None:
                    messages = len(record["messages"])
        self._datasets[key] = Dataset(
            key,
            corpus,
            store,
            llm_home if peer is not None and llm_home.exists() else None,
            sessions,
            messages if keep is not None or sessions == 1 else None,
            info.get("chatcli_import_seconds"),
            built_now,
            tuple(ids),
        )
        return self._datasets[key]

    def by_size(self, n: int, peer: Peer | None) -> Dataset:
        """``n`` sessions of make_corpus's default shape (6 turns: 12 messages each)."""
        return self.dataset(f"sessions-{n}", sessions=n, turns=6, seed=7, keep=None, peer=peer)

    def by_length(self, length: int, peer: Peer | None) -> Dataset:
        """One session of ``length`` messages (its own seed, so its id is new to every store)."""
        turns = max(1, math.ceil(length / 2))
        keep = length if length % 2 else None
        return self.dataset(
            f"length-{length}", sessions=1, turns=turns, seed=1000 + length, keep=keep, peer=peer
        )

    def scratch_copy(self, store: Path, name: str) -> Path:
        """A throw-away copy of a store, for measurements that write."""
        target = self.scratch / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(store, target, symlinks=True)
        return target


# ---------------------------------------------------------------------------------------- the peer


@dataclass(frozen=True, slots=True)
class Peer:
    """simonw's ``llm`` installed in its own virtualenv."""

    python: Path
    llm: Path
    version: str


def compile_bytecode(peer: Peer | None) -> None:
    """Compile chatcli's package, and the peer's virtualenv, to bytecode before anything is timed.

    A user's install has its ``.pyc`` files (pip compiles what it installs); a process that finds
    none compiles every module it imports, every time when ``PYTHONDONTWRITEBYTECODE`` is set
    (as on some build machines): that would time the compiler, not the tool. Both tools get the
    same treatment, and the measured processes run without that variable (:meth:`Workspace.env`).
    """
    spec = importlib.util.find_spec("chatcli")
    if spec is None or spec.origin is None:
        raise BenchError(
            "chatcli is not importable by this interpreter: run .venv/bin/python scripts/bench.py"
        )
    targets = [(Path(sys.executable), Path(spec.origin).parent)]
    if peer is not None:
        where = run_checked(
            [peer.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], timeout=120
        )
        targets.append((peer.python, Path(where.strip())))
    for python, folder in targets:
        progress(f"compiling {folder} to bytecode")
        run_checked([python, "-m", "compileall", "-q", "-j", "0", str(folder)], timeout=PIP_TIMEOUT)


def installed_chatcli(work: Workspace) -> Path:
    """chatcli installed as the README's set-up does (``pip install .``: not editable, bytecode
    compiled by pip) in ``<workdir>/chatcli-venv``, from this checkout; its console script.

    The development virtualenv's editable install adds an import hook to every start-up (some
    30 ms) that a user's install does not have: the processes timed are the user's.
    """
    venv = work.root / "chatcli-venv"
    python = venv / "bin" / "python"
    pip: list[str | Path] = [python, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    if not python.exists():
        progress(f"installing chatcli as a user would, in {venv}")
        run_checked([sys.executable, "-m", "venv", venv], timeout=PIP_TIMEOUT)
        run_checked([*pip, REPO], timeout=PIP_TIMEOUT)
    else:
        progress(f"reinstalling this checkout of chatcli in {venv}")
        run_checked([*pip, "--no-deps", "--force-reinstall", REPO], timeout=PIP_TIMEOUT)
    return venv / "bin" / "chatcli"


def ensure_peer(work: Workspace, *, install: bool) -> tuple[Peer | None, str]:
    """The ``llm`` peer (installed on demand in ``<workdir>/llm-venv``), or None and the reason."""
    venv = work.root / "llm-venv"
    python = venv / "bin" / "python"
    llm = venv / "bin" / "llm"

    def version() -> str:
        return run_checked([llm, "--version"], env=work.env(), timeout=120).strip()

    if llm.exists():
        try:
            return Peer(python, llm, version()), ""
        except BenchError as exc:
            progress(f"the llm virtualenv is broken; reinstalling ({str(exc).splitlines()[0]})")
            shutil.rmtree(venv)
    if not install:
        return None, "not installed (--no-llm)"
    try:
        progress(f"installing the peer: {sys.executable} -m venv {venv} && pip install llm")
        run_checked([sys.executable, "-m", "venv", venv], timeout=PIP_TIMEOUT)
        run_checked(
            [python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "llm"],
            timeout=PIP_TIMEOUT,
        )
        return Peer(python, llm, version()), ""
    except BenchError as exc:
        shutil.rmtree(venv, ignore_errors=True)
        return None, "could not be installed: " + str(exc).splitlines()[0]


# ---------------------------------------------------------------------------------------- results


@dataclass(slots=True)
class Row:
    """One line of the results table."""

    what: str
    scale: str
    chatcli: str
    llm: str = ""
    ratio: str = ""
    rss: str = ""
    target: str = ""
    verdict: str = ""


@dataclass(slots=True)
class Results:
    """Everything measured, in table order, plus the context the report needs."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    medians: dict[str, float] = field(default_factory=dict)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        cells = [row.what, row.scale, row.chatcli, row.llm, row.ratio, row.target, row.verdict]
        progress("  " + " | ".join(cell for cell in cells if cell))


def verdict(ok: bool) -> str:
    return "met" if ok else "**NOT met**"


# ---------------------------------------------------------------------------------------- process pairs


@dataclass(frozen=True, slots=True)
class PairResult:
    """Timings of a chatcli command and, when the peer is there, of its llm counterpart."""

    chatcli: Stats
    chatcli_rss: int
    llm: Stats | None
    llm_rss: int | None

    @property
    def ratio(self) -> float | None:
        return None if self.llm is None else self.chatcli.median / self.llm.median


def time_pair(
    work: Workspace,
    *,
    chatcli_cmd: Cmd,
    chatcli_env: Mapping[str, str],
    llm_cmd: Cmd | None,
    llm_env: Mapping[str, str] | None,
    runs: int,
) -> PairResult:
    """A warm-up of each, then ``runs`` runs of each, interleaved (the order alternates)."""
    jobs: list[tuple[Cmd, Mapping[str, str]]] = [(chatcli_cmd, chatcli_env)]
    if llm_cmd is not None and llm_env is not None:
        jobs.append((llm_cmd, llm_env))
    samples: list[list[float]] = [[] for _ in jobs]
    for cmd, env in jobs:
        run_timed(cmd, env=env, cwd=work.root, timeout=work.timeout)
    for i in range(runs):
        order = range(len(jobs)) if i % 2 == 0 else reversed(range(len(jobs)))
        for j in order:
            cmd, env = jobs[j]
            samples[j].append(run_timed(cmd, env=env, cwd=work.root, timeout=work.timeout))
    rss = [
        max(run_rss(cmd, env=env, cwd=work.root, timeout=work.timeout) for _ in range(RSS_RUNS))
        for cmd, env in jobs
    ]
    chatcli = Stats(tuple(samples[0]))
    if len(jobs) == 1:
        return PairResult(chatcli, rss[0], None, None)
    return PairResult(chatcli, rss[0], Stats(tuple(samples[1])), rss[1])


def pair_row(
    results: Results,
    what: str,
    scale: str,
    pair: PairResult,
    *,
    max_ratio: float | None,
    peer_missing: str,
) -> None:
    """A table row for a pair, judged against ``max_ratio`` (chatcli/llm of medians)."""
    ratio = pair.ratio
    target = verdict_text = ""
    if max_ratio is not None:
        target = f"≤ {max_ratio:g} × llm"
        verdict_text = "n/a (no peer)" if ratio is None else verdict(ratio <= max_ratio)
    results.add(
        Row(
            what,
            scale,
            pair.chatcli.mmm(),
            pair.llm.mmm() if pair.llm is not None else peer_missing,
            f"{ratio:.2f}" if ratio is not None else "—",
            fmt_mb(pair.chatcli_rss) + (f" / {fmt_mb(pair.llm_rss)}" if pair.llm_rss is not None else ""),
            target,
            verdict_text,
        )
    )


# ---------------------------------------------------------------------------------------- in-process


def measure_completion(store: Path, rng: random.Random) -> tuple[Stats, Stats, float, float]:
    """Keystrokes of ``/sessions show <id prefix>`` and ``… <name prefix>`` through the completer.

    As in the REPL, the snapshot is refreshed and then its search structure built (both on the
    REPL's background thread) before any keystroke. Returns (every keystroke, session-argument
    keystrokes only, snapshot build ms, search structure build ms).
    """
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    from chatcli.commands.catalog import build_registry
    from chatcli.repl.completion.completer import SessionCompleter
    from chatcli.repl.completion.ranking import warm_session_index
    from chatcli.repl.completion.snapshot import SnapshotCache
    from chatcli.session.service import SessionService
    from chatcli.session.store import FileRepository

    snapshots = SnapshotCache(SessionService(FileRepository(store)))
    start = time.perf_counter()
    snapshot = snapshots.refresh(force=True)
    snapshot_ms = (time.perf_counter() - start) * 1000.0
    start = time.perf_counter()
    warm_session_index(snapshot)
    index_ms = (time.perf_counter() - start) * 1000.0
    completer = SessionCompleter(build_registry(), snapshots.current)
    entries = snapshot.entries
    if not entries:
        raise BenchError(f"the snapshot of {store} is empty")
    step = max(1, len(entries) // COMPLETION_TARGETS)
    targets = list(entries[::step][:COMPLETION_TARGETS])
    named = [e for e in entries if e.name]
    rng.shuffle(named)
    head = "/sessions show "
    typed: list[tuple[str, bool]] = []
    for entry in targets:
        typed += [(head[:k], False) for k in range(1, len(head) + 1)]
        typed += [(head + entry.id[:k], True) for k in range(1, 9)]
    for entry in named[:COMPLETION_TARGETS]:
        assert entry.name is not None
        typed += [(head + entry.name[:k], True) for k in range(1, len(entry.name) + 1)]
    event = CompleteEvent(text_inserted=True)
    every: list[float] = []
    argument: list[float] = []
    for text, _ in typed[:50]:  # warm-up
        list(completer.get_completions(Document(text, len(text)), event))
    for text, is_argument in typed:
        doc = Document(text, len(text))
        start = time.perf_counter()
        list(completer.get_completions(doc, event))
        ms = (time.perf_counter() - start) * 1000.0
        every.append(ms)
        if is_argument:
            argument.append(ms)
    return Stats(tuple(every)), Stats(tuple(argument)), snapshot_ms, index_ms


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


def measure_browser(
    entries: Sequence[Any], runs: int, rng: random.Random
) -> tuple[Stats, Stats, Stats, Stats]:
    """The session browser over ``entries``: (time from opening it to its first paint, ms; the
    filter's cost per keystroke, name and message words typed a letter at a time, ms; the search
    text built after the first paint, ms). A keystroke is what the browser does for it: filter,
    lay out the visible rows; the fourth: each letters-in-order fill that went on after a
    keystroke, on the event loop a slice at a time, awaited before the next keystroke, ms)."""
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from chatcli.repl.picker import _Picker, _picker_app

    paints: list[float] = []

    def open_once(pipe: Any) -> _Picker:
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
    start = time.perf_counter()
    picker.filter.prepare()
    prepare_ms = (time.perf_counter() - start) * 1000.0
    words: list[str] = []
    for entry in rng.sample(list(entries), 10):
        words.append(entry.name or entry.first_message.split()[0])
        words.append(rng.choice(entry.first_message.split()).lower())
    words += ["zqxjv", "kubernetesx"]  # no match: every session looked at
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
    return Stats(tuple(paints)), Stats(tuple(costs)), Stats((prepare_ms,)), Stats(tuple(fills) or (0.0,))


def browser_rows(
    results: Results, corpus: Path, n: int, runs: int, *, work: Workspace, store: Path | None
) -> None:
    """The browser's rows at ``n`` sessions (issue 15: first paint ≤ 300 ms, ≤ 50 ms a keystroke);
    with ``store`` (the corpus imported), ``chatcli --resume`` to the first paint too."""
    progress(f"session browser at {fmt_n(n)} sessions")
    scale = f"{fmt_n(n)} sessions"
    big = n >= BIG_SIZE
    if store is not None and store.is_dir() and pexpect_available():
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


def measure_content_index(
    results: Results, work: Workspace, ds: Dataset, scale: str, *, chatcli_env: Mapping[str, str]
) -> None:
    """The content index of a data set: the first search of this run (it indexes every session
    not indexed yet: all of them on a fresh store), and the index's size beside the transcripts'."""
    cmd: list[str | Path] = [work.chatcli, "sessions", "--sessions-dir", ds.store, "search", NOWHERE_WORD]
    index = ds.store / ".index" / "sessions.sqlite3"
    was = index_sizes(index)
    first = run_timed(cmd, env=chatcli_env, cwd=work.root, timeout=work.timeout)
    built = index_sizes(index) > was * 1.5
    results.add(
        Row(
            "first search of the run, s"
            + (" (built the content index)" if built else " (index already built)"),
            scale,
            f"{first / 1000:.2f}",
        )
    )
    transcripts = sum(p.stat().st_size for p in ds.store.glob("*/conversation.jsonl"))
    size = index_sizes(index)
    results.add(
        Row(
            "index size (metadata + content, `.index/`), MB; transcripts MB",
            scale,
            f"{fmt_mb(size)}; {fmt_mb(transcripts)} ({size / max(transcripts, 1):.2f}×)",
        )
    )


def index_sizes(index: Path) -> int:
    """Bytes of the index database and the files SQLite keeps beside it."""
    return sum(
        os.path.getsize(f"{index}{suffix}") for suffix in ("", "-wal") if os.path.exists(f"{index}{suffix}")
    )


def measure_append(store: Path, session_id: str, appends: int) -> Stats:
    """``FileRepository.append_message`` on one session, ``appends`` times (after a warm-up)."""
    from chatcli.session.models import Message
    from chatcli.session.store import FileRepository

    repo = FileRepository(store)
    rng = random.Random(11)
    words = ("append", "benchmark", "message", "durable", "fsync", "session", "metadata", "atomic")
    times: list[float] = []
    for i in range(APPEND_WARMUP + appends):
        content = " ".join(rng.choice(words) for _ in range(rng.randint(20, 60)))
        message = Message(role="user" if i % 2 == 0 else "assistant", content=content)
        start = time.perf_counter()
        repo.append_message(session_id, message)
        if i >= APPEND_WARMUP:
            times.append((time.perf_counter() - start) * 1000.0)
    return Stats(tuple(times))


def measure_resume_inprocess(store: Path, session_id: str, runs: int) -> Stats:
    """``SessionService.load`` plus ``render_resumed`` into an in-memory terminal console."""
    from chatcli.render.console import make_console
    from chatcli.render.transcript import render_resumed
    from chatcli.session.service import SessionService
    from chatcli.session.store import FileRepository

    service = SessionService(FileRepository(store))
    env = {"TERM": "xterm-256color", "COLUMNS": "100"}
    times: list[float] = []
    for i in range(runs + 1):
        console = make_console(file=io.StringIO(), force_plain=False, env=env)
        start = time.perf_counter()
        loaded = service.load(session_id)
        render_resumed(loaded, console)
        if i > 0:
            times.append((time.perf_counter() - start) * 1000.0)
    return Stats(tuple(times))


def measure_resume_pty(work: Workspace, store: Path, session_id: str, runs: int) -> Stats:
    """``chatcli --resume ID`` in a pseudo-terminal, from spawn to its first prompt."""
    import pexpect  # type: ignore[import-untyped]

    env = work.env(TERM="xterm-256color")
    env.pop("COLUMNS", None)
    args = ["--sessions-dir", str(store), "--resume", session_id]
    times: list[float] = []
    for i in range(runs + 1):
        start = time.perf_counter()
        child = pexpect.spawn(
            str(work.chatcli), args, env=env, cwd=str(work.root), dimensions=(40, 100), timeout=work.timeout
        )
        child.delaybeforesend = None  # pexpect sleeps 50 ms before each send by default
        try:
            while True:
                # Answer the cursor-position request as a real terminal would.
                index = child.expect_exact([CPR_REQUEST, PROMPT])
                if index == 1:
                    break
                child.send(b"\x1b[1;1R")
            elapsed = (time.perf_counter() - start) * 1000.0
        except (pexpect.TIMEOUT, pexpect.EOF) as exc:
            seen = (child.before or b"").decode("utf-8", "replace")
            raise BenchError(
                f"chatcli --resume did not reach its prompt ({type(exc).__name__}):\n{tail(seen)}"
            ) from exc
        finally:
            child.close(force=True)
        if i > 0:
            times.append(elapsed)
    return Stats(tuple(times))


def measure_browser_pty(work: Workspace, store: Path, runs: int) -> Stats:
    """``chatcli --resume`` (no ID) in a pseudo-terminal, from spawn to the browser's first paint
    (its status line drawn), then Esc."""
    import pexpect

    env = work.env(TERM="xterm-256color")
    env.pop("COLUMNS", None)
    times: list[float] = []
    for i in range(runs + 1):
        start = time.perf_counter()
        child = pexpect.spawn(
            str(work.chatcli),
            ["--sessions-dir", str(store), "--resume"],
            env=env,
            cwd=str(work.root),
            dimensions=(40, 100),
            timeout=work.timeout,
        )
        child.delaybeforesend = None
        try:
            while child.expect_exact([CPR_REQUEST, b"Esc cancels"]) == 0:
                child.send(b"\x1b[1;1R")
            elapsed = (time.perf_counter() - start) * 1000.0
            child.send(b"\x1b")
            child.expect_exact(b"No session chosen")
        except (pexpect.TIMEOUT, pexpect.EOF) as exc:
            seen = (child.before or b"").decode("utf-8", "replace")
            raise BenchError(
                f"chatcli --resume did not paint its browser ({type(exc).__name__}):\n{tail(seen)}"
            ) from exc
        finally:
            child.close(force=True)
        if i > 0:
            times.append(elapsed)
    return Stats(tuple(times))


def pexpect_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("pexpect") is not None


# ---------------------------------------------------------------------------------------- machine


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
    try:
        rev = run_checked(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], timeout=30).strip()
        dirty = run_checked(["git", "-C", REPO, "status", "--porcelain", "--", "chatcli"], timeout=30)
    except BenchError:
        return "unknown"
    return rev + (" (chatcli/ has uncommitted changes)" if dirty.strip() else "")


# ---------------------------------------------------------------------------------------- the run


@dataclass(frozen=True, slots=True)
class Options:
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
            work._write_corpus(corpus, n, 6, 7, None)
        browser_rows(results, corpus, n, opts.runs, work=work, store=corpus.parent / "chatcli")
    return results


def run_benchmarks(opts: Options) -> Results:
    """Build what is missing, measure everything, return the table."""
    if opts.browser_only:
        return run_browser_only(opts)
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
    work = Workspace(opts.workdir, opts.shared, chatcli, opts.timeout, rebuild=opts.rebuild)
    work.chatcli = chatcli = installed_chatcli(work)
    results = Results()
    peer, why = ensure_peer(work, install=opts.install_llm)
    missing = f"unavailable ({why})" if peer is None else ""
    if peer is None:
        results.notes.append(f"The peer llm is unavailable: {why}. Only chatcli's figures were measured.")
        progress(f"peer llm unavailable: {why}")
    else:
        results.notes.append(f"Peer: {peer.version}, in its own virtualenv {peer.python.parent.parent}.")
    compile_bytecode(peer)
    cenv = work.env()

    def llm_env(ds: Dataset) -> dict[str, str] | None:
        return None if ds.llm_home is None else work.env(LLM_USER_PATH=str(ds.llm_home))

    def llm_cmd(ds: Dataset, *args: str) -> list[str] | None:
        return None if peer is None or ds.llm_home is None else [str(peer.llm), *args]

    # --version does not depend on the data.
    progress("timing --version")
    version_env = work.env(LLM_USER_PATH=str(work.root / "llm-empty"))
    pair = time_pair(
        work,
        chatcli_cmd=[chatcli, "--version"],
        chatcli_env=cenv,
        llm_cmd=None if peer is None else [peer.llm, "--version"],
        llm_env=version_env,
        runs=opts.runs,
    )
    pair_row(results, "`--version`", "—", pair, max_ratio=0.25, peer_missing=missing)

    list_medians: dict[int, float] = {}
    for n in opts.sizes:
        ds = work.by_size(n, peer)
        scale = f"{fmt_n(n)} sessions"
        sdir = str(ds.store)
        show_id = ds.ids[len(ds.ids) // 2]
        progress(f"timing process pairs at {scale}")
        pair = time_pair(
            work,
            chatcli_cmd=[chatcli, "sessions", "--sessions-dir", sdir, "list", "--limit", "20"],
            chatcli_env=cenv,
            llm_cmd=llm_cmd(ds, "logs", "list", "-n", "20", "-s"),
            llm_env=llm_env(ds),
            runs=opts.runs,
        )
        list_medians[n] = pair.chatcli.median
        pair_row(
            results,
            "`sessions list --limit 20` vs `llm logs list -n 20 -s`",
            scale,
            pair,
            max_ratio=0.25 if n == 10_000 else None,
            peer_missing=missing,
        )
        mem_target = 80 * MB
        results.add(
            Row(
                "peak RSS of `sessions list --limit 20` (MB)",
                scale,
                fmt_mb(pair.chatcli_rss),
                fmt_mb(pair.llm_rss) if pair.llm_rss is not None else missing,
                f"{pair.chatcli_rss / pair.llm_rss:.2f}" if pair.llm_rss else "—",
                "",
                "≤ 80 MB" if n == 10_000 else "",
                verdict(pair.chatcli_rss <= mem_target) if n == 10_000 else "",
            )
        )
        measure_content_index(results, work, ds, scale, chatcli_env=cenv)
        pair = time_pair(
            work,
            chatcli_cmd=[
                chatcli,
                "sessions",
                "--sessions-dir",
                sdir,
                "search",
                NOWHERE_WORD,
                "--limit",
                "20",
            ],
            chatcli_env=cenv,
            llm_cmd=llm_cmd(ds, "logs", "list", "-q", NOWHERE_WORD, "-n", "20", "-s"),
            llm_env=llm_env(ds),
            runs=opts.runs,
        )
        pair_row(
            results,
            f"search (word that occurs nowhere): `sessions search {NOWHERE_WORD}` vs `llm logs list -q …`",
            scale,
            pair,
            max_ratio=0.1 if n == 10_000 else None,
            peer_missing=missing,
        )
        pair = time_pair(
            work,
            chatcli_cmd=[chatcli, "sessions", "--sessions-dir", sdir, "search", opts.word, "--limit", "20"],
            chatcli_env=cenv,
            llm_cmd=llm_cmd(ds, "logs", "list", "-q", opts.word, "-n", "20", "-s"),
            llm_env=llm_env(ds),
            runs=opts.runs,
        )
        pair_row(
            results,
            f"`sessions search {opts.word} --limit 20` vs `llm logs list -q {opts.word} -n 20 -s`",
            scale,
            pair,
            max_ratio=1.0 if n == 10_000 else None,
            peer_missing=missing,
        )
        pair = time_pair(
            work,
            chatcli_cmd=[chatcli, "sessions", "--sessions-dir", sdir, "show", show_id],
            chatcli_env=cenv,
            llm_cmd=llm_cmd(ds, "logs", "list", "--cid", show_id),
            llm_env=llm_env(ds),
            runs=opts.runs,
        )
        pair_row(
            results,
            "`sessions show ID` vs `llm logs list --cid ID` (12 messages)",
            scale,
            pair,
            max_ratio=0.5,
            peer_missing=missing,
        )
        browser_rows(results, ds.corpus, n, opts.runs, work=work, store=ds.store)
        progress(f"completion at {scale}")
        every, argument, snapshot_ms, index_ms = measure_completion(ds.store, random.Random(n))
        for label, stats in (("session-argument keystrokes", argument), ("all keystrokes", every)):
            p95 = stats.percentile(95)
            results.add(
                Row(
                    f"completion per keystroke, {label} ({len(stats.values)}), p50 / p95 ms",
                    scale,
                    f"{fmt_ms(stats.median)} / {fmt_ms(p95)} (max {fmt_ms(stats.max)})",
                    target="p95 ≤ 5 ms" if n == 10_000 else "",
                    verdict=verdict(p95 <= 5.0) if n == 10_000 else "",
                )
            )
        results.add(
            Row(
                "completion snapshot build (`SnapshotCache.refresh`, background thread), ms",
                scale,
                fmt_ms(snapshot_ms),
            )
        )
        results.add(
            Row(
                "completion search structure build (`warm_session_index`, background thread), ms",
                scale,
                fmt_ms(index_ms),
            )
        )
        if ds.build_seconds is not None:
            results.add(
                Row(
                    "build: `chatcli sessions import` of the corpus, s"
                    + ("" if ds.built_now else " (cached, from its build)"),
                    scale,
                    f"{ds.build_seconds:.1f}",
                )
            )

    if 10_000 in list_medians and BIG_SIZE in list_medians:
        growth = list_medians[BIG_SIZE] / list_medians[10_000]
        results.add(
            Row(
                "`sessions list --limit 20` median, 100,000 vs 10,000 sessions",
                "100k / 10k",
                f"{fmt_ms(list_medians[BIG_SIZE])} / {fmt_ms(list_medians[10_000])} ms = {growth:.2f}×",
                target="≤ 2 × the 10k figure",
                verdict=verdict(growth <= 2.0),
            )
        )

    # Session length: show, resume and append cost growth.
    append_medians: dict[int, float] = {}
    have_pty = pexpect_available()
    if not have_pty:
        results.notes.append("pexpect is not installed: resume to first prompt was measured in-process only.")
    for length in sorted({*opts.lengths, RESUME_LENGTH}):
        ds = work.by_length(length, peer)
        sid = ds.ids[0]
        scale = f"1 session × {fmt_n(length)} msgs"
        is_resume = length == RESUME_LENGTH
        if length in opts.lengths:
            progress(f"timing show at {scale}")
            pair = time_pair(
                work,
                chatcli_cmd=[chatcli, "sessions", "--sessions-dir", str(ds.store), "show", sid],
                chatcli_env=cenv,
                llm_cmd=llm_cmd(ds, "logs", "list", "--cid", sid),
                llm_env=llm_env(ds),
                runs=opts.runs,
            )
            pair_row(
                results,
                "`sessions show ID` vs `llm logs list --cid ID`",
                scale,
                pair,
                max_ratio=0.5,
                peer_missing=missing,
            )
        progress(f"resume at {scale}")
        stats = measure_resume_inprocess(ds.store, sid, max(opts.runs, 5))
        results.add(
            Row(
                "resume in-process: `SessionService.load` + render of the last messages, ms",
                scale,
                stats.mmm(),
                target="(part of ≤ 300 ms)" if is_resume else "",
            )
        )
        if have_pty:
            stats = measure_resume_pty(work, ds.store, sid, opts.runs)
            results.add(
                Row(
                    "resume: `chatcli --resume ID` to its first prompt (pty), ms",
                    scale,
                    stats.mmm(),
                    target="≤ 300 ms" if is_resume else "",
                    verdict=verdict(stats.median <= 300.0) if is_resume else "",
                )
            )
        if length in opts.lengths:
            progress(f"appending at {scale}")
            scratch = work.scratch_copy(ds.store, f"append-{length}")
            stats = measure_append(scratch, sid, APPENDS)
            shutil.rmtree(scratch)
            append_medians[length] = stats.median
            results.add(
                Row(
                    f"append with the content index (`FileRepository.append_message`, {APPENDS} appends), "
                    "min / median / max ms",
                    scale,
                    f"{stats.mmm()} (p95 {fmt_ms(stats.percentile(95))})",
                    target="median ≤ 2 ms",
                    verdict=verdict(stats.median <= 2.0),
                )
            )
    if append_medians:
        small, large = min(append_medians), max(append_medians)
        if large > small:
            growth = append_medians[large] / append_medians[small]
            results.add(
                Row(
                    f"append cost at {fmt_n(large)} messages vs at {fmt_n(small)} (medians)",
                    f"{fmt_n(large)} / {fmt_n(small)}",
                    f"{fmt_ms(append_medians[large])} / {fmt_ms(append_medians[small])} ms = {growth:.2f}×",
                    target="≤ 1.5 ×" if large >= 10_000 else "",
                    verdict=verdict(growth <= 1.5) if large >= 10_000 else "",
                )
            )

    # Resume of the 2,000-message session inside a big store (the REPL refreshes its snapshot).
    if have_pty and opts.sizes:
        long = work.by_length(RESUME_LENGTH, peer)
        for n in opts.sizes:
            progress(f"resume of {fmt_n(RESUME_LENGTH)} messages in a store of {fmt_n(n)} sessions")
            scratch = work.scratch_copy(work.by_size(n, peer).store, f"resume-{n}")
            run_checked(
                [chatcli, "sessions", "--sessions-dir", scratch, "import", long.corpus],
                env=cenv,
                cwd=work.root,
                timeout=work.timeout,
            )
            stats = measure_resume_pty(work, scratch, long.ids[0], opts.runs)
            shutil.rmtree(scratch)
            results.add(
                Row(
                    f"resume: `chatcli --resume ID` ({fmt_n(RESUME_LENGTH)} msgs) to first prompt (pty), ms",
                    f"{fmt_n(n)} + 1 sessions",
                    stats.mmm(),
                    target="≤ 300 ms",
                    verdict=verdict(stats.median <= 300.0),
                )
            )
    shutil.rmtree(work.scratch, ignore_errors=True)
    return results


# ------------------------------------------------------------------------------- write path (issue 15)

WRITES_SECTION = "## Write path at scale (issue 15)"
REFRESHES = 20


def time_import(work: Workspace, ds: Dataset, runs: int) -> Stats:
    """``chatcli sessions import`` of the data set's JSON Lines corpus into a new folder, in seconds."""
    seconds: list[float] = []
    targets = [work.scratch / f"import-{ds.sessions}-{i}" for i in range(runs)]
    try:
        for target in targets:
            cmd: list[str | Path] = [work.chatcli, "sessions", "--sessions-dir", target, "import", ds.corpus]
            seconds.append(run_timed(cmd, env=work.env(), cwd=work.root, timeout=BUILD_TIMEOUT) / 1000.0)
            found = sum(1 for entry in os.scandir(target) if not entry.name.startswith("."))
            if found != ds.sessions:
                raise BenchError(f"the import into {target} made {found} sessions, expected {ds.sessions}")
    finally:
        # Removed only after every run: freeing 10,000 folders right before the next import
        # slows its inode allocation on some file systems (the runs would not be alike).
        for target in targets:
            shutil.rmtree(target, ignore_errors=True)
    return Stats(tuple(seconds))


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


def write_rows(work: Workspace, opts: Options, results: Results, n: int) -> None:
    """The issue 15 figures at ``n`` sessions: import, listing after ``cp -a``, snapshot refresh."""
    ds = work.by_size(n, None)
    scale = f"{fmt_n(n)} sessions"
    if n <= 10_000:
        progress(f"importing {scale} ({min(opts.runs, 3)} runs)")
        stats = time_import(work, ds, min(opts.runs, 3))
        rate = n / stats.median
        results.add(
            Row(
                "`sessions import` of a JSON Lines corpus, s (min / median / max); sessions/s of the median",
                scale,
                f"{stats.min:.2f} / {stats.median:.2f} / {stats.max:.2f} s; {rate:,.0f}/s",
                target="≥ 2,000 sessions/s" if n == 10_000 else "",
                verdict=verdict(rate >= 2_000) if n == 10_000 else "",
            )
        )
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
            "whole process (its output to /dev/null); each session is durable before it is counted.",
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


def replace_section(path: Path, section: str, heading: str = WRITES_SECTION) -> None:
    """Put ``section`` (headed ``heading``) in place of the file's previous one (the section is
    moved to the file's end)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    start = text.find(heading)
    if start >= 0:
        following = text.find("\n## ", start + len(heading))
        text = text[:start] + (text[following + 1 :] if following >= 0 else "")
    path.write_text(text.rstrip("\n") + "\n\n" + section, encoding="utf-8")


# ---------------------------------------------------------------------------------------- report


HEADERS = (
    "measurement",
    "scale",
    "chatcli (ms: min / median / max)",
    "llm (ms: min / median / max)",
    "chatcli/llm",
    "peak RSS MB chatcli / llm",
    "target (issue 5)",
    "result",
)


def cells(row: Row) -> list[str]:
    return [row.what, row.scale, row.chatcli, row.llm, row.ratio, row.rss, row.target, row.verdict]


def table(rows: Sequence[Row]) -> str:
    """A Markdown pipe table, padded so it also reads well in a terminal."""
    matrix = [list(HEADERS), *(cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in matrix) for i in range(len(HEADERS))]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    out = [line(matrix[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(values) for values in matrix[1:]]
    return "\n".join(out)


def report(opts: Options, results: Results, elapsed: float, when: datetime) -> str:
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
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- main


def parse_sizes(text: str) -> tuple[int, ...]:
    try:
        values = tuple(
            int(part.replace("_", "").replace(",", "")) for part in re.split(r"[,\s]+", text) if part
        )
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text!r}") from exc
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"sizes must be positive whole numbers: {text!r}")
    return values


def build_arg_parser() -> argparse.ArgumentParser:
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
        "written as their own section of the report (scripts/bench_search.py)",
    )
    return ap


def options(argv: Sequence[str]) -> Options:
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
    exe = os.path.relpath(sys.executable) if sys.executable.startswith(str(REPO)) else sys.executable
    script = os.path.relpath(__file__) if not os.path.relpath(__file__).startswith("..") else __file__
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
        shlex.join([exe, script, *argv]),
        args.browser_only,
        args.writes,
        args.searches,
    )


def main(argv: Sequence[str] | None = None) -> int:
    opts = options(sys.argv[1:] if argv is None else argv)
    when = datetime.now(UTC)
    start = time.perf_counter()
    if opts.searches:
        return _searches(opts, start)
    try:
        results = run_write_benchmarks(opts) if opts.writes else run_benchmarks(opts)
    except BenchError as exc:
        print(f"bench.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench.py: interrupted", file=sys.stderr)
        return 130
    elapsed = time.perf_counter() - start
    if opts.writes:
        text = write_section(opts, results, elapsed, when)
        print(text)
        if opts.output is not None:
            replace_section(opts.output, text)
            progress(f"wrote {opts.output}")
        return 0
    text = report(opts, results, elapsed, when)
    print(text)
    if opts.output is not None:
        opts.output.write_text(text, encoding="utf-8")
        progress(f"wrote {opts.output}")
    progress(f"done in {elapsed:.0f} s")
    return 0


def _searches(opts: Options, start: float) -> int:
    """``--searches``: see scripts/bench_search.py."""
    sys.path.insert(0, str(Path(__file__).parent))
    sys.modules.setdefault("bench", sys.modules[__name__])  # one module, one BenchError
    import bench_search

    try:
        results = bench_search.run_search_benchmarks(opts)
    except BenchError as exc:
        print(f"bench.py: error: {exc}", file=sys.stderr)
        return 1
    text = bench_search.search_section(opts, results, time.perf_counter() - start)
    print(text)
    if opts.output is not None:
        replace_section(opts.output, text, bench_search.SEARCH_SECTION)
        progress(f"wrote {opts.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The work folder: cached data sets (corpus, chatcli store, llm database) and scratch space.

Layout under ``--workdir``: ``datasets/<key>/`` (``corpus.jsonl``, ``chatcli/``, ``llm/``,
``build.json``: the recipe it was built from and how long chatcli's import took),
``chatcli-venv/`` and ``llm-venv/`` (see :mod:`benchkit.peers`), ``xdg/`` (the measured
processes' user folders) and ``scratch/`` (emptied at start; what writing measurements copy).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchkit.common import BUILD_TIMEOUT, BenchError, progress
from benchkit.procs import run_checked
from benchkit.results import fmt_n

if TYPE_CHECKING:
    from benchkit.peers import Peer


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


@dataclass(frozen=True, slots=True)
class Recipe:
    """How a data set is made: ``make_corpus.py``'s arguments, and a cut to ``keep`` messages."""

    sessions: int
    turns: int
    seed: int
    keep: int | None


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
        ``PYTHON*`` variable (``PYTHONDONTWRITEBYTECODE`` among them: see
        :func:`benchkit.peers.compile_bytecode`)."""
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

    def write_corpus(self, target: Path, sessions: int, turns: int, seed: int, keep: int | None) -> None:
        """``make_corpus.py`` into ``target`` (unless it exists), each session cut to ``keep``
        messages when given."""
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

    def _build_info(self, folder: Path, recipe: Recipe) -> dict[str, Any]:
        """The data set's ``build.json``, after emptying ``folder`` if it was built from another
        recipe (or with ``--rebuild``); the recipe is written into it."""
        info_path = folder / "build.json"
        wanted = {
            "sessions": recipe.sessions,
            "turns": recipe.turns,
            "seed": recipe.seed,
            "keep": recipe.keep,
            "make_corpus_sha256": self.generator_sha,
        }
        info: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            info = json.loads(info_path.read_text())
        if folder.exists() and (self.rebuild or info.get("recipe") != wanted):
            progress(f"{folder.name}: rebuilding (--rebuild, or the cached data came from another recipe)")
            shutil.rmtree(folder)
            info = {}
        folder.mkdir(exist_ok=True)
        info["recipe"] = wanted
        info_path.write_text(json.dumps(info, indent=2))
        return info

    def _build_missing(self, folder: Path, recipe: Recipe, info: dict[str, Any], peer: Peer | None) -> bool:
        """Write the corpus, import it into chatcli and load it into llm, whichever is missing;
        True when chatcli's store was built now."""
        key, corpus = folder.name, folder / "corpus.jsonl"
        store, llm_home = folder / "chatcli", folder / "llm"
        sessions, turns = recipe.sessions, recipe.turns
        built_now = False
        if not corpus.exists():
            progress(f"{key}: writing the corpus (make_corpus.py --sessions {sessions} --turns {turns})")
            self.write_corpus(corpus, recipe.sessions, recipe.turns, recipe.seed, recipe.keep)
        if not store.exists():
            progress(f"{key}: importing {fmt_n(recipe.sessions)} session(s) with `chatcli sessions import`")
            info["chatcli_import_seconds"] = self._import_chatcli(corpus, store, recipe.sessions)
            built_now = True
            (folder / "build.json").write_text(json.dumps(info, indent=2))
        if peer is not None and not llm_home.exists():
            progress(f"{key}: loading the corpus into llm (load_llm.py)")
            self._load_llm(corpus, llm_home, peer)
        return built_now

    def dataset(self, key: str, recipe: Recipe, *, peer: Peer | None) -> Dataset:
        """A cached data set (built on first use): corpus, chatcli store and llm database."""
        known = self._datasets.get(key)
        if known is not None:
            return known
        folder = self.datasets / key
        info = self._build_info(folder, recipe)
        built_now = self._build_missing(folder, recipe, info, peer)
        corpus, llm_home = folder / "corpus.jsonl", folder / "llm"
        ids, messages = corpus_ids(corpus)
        self._datasets[key] = Dataset(
            key,
            corpus,
            folder / "chatcli",
            llm_home if peer is not None and llm_home.exists() else None,
            recipe.sessions,
            messages if recipe.keep is not None or recipe.sessions == 1 else None,
            info.get("chatcli_import_seconds"),
            built_now,
            ids,
        )
        return self._datasets[key]

    def by_size(self, n: int, peer: Peer | None) -> Dataset:
        """``n`` sessions of make_corpus's default shape (6 turns: 12 messages each)."""
        return self.dataset(f"sessions-{n}", Recipe(sessions=n, turns=6, seed=7, keep=None), peer=peer)

    def by_length(self, length: int, peer: Peer | None) -> Dataset:
        """One session of ``length`` messages (its own seed, so its id is new to every store)."""
        turns = max(1, math.ceil(length / 2))
        keep = length if length % 2 else None
        recipe = Recipe(sessions=1, turns=turns, seed=1000 + length, keep=keep)
        return self.dataset(f"length-{length}", recipe, peer=peer)

    def scratch_copy(self, store: Path, name: str) -> Path:
        """A throw-away copy of a store, for measurements that write."""
        target = self.scratch / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(store, target, symlinks=True)
        return target


def corpus_ids(corpus: Path) -> tuple[tuple[str, ...], int | None]:
    """The session ids of a JSON Lines corpus, in order, and its first session's message count."""
    ids = []
    messages: int | None = None
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            ids.append(str(record["id"]))
            if messages is None:
                messages = len(record["messages"])
    return tuple(ids), messages


def corpus_contents(corpus: Path) -> list[str]:
    """Every message's ``content`` in a JSON Lines corpus, in order."""
    contents: list[str] = []
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            contents.extend(str(message["content"]) for message in json.loads(line)["messages"])
    return contents

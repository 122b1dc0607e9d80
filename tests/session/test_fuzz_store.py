"""Fuzzing the store: arbitrary bytes and JSON in one file never take the other sessions down.

Each example builds a fresh store of three healthy sessions and one victim, damages ONE file of
the victim or of the store (``metadata.json``, ``conversation.jsonl``, an index row, the index's
own state, ``.changes``, a lock file, a quarantine entry) with arbitrary bytes or arbitrary JSON
values (huge ints, deep nesting, control and bidi characters, out-of-range dates), then runs every
read and write command in-process through :func:`chatcli.cli.run_sessions` and asserts:

- every exit code is 0, 1, 2 or 3, and no output holds "Traceback" or "Unexpected error";
- nothing is written outside the sessions folder (next to it, or anywhere else on disk);
- the healthy sessions stay listed and showable, their transcripts byte-identical (but for the
  one message the test appended itself).

CI runs :data:`EXAMPLES` examples per target, derandomized (the same examples every run).
``CHATCLI_FUZZ_EXAMPLES=2000`` asks for a longer run; ``CHATCLI_FUZZ_RANDOM=1`` for fresh random
examples (with hypothesis's example database, so a failure found once is replayed);
``CHATCLI_FUZZ_LOG_DIR`` keeps the tracebacks the per-item catch-alls logged (each is a bug that
was contained: read them after a long run). A few fixed
cases also run through the real binary (``python -m chatcli``) to show the in-process path is
representative."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chatcli.cli import run_sessions
from chatcli.session.models import Message
from chatcli.session.projects import ENV_DATA_DIR
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from chatcli.session.store.index_sync import IndexSync
from chatcli.session.store.layout import (
    CHANGES_FILE,
    CONVERSATION_FILE,
    INDEX_DIR,
    INDEX_FILE,
    LOCKS_DIR,
    METADATA_FILE,
    NAMES_LOCK,
    QUARANTINE_DIR,
    lock_name,
)
from tests.helpers import REPO_ROOT, at, confined_writes, numbered, seed, snapshot
from tests.helpers.fuzz_values import (
    INDEX_COLUMNS,
    MESSAGE_KEYS,
    METADATA_KEYS,
    cells,
    documents,
    dump_json,
    edited,
    nested,
    odd_text,
)

#: Examples per target: small and deterministic in CI, larger on request (a benchmark run).
EXAMPLES = int(os.environ.get("CHATCLI_FUZZ_EXAMPLES", "0") or 0) or 25
RANDOM = os.environ.get("CHATCLI_FUZZ_RANDOM", "") not in ("", "0")
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    database=None if not RANDOM else settings.default.database,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

#: The exit codes a session command may end with (ExitCode: OK, USER, USAGE, STORAGE).
EXIT_CODES = {0, 1, 2, 3}
FORBIDDEN = ("Traceback", "Unexpected error")
#: The word every healthy transcript holds (``search`` must find it in each).
WORD = "pineapple"

# --------------------------------------------------------------------------- the store under test


@dataclass
class Store:
    """A store of three healthy sessions and a victim, with a decoy file next to it."""

    base: Path
    root: Path
    healthy: list[str]
    victim: str
    transcripts: dict[str, bytes]
    logs: Path

    def file(self, *parts: str) -> Path:
        """A path inside the sessions folder."""
        return self.root.joinpath(*parts)

    def victim_meta(self) -> dict[str, Any]:
        """The victim's metadata as its file holds it before the damage."""
        data: dict[str, Any] = json.loads(self.file(self.victim, METADATA_FILE).read_bytes())
        return data


@contextlib.contextmanager
def fresh_store() -> Iterator[Store]:
    """A fresh store in a temporary folder (hypothesis examples cannot share pytest's tmp_path)."""
    with tempfile.TemporaryDirectory(prefix="chatcli-fuzz-") as tmp:
        base = Path(tmp)
        (base / "work").mkdir()
        root = base / "work" / "sessions"
        (base / "work" / "decoy.txt").write_text("not the store's\n")
        repo = FileRepository(root, lock_timeout=2.0)
        healthy = [
            seed(repo, f"{WORD} number {i}", replies=[f"a {WORD} reply {i}"], when=at(i), name=f"h{i}").id
            for i in range(3)
        ]
        victim = seed(repo, messages=numbered(3, start=at(10))).id
        repo.close()
        transcripts = {sid: (root / sid / CONVERSATION_FILE).read_bytes() for sid in healthy}
        yield Store(base, root, healthy, victim, transcripts, base / "logs")


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _document_bytes(doc: tuple[str, Any], base: dict[str, Any]) -> bytes:
    kind, value = doc
    if kind == "bytes":
        return bytes(value)
    if kind == "json":
        return dump_json(value)
    return dump_json(edited(base, value))


def damage_metadata(store: Store, doc: tuple[str, Any]) -> None:
    """Replace the victim's ``metadata.json``."""
    _write(store.file(store.victim, METADATA_FILE), _document_bytes(doc, store.victim_meta()))


def damage_transcript(store: Store, doc: tuple[str, Any]) -> None:
    """Replace the victim's whole ``conversation.jsonl``."""
    line = json.loads(store.file(store.victim, CONVERSATION_FILE).read_bytes().splitlines()[0])
    _write(store.file(store.victim, CONVERSATION_FILE), _document_bytes(doc, line))


def damage_transcript_tail(store: Store, docs: list[tuple[str, Any]]) -> None:
    """Append lines (or a torn last line) to the victim's ``conversation.jsonl``."""
    path = store.file(store.victim, CONVERSATION_FILE)
    line = json.loads(path.read_bytes().splitlines()[0])
    extra = b"\n".join(_document_bytes(doc, line).replace(b"\n", b" ") for doc in docs)
    with path.open("ab") as handle:
        handle.write(extra + (b"\n" if len(docs) % 2 else b""))


def damage_index_row(store: Store, changes: list[tuple[str, Any]]) -> None:
    """Set columns of the victim's index row to arbitrary values (the id last, if at all)."""
    path = store.file(INDEX_DIR, INDEX_FILE)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for column, value in sorted(changes, key=lambda c: c[0] == "id"):
            with contextlib.suppress(sqlite3.IntegrityError):
                conn.execute(f"UPDATE sessions SET {column} = ? WHERE id = ?", (value, store.victim))
    finally:
        conn.close()


def damage_index_state(store: Store, change: tuple[str, Any]) -> None:
    """Plant arbitrary values in the index's bookkeeping (the dirty marks, the recorded mtime)."""
    table, value = change
    conn = sqlite3.connect(store.file(INDEX_DIR, INDEX_FILE), isolation_level=None)
    try:
        if table == "dirty":
            conn.execute("INSERT OR IGNORE INTO dirty (id) VALUES (?)", (value,))
        elif value is not None:  # the column is NOT NULL
            conn.execute("UPDATE state SET value = ? WHERE key = 'root_mtime_ns'", (value,))
    finally:
        conn.close()


def damage_changes(store: Store, data: bytes) -> None:
    """Arbitrary bytes in ``.changes``."""
    _write(store.file(CHANGES_FILE), data)


def damage_lock(store: Store, change: tuple[bool, bytes]) -> None:
    """Arbitrary bytes in the victim's lock file or in the names lock."""
    names, data = change
    _write(store.file(LOCKS_DIR, NAMES_LOCK if names else lock_name(store.victim)), data)


def damage_quarantine(store: Store, change: tuple[str, bytes]) -> None:
    """An arbitrary entry in ``.quarantine/`` (its name is made safe for a file name)."""
    name, data = change
    safe = "".join(ch for ch in name if ch not in "/\x00")[:100].encode("utf-8", "replace")
    if safe in (b"", b".", b".."):
        safe = b"entry"
    quarantine = store.file(QUARANTINE_DIR)
    quarantine.mkdir(mode=0o700, exist_ok=True)
    _write(Path(os.fsdecode(bytes(quarantine) + b"/" + safe)), data)


# --------------------------------------------------------------------------- the commands


@dataclass(frozen=True)
class Outcome:
    """One command's exit code and output."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str


def run_cli(store: Store, *args: str) -> Outcome:
    """``chatcli sessions ARGS --sessions-dir ROOT`` in-process, its output captured."""
    out, err = io.StringIO(), io.StringIO()
    argv = ["sessions", *args, "--sessions-dir", str(store.root)]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_sessions(argv)
    return Outcome(tuple(args), code, out.getvalue(), err.getvalue())


def _check(outcome: Outcome) -> Outcome:
    assert outcome.code in EXIT_CODES, outcome
    for text in FORBIDDEN:
        assert text not in outcome.out and text not in outcome.err, outcome
    return outcome


def exercise(store: Store, run: Callable[..., Outcome] = run_cli) -> None:
    """Every read and write command, then the checks on the healthy sessions."""
    first, second, third = store.healthy
    every = [*store.healthy, store.victim]
    for args in (("list",), ("list", "--all", "--json"), ("search", WORD), ("doctor",)):
        _check(run(store, *args))
    for sid in every:
        _check(run(store, "show", sid))
    for args in (
        ("name", first, "renamed"),
        ("name", store.victim, "victim"),
        ("archive", second),
        ("unarchive", second),
        ("archive", store.victim),
        ("unarchive", store.victim),
        ("fork", third),
        ("fork", store.victim),
        ("export", third),
        ("export", store.victim, "--format", "json"),
        ("doctor", "--repair"),
    ):
        _check(run(store, *args))
    appended = Message(role="user", content=f"one more {WORD}", timestamp=at(100))
    repo = FileRepository(store.root, lock_timeout=2.0)
    try:
        service = SessionService(repo)
        service.append(third, appended)
        listed = service.list_sessions(status="all")
        assert set(store.healthy) <= {brief.id for brief in listed.sessions}, listed
        hits = service.search(WORD, limit=100)
        assert set(store.healthy) <= {hit.session_id for hit in hits.hits}, hits
        for sid in store.healthy:
            assert service.show(sid).metadata.id == sid
    finally:
        repo.close()
    for sid in store.healthy:
        expected = store.transcripts[sid]
        if sid == third:
            expected += (appended.to_line() + "\n").encode("utf-8")
        assert store.file(sid, CONVERSATION_FILE).read_bytes() == expected, sid


def fuzz_one(damage: Callable[[Store, Any], None], change: Any) -> None:
    """Damage one file of a fresh store, run everything, check nothing leaked or broke."""
    with _quick(), fresh_store() as store, _log_dir(store.logs), _data_dir(store.base / "data"):
        damage(store, change)
        outside = snapshot(store.root.parent, skip=store.root)
        with confined_writes(store.base) as refused:
            exercise(store)
        assert refused == []
        assert snapshot(store.root.parent, skip=store.root) == outside


@contextlib.contextmanager
def _quick() -> Iterator[None]:
    """No fsync while fuzzing: durability is tested elsewhere, and it is most of the time spent."""
    saved = os.fsync
    os.fsync = lambda fd: None
    try:
        yield
    finally:
        os.fsync = saved


@contextlib.contextmanager
def _data_dir(path: Path) -> Iterator[None]:
    """The registry of known projects (written when a command creates a session) beside the
    example's folder: allowed, like the log."""
    saved = os.environ.get(ENV_DATA_DIR)
    os.environ[ENV_DATA_DIR] = str(path)
    try:
        yield
    finally:
        if saved is None:
            del os.environ[ENV_DATA_DIR]
        else:
            os.environ[ENV_DATA_DIR] = saved


@contextlib.contextmanager
def _log_dir(path: Path) -> Iterator[None]:
    """Tracebacks of the catch-alls go to a log inside the example's folder (they are allowed),
    or to ``$CHATCLI_FUZZ_LOG_DIR`` to read after a benchmark run what they caught."""
    saved = os.environ.get("CHATCLI_LOG_DIR")
    os.environ["CHATCLI_LOG_DIR"] = str(path)
    try:
        yield
    finally:
        if saved is None:
            del os.environ["CHATCLI_LOG_DIR"]
        else:
            os.environ["CHATCLI_LOG_DIR"] = saved
        kept = os.environ.get("CHATCLI_FUZZ_LOG_DIR")
        if kept and (path / "chatcli.log").exists():
            Path(kept).mkdir(parents=True, exist_ok=True)
            with (Path(kept) / "chatcli.log").open("ab") as log:
                log.write((path / "chatcli.log").read_bytes())


# --------------------------------------------------------------------------- the targets


@FUZZ
@given(doc=documents(METADATA_KEYS))
@example(doc=("edit", [("message_count", 2**70)]))  # OverflowError in the index: every command failed
@example(doc=("edit", [("created", "0001-01-01T00:00:00+14:00")]))  # OverflowError converting to UTC
@example(doc=("edit", [("custom_fields", nested({}, 300))]))
@example(doc=("bytes", b"\xff\xfe{not json"))
def test_fuzz_metadata(doc: tuple[str, Any]) -> None:
    fuzz_one(damage_metadata, doc)


@FUZZ
@given(doc=documents(MESSAGE_KEYS))
@example(doc=("edit", [("timestamp", "9999-12-31T23:59:59-14:00")]))  # OverflowError converting to UTC
def test_fuzz_whole_transcript(doc: tuple[str, Any]) -> None:
    fuzz_one(damage_transcript, doc)


@FUZZ
@given(docs=st.lists(documents(MESSAGE_KEYS), min_size=1, max_size=4))
@example(docs=[("edit", [("timestamp", "0001-01-01T00:00:00+14:00")])])
def test_fuzz_appended_transcript_lines(docs: list[tuple[str, Any]]) -> None:
    fuzz_one(damage_transcript_tail, docs)


@FUZZ
@given(changes=st.lists(st.tuples(st.sampled_from(INDEX_COLUMNS), cells), min_size=1, max_size=4))
@example(changes=[("id", None)])  # TypeError: the stamp of session None
@example(changes=[("custom", "7")])  # custom fields that are not an object reached the JSON output
@example(changes=[("message_count", b"\n")])  # bytes reached the JSON output
@example(changes=[("first_message", b"\x8e\r")])  # bytes reached the table
@example(changes=[("meta", '{"id": 7}'), ("created", b"\x00")])
def test_fuzz_index_row(changes: list[tuple[str, Any]]) -> None:
    fuzz_one(damage_index_row, changes)


@FUZZ
@given(change=st.tuples(st.sampled_from(["dirty", "state"]), cells))
@example(change=("state", 0.0))  # ValueError: int('0.0') for the recorded mtime
@example(change=("dirty", b"\x00"))
def test_fuzz_index_state(change: tuple[str, Any]) -> None:
    fuzz_one(damage_index_state, change)


@FUZZ
@given(data=st.binary(max_size=2000))
def test_fuzz_changes_file(data: bytes) -> None:
    fuzz_one(damage_changes, data)


@FUZZ
@given(change=st.tuples(st.booleans(), st.binary(max_size=300)))
def test_fuzz_lock_file(change: tuple[bool, bytes]) -> None:
    fuzz_one(damage_lock, change)


@FUZZ
@given(change=st.tuples(odd_text, st.binary(max_size=300)))
def test_fuzz_quarantine_entry(change: tuple[str, bytes]) -> None:
    fuzz_one(damage_quarantine, change)


# --------------------------------------------------------------------------- the real binary

#: A few damages the in-process runs above also make, run through ``python -m chatcli``.
BINARY_CASES: dict[str, tuple[Callable[[Store, Any], None], Any]] = {
    "metadata-huge-count": (damage_metadata, ("edit", [("message_count", 2**70)])),
    "transcript-date-overflow": (
        damage_transcript_tail,
        [("edit", [("timestamp", "9999-12-31T23:59:59-14:00")])],
    ),
    "index-row-meta": (damage_index_row, [("meta", '{"id": 7}'), ("created", b"\x00")]),
}


def run_binary(store: Store, *args: str) -> Outcome:
    """``python -m chatcli sessions ARGS`` in a subprocess (no terminal)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-m", "chatcli", "sessions", *args, "--sessions-dir", str(store.root)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        cwd=store.base,
        timeout=60,
        check=False,
    )
    return Outcome(tuple(args), proc.returncode, proc.stdout, proc.stderr)


def _codes(store: Store, run: Callable[..., Outcome]) -> list[int]:
    """Exit codes of the read commands, then of a few writes (one after the other: a doctor
    running while a listing rebuilds the index would rightly see it missing)."""
    commands = [
        ("list",),
        ("search", WORD),
        ("show", store.victim),
        ("export", store.victim, "--format", "json"),
        ("doctor",),
        ("name", store.victim, "victim"),
        ("doctor", "--repair"),
        ("list", "--all", "--json"),
    ]
    outcomes = [_check(run(store, *args)) for args in commands]
    assert set(store.healthy) <= {row["id"] for row in json.loads(outcomes[-1].out)["sessions"]}
    for sid in store.healthy:
        assert store.file(sid, CONVERSATION_FILE).read_bytes() == store.transcripts[sid], sid
    return [outcome.code for outcome in outcomes]


@pytest.mark.parametrize("case", list(BINARY_CASES), ids=list(BINARY_CASES))
def test_fuzz_cases_through_the_real_binary(case: str) -> None:
    """The in-process runs are representative: the same damage through ``python -m chatcli``
    passes the same checks, with the same exit codes, as in-process."""
    damage, change = BINARY_CASES[case]
    codes = []
    for run in (run_cli, run_binary):
        with fresh_store() as store, _log_dir(store.logs):
            damage(store, change)
            outside = snapshot(store.root.parent, skip=store.root)
            codes.append(_codes(store, run))
            assert snapshot(store.root.parent, skip=store.root) == outside
    assert codes[0] == codes[1]


# --------------------------------------------------------------------------- the checks on index rows


def test_healthy_index_rows_are_read_as_stored(repo: FileRepository, monkeypatch: pytest.MonkeyPatch) -> None:
    """The type checks on index rows reject only damaged rows: a healthy store is listed from its
    index without ever rebuilding it (a check too strict would rebuild it on every listing)."""
    plain = seed(repo, "plain")
    named = seed(repo, "named", name="named", when=at(1))
    repo.update(named.id, lambda meta: meta.custom_fields.update({"k": [1, {"x": None}]}))
    monkeypatch.setattr(IndexSync, "replace_damaged", _must_not_rebuild)
    briefs = {brief.id: brief for brief in repo.list_briefs()}
    assert set(briefs) == {plain.id, named.id}
    assert briefs[named.id].custom_fields == {"k": [1, {"x": None}]}
    assert briefs[plain.id].name is None and not briefs[plain.id].custom_fields
    assert [m.id for m in repo.list()] == [named.id, plain.id]
    assert [b.id for b in repo.briefs()] == [named.id, plain.id]
    assert [m.id for m in repo.find_by_name("NAMED")] == [named.id]
    assert [m.id for m in repo.find_by_prefix(plain.id[:6])] == [plain.id]


def _must_not_rebuild(self: IndexSync) -> None:
    raise AssertionError("a healthy index was taken for a damaged one")

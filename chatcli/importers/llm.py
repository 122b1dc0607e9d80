"""llm (simonw/llm): the conversations in its ``logs.db``, in both of the layouts llm has written.

Where (``llm/__init__.py`` ``user_dir``, ``llm/cli.py`` ``logs_db_path``): ``logs.db`` in
``$LLM_USER_PATH``, else in click's app folder for ``io.datasette.llm``
(``$XDG_CONFIG_HOME/io.datasette.llm``, i.e. ``~/.config/io.datasette.llm`` on Linux;
``~/Library/Application Support/io.datasette.llm`` on macOS; ``%APPDATA%\\io.datasette.llm`` on
Windows) — what ``llm logs path`` prints.

What (``llm/migrations.py``, ``llm/logs.py``, ``docs/logging.md``):

* llm 0.32 and later: table ``threads`` (``id``, ``name``, ``tip_message_hash``), a chain of
  ``messages`` (``hash``, ``parent_hash``, ``role``: system, user or assistant) with ordered
  ``parts`` (``type``: text, reasoning, tool_call, tool_result, attachment; ``text``, or a JSON
  ``payload`` with ``name``/``arguments``/``output``/``exception`` or a ``text_ref`` of literal
  and ``fragment`` pieces), and ``turns`` (one model call: ``thread_id``, ``tip_message_hash``,
  ``datetime_utc``) that date the messages.
* Before that: table ``conversations`` (``id``, ``name``) and ``responses`` (``prompt``,
  ``response``, ``conversation_id``, ``datetime_utc``), with ``tool_calls`` (requested by a
  response) and ``tool_results`` (sent with the next one). A legacy conversation whose id is also
  a thread, and a response whose id is also a turn, were written twice by llm (the thread is the
  full record), so they are read once, from the thread.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from chatcli.importers.base import ImportedSession, Source, SourceProblem
from chatcli.importers.fold import RECORD_ERRORS, Conversation, call_note, result_note
from chatcli.importers.sqlite_source import (
    MAX_RECORD_BYTES,
    SourceError,
    bounded,
    json_object,
    open_readonly,
    tables,
    text_time,
)

__all__ = ["SOURCE", "default_path"]

DB_NAME = "logs.db"
APP_NAME = "io.datasette.llm"
#: Longest message chain followed from a thread's tip (a guard against a corrupted parent link).
MAX_CHAIN = 1_000_000

_CHAIN_SQL = f"""
WITH RECURSIVE chain(hash, parent_hash, role, depth) AS (
  SELECT hash, parent_hash, role, 0 FROM messages WHERE hash = ?
  UNION ALL
  SELECT m.hash, m.parent_hash, m.role, c.depth + 1
  FROM messages m JOIN chain c ON m.hash = c.parent_hash WHERE c.depth < {MAX_CHAIN}
)
SELECT hash, role FROM chain ORDER BY depth DESC
"""


def default_path(env: dict[str, str]) -> Path:
    """llm's ``logs.db``, as ``llm logs path`` resolves it from ``env``."""
    if env.get("LLM_USER_PATH"):
        return Path(env["LLM_USER_PATH"]) / DB_NAME
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    if os.name == "nt":
        base = Path(env["APPDATA"]) if env.get("APPDATA") else home
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
    return base / APP_NAME / DB_NAME


def locate(cwd: Path, all_projects: bool, env: dict[str, str]) -> list[Path]:
    """llm's log database when it exists (llm keeps no project folder: every conversation)."""
    path = default_path(env)
    return [path] if path.is_file() else []


def read(path: Path, problems: list[SourceProblem]) -> Iterator[ImportedSession]:
    """The conversations of an llm ``logs.db`` (or of the folder holding one)."""
    if path.is_dir():
        path = path / DB_NAME
    try:
        connection = open_readonly(path)
    except SourceError as exc:
        problems.append(SourceProblem(str(path), str(exc)))
        return
    try:
        yield from _LogReader(connection, path, problems).sessions()
    except sqlite3.Error as exc:
        problems.append(SourceProblem(str(path), f"cannot be read ({exc})"))
    finally:
        connection.close()


def _title(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


class _LogReader:
    """Reads one open ``logs.db``: its threads, then the legacy conversations not in them."""

    def __init__(self, connection: sqlite3.Connection, path: Path, problems: list[SourceProblem]) -> None:
        self.db = connection
        self.path = path
        self.problems = problems
        self.present = tables(connection)
        self.threads: set[str] = set()
        self.turns: set[str] = set()
        self.call_notes: dict[str, list[str]] = {}
        self.result_notes: dict[str, list[str]] = {}

    def _legacy_tool_notes(self) -> None:
        """Every legacy tool call and result as a note, by response id, read in one pass each
        (the tables have no index on ``response_id``; a note is one short line)."""
        if "tool_calls" in self.present:
            for call in self.db.execute(
                f"SELECT response_id, name, {bounded('arguments')} FROM tool_calls ORDER BY id"
            ):
                note = call_note(str(call["name"] or "tool"), call["arguments"])
                self.call_notes.setdefault(str(call["response_id"]), []).append(note)
        if "tool_results" in self.present:
            for result in self.db.execute(
                f"SELECT response_id, name, {bounded('output')}, {bounded('exception')}"
                " FROM tool_results ORDER BY id"
            ):
                failed = bool(result["exception"])
                output = str(result["exception"] if failed else result["output"] or "")
                note = result_note(str(result["name"] or "tool"), output, failed=failed)
                self.result_notes.setdefault(str(result["response_id"]), []).append(note)

    def sessions(self) -> Iterator[ImportedSession]:
        """Every conversation of the database, threads first."""
        if not self.present & {"threads", "responses"}:
            self.problems.append(SourceProblem(str(self.path), "is not an llm log database"))
            return
        if {"threads", "messages", "parts", "turns"} <= self.present:
            yield from self._threads()
            self.turns = {str(row[0]) for row in self.db.execute("SELECT id FROM turns")}
        if "responses" in self.present:
            yield from self._legacy()

    # -- threads (llm 0.32 and later) -------------------------------------------------------

    def _threads(self) -> Iterator[ImportedSession]:
        rows = self.db.execute(
            "SELECT id, name, tip_message_hash, datetime_utc FROM threads ORDER BY datetime_utc, id"
        ).fetchall()
        for row in rows:
            thread_id = str(row["id"])
            self.threads.add(thread_id)
            try:
                conversation = self._thread_conversation(thread_id, row["tip_message_hash"])
            except sqlite3.Error as exc:
                where = f"{self.path} (thread {thread_id})"
                self.problems.append(SourceProblem(where, f"unreadable: {exc}"))
                continue
            messages = conversation.messages()
            if messages:
                yield ImportedSession(
                    source_id=thread_id,
                    path=str(self.path),
                    messages=messages,
                    title=_title(row["name"]),
                    created=text_time(row["datetime_utc"]) or messages[0].timestamp,
                )

    def _thread_conversation(self, thread_id: str, tip: object) -> Conversation:
        conversation = Conversation()
        if not tip:
            return conversation
        chain = self.db.execute(_CHAIN_SQL, (tip,)).fetchall()
        times = self._message_times(thread_id, [str(row["hash"]) for row in chain])
        for row, timestamp in zip(chain, times, strict=True):
            if row["role"] not in ("user", "assistant"):
                continue  # system prompts are context the user did not type
            parts = self.db.execute(
                f"SELECT position, type, tool_name, {bounded('text')}, {bounded('payload')}"
                " FROM parts WHERE message_hash = ? ORDER BY position",
                (row["hash"],),
            )
            message = f"{self.path} (thread {thread_id}, message {str(row['hash'])[:12]}"
            for part in parts:
                where = f"{message}, part {part['position']})"
                try:
                    self._add_part(conversation, str(row["role"]), part, timestamp, where)
                except RECORD_ERRORS as exc:
                    self.problems.append(SourceProblem(where, f"part skipped: unexpected shape ({exc})"))
        return conversation

    def _message_times(self, thread_id: str, chain: list[str]) -> list[datetime | None]:
        """Each chain message's time: that of the earliest turn of the thread whose chain holds it."""
        position = {message: index for index, message in enumerate(chain)}
        times: list[datetime | None] = [None] * len(chain)
        dated = 0
        turns = self.db.execute(
            "SELECT tip_message_hash, datetime_utc FROM turns WHERE thread_id = ? ORDER BY datetime_utc, id",
            (thread_id,),
        )
        for turn in turns:
            tip = position.get(str(turn["tip_message_hash"]))
            if tip is None or tip < dated:
                continue
            when = text_time(turn["datetime_utc"])
            for index in range(dated, tip + 1):
                times[index] = when
            dated = tip + 1
        return times

    def _add_part(
        self, conversation: Conversation, role: str, part: sqlite3.Row, timestamp: datetime | None, where: str
    ) -> None:
        if max(part["text_size"] or 0, part["payload_size"] or 0) > MAX_RECORD_BYTES:
            self.problems.append(SourceProblem(where, "part skipped: over 64 MiB"))
            return
        payload = json_object(part["payload"]) if part["payload"] is not None else {}
        if payload is None:
            self.problems.append(SourceProblem(where, "part skipped: its payload is not a JSON object"))
            return
        kind = part["type"]
        name = str(part["tool_name"] or payload.get("name") or "tool")
        if kind == "text":
            text = part["text"] if isinstance(part["text"], str) else self._text_ref(payload, role)
            if role == "user":
                conversation.user(text, timestamp)
            else:
                conversation.assistant(text, timestamp)
        elif kind == "tool_call":
            conversation.note(call_note(name, payload.get("arguments")), timestamp)
        elif kind == "tool_result":
            failed = bool(payload.get("exception"))
            output = payload.get("exception") if failed else payload.get("output")
            conversation.note(result_note(name, output, failed=failed), timestamp)

    def _text_ref(self, payload: dict[str, Any], role: str) -> str:
        """The text of a part stored as literal and fragment pieces. A user's fragments are files
        or URLs llm pasted into the prompt (context the user did not type): only literals stay."""
        pieces = payload.get("text_ref")
        if not isinstance(pieces, list):
            return str(payload.get("text", ""))
        out = []
        for piece in pieces:
            if not isinstance(piece, dict):
                continue
            if "literal" in piece:
                out.append(str(piece["literal"]))
            elif role != "user" and isinstance(piece.get("fragment"), int):
                row = self.db.execute(
                    f"SELECT {bounded('content')} FROM fragments WHERE id = ?", (piece.get("fragment"),)
                ).fetchone()
                out.append(str(row["content"]) if row is not None and row["content"] is not None else "")
        return "".join(out).strip()

    # -- legacy conversations and responses (before llm 0.32) -------------------------------

    def _legacy(self) -> Iterator[ImportedSession]:
        self._legacy_tool_notes()
        names: dict[str, object] = {}
        if "conversations" in self.present:
            names = {str(row[0]): row[1] for row in self.db.execute("SELECT id, name FROM conversations")}
        rows = self.db.execute(
            f"SELECT id, conversation_id, datetime_utc, {bounded('prompt')}, {bounded('response')}"
            " FROM responses ORDER BY conversation_id, datetime_utc, id"
        )
        for key, group in itertools.groupby(rows, key=lambda row: row["conversation_id"]):
            if key is not None and str(key) in self.threads:
                continue
            responses = [row for row in group if str(row["id"]) not in self.turns]
            # A response logged outside any conversation is a conversation of its own.
            batches = [responses] if key is not None else [[row] for row in responses]
            for batch in batches:
                source_id = str(key) if key is not None else str(batch[0]["id"])
                conversation = Conversation()
                for row in batch:
                    try:
                        self._add_response(conversation, row)
                    except RECORD_ERRORS as exc:
                        where = f"{self.path} (response {row['id']})"
                        self.problems.append(
                            SourceProblem(where, f"response skipped: unexpected shape ({exc})")
                        )
                messages = conversation.messages()
                if messages:
                    yield ImportedSession(
                        source_id=source_id,
                        path=str(self.path),
                        messages=messages,
                        title=_title(names.get(source_id)),
                        created=messages[0].timestamp,
                    )

    def _add_response(self, conversation: Conversation, row: sqlite3.Row) -> None:
        """One legacy response: the tool results it sent, its prompt, its reply, its tool calls."""
        if max(row["prompt_size"] or 0, row["response_size"] or 0) > MAX_RECORD_BYTES:
            where = f"{self.path} (response {row['id']})"
            self.problems.append(SourceProblem(where, "response skipped: over 64 MiB"))
            return
        timestamp = text_time(row["datetime_utc"])
        for note in self.result_notes.get(str(row["id"]), []):
            conversation.note(note, timestamp)
        conversation.user(str(row["prompt"] or ""), timestamp)
        conversation.assistant(str(row["response"] or ""), timestamp)
        for note in self.call_notes.get(str(row["id"]), []):
            conversation.note(note, timestamp)


SOURCE = Source(
    tool="llm",
    locate=locate,
    read=read,
    notes=(
        "maps prompts, responses, tool calls and tool results (as notes), in threads and legacy tables",
        "drops system prompts, reasoning, attachments and fragment text pasted into prompts",
        "llm keeps no project folder: every conversation is imported",
    ),
)

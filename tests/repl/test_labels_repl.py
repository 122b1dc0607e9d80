"""Pins and tags in the REPL: tag completion from the snapshot, completion meta, the picker."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from prompt_toolkit.completion import CompleteEvent, Completion
from prompt_toolkit.document import Document

from chatcli.commands.catalog import build_registry
from chatcli.commands.registry import Registry
from chatcli.repl.completion.completer import SessionCompleter, session_meta
from chatcli.repl.completion.snapshot import SnapshotCache
from chatcli.repl.picker import _Picker, filter_entries
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers import Repl, ago, entry, seed, snapshot_of, until

ID_A = "1a2b3c4d-0000-4000-8000-00000000000a"
ID_B = "5e6f7a8b-0000-4000-8000-00000000000b"
ID_C = "7777aaaa-0000-4000-8000-00000000000c"

ENTRIES = (
    entry(ID_A, "fix-login", "the login page crashes", minutes_ago=5, tags=("bug", "auth")),
    entry(ID_B, "refactor", "tidy the store", minutes_ago=10, tags=("bug",)),
    entry(ID_C, "notes", "keep this", minutes_ago=60, pinned=True, tags=("docs",)),
)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return build_registry()


def complete(registry: Registry, text: str) -> list[Completion]:
    """What Tab offers at the end of ``text``, over :data:`ENTRIES` (in memory only)."""
    snap = snapshot_of(ENTRIES)
    completer = SessionCompleter(registry, lambda: snap)
    return list(
        completer.get_completions(Document(text, len(text)), CompleteEvent(completion_requested=True))
    )


def texts(completions: Sequence[Completion]) -> list[str]:
    return [c.text for c in completions]


def test_snapshot_counts_tags_most_used_first() -> None:
    assert snapshot_of(ENTRIES).tags == (("bug", 2), ("auth", 1), ("docs", 1))


def test_tag_completes_tags_in_use_except_the_sessions_own(registry: Registry) -> None:
    assert texts(complete(registry, "/sessions tag refactor ")) == ["auth", "docs"]
    assert texts(complete(registry, "/sessions tag notes ")) == ["bug", "auth"]
    assert texts(complete(registry, "/sessions tag notes a")) == ["auth"]
    offered = complete(registry, "/sessions tag . ")  # the session in use is not looked up: all tags
    assert texts(offered) == ["bug", "auth", "docs"]
    assert offered[0].display_meta_text == "2 sessions"
    assert texts(complete(registry, "/sessions tag notes bug ")) == ["auth"], (
        "typed tags are not offered again"
    )


def test_untag_completes_that_sessions_tags(registry: Registry) -> None:
    assert texts(complete(registry, "/sessions untag fix-login ")) == ["bug", "auth"]
    assert texts(complete(registry, "/sessions untag 7777 ")) == ["docs"]


def test_tag_filter_option_completes_tags(registry: Registry) -> None:
    assert texts(complete(registry, "/sessions list --tag ")) == ["bug", "auth", "docs"]
    assert texts(complete(registry, "/sessions search login --tag d")) == ["docs"]


def test_session_meta_shows_pin_and_tags() -> None:
    meta = session_meta(entry(ID_C, "notes", "keep this", pinned=True, tags=("docs", "x")), ago(0))
    assert "pinned" in meta and "#docs #x" in meta
    assert "pinned" not in session_meta(ENTRIES[0])


def test_picker_lists_pinned_sessions_first_and_marks_them() -> None:
    ordered = snapshot_of(ENTRIES).entries
    assert [e.id for e in filter_entries(ordered, "")] == [ID_C, ID_A, ID_B]
    assert [e.id for e in filter_entries(ordered, "auth")] == [ID_A], "tags are searched too"
    rows = "".join(text for _, text in _Picker(ordered).rows(width=100))
    first_row = rows.splitlines()[0]
    assert first_row.startswith("* notes  [docs] ") and first_row.endswith("7777aaaa"), first_row


def test_the_snapshot_carries_pins_and_tags_from_the_store(tmp_path: object, repo: FileRepository) -> None:
    service = SessionService(repo)
    meta = seed(repo, "hello")
    service.tag(meta.id, ["Bug"])
    service.set_pinned(meta.id, True)
    snap = SnapshotCache(service).refresh(force=True)
    (found,) = snap.entries
    assert found.pinned and found.tags == ("bug",) and snap.tags == (("bug", 1),)


def test_in_the_chat_pin_and_tag_the_session_in_use_then_tab_offers_its_tags(repl: Repl) -> None:
    older = seed(repl.repo, "an older chat", name="older", when=ago(60))
    SessionService(repl.repo).tag(older.id, ["backend"])

    async def scenario(r: Repl) -> None:
        r.type("hello\r")
        await until(lambda: len(r.app.messages) == 2, what="the first exchange")
        sid = r.app.current_id
        assert sid is not None
        r.type("/sessions pin\r")
        await until(lambda: "Pinned" in r.output, what="pin without an ID")
        r.type("/sessions tag . urgent\r")
        # Wait for the command's report, not for the file: the file is replaced before the write
        # is done (change token bumped, index row stored), so a refresh that sees only the file
        # may rightly keep the snapshot it has.
        await until(lambda: "Tagged" in r.output, what="tag .")
        on_disk = r.repo.get(sid)
        assert on_disk.pinned and on_disk.tags == ["urgent"]
        await asyncio.to_thread(r.app.snapshots.refresh)
        text = "/sessions tag older "
        event = CompleteEvent(completion_requested=True)
        offered = [c.text for c in r.app.completer.get_completions(Document(text, len(text)), event)]
        assert offered == ["urgent"], offered  # in use elsewhere; "backend" it has already
        r.type("/sessions list\r")
        await until(lambda: "* pinned" in r.output, what="the listing")

    repl.drive(scenario)

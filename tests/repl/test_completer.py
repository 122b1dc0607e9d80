"""Tab completion: what kind of word is typed, which candidates match, and never a disk access."""

from __future__ import annotations

import builtins
import os
import pathlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest
from prompt_toolkit.completion import CompleteEvent, Completion
from prompt_toolkit.document import Document

from chatcli.commands.catalog import build_registry
from chatcli.commands.registry import Registry
from chatcli.repl.completion.completer import (
    MAX_ROWS,
    SessionCompleter,
    classify,
    rank_sessions,
    session_meta,
)
from chatcli.repl.completion.snapshot import Snapshot, SnapshotCache, SnapshotEntry
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers import BASE, ago, entry, seed, snapshot_of

ID_A = "1a2b3c4d-0000-4000-8000-00000000000a"
ID_B = "1a2b9999-0000-4000-8000-00000000000b"
ID_C = "7777aaaa-0000-4000-8000-00000000000c"
ID_D = "8888bbbb-0000-4000-8000-00000000000d"
ID_E = "9999cccc-0000-4000-8000-00000000000e"

ENTRIES = (
    entry(ID_A, "fix-login", "the login page crashes", minutes_ago=5),
    entry(ID_B, None, "docker compose question", minutes_ago=10),
    entry(ID_C, "login-redesign", "new login screen", minutes_ago=1, archived=True),
    entry(ID_D, "deploy", "how to fix the login flow", minutes_ago=20),
    entry(ID_E, "login-fix", "second try", minutes_ago=40),
)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return build_registry()


def completer_over(registry: Registry, entries: Sequence[SnapshotEntry]) -> SessionCompleter:
    snap = snapshot_of(entries)
    return SessionCompleter(registry, lambda: snap)


def complete(completer: SessionCompleter, text: str) -> list[Completion]:
    """The completions offered with the cursor at the end of ``text`` (as after a Tab)."""
    event = CompleteEvent(completion_requested=True)
    return list(completer.get_completions(Document(text, len(text)), event))


def texts(completions: Sequence[Completion]) -> list[str]:
    return [c.text for c in completions]


def ids(ranked: Sequence[tuple[SnapshotEntry, str]]) -> list[str]:
    return [e.id for e, _ in ranked]


# --------------------------------------------------------------------------- classify


@pytest.mark.parametrize(
    ("text", "kind", "word"),
    [
        ("/", "top", ""),
        ("/ses", "top", "ses"),
        ("/sessions ", "sub", ""),
        ("/sessions sh", "sub", "sh"),
        ("/sessions show ", "session", ""),
        ("/sessions show 1a2", "session", "1a2"),
        ("/sessions show --last 3 ", "session", ""),
        ("/sessions show abcd --last ", "int", ""),
        ("/sessions list --li", "option", "--li"),
        ("/sessions export abcd --format ", "choice", ""),
        ("/sessions export abcd -f j", "choice", "j"),
        ("/sessions import ", "path", ""),
        ("/sessions name abcd ", "name", ""),
        ("/sessions rm ", "session", ""),
        ("/resume fi", "session", "fi"),
        ("/help ", "command", ""),
    ],
)
def test_classify_says_what_kind_of_word_is_typed(
    registry: Registry, text: str, kind: str, word: str
) -> None:
    want = classify(registry, text)
    assert want is not None
    assert (want.kind, want.word) == (kind, word)


@pytest.mark.parametrize("text", ["", "hello", "hello /sessions ", "/sessions bogus ", "/quit ", "/new "])
def test_classify_gives_nothing_for_chat_text_and_dead_ends(registry: Registry, text: str) -> None:
    assert classify(registry, text) is None


# --------------------------------------------------------------------------- commands, subcommands, options


def test_slash_commands(registry: Registry) -> None:
    completions = complete(completer_over(registry, ()), "/")
    offered = texts(completions)
    assert {"help", "new", "resume", "clear", "quit", "sessions"} <= set(offered)
    assert len(offered) == len(set(offered))  # a group is offered once, not once per subcommand
    assert "list" not in offered
    sessions = next(c for c in completions if c.text == "sessions")
    assert sessions.display_text == "/sessions"
    assert "list" in sessions.display_meta_text


def test_slash_command_prefix_replaces_the_typed_word(registry: Registry) -> None:
    completions = complete(completer_over(registry, ()), "/res")
    assert texts(completions) == ["resume"]
    assert completions[0].start_position == -3
    assert completions[0].display_meta_text.startswith("Switch to a saved session")


def test_sessions_subcommands_once_each_with_aliases_in_the_meta(registry: Registry) -> None:
    """Issue 12 item 8: 12 commands were 17 menu rows (every alias a row of its own)."""
    offered = complete(completer_over(registry, ()), "/sessions ")
    names = [c.text for c in offered]
    assert len(names) == len(set(names)) == len(registry.subcommands(("sessions",)))
    assert set(names) == {
        "list", "show", "name", "archive", "unarchive", "delete",
        "search", "export", "import", "fork", "prune", "doctor", "trash", "restore",
        "pin", "unpin", "tag", "untag",
    }  # fmt: skip
    completions = {c.text: c for c in offered}
    assert completions["list"].display_meta_text.startswith("List saved sessions")
    assert completions["list"].display_meta_text.endswith("(also: ls)")
    assert completions["delete"].display_meta_text.endswith("(also: rm)")
    assert "also" not in completions["show"].display_meta_text


def test_subcommand_prefix(registry: Registry) -> None:
    # 'undelete' (an alias of restore) is offered: only the alias matches what was typed.
    assert sorted(texts(complete(completer_over(registry, ()), "/sessions un"))) == [
        "unarchive",
        "undelete",
        "unpin",
        "untag",
    ]
    assert texts(complete(completer_over(registry, ()), "/sessions l")) == ["list"]
    # An alias is offered when only it matches what was typed, once, saying what it stands for.
    [grep] = complete(completer_over(registry, ()), "/sessions gr")
    assert grep.text == "grep"
    assert grep.display_meta_text.startswith("= search: ")


def test_options_of_a_subcommand(registry: Registry) -> None:
    completions = complete(completer_over(registry, ()), "/sessions list --li")
    assert texts(completions) == ["--limit"]
    assert completions[0].start_position == -4
    assert completions[0].display_meta_text == "show at most N (default 50)"


def test_used_options_are_not_offered_again(registry: Registry) -> None:
    completer = completer_over(registry, ())
    fresh = set(texts(complete(completer, "/sessions list --")))
    assert {"--archived", "--all", "--search", "--limit", "--json"} <= fresh
    after_all = set(texts(complete(completer, "/sessions list --all --")))
    assert after_all == fresh - {"--all"}
    # The short spelling of an option counts as using it.
    assert set(texts(complete(completer, "/sessions list -n 5 --"))) == fresh - {"--limit"}


def test_choices_of_format(registry: Registry) -> None:
    completer = completer_over(registry, ENTRIES)
    assert texts(complete(completer, f"/sessions export {ID_A} --format ")) == ["markdown", "json"]
    assert texts(complete(completer, f"/sessions export {ID_A} -f j")) == ["json"]


def test_help_topics(registry: Registry) -> None:
    completer = completer_over(registry, ())
    assert {"sessions", "resume", "new"} <= set(texts(complete(completer, "/help ")))
    assert texts(complete(completer, "/help se")) == ["sessions"]


def test_help_topics_after_a_group_are_its_subcommands(registry: Registry) -> None:
    completer = completer_over(registry, ())
    topics = texts(complete(completer, "/help sessions "))
    assert {"list", "show", "delete"} <= set(topics)
    assert "new" not in topics and "ls" not in topics
    assert texts(complete(completer, "/help sessions li")) == ["list"]
    assert texts(complete(completer, "/help /sessions ex")) == ["export"]
    assert complete(completer, "/help new ") == []
    assert complete(completer, "/help sessions list ") == []


def test_no_completion_for_plain_chat_text(registry: Registry) -> None:
    completer = completer_over(registry, ENTRIES)
    for text in ("", "hello", "fix-login", "what about /sessions ", "1a2b"):
        assert complete(completer, text) == []


def test_no_candidates_for_a_new_name(registry: Registry) -> None:
    assert complete(completer_over(registry, ENTRIES), f"/sessions name {ID_A} fi") == []


# --------------------------------------------------------------------------- sessions


def test_session_ids_by_prefix(registry: Registry) -> None:
    completions = complete(completer_over(registry, ENTRIES), "/sessions show 1a2b")
    assert texts(completions) == [ID_A, ID_B]
    assert all(c.start_position == -4 for c in completions)
    assert completions[0].display_text == "1a2b3c4d  fix-login"
    assert completions[1].display_text == "1a2b9999"


def test_session_id_prefix_is_case_insensitive(registry: Registry) -> None:
    assert texts(complete(completer_over(registry, ENTRIES), "/resume 1A2B3")) == [ID_A]


def test_session_names_by_prefix_and_substring(registry: Registry) -> None:
    completer = completer_over(registry, ENTRIES)
    assert texts(complete(completer, "/resume dep")) == ["deploy"]
    # "FIX": name prefix, then name substring, then (3+ characters) the first message of "deploy".
    assert texts(complete(completer, "/resume FIX")) == ["fix-login", "login-fix", "deploy"]
    assert texts(complete(completer, "/sessions delete redes")) == ["login-redesign"]


def test_sessions_by_first_message_need_three_characters(registry: Registry) -> None:
    completer = completer_over(registry, ENTRIES)
    assert texts(complete(completer, "/resume docker")) == [ID_B]  # no name: the id is inserted
    assert complete(completer, "/resume do") == []  # too short to search first messages


def test_ranking_id_prefix_then_name_prefix_then_substring_then_first_message() -> None:
    ranked = rank_sessions(ENTRIES, "login")
    # name prefix: login-fix (active), login-redesign (archived); name substring: fix-login;
    # first message only: deploy ("how to fix the login flow").
    assert ids(ranked) == [ID_E, ID_C, ID_A, ID_D]
    assert [insert for _, insert in ranked] == ["login-fix", "login-redesign", "fix-login", "deploy"]


def test_id_prefix_ranks_before_a_name_with_the_same_prefix() -> None:
    named_like_an_id = entry(ID_D, "1a2b-notes", "x", minutes_ago=0)
    ranked = rank_sessions([named_like_an_id, *ENTRIES], "1a2b")
    assert ids(ranked)[:2] == [ID_A, ID_B]
    assert ranked[2] == (named_like_an_id, "1a2b-notes")


def test_a_stored_name_that_reads_as_an_id_completes_to_the_id() -> None:
    """An older version let ``1a2b3c4d`` (another session's short id) be a name: inserting it
    would reach that other session, so the id of the named session is inserted instead."""
    hijacker = entry(ID_D, ID_A[:8], "x", minutes_ago=0)
    entries = snapshot_of([hijacker, *(e for e in ENTRIES if e.id != ID_D)]).entries
    for word in ("", ID_A[:4], ID_A[:8].upper()):
        for ranked in (rank_sessions(entries, word), rank_sessions(list(entries), word)):
            inserted = {e.id: text for e, text in ranked}
            assert inserted[ID_D] == ID_D, (word, ranked)
    assert hijacker.ref == ID_D and ENTRIES[0].ref == "fix-login" and ENTRIES[1].ref == ID_B


def test_active_before_archived_and_recency_within_a_rank() -> None:
    entries = snapshot_of(
        [
            entry(ID_A, "proj-old", minutes_ago=50),
            entry(ID_B, "proj-archived-new", minutes_ago=1, archived=True),
            entry(ID_C, "proj-new", minutes_ago=5),
            entry(ID_D, "proj-mid", minutes_ago=20),
        ]
    ).entries
    assert ids(rank_sessions(entries, "proj")) == [ID_C, ID_D, ID_A, ID_B]
    assert ids(rank_sessions(entries, "")) == [ID_C, ID_D, ID_A, ID_B]


def test_display_meta_has_first_message_and_age_the_name_once_in_the_label(registry: Registry) -> None:
    """Issue 12 item 8: the row read ``77b86051  q3-roadmap  q3-roadmap · Plan…``."""
    meta = session_meta(ENTRIES[0], now=BASE)
    assert meta == "the login page crashes · 5m ago"
    archived = session_meta(ENTRIES[2], now=BASE)
    assert archived == "new login screen · 1m ago · archived"
    [row] = complete(completer_over(registry, [ENTRIES[0]]), "/sessions show fix-l")
    shown = row.display_text + "  " + row.display_meta_text
    assert shown.count("fix-login") == 1
    assert row.display_text == f"{ID_A[:8]}  fix-login"


def test_display_meta_is_one_clean_line() -> None:
    hostile = entry(ID_A, None, "line one\nline \x1b[2J two " + "x" * 100, minutes_ago=3)
    meta = session_meta(hostile, now=BASE)
    assert "\x1b" not in meta
    assert "\n" not in meta
    assert meta.startswith("line one line ␛[2J two ")
    assert "…" in meta
    assert meta.endswith(" · 3m ago")


def test_completer_meta_uses_the_current_time(registry: Registry) -> None:
    now = datetime.now(UTC)
    recent = entry(ID_A, "fix-login", "the login page crashes", minutes_ago=7, now=now)
    [completion] = complete(completer_over(registry, [recent]), "/resume fix")
    assert completion.display_meta_text == "the login page crashes · 7m ago"


def test_rows_are_capped(registry: Registry) -> None:
    many = [
        entry(f"{i:08x}-0000-4000-8000-000000000000", f"s-{i:03d}", minutes_ago=i)
        for i in range(MAX_ROWS * 3)
    ]
    completer = completer_over(registry, many)
    named = complete(completer, "/resume s-")
    assert len(named) == MAX_ROWS
    assert texts(named)[:3] == ["s-000", "s-001", "s-002"]  # newest first
    assert len(complete(completer, "/resume ")) == MAX_ROWS
    assert len(rank_sessions(many, "s-", limit=5)) == 5


def test_the_completer_reads_whatever_snapshot_is_current(registry: Registry) -> None:
    current = [Snapshot.empty()]
    completer = SessionCompleter(registry, lambda: current[0])
    assert complete(completer, "/resume ") == []
    current[0] = snapshot_of(ENTRIES[:1])
    assert texts(complete(completer, "/resume ")) == ["fix-login"]


# --------------------------------------------------------------------------- no disk access per keystroke


def _forbidden(name: str) -> Callable[..., object]:
    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError(f"{name} called during completion: {args!r}")

    return refuse


def test_no_disk_access_per_keystroke(
    registry: Registry, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = FileRepository(tmp_path / "sessions")
    fix = seed(repo, "the login page crashes", replies=["hi there"], when=ago(5), name="fix-login")
    other = seed(repo, "docker compose question", replies=["hi there"], when=ago(10))
    seed(repo, "an archived one", replies=["hi there"], when=ago(90), name="old-stuff", archived=True)
    snapshots = SnapshotCache(SessionService(repo))
    snapshots.refresh()
    completer = SessionCompleter(registry, snapshots.current)
    typed = [
        "/",
        "/ses",
        "/sessions ",
        "/sessions sh",
        "/sessions show ",
        f"/sessions show {fix.id[:4]}",
        f"/resume {other.id[:6]}",
        "/resume fix",
        "/resume login",
        "/resume doc",
        "/sessions list --",
        f"/sessions export {fix.id} --format ",
        "/sessions delete old",
        "/help ",
        "plain chat text",
    ]
    found: list[str] = []
    with monkeypatch.context() as patch:
        for module, name in (
            (os, "scandir"),
            (os, "stat"),
            (os, "lstat"),
            (os, "open"),
            (os, "listdir"),
            (builtins, "open"),
        ):
            patch.setattr(module, name, _forbidden(f"{module.__name__}.{name}"))
        for name in ("open", "stat", "exists", "iterdir"):
            patch.setattr(pathlib.Path, name, _forbidden(f"Path.{name}"))
        for _ in range(50):
            for text in typed:
                found.extend(texts(complete(completer, text)))
    assert fix.id in found
    assert other.id in found
    assert "fix-login" in found
    assert "old-stuff" in found

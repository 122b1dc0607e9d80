"""Session ranking through the per-snapshot search structure: the same answers as the plain rules,
built once per snapshot, warmed by the REPL and never built on a keystroke while another is."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from chatcli.commands.catalog import build_registry
from chatcli.repl.completion import ranking
from chatcli.repl.completion.completer import MAX_ROWS, SessionCompleter, rank_sessions
from chatcli.repl.completion.ranking import CompletionIndex, session_index, warm_session_index
from chatcli.repl.completion.snapshot import Snapshot, SnapshotEntry
from chatcli.session.fields import SessionStatus, reads_as_id
from tests.helpers import BASE, Repl, entry, snapshot_of, until

Ranked = list[tuple[SnapshotEntry, str]]


def reference(entries: Sequence[SnapshotEntry], word: str, limit: int) -> Ranked:
    """The ranking rules, written out plainly: rank every entry, sort, cut."""
    needle = word.lower()
    rows: list[tuple[int, int, int, SnapshotEntry, str]] = []
    for position, e in enumerate(entries):
        name_lower = e.name.lower() if e.name else ""
        # What names the session when typed back: a name that reads as an id would reach
        # whichever session's id it matches, so the id is inserted instead.
        ref = e.name if e.name and not reads_as_id(e.name) else e.id
        if needle == "":
            rank, insert = 0, ref
        elif e.id.startswith(needle):
            rank, insert = 0, e.id
        elif e.name and name_lower.startswith(needle):
            rank, insert = 1, ref
        elif e.name and needle in name_lower:
            rank, insert = 2, ref
        elif len(needle) >= 3 and needle in e.first_message.lower():
            rank, insert = 3, ref
        else:
            continue
        archived = 1 if e.status == SessionStatus.ARCHIVED else 0
        rows.append((rank, archived, position, e, insert))
    rows.sort(key=lambda row: row[:3])
    return [(e, insert) for _, _, _, e, insert in rows[: max(limit, 0)]]


def same(got: Ranked, want: Ranked) -> bool:
    """The same entries (the very objects), in the same order, with the same insert texts."""
    return [(id(e), text) for e, text in got] == [(id(e), text) for e, text in want]


# ----------------------------------------------------------------------------------- strategies

# Few characters, so ids share prefixes and names share substrings; some lower-case to more
# than one character ("İ"), some change under lower() ("Σ", "ẞ"), the last code point, NUL,
# a lone surrogate, and whitespace of several kinds (never inside a typed word).
ID_CHARS = "0123abcA-\U0010ffff"
NAME_CHARS = "abAB-1İßΣςẞ\U0010ffff😀"
TEXT_CHARS = NAME_CHARS + " \n\t\x00\u2028\x85\ud800é"

ids = st.text(ID_CHARS, min_size=1, max_size=5)
names = st.one_of(st.none(), st.just(""), st.text(NAME_CHARS, min_size=1, max_size=8))
firsts = st.text(TEXT_CHARS, max_size=24)


@st.composite
def snapshot_entries(draw: st.DrawFn) -> tuple[SnapshotEntry, ...]:
    count = draw(st.integers(0, 30))
    made = []
    for i in range(count):
        made.append(
            SnapshotEntry(
                draw(ids),
                draw(names),
                draw(firsts),
                BASE - timedelta(minutes=i),
                draw(st.sampled_from(SessionStatus)),
                draw(st.integers(0, 5)),
            )
        )
    return tuple(made)


@st.composite
def words_for(draw: st.DrawFn, entries: tuple[SnapshotEntry, ...]) -> str:
    """Mostly a piece of some entry's id, name or first message (so there are matches)."""
    pieces = [e.id for e in entries] + [e.name or "" for e in entries] + [e.first_message for e in entries]
    source = draw(st.sampled_from(pieces)) if pieces else ""
    start = draw(st.integers(0, len(source)))
    piece = source[start : start + draw(st.integers(1, 6))]
    return draw(
        st.one_of(
            st.just(""),
            st.just(piece),
            st.just(piece.upper()),
            st.text(TEXT_CHARS, min_size=1, max_size=2),
            st.text(NAME_CHARS + ID_CHARS, min_size=3, max_size=6),
        )
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), entries=snapshot_entries(), limit=st.sampled_from([0, 1, 2, 3, 5, MAX_ROWS]))
def test_the_index_ranks_exactly_like_the_rules(
    data: st.DataObject, entries: tuple[SnapshotEntry, ...], limit: int
) -> None:
    word = data.draw(words_for(entries), label="word")
    want = reference(entries, word, limit)
    assert same(rank_sessions(entries, word, limit), want)  # the cached index of a snapshot tuple
    assert same(rank_sessions(list(entries), word, limit), want)  # any other iterable: a full scan
    # Blocks and chunks of two and three entries: every boundary is crossed.
    tiny = CompletionIndex(entries, block=2, chunk=3)
    assert same(tiny.rank(word, limit), want)
    typed = word.split()[0] if word.split() else ""  # a word as the completer sees it
    assert same(tiny.rank(typed, limit), reference(entries, typed, limit))


def test_prefixes_next_to_the_last_code_point() -> None:
    """A prefix's range ends right: ids and names with U+10FFFF after the prefix still match."""
    top = "\U0010ffff"
    keys = ["a", "a" + top, "a" + top + "b", "a" + top + top, "b", top, top + "a", "ab", "a" + top + "\x00"]
    entries = snapshot_of(
        [entry(f"{k}", f"N{k}", minutes_ago=i) for i, k in enumerate(keys)]
        + [entry(f"x{i}", f"{k}", minutes_ago=20 + i, archived=i % 2 == 1) for i, k in enumerate(keys)]
    ).entries
    for word in ["a", "a" + top, "a" + top + top, top, top + top, "n", "na" + top, "b"]:
        want = reference(entries, word, MAX_ROWS)
        assert same(CompletionIndex(entries, block=2).rank(word, MAX_ROWS), want), word
        assert same(CompletionIndex(entries).rank(word, MAX_ROWS), want), word


def test_many_sessions_rank_like_the_rules() -> None:
    """A few thousand sessions over several blocks and chunks, with dense and sparse matches."""
    made = []
    for i in range(3000):
        sid = f"{(i * 2654435761) % 16**8:08x}-0000-4000-8000-{i:012x}"
        name = None if i % 3 else f"{'task' if i % 2 else 'Proj'}-{i}-{'retry' if i % 7 else 'deploy'}"
        first = f"how do I {'deploy' if i % 5 else 'rollback'} service {i % 97}\nthanks"
        made.append(entry(sid, name, first, minutes_ago=i, archived=i % 4 == 0))
    entries = snapshot_of(made).entries
    index = CompletionIndex(entries, block=64, chunk=256)
    words = ["", "a", "ab", "7", "task", "TASK-1", "proj-2", "-1", "retry", "deploy", "rollback", "service 9"]
    words += ["service", "ice", "thanks", "-29", "zzz", "12", "2999", entries[-1].id[:5]]
    words += [entries[1500].id[:3], entries[2999].id[:2]]
    for word in words:
        for limit in (1, 7, MAX_ROWS, 5000):
            want = reference(entries, word, limit)
            assert same(index.rank(word, limit), want), (word, limit)
            assert same(rank_sessions(entries, word, limit), want), (word, limit)


# ----------------------------------------------------------------------------------- building


class CountingIndex(CompletionIndex):
    """A CompletionIndex that counts how many were built."""

    __slots__ = ()
    built: list[tuple[SnapshotEntry, ...]] = []  # noqa: RUF012 (reset by each test)

    def __init__(self, entries: tuple[SnapshotEntry, ...]) -> None:
        CountingIndex.built.append(entries)
        super().__init__(entries)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> list[tuple[SnapshotEntry, ...]]:
    CountingIndex.built = []
    monkeypatch.setattr(ranking, "CompletionIndex", CountingIndex)
    return CountingIndex.built


def fresh_snapshot() -> Snapshot:
    """A snapshot with a new entries tuple (never the cached one)."""
    return snapshot_of(
        [
            entry("1a2b3c4d-0000-4000-8000-00000000000a", "fix-login", "the login page", minutes_ago=5),
            entry("7777aaaa-0000-4000-8000-00000000000c", "login-redesign", "new login", archived=True),
        ]
    )


def type_into(completer: SessionCompleter, *texts: str) -> list[str]:
    event = CompleteEvent(text_inserted=True)
    return [c.text for text in texts for c in completer.get_completions(Document(text, len(text)), event)]


def test_the_index_is_built_once_per_snapshot(counting: list[tuple[SnapshotEntry, ...]]) -> None:
    current = [fresh_snapshot()]
    completer = SessionCompleter(build_registry(), lambda: current[0])
    typed = ["/resume ", "/resume l", "/resume lo", "/resume log", "/resume 1a2", "/resume zzz"]
    for _ in range(5):
        assert "fix-login" in type_into(completer, *typed)
    assert counting == [current[0].entries]
    first = session_index(current[0].entries)

    current[0] = fresh_snapshot()  # equal sessions, but another snapshot: another index
    type_into(completer, *typed)
    assert counting == [counting[0], current[0].entries]
    assert session_index(current[0].entries) is not first
    assert session_index(current[0].entries) is session_index(current[0].entries)


def test_a_warmed_snapshot_costs_no_build_on_keystrokes(counting: list[tuple[SnapshotEntry, ...]]) -> None:
    snap = fresh_snapshot()
    warm_session_index(snap)
    assert len(counting) == 1
    completer = SessionCompleter(build_registry(), lambda: snap)
    assert type_into(completer, "/resume login") == ["login-redesign", "fix-login"]
    warm_session_index(snap)  # the REPL warms after every refresh, changed or not
    assert len(counting) == 1


def test_a_keystroke_during_a_build_ranks_without_waiting(counting: list[tuple[SnapshotEntry, ...]]) -> None:
    snap = fresh_snapshot()
    with ranking._CACHE._lock:  # another thread is building
        ranked = rank_sessions(snap.entries, "login")
    assert ranked == reference(snap.entries, "login", MAX_ROWS)
    assert counting == []


def test_the_repl_warms_the_index_when_it_refreshes_the_snapshot(repl: Repl) -> None:
    async def scenario(r: Repl) -> None:
        r.type("hello\r")
        await until(lambda: len(r.app.messages) == 2)
        await r.app._refresh_snapshot()
        entries = r.app.snapshots.current().entries
        assert len(entries) == 1
        assert ranking._CACHE.built(entries) is not None

    repl.drive(scenario)

"""The repository contract (seed plan step 0.1), run against InMemoryRepository and FileRepository."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from chatcli.session.errors import InvalidMetadata, SessionAlreadyExists, SessionNotFound
from chatcli.session.models import Message, SessionMetadata, SessionStatus, new_session_id
from chatcli.session.repository import (
    InMemoryRepository,
    SessionFilter,
    SessionList,
    SessionRepository,
    apply_filter,
)
from chatcli.session.transcript import Transcript
from tests.helpers import assistant, make_meta, user

# --------------------------------------------------------------------------- the seed plan, verbatim


def test_in_memory_repo_save_and_get() -> None:
    repo = InMemoryRepository()
    repo.save(SessionMetadata.new("test-1", "First message"))

    loaded = repo.get("test-1")

    assert loaded.id == "test-1"
    assert loaded.first_message == "First message"


def test_get_nonexistent_session() -> None:
    with pytest.raises(SessionNotFound):
        InMemoryRepository().get("nonexistent")


def test_list_empty() -> None:
    assert InMemoryRepository().list(SessionFilter()) == []


def test_list_with_filter() -> None:
    repo = InMemoryRepository()
    repo.save(SessionMetadata.new("active-1", "Active"))
    archived = SessionMetadata.new("archived-1", "Archived")
    archived.archive()
    repo.save(archived)

    results = repo.list(SessionFilter(status=SessionStatus.ACTIVE))

    assert [m.id for m in results] == ["active-1"]


def test_delete_session() -> None:
    repo = InMemoryRepository()
    repo.save(SessionMetadata.new("test-1", "First"))
    repo.delete("test-1")

    with pytest.raises(SessionNotFound):
        repo.get("test-1")


def test_concurrent_save() -> None:
    repo = InMemoryRepository()
    with ThreadPoolExecutor(max_workers=10) as pool:
        futures = [
            pool.submit(repo.save, SessionMetadata.new(f"session-{i}", f"Message {i}")) for i in range(10)
        ]
        for future in futures:
            future.result(timeout=10)

    assert len(repo.list(SessionFilter())) == 10


# ------------------------------------------------------------------- the contract, both implementations


def test_implements_the_protocol(any_repo: SessionRepository) -> None:
    assert isinstance(any_repo, SessionRepository)


def test_save_and_get(any_repo: SessionRepository) -> None:
    meta = make_meta("First message", name="first")
    any_repo.save(meta)

    loaded = any_repo.get(meta.id)

    assert loaded == meta
    assert any_repo.exists(meta.id)


def test_save_replaces(any_repo: SessionRepository) -> None:
    meta = make_meta("one")
    any_repo.save(meta)
    meta.archive()
    meta.custom_fields["k"] = "v"
    any_repo.save(meta)

    assert any_repo.get(meta.id) == meta
    assert len(any_repo.list()) == 1


def test_get_returns_a_copy(any_repo: SessionRepository) -> None:
    meta = make_meta()
    any_repo.save(meta)

    loaded = any_repo.get(meta.id)
    loaded.archive()
    loaded.custom_fields["x"] = 1
    meta.set_name("changed-after-save")

    again = any_repo.get(meta.id)
    assert again.status is SessionStatus.ACTIVE
    assert again.custom_fields == {} and again.name is None


def test_get_nonexistent(any_repo: SessionRepository) -> None:
    with pytest.raises(SessionNotFound) as err:
        any_repo.get(new_session_id())
    assert "/sessions list" in err.value.user_message()


def test_list_empty_contract(any_repo: SessionRepository) -> None:
    listed = any_repo.list(SessionFilter())
    assert listed == [] and isinstance(listed, SessionList) and listed.problems == []
    assert any_repo.list() == []


def test_list_status_filter(any_repo: SessionRepository) -> None:
    active, archived = make_meta("Active"), make_meta("Archived", archived=True)
    any_repo.save(active)
    any_repo.save(archived)

    assert [m.id for m in any_repo.list(SessionFilter(status=SessionStatus.ACTIVE))] == [active.id]
    assert [m.id for m in any_repo.list(SessionFilter(status=SessionStatus.ARCHIVED))] == [archived.id]
    assert {m.id for m in any_repo.list()} == {active.id, archived.id}


def test_list_order_search_and_limit(any_repo: SessionRepository) -> None:
    base = datetime(2025, 1, 1, tzinfo=UTC)
    metas = []
    for i, (first, name) in enumerate(
        [("Fix the LOGIN page", None), ("docs", "Login-Docs"), ("other", None)]
    ):
        meta = make_meta(first, name=name)
        meta.last_active = base + timedelta(hours=i)
        any_repo.save(meta)
        metas.append(meta)

    assert [m.id for m in any_repo.list()] == [m.id for m in reversed(metas)]
    assert [m.id for m in any_repo.list(SessionFilter(search="login"))] == [metas[1].id, metas[0].id]
    assert [m.id for m in any_repo.list(SessionFilter(limit=2))] == [metas[2].id, metas[1].id]
    assert any_repo.list(SessionFilter(limit=0)) == []
    assert any_repo.list(SessionFilter(search="no such text")) == []


def test_delete(any_repo: SessionRepository) -> None:
    keep, doomed = make_meta("keep"), make_meta("doomed")
    any_repo.save(keep)
    any_repo.save(doomed)
    any_repo.append_message(doomed.id, user("bye"))

    any_repo.delete(doomed.id)

    with pytest.raises(SessionNotFound):
        any_repo.get(doomed.id)
    with pytest.raises(SessionNotFound):
        any_repo.load_messages(doomed.id)
    assert not any_repo.exists(doomed.id)
    assert [m.id for m in any_repo.list()] == [keep.id]


def test_delete_nonexistent(any_repo: SessionRepository) -> None:
    with pytest.raises(SessionNotFound):
        any_repo.delete(new_session_id())


def test_concurrent_save_from_ten_threads(any_repo: SessionRepository) -> None:
    metas = [make_meta(f"Message {i}") for i in range(10)]
    start = threading.Barrier(10, timeout=10)

    def save(meta: SessionMetadata) -> None:
        start.wait()
        any_repo.save(meta)

    with ThreadPoolExecutor(max_workers=10) as pool:
        for future in [pool.submit(save, m) for m in metas]:
            future.result(timeout=20)

    assert {m.id for m in any_repo.list()} == {m.id for m in metas}


def test_concurrent_appends_from_threads_lose_nothing(any_repo: SessionRepository) -> None:
    meta = make_meta("")
    any_repo.save(meta)

    def append(t: int) -> None:
        for i in range(15):
            any_repo.append_message(meta.id, user(f"t{t} m{i}", f"t{t}-{i}"))

    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(append, t) for t in range(4)]:
            future.result(timeout=30)

    transcript = any_repo.load_messages(meta.id)
    assert sorted(m.id for m in transcript.messages) == sorted(
        f"t{t}-{i}" for t in range(4) for i in range(15)
    )
    assert any_repo.get(meta.id).message_count == 60


def test_create_with_messages(any_repo: SessionRepository) -> None:
    messages = [user("hi"), assistant("hello"), user("bye")]
    meta = make_meta("hi")
    meta.message_count = len(messages)

    any_repo.create(meta, messages)

    assert any_repo.get(meta.id) == meta
    transcript = any_repo.load_messages(meta.id)
    assert transcript.messages == messages
    assert transcript.warnings == []


def test_create_without_messages(any_repo: SessionRepository) -> None:
    meta = make_meta()
    any_repo.create(meta)
    assert any_repo.load_messages(meta.id).messages == []


def test_create_existing_leaves_it_intact(any_repo: SessionRepository) -> None:
    meta = make_meta("original", name="original")
    any_repo.create(meta, [user("original message")])

    impostor = make_meta("impostor", session_id=meta.id)
    with pytest.raises(SessionAlreadyExists):
        any_repo.create(impostor, [user("impostor message")])

    assert any_repo.get(meta.id) == meta
    assert [m.content for m in any_repo.load_messages(meta.id).messages] == ["original message"]


def test_append_message_updates_metadata(any_repo: SessionRepository) -> None:
    meta = make_meta("")
    any_repo.save(meta)
    first = assistant("welcome")
    second = user("x" * 600)

    after_first = any_repo.append_message(meta.id, first)
    after_second = any_repo.append_message(meta.id, second)

    assert after_first.message_count == 1 and after_first.first_message == ""
    assert after_second.message_count == 2
    assert after_second.first_message == "x" * 500
    assert after_second.last_active > meta.last_active
    assert any_repo.get(meta.id) == after_second
    assert any_repo.load_messages(meta.id).messages == [first, second]


def test_first_message_is_not_overwritten(any_repo: SessionRepository) -> None:
    meta = make_meta("already set")
    any_repo.save(meta)
    assert any_repo.append_message(meta.id, user("later")).first_message == "already set"


def test_append_to_missing_session(any_repo: SessionRepository) -> None:
    missing = new_session_id()
    with pytest.raises(SessionNotFound):
        any_repo.append_message(missing, user("x"))
    assert not any_repo.exists(missing)


def test_load_messages_of_missing_session(any_repo: SessionRepository) -> None:
    with pytest.raises(SessionNotFound):
        any_repo.load_messages(new_session_id())


def test_load_messages_of_a_session_without_transcript(any_repo: SessionRepository) -> None:
    meta = make_meta()
    any_repo.save(meta)
    assert any_repo.load_messages(meta.id) == Transcript()


def test_update(any_repo: SessionRepository) -> None:
    meta = make_meta()
    any_repo.save(meta)

    def rename(m: SessionMetadata) -> None:
        m.set_name("renamed")
        m.archive()

    result = any_repo.update(meta.id, rename)

    assert result.name == "renamed" and result.is_archived
    assert any_repo.get(meta.id) == result


def test_update_failure_changes_nothing(any_repo: SessionRepository) -> None:
    meta = make_meta(name="before")
    any_repo.save(meta)

    def half_then_fail(m: SessionMetadata) -> None:
        m.archive()
        m.set_name("has space")

    with pytest.raises(Exception, match="space"):
        any_repo.update(meta.id, half_then_fail)

    assert any_repo.get(meta.id) == meta
    # The lock was released: the next update goes through.
    assert any_repo.update(meta.id, lambda m: m.archive()).is_archived


def test_update_cannot_change_the_id(any_repo: SessionRepository) -> None:
    meta = make_meta()
    other = new_session_id()
    any_repo.save(meta)

    def change_id(m: SessionMetadata) -> None:
        m.id = other

    with pytest.raises(InvalidMetadata):
        any_repo.update(meta.id, change_id)

    assert any_repo.get(meta.id) == meta
    assert not any_repo.exists(other)


def test_update_missing(any_repo: SessionRepository) -> None:
    with pytest.raises(SessionNotFound):
        any_repo.update(new_session_id(), lambda m: m.archive())


def test_names_lock_is_usable(any_repo: SessionRepository) -> None:
    with any_repo.names_lock():
        pass
    with any_repo.names_lock():
        pass


def test_names_lock_excludes_other_threads(any_repo: SessionRepository) -> None:
    inside = threading.Event()
    entered_second: list[bool] = []

    def second() -> None:
        with any_repo.names_lock():
            entered_second.append(inside.is_set())

    with any_repo.names_lock():
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.3)
        assert thread.is_alive(), "a second holder got in while the lock was held"
        inside.set()
    thread.join(10)
    assert not thread.is_alive()
    assert entered_second == [True]


# --------------------------------------------------------------------------- helpers of the contract


def test_apply_filter_edge_cases() -> None:
    a, b = make_meta("alpha"), make_meta("beta")
    b.last_active = a.last_active
    both = [a, b]

    assert apply_filter(both, SessionFilter(limit=-5)) == []
    assert apply_filter(both, SessionFilter(search="")) == sorted(both, key=lambda m: m.id, reverse=True)
    assert apply_filter([], SessionFilter()) == []


def test_transcript_warnings() -> None:
    assert Transcript().warnings == []
    notes = Transcript(skipped_lines=list(range(1, 13)), torn_tail=True).warnings
    assert "skipped 12 unreadable line(s): 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 …" in notes[0]
    assert "incomplete" in notes[1]


def test_message_order_is_kept(any_repo: SessionRepository) -> None:
    meta = make_meta()
    any_repo.save(meta)
    sent: list[Message] = [user(f"m{i}") if i % 2 else assistant(f"m{i}") for i in range(20)]
    for message in sent:
        any_repo.append_message(meta.id, message)
    assert any_repo.load_messages(meta.id).messages == sent

"""The ``sessions`` command handlers, driven through ``registry.run`` like the REPL and the CLI do."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from chatcli.commands.context import CommandContext
from chatcli.commands.listing import DEFAULT_LIST_LIMIT
from chatcli.commands.registry import Registry
from chatcli.commands.results import Cancelled, ExportResult, ImportReport, SessionChanged
from chatcli.commands.spec import UsageError
from chatcli.render.transcript import transcript_markdown
from chatcli.session.errors import (
    AmbiguousId,
    InvalidName,
    OperationRefused,
    SessionAlreadyExists,
    SessionNotFound,
    StorageError,
)
from chatcli.session.models import SessionStatus, utc_now
from chatcli.session.outcomes import (
    DeleteResult,
    ListResult,
    PruneResult,
    SearchResult,
    SessionDetail,
)
from chatcli.session.service import SessionService
from chatcli.session.transfer import ImportResult
from tests.helpers import at, seed

Ctx = Callable[..., CommandContext]


class Asker:
    """A fake terminal: records the questions and gives a fixed answer."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.questions: list[str] = []

    def __call__(self, question: str) -> bool:
        self.questions.append(question)
        return self.answer


def all_ids(service: SessionService) -> set[str]:
    """Every session id in the store."""
    return {m.id for m in service.list_sessions(status="all").sessions}


def markdown_export(service: SessionService, ref: str) -> str:
    """What ``sessions export REF`` writes: the session's Markdown transcript."""
    loaded = service.load(ref)
    return transcript_markdown(loaded.metadata, loaded.messages)


# --------------------------------------------------------------------------- reads


def test_list_options(registry: Registry, make_ctx: Ctx, service: SessionService) -> None:
    active = [seed(service.repo, f"docker {i}", when=at(i)) for i in range(3)]
    archived = seed(service.repo, "archived docker", when=at(10), archived=True)
    ctx = make_ctx()

    result = registry.run(ctx, ["sessions", "list"])
    assert isinstance(result, ListResult)
    assert [m.id for m in result.sessions] == [m.id for m in reversed(active)]
    archived_only = registry.run(ctx, ["sessions", "list", "--archived"])
    assert isinstance(archived_only, ListResult)
    assert [m.id for m in archived_only.sessions] == [archived.id]
    everything = registry.run(ctx, ["sessions", "ls", "-a", "-n", "2", "--search", "DOCKER"])
    assert isinstance(everything, ListResult)
    assert everything.status == "all"
    assert [m.id for m in everything.sessions] == [archived.id, active[2].id]


def test_list_shows_the_most_recent_50_and_counts_them_all(
    registry: Registry, make_ctx: Ctx, service: SessionService
) -> None:
    seeded = [seed(service.repo, f"task {i}", when=at(i)) for i in range(DEFAULT_LIST_LIMIT + 7)]
    seed(service.repo, "old archived task", when=at(100), archived=True)
    ctx = make_ctx()
    newest_first = [m.id for m in reversed(seeded)]

    default = registry.run(ctx, ["sessions", "list"])
    assert isinstance(default, ListResult)
    assert [m.id for m in default.sessions] == newest_first[:DEFAULT_LIST_LIMIT]
    assert default.total == len(seeded)
    every = registry.run(ctx, ["sessions", "list", "--no-limit"])
    assert isinstance(every, ListResult)
    assert [m.id for m in every.sessions] == newest_first and every.total == len(seeded)
    three = registry.run(ctx, ["sessions", "list", "--all", "-n", "3", "--search", "TASK 1"])
    assert isinstance(three, ListResult)
    assert len(three.sessions) == 3 and three.total == 11  # "task 1", "task 10" … "task 19"
    with pytest.raises(UsageError, match="not both"):
        registry.run(ctx, ["sessions", "list", "--limit", "3", "--no-limit"])


def test_show_and_search(registry: Registry, make_ctx: Ctx, service: SessionService) -> None:
    meta = seed(service.repo, "question", replies=["one", "two", "three"], name="shown")
    detail = registry.run(make_ctx(), ["sessions", "show", "shown", "--last", "2"])
    assert isinstance(detail, SessionDetail)
    assert [m.content for m in detail.recent] == ["two", "three"]
    assert detail.total_messages == 4

    hits = registry.run(make_ctx(), ["sessions", "search", "t", "w", "o", "--limit", "1"])
    assert isinstance(hits, SearchResult)
    assert hits.hits == []  # the words are joined: "t w o"
    found = registry.run(make_ctx(), ["sessions", "grep", "TWO"])
    assert isinstance(found, SearchResult)
    assert [(h.session_id, h.snippet) for h in found.hits] == [(meta.id, "two")]


def test_errors_cross_the_registry_unchanged(
    registry: Registry, make_ctx: Ctx, service: SessionService
) -> None:
    seed(service.repo, "a", session_id="abcd0000-0000-4000-8000-000000000001")
    seed(service.repo, "b", session_id="abcd0000-0000-4000-8000-000000000002")
    with pytest.raises(AmbiguousId):
        registry.run(make_ctx(), ["sessions", "show", "abcd"])
    with pytest.raises(SessionNotFound):
        registry.run(make_ctx(), ["sessions", "archive", "nothing-here"])


# --------------------------------------------------------------------------- name


def test_name_and_clear(registry: Registry, make_ctx: Ctx, service: SessionService) -> None:
    meta = seed(service.repo, "hello")
    named = registry.run(make_ctx(), ["sessions", "name", meta.id[:6], "fix-login"])
    assert isinstance(named, SessionChanged)
    assert (named.verb, named.metadata.name) == ("renamed", "fix-login")
    cleared = registry.run(make_ctx(), ["sessions", "rename", "fix-login", "--clear"])
    assert isinstance(cleared, SessionChanged)
    assert (cleared.verb, cleared.metadata.name) == ("renamed", None)
    assert service.repo.get(meta.id).name is None


def test_name_and_clear_conflict(registry: Registry, make_ctx: Ctx, service: SessionService) -> None:
    meta = seed(service.repo, "hello", name="keep")
    with pytest.raises(UsageError, match="either NAME or --clear"):
        registry.run(make_ctx(), ["sessions", "name", meta.id, "other", "--clear"])
    with pytest.raises(UsageError, match="missing NAME"):
        registry.run(make_ctx(prefix="chatcli "), ["sessions", "name", meta.id], scope="cli")
    assert service.repo.get(meta.id).name == "keep"


def test_name_errors(registry: Registry, make_ctx: Ctx, service: SessionService) -> None:
    seed(service.repo, "one", name="taken")
    other = seed(service.repo, "two")
    with pytest.raises(SessionAlreadyExists):
        registry.run(make_ctx(), ["sessions", "name", other.id, "Taken"])
    with pytest.raises(InvalidName):
        registry.run(make_ctx(), ["sessions", "name", other.id, "[bold]x[/]"])
    assert service.repo.get(other.id).name is None


def test_archive_unarchive(registry: Registry, make_ctx: Ctx, service: SessionService) -> None:
    meta = seed(service.repo, "hello")
    result = registry.run(make_ctx(), ["sessions", "archive", meta.id])
    assert isinstance(result, SessionChanged)
    assert result.verb == "archived"
    assert service.repo.get(meta.id).status is SessionStatus.ARCHIVED
    back = registry.run(make_ctx(), ["sessions", "unarchive", meta.id[:4]])
    assert isinstance(back, SessionChanged)
    assert back.verb == "unarchived"
    assert service.repo.get(meta.id).status is SessionStatus.ACTIVE


# --------------------------------------------------------------------------- delete


def test_delete_declined_deletes_nothing(registry: Registry, make_ctx: Ctx, service: SessionService) -> None:
    meta = seed(service.repo, "hello", replies=["r"], name="precious")
    asker = Asker(False)
    result = registry.run(make_ctx(confirm=asker), ["sessions", "delete", "precious"])
    assert isinstance(result, Cancelled)
    assert service.repo.exists(meta.id)
    (question,) = asker.questions
    assert meta.id[:8] in question and "precious" in question and "2 messages" in question


def test_delete_confirmed(registry: Registry, make_ctx: Ctx, service: SessionService) -> None:
    meta = seed(service.repo, "hello")
    kept = seed(service.repo, "kept")
    asker = Asker(True)
    result = registry.run(make_ctx(confirm=asker), ["sessions", "rm", meta.id[:8]])
    assert isinstance(result, DeleteResult)
    assert result.metadata.id == meta.id
    assert len(asker.questions) == 1
    assert all_ids(service) == {kept.id}


def test_delete_of_the_current_session_says_so(registry: Registry, service: SessionService) -> None:
    meta = seed(service.repo, "hello")
    asker = Asker(False)
    ctx = CommandContext(service, confirm=asker, current_session_id=meta.id)
    registry.run(ctx, ["sessions", "delete", meta.id])
    assert "the session you are in" in asker.questions[0]


def test_delete_without_a_terminal_refuses(
    registry: Registry, make_ctx: Ctx, service: SessionService
) -> None:
    meta = seed(service.repo, "hello")
    with pytest.raises(OperationRefused) as info:
        registry.run(make_ctx(confirm=None, prefix="chatcli "), ["sessions", "delete", meta.id])
    text = info.value.user_message()
    assert "--yes" in text
    assert f"chatcli sessions delete {meta.id} --yes" in text
    assert info.value.exit_code == 1
    assert service.repo.exists(meta.id)


def test_delete_with_yes_does_not_ask(registry: Registry, make_ctx: Ctx, service: SessionService) -> None:
    meta = seed(service.repo, "hello")
    asker = Asker(False)
    assert isinstance(
        registry.run(make_ctx(confirm=asker), ["sessions", "delete", meta.id, "--yes"]), DeleteResult
    )
    assert asker.questions == []
    other = seed(service.repo, "other")
    assert isinstance(
        registry.run(make_ctx(confirm=None), ["sessions", "delete", "-y", other.id]), DeleteResult
    )
    assert all_ids(service) == set()


def test_delete_of_an_unknown_session_asks_nothing(registry: Registry, make_ctx: Ctx) -> None:
    asker = Asker(True)
    with pytest.raises(SessionNotFound):
        registry.run(make_ctx(confirm=asker), ["sessions", "delete", "ghost"])
    assert asker.questions == []


# --------------------------------------------------------------------------- prune


@pytest.fixture
def aged(service: SessionService) -> dict[str, str]:
    """Sessions of several ages: old active, old archived, recent."""
    now = utc_now()
    return {
        "old": seed(service.repo, "old", when=now - timedelta(days=100)).id,
        "old_archived": seed(service.repo, "oa", when=now - timedelta(days=100), archived=True).id,
        "recent": seed(service.repo, "recent", when=now - timedelta(days=2)).id,
    }


def test_prune_dry_run_deletes_nothing(
    registry: Registry, make_ctx: Ctx, service: SessionService, aged: dict[str, str]
) -> None:
    asker = Asker(True)
    result = registry.run(make_ctx(confirm=asker), ["sessions", "prune", "--older-than", "30d", "--dry-run"])
    assert isinstance(result, PruneResult)
    assert result.dry_run is True
    assert {m.id for m in result.sessions} == {aged["old"], aged["old_archived"]}
    assert asker.questions == []
    assert all_ids(service) == set(aged.values())


def test_prune_declined(
    registry: Registry, make_ctx: Ctx, service: SessionService, aged: dict[str, str]
) -> None:
    asker = Asker(False)
    result = registry.run(make_ctx(confirm=asker), ["sessions", "prune", "--older-than", "4w"])
    assert isinstance(result, Cancelled)
    assert "Delete 2 sessions" in asker.questions[0]
    assert all_ids(service) == set(aged.values())


def test_prune_confirmation_shows_the_cutoff_and_the_sessions(
    registry: Registry, make_ctx: Ctx, service: SessionService
) -> None:
    now = utc_now()
    old = [
        seed(service.repo, f"old {i}\nsecond line", when=now - timedelta(days=200 + i)).id for i in range(24)
    ]
    named = seed(service.repo, "hostile", when=now - timedelta(days=300), name="evil-name").id
    meta = service.repo.get(named)
    meta.first_message = "clear \x1b[2J \u202e end"
    service.repo.save(meta)
    seed(service.repo, "recent", when=now - timedelta(days=2))
    asker = Asker(False)

    result = registry.run(make_ctx(confirm=asker), ["sessions", "prune", "--older-than", "6months"])

    assert isinstance(result, Cancelled)
    question = asker.questions[0]
    cutoff = now - timedelta(days=180)
    assert question.startswith("Delete 25 sessions last active before ")
    assert f"{cutoff:%Y-%m-%d %H:}" in question.splitlines()[0] and "UTC" in question.splitlines()[0]
    listed = [sid for sid in [*old, named] if sid[:8] in question]
    assert len(listed) == 20
    assert "and 5 more" in question
    assert len(question.splitlines()) == 1 + 20 + 1 + 1, "one line per session"
    for ch in ("\x1b", "\u202e"):
        assert ch not in question
    assert question.rstrip().endswith("?")


def test_prune_without_a_terminal_refuses(
    registry: Registry, make_ctx: Ctx, service: SessionService, aged: dict[str, str]
) -> None:
    with pytest.raises(OperationRefused) as info:
        registry.run(
            make_ctx(prefix="chatcli "), ["sessions", "prune", "--older-than", "720h", "--archived-only"]
        )
    assert "chatcli sessions prune --older-than 30d --archived-only --yes" in info.value.user_message()
    assert all_ids(service) == set(aged.values())


def test_prune_confirmed_archived_only(
    registry: Registry, make_ctx: Ctx, service: SessionService, aged: dict[str, str]
) -> None:
    asker = Asker(True)
    result = registry.run(
        make_ctx(confirm=asker), ["sessions", "prune", "--older-than=30d", "--archived-only"]
    )
    assert isinstance(result, PruneResult)
    assert result.dry_run is False
    assert [m.id for m in result.sessions] == [aged["old_archived"]]
    assert "archived sessions" in asker.questions[0]
    assert all_ids(service) == {aged["old"], aged["recent"]}


def test_prune_with_yes(
    registry: Registry, make_ctx: Ctx, service: SessionService, aged: dict[str, str]
) -> None:
    result = registry.run(make_ctx(), ["sessions", "prune", "--older-than", "30d", "--yes"])
    assert isinstance(result, PruneResult)
    assert {m.id for m in result.sessions} == {aged["old"], aged["old_archived"]}
    assert all_ids(service) == {aged["recent"]}


def test_prune_with_nothing_to_do_does_not_ask(
    registry: Registry, make_ctx: Ctx, service: SessionService, aged: dict[str, str]
) -> None:
    asker = Asker(True)
    result = registry.run(make_ctx(confirm=asker), ["sessions", "prune", "--older-than", "1y"])
    assert isinstance(result, PruneResult)
    assert result.sessions == []
    assert asker.questions == []


def test_prune_needs_older_than(registry: Registry, make_ctx: Ctx, aged: dict[str, str]) -> None:
    with pytest.raises(UsageError, match="missing --older-than"):
        registry.run(make_ctx(), ["sessions", "prune", "--yes"])
    with pytest.raises(UsageError):
        registry.run(make_ctx(), ["sessions", "prune", "--older-than", "soon", "--yes"])


# --------------------------------------------------------------------------- export / import / fork


def test_export_prints_by_default(registry: Registry, make_ctx: Ctx, service: SessionService) -> None:
    meta = seed(service.repo, "hello", replies=["world"], name="ex")
    result = registry.run(make_ctx(), ["sessions", "export", "ex"])
    assert isinstance(result, ExportResult)
    assert (result.session_id, result.fmt, result.path) == (meta.id, "markdown", None)
    assert result.text == markdown_export(service, meta.id)
    as_json = registry.run(make_ctx(), ["sessions", "export", "ex", "-f", "json", "-o", "-"])
    assert isinstance(as_json, ExportResult)
    assert as_json.text is not None
    assert json.loads(as_json.text)["session"]["id"] == meta.id


def test_export_markdown(registry: Registry, make_ctx: Ctx, service: SessionService) -> None:
    meta = seed(service.repo, "How do I **bold**?", replies=["Like this."], name="md")
    result = registry.run(make_ctx(), ["sessions", "export", "md"])
    assert isinstance(result, ExportResult) and result.text is not None
    text = result.text
    assert text.startswith("# Session md\n")
    assert f"`{meta.id}`" in text
    assert "**You** · " in text and "**Assistant** · " in text
    assert "How do I **bold**?" in text and "Like this." in text
    assert text.index("How do I") < text.index("Like this.")


def test_export_to_a_file_refuses_to_overwrite_without_force(
    registry: Registry, make_ctx: Ctx, service: SessionService, tmp_path: Path
) -> None:
    meta = seed(service.repo, "hello", replies=["world"])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "s.json"

    result = registry.run(make_ctx(), ["sessions", "export", meta.id, "--format", "json", "-o", str(target)])
    assert isinstance(result, ExportResult)
    assert result.path == target
    assert result.text is None
    assert target.read_text(encoding="utf-8") == service.export(meta.id)

    target.write_text("precious", encoding="utf-8")
    with pytest.raises(SessionAlreadyExists) as info:
        registry.run(make_ctx(), ["sessions", "export", meta.id, "-o", str(target)])
    assert "--force" in info.value.user_message()
    assert target.read_text(encoding="utf-8") == "precious"

    registry.run(make_ctx(), ["sessions", "export", meta.id, "-o", str(target), "--force"])
    assert target.read_text(encoding="utf-8") == markdown_export(service, meta.id)
    assert sorted(p.name for p in out_dir.iterdir()) == ["s.json"]  # no temporary file left behind


def test_export_failure_leaves_the_old_file_and_no_temporary(
    registry: Registry,
    make_ctx: Ctx,
    service: SessionService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    meta = seed(service.repo, "hello")
    target = tmp_path / "s.md"
    target.write_text("old content", encoding="utf-8")

    def no_space(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(StorageError) as info:
        registry.run(make_ctx(), ["sessions", "export", meta.id, "-o", str(target), "--force"])
    assert info.value.exit_code == 3
    assert target.read_text(encoding="utf-8") == "old content"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_export_into_a_missing_folder(
    registry: Registry, make_ctx: Ctx, service: SessionService, tmp_path: Path
) -> None:
    meta = seed(service.repo, "hello")
    with pytest.raises(StorageError):
        registry.run(make_ctx(), ["sessions", "export", meta.id, "-o", str(tmp_path / "nope" / "s.md")])


def test_export_bad_format_is_a_usage_error(
    registry: Registry, make_ctx: Ctx, service: SessionService
) -> None:
    meta = seed(service.repo, "hello")
    with pytest.raises(UsageError, match="markdown, json"):
        registry.run(make_ctx(), ["sessions", "export", meta.id, "--format", "pdf"])


def test_import_and_fork(registry: Registry, make_ctx: Ctx, service: SessionService, tmp_path: Path) -> None:
    source = seed(service.repo, "hello", replies=["world"], name="src")
    doc = json.loads(service.export(source.id))
    doc["session"]["id"] = "99999999-0000-4000-8000-000000000009"
    doc["session"]["name"] = "imported"
    path = tmp_path / "in.json"
    path.write_text(json.dumps(doc), encoding="utf-8")

    report = registry.run(make_ctx(), ["sessions", "import", str(path)])
    assert isinstance(report, ImportReport)
    imported = report.result
    assert isinstance(imported, ImportResult)
    assert [m.id for m in imported.imported] == ["99999999-0000-4000-8000-000000000009"]

    forked = registry.run(make_ctx(), ["sessions", "fork", "src", "--name", "src-copy"])
    assert isinstance(forked, SessionChanged)
    assert forked.verb == "forked"
    assert forked.source_id == source.id
    assert forked.metadata.name == "src-copy"
    assert service.show("src-copy").total_messages == 2
    assert len(all_ids(service)) == 3

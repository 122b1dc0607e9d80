"""``chatcli sessions …`` through the real entry point: every subcommand, the sessions folder,
errors, exit codes and JSON, in a subprocess.

Sessions are created in-process through the public repository API, then the command line runs
against the same folder with stdin at /dev/null and stdout/stderr piped (so: no terminal). Every
call checks that no traceback reached the user. Independent calls run in parallel to keep the
file fast."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from chatcli.session.location import ENV_SESSIONS_DIR
from chatcli.session.models import SessionMetadata, SessionStatus, utc_now
from chatcli.session.store import FileRepository
from tests.helpers import seed, write_corpus
from tests.helpers.sessions_cli import Cli, Run, listed, plain_env, run_chatcli

# --------------------------------------------------------------------------- every subcommand works


def test_every_subcommand_succeeds(cli: Cli, repo: FileRepository, tmp_path: Path) -> None:
    alpha, beta, old = _three_sessions(repo)
    _list_and_show(cli, alpha, beta, old)
    _name_archive_and_unarchive(cli, repo, old)
    _search_messages(cli, alpha)
    _export_and_import(cli, repo, tmp_path, alpha)
    fork_id = _fork(cli, repo, alpha)
    _prune(cli, repo, old)
    _delete(cli, repo, alpha, beta, fork_id)


def _three_sessions(repo: FileRepository) -> tuple[SessionMetadata, SessionMetadata, SessionMetadata]:
    """alpha (named, an hour old), beta (archived) and old (100 days old)."""
    now = utc_now()
    alpha = seed(
        repo,
        "Alpha question about docker",
        when=now - timedelta(hours=1),
        replies=["alpha answer"],
        name="alpha",
    )
    beta = seed(repo, "beta archived", when=now - timedelta(hours=2), archived=True)
    old = seed(repo, "ancient history", when=now - timedelta(days=100))
    return alpha, beta, old


def _list_and_show(cli: Cli, alpha: SessionMetadata, beta: SessionMetadata, old: SessionMetadata) -> None:
    """``list`` (its JSON, its filters, the table) and ``show``."""
    listing = cli("list", "--json")
    assert listing.code == 0
    doc = listing.json()
    assert set(doc) == {"sessions", "problems", "status", "search", "total"}
    assert doc["status"] == "active" and doc["search"] is None and doc["problems"] == []
    assert [s["id"] for s in doc["sessions"]] == [alpha.id, old.id]
    first = doc["sessions"][0]
    assert set(first) >= {"id", "name", "status", "created", "last_active", "first_message", "message_count"}
    assert (first["name"], first["status"], first["message_count"]) == ("alpha", "active", 2)
    assert first["first_message"] == "Alpha question about docker"
    assert first["last_active"].endswith("Z")

    assert [s["id"] for s in cli("list", "--all", "--json").json()["sessions"]] == [alpha.id, beta.id, old.id]
    assert [s["id"] for s in cli("list", "--archived", "--json").json()["sessions"]] == [beta.id]
    assert [s["id"] for s in cli("ls", "-a", "-n", "1", "--json").json()["sessions"]] == [alpha.id]
    searched = cli("list", "--search", "DOCKER", "--json").json()
    assert (searched["search"], [s["id"] for s in searched["sessions"]]) == ("DOCKER", [alpha.id])

    table = cli("list")
    assert table.code == 0 and table.err == ""
    assert alpha.id[:8] in table.out and old.id[:8] in table.out and beta.id[:8] not in table.out

    shown = cli("show", "alpha", "--json")
    assert shown.code == 0
    detail = shown.json()
    assert set(detail) == {"session", "system_prompt", "messages", "total_messages", "warnings", "trashed"}
    assert detail["session"]["id"] == alpha.id
    assert detail["total_messages"] == 2
    assert [(m["role"], m["content"]) for m in detail["messages"]] == [
        ("user", "Alpha question about docker"),
        ("assistant", "alpha answer"),
    ]
    human = cli("show", alpha.id[:6])
    assert human.code == 0 and "alpha answer" in human.out and alpha.id in human.out


def _name_archive_and_unarchive(cli: Cli, repo: FileRepository, old: SessionMetadata) -> None:
    """``name``, ``archive`` and ``unarchive`` change the stored session."""
    renamed = cli("name", old.id[:8], "old-one", "--json")
    assert renamed.code == 0
    assert renamed.json()["session"]["name"] == "old-one"
    assert repo.get(old.id).name == "old-one"

    archived = cli("archive", "old-one", "--json")
    assert (archived.code, archived.json()["action"]) == (0, "archived")
    assert repo.get(old.id).status is SessionStatus.ARCHIVED
    unarchived = cli("unarchive", "old-one")
    assert unarchived.code == 0 and old.id[:8] in unarchived.out
    assert repo.get(old.id).status is SessionStatus.ACTIVE


def _search_messages(cli: Cli, alpha: SessionMetadata) -> None:
    """``search --messages``: its JSON document and its hits."""
    hits = cli("search", "ALPHA", "--messages", "--json")
    assert hits.code == 0
    result = hits.json()
    assert set(result) == {
        "query",
        "sort",
        "sessions",
        "hits",
        "total_hits",
        "sessions_matched",
        "sessions_searched",
        "counted",
        "truncated",
        "warnings",
        "notice",
    }
    assert result["warnings"] == [] and result["counted"] is True
    assert result["query"] == "ALPHA" and result["truncated"] is False and result["sessions_searched"] == 3
    assert [(h["session_id"], h["role"]) for h in result["hits"]] == [  # oldest first in a session
        (alpha.id, "user"),
        (alpha.id, "assistant"),
    ]
    assert set(result["hits"][0]) == {
        "session_id",
        "session_name",
        "role",
        "timestamp",
        "snippet",
        "message_index",
    }
    assert "alpha answer" in result["hits"][1]["snippet"]
    assert result["hits"][0]["session_name"] == "alpha"


def _export_and_import(cli: Cli, repo: FileRepository, tmp_path: Path, alpha: SessionMetadata) -> None:
    """``export`` as Markdown and JSON; ``import`` of the JSON into another folder, twice."""
    markdown = cli("export", "alpha")
    assert markdown.code == 0
    assert markdown.out.startswith("# Session alpha")
    assert "alpha answer" in markdown.out
    export_file = tmp_path / "alpha.json"
    exported = cli("export", "alpha", "--format", "json", "-o", str(export_file))
    assert exported.code == 0 and "alpha.json" in exported.out
    assert json.loads(export_file.read_text(encoding="utf-8"))["session"]["id"] == alpha.id

    other_dir = tmp_path / "other-sessions"
    imported = cli("import", str(export_file), "--json", folder=other_dir)
    assert imported.code == 0
    report = imported.json()
    assert set(report) == {"imported", "skipped", "notes"}
    assert [s["id"] for s in report["imported"]] == [alpha.id]
    assert report["skipped"] == [] and report["notes"] == []
    assert FileRepository(other_dir).load_messages(alpha.id).messages == repo.load_messages(alpha.id).messages
    again = cli("import", str(export_file), "--json", folder=other_dir)
    assert again.code == 0
    assert [s["source"] for s in again.json()["skipped"]] == [alpha.id]


def _fork(cli: Cli, repo: FileRepository, alpha: SessionMetadata) -> str:
    """``fork`` copies the messages into a new named session; its id."""
    forked = cli("fork", "alpha", "--name", "alpha-2", "--json")
    assert forked.code == 0
    fork_doc = forked.json()
    assert (fork_doc["action"], fork_doc["source_id"]) == ("forked", alpha.id)
    assert fork_doc["session"]["custom_fields"] == {"forked_from": alpha.id}
    assert fork_doc["session"]["name"] == "alpha-2"
    assert repo.load_messages(fork_doc["session"]["id"]).messages == repo.load_messages(alpha.id).messages
    return fork_doc["session"]["id"]


def _prune(cli: Cli, repo: FileRepository, old: SessionMetadata) -> None:
    """``prune --dry-run`` lists the old session, ``prune --yes`` deletes it."""
    dry = cli("prune", "--older-than", "30d", "--dry-run", "--json")
    assert dry.code == 0
    dry_doc = dry.json()
    assert set(dry_doc) == {"dry_run", "cutoff", "sessions", "failures", "not_reached", "pinned_kept"}
    assert dry_doc["dry_run"] is True
    assert [s["id"] for s in dry_doc["sessions"]] == [old.id]
    assert old.id in listed(repo)
    pruned = cli("prune", "--older-than", "30d", "--yes", "--json")
    assert pruned.code == 0
    assert (pruned.json()["dry_run"], [s["id"] for s in pruned.json()["sessions"]]) == (False, [old.id])
    assert old.id not in listed(repo)


def _delete(
    cli: Cli, repo: FileRepository, alpha: SessionMetadata, beta: SessionMetadata, fork_id: str
) -> None:
    """``delete`` (and its alias ``rm``) remove the fork and beta."""
    deleted = cli("delete", "alpha-2", "--yes", "--json")
    assert deleted.code == 0
    assert deleted.json()["deleted"]["id"] == fork_id
    assert set(listed(repo)) == {alpha.id, beta.id}
    human_delete = cli("rm", "-y", beta.id)
    assert human_delete.code == 0 and beta.id[:8] in human_delete.out
    assert set(listed(repo)) == {alpha.id}


def test_sessions_dir_from_the_environment(cli: Cli, repo: FileRepository, tmp_path: Path) -> None:
    meta = seed(repo, "from the env")
    run = cli("list", "--json", folder=None, env={ENV_SESSIONS_DIR: str(repo.root)})
    assert run.code == 0
    assert [s["id"] for s in run.json()["sessions"]] == [meta.id]
    # --sessions-dir=PATH beats the environment.
    empty = tmp_path / "empty"
    flag = cli(
        f"--sessions-dir={empty}", "list", "--json", folder=None, env={ENV_SESSIONS_DIR: str(repo.root)}
    )
    assert flag.code == 0
    assert flag.json()["sessions"] == []
    # The flag also works in front of 'sessions', where 'chatcli --help' lists it.
    front = run_chatcli(
        ["--sessions-dir", str(repo.root), "sessions", "list", "--json"], plain_env(None), tmp_path
    )
    assert front.code == 0
    assert [s["id"] for s in front.json()["sessions"]] == [meta.id]


def test_read_commands_create_nothing(cli: Cli, sessions_dir: Path) -> None:
    listing = cli("list")
    assert listing.code == 0
    assert "No active sessions yet" in listing.out
    assert cli("search", "anything", "--json").json()["hits"] == []
    assert not sessions_dir.exists()


def test_import_the_json_lines_corpus(cli: Cli, repo: FileRepository, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    records = write_corpus(corpus, 12, 2)
    run = cli("import", str(corpus), "--json")
    assert run.code == 0
    assert sorted(s["id"] for s in run.json()["imported"]) == sorted(r["id"] for r in records)
    stored = listed(repo)
    for record in records:
        assert stored[record["id"]].name == record["name"]
        assert stored[record["id"]].status.value == record["status"]
    human = cli("import", str(corpus))
    assert human.code == 0
    assert "Nothing was imported" in human.out and "Skipped 12 sessions that already exist" in human.out


# --------------------------------------------------------------------------- errors and exit codes


#: (arguments, exit code, error kind, words the message contains); run against ``two_similar``.
ERROR_CASES: list[tuple[tuple[str, ...], int, str, str]] = [
    (("show", "no-such-session"), 1, "not_found", "not found"),
    (("show", "abc"), 1, "not_found", "at least 4 characters"),
    (("archive", "ffff0000"), 1, "not_found", "not found"),
    (("name", "first", "bad name"), 1, "invalid_name", "contains a space"),
    (("name", "abcd1234-0000-4000-8000-000000000002", "FIRST"), 1, "already_exists", "already exists"),
    (("show", "abcd"), 1, "ambiguous_id", "abcd1234-0000-4000-8000-000000000002"),
    (("delete", "first"), 1, "refused", "--yes"),
    (("prune", "--older-than", "1d"), 1, "refused", "--yes"),
    (("import", "missing.json"), 1, "input_file", "missing.json"),
    (("list", "--bogus"), 2, "usage", "unknown option '--bogus'"),
    (("list", "--limt", "3"), 2, "usage", "did you mean --limit?"),
    (("show",), 2, "usage", "missing ID"),
    (("show", "a", "b"), 2, "usage", "unexpected argument"),
    (("list", "--limit", "x"), 2, "usage", "whole number"),
    (("prune", "--older-than", "soon"), 2, "usage", "not a duration"),
    (("prune", "--older-than", "10000y"), 2, "usage", "at most 1000y"),
    (("prune", "--older-than", "3000000w"), 2, "usage", "at most 1000y"),
    (("prune", "--older-than", "99999999999999999999d"), 2, "usage", "at most 1000y"),
    (("prune", "--older-than", "6M"), 2, "usage", "mo for months or h for hours"),
    (("prune", "--older-than", "30s"), 2, "usage", "the shortest is h"),
    (("list", "--limit", "99999999999999999999"), 2, "usage", "at most 1000000"),
    (("show", "first", "--last", "1000001"), 2, "usage", "at most 1000000"),
    (("search", ""), 2, "usage", "empty"),
    (("name", "first", "other", "--clear"), 2, "usage", "NAME or --clear"),
    (("bogus",), 2, "unknown_command", "chatcli sessions --help"),
    (("lsit",), 2, "unknown_command", "did you mean chatcli sessions list"),
    # Issue 12 item 3: "the session in use" exists only in the chat.
    (("show", "."), 2, "no_current_session", "exists only inside the chat"),
    (("delete", ".", "--yes"), 2, "no_current_session", "exists only inside the chat"),
    (("fork",), 2, "usage", "missing ID (a session id, unique id prefix or name"),
    (("name", "fix-login"), 2, "usage", "missing NAME"),
]


@pytest.fixture
def two_similar(repo: FileRepository) -> tuple[SessionMetadata, SessionMetadata]:
    """Two sessions whose ids share the prefix ``abcd1234``."""
    return (
        seed(repo, "first", session_id="abcd1234-0000-4000-8000-000000000001", name="first"),
        seed(repo, "second", session_id="abcd1234-0000-4000-8000-000000000002"),
    )


def test_errors_exit_codes_and_json(
    cli_many: Callable[[Sequence[Sequence[str]]], list[Run]],
    repo: FileRepository,
    two_similar: tuple[SessionMetadata, SessionMetadata],
) -> None:
    json_runs = cli_many([(*args, "--json") for args, *_ in ERROR_CASES])
    for (_args, code, kind, words), run in zip(ERROR_CASES, json_runs, strict=True):
        assert run.code == code, run
        error = run.error()
        assert error["kind"] == kind, run
        assert words in error["message"], run
    # Without --json: the same exit code and a readable message on stderr, nothing on stdout
    # (one case per exit code and kind of message).
    human_cases = [ERROR_CASES[i] for i in (0, 5, 6, 8, 9, 11, 17)]
    for (_args, code, _kind, words), run in zip(
        human_cases, cli_many([c[0] for c in human_cases]), strict=True
    ):
        assert run.code == code, run
        assert run.out == "", run
        assert words.split()[0] in run.err, run
    # Nothing was changed by any of the failed commands.
    assert set(listed(repo)) == {m.id for m in two_similar}
    assert repo.get(two_similar[0].id).name == "first"
    assert repo.get(two_similar[1].id).name is None


def test_sessions_dir_under_a_regular_file_is_a_storage_failure(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    folder = blocker / "sessions"
    for args in (("list", "--json"), ("show", "abcd", "--json"), ("import", str(blocker), "--json")):
        run = cli(*args, folder=folder)
        assert run.code == 3, run
        assert run.error()["kind"] == "storage"
    human = cli("list", folder=folder)
    assert human.code == 3 and "Storage error" in human.err
    assert blocker.read_text(encoding="utf-8") == "not a folder"


def test_symlinked_sessions_dir_is_refused(cli: Cli, repo: FileRepository, tmp_path: Path) -> None:
    meta = seed(repo, "behind a link")
    link = tmp_path / "link"
    link.symlink_to(repo.root, target_is_directory=True)
    for args in (
        ("list", "--json"),
        ("delete", meta.id, "--yes", "--json"),
        ("name", meta.id, "x", "--json"),
    ):
        run = cli(*args, folder=link)
        assert run.code == 3, run
        assert run.error()["kind"] == "unsafe_path"
    human = cli("list", folder=link)
    assert human.code == 3 and "symbolic link" in human.err
    assert repo.get(meta.id).name is None
    assert repo.exists(meta.id)


def test_refused_delete_deletes_nothing(cli: Cli, repo: FileRepository) -> None:
    meta = seed(repo, "keep me", name="keep")
    run = cli("delete", "keep", "--json")
    assert run.code == 1
    message = run.error()["message"]
    assert "without confirmation" in message
    assert f"chatcli sessions delete {meta.id} --yes" in message
    assert repo.exists(meta.id)


def test_export_refuses_to_overwrite(cli: Cli, repo: FileRepository, tmp_path: Path) -> None:
    meta = seed(repo, "hello")
    target = tmp_path / "out.md"
    target.write_text("precious", encoding="utf-8")
    run = cli("export", meta.id, "-o", str(target), "--json")
    assert run.code == 1
    assert run.error()["kind"] == "already_exists"
    assert target.read_text(encoding="utf-8") == "precious"
    forced = cli("export", meta.id, "-o", str(target), "--force", "--json")
    assert forced.code == 0
    assert forced.json() == {"session_id": meta.id, "format": "markdown", "path": str(target), "text": None}
    assert target.read_text(encoding="utf-8").startswith(f"# Session {meta.id}")
    printed = cli("export", meta.id, "--format", "json", "--json")
    assert printed.code == 0
    doc = printed.json()
    assert (doc["path"], doc["format"]) == (None, "json")
    assert json.loads(doc["text"])["session"]["id"] == meta.id

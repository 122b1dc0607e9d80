"""SessionService: export and import, against the file store and the in-memory one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatcli.session.errors import (
    SessionError,
)
from chatcli.session.models import Message, SessionStatus
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers import TEST_LOCK_TIMEOUT, at, ids, messages_of, seed, write_corpus

# --------------------------------------------------------------------------- export


def test_export_json_document(svc: SessionService) -> None:
    meta = seed(svc.repo, "question", replies=["answer"], name="js")
    doc = json.loads(svc.export(meta.id))
    assert doc["format"] == "chatcli-session"
    assert doc["version"] == 1
    assert doc["session"]["id"] == meta.id
    assert doc["session"]["name"] == "js"
    assert [m["role"] for m in doc["messages"]] == ["user", "assistant"]
    assert [m["content"] for m in doc["messages"]] == ["question", "answer"]


# --------------------------------------------------------------------------- import


def test_json_export_round_trips_into_an_empty_folder(file_svc: SessionService, tmp_path: Path) -> None:
    meta = seed(
        file_svc.repo,
        'Unicode ✓ and "quotes"\nand lines',
        when=at(0),
        replies=["first reply", "second\treply"],
        name="round-trip",
    )
    file_svc.append(meta.id, Message(role="assistant", content="cut", interrupted=True))
    file_svc.archive(meta.id)
    export = tmp_path / "export.json"
    export.write_text(file_svc.export(meta.id), encoding="utf-8")

    target = SessionService(FileRepository(tmp_path / "elsewhere", lock_timeout=TEST_LOCK_TIMEOUT))
    result = target.import_file(export)
    assert result.skipped == []
    assert result.notes == []
    assert ids(result.imported) == [meta.id]
    assert messages_of(target, meta.id) == messages_of(file_svc, meta.id)
    assert [m.interrupted for m in target.repo.load_messages(meta.id).messages] == [
        False,
        False,
        False,
        True,
    ]
    copied = target.repo.get(meta.id)
    original = file_svc.repo.get(meta.id)
    assert copied.name == "round-trip"
    assert copied.status is SessionStatus.ARCHIVED
    assert copied.created == original.created
    assert copied.last_active == original.last_active
    assert copied.first_message == original.first_message
    assert copied.message_count == 4


def test_import_a_json_array_of_exports(file_svc: SessionService, tmp_path: Path) -> None:
    one = seed(file_svc.repo, "one", when=at(0))
    two = seed(file_svc.repo, "two", when=at(1), name="two")
    docs = [json.loads(file_svc.export(m.id)) for m in (one, two)]
    path = tmp_path / "array.json"
    path.write_text(json.dumps(docs), encoding="utf-8")

    target = SessionService(FileRepository(tmp_path / "elsewhere", lock_timeout=TEST_LOCK_TIMEOUT))
    result = target.import_file(path)
    assert sorted(ids(result.imported)) == sorted([one.id, two.id])
    assert result.skipped == []
    assert ids(target.list_sessions().sessions) == [two.id, one.id]
    assert target.resolve("two").id == two.id


def test_import_the_json_lines_corpus(file_svc: SessionService, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    records = write_corpus(corpus, 30, 3)
    assert len(records) == 30

    result = file_svc.import_file(corpus)
    assert result.skipped == []
    assert result.notes == []
    assert len(result.imported) == 30
    listing = {m.id: m for m in file_svc.list_sessions(status="all").sessions}
    assert set(listing) == {r["id"] for r in records}
    for record in records:
        meta = listing[str(record["id"])]
        assert meta.name == record["name"]
        assert meta.status.value == record["status"]
        raw_messages = record["messages"]
        assert isinstance(raw_messages, list)
        assert meta.message_count == len(raw_messages) == 6
        assert meta.first_message == raw_messages[0]["content"]
        loaded = file_svc.repo.load_messages(meta.id).messages
        assert [(m.role, m.content) for m in loaded] == [(m["role"], m["content"]) for m in raw_messages]
    # Importing the same corpus again changes nothing and reports every session as already there.
    before = {sid: messages_of(file_svc, sid) for sid in listing}
    again = file_svc.import_file(corpus)
    assert again.imported == [] and again.skipped == []
    assert sorted(again.existing) == sorted(listing)
    assert {sid: messages_of(file_svc, sid) for sid in listing} == before


def test_import_never_overwrites_an_existing_id(file_svc: SessionService, tmp_path: Path) -> None:
    existing = seed(file_svc.repo, "the original", replies=["original reply"], name="orig")
    doc = json.loads(file_svc.export(existing.id))
    doc["messages"] = [{"role": "user", "content": "an impostor"}]
    doc["session"]["name"] = "impostor"
    newcomer = {
        "id": "0c0c0c0c-0000-4000-8000-000000000000",
        "messages": [{"role": "user", "content": "new"}],
    }
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps([doc, newcomer]), encoding="utf-8")
    before = messages_of(file_svc, existing.id)

    result = file_svc.import_file(path)
    assert result.existing == [existing.id] and result.skipped == []
    assert ids(result.imported) == [newcomer["id"]]
    assert messages_of(file_svc, existing.id) == before
    assert file_svc.repo.get(existing.id).name == "orig"


def test_reimporting_a_named_session_says_nothing_about_its_name(
    file_svc: SessionService, tmp_path: Path
) -> None:
    existing = seed(file_svc.repo, "hello", name="named")
    path = tmp_path / "same.json"
    path.write_text(file_svc.export(existing.id), encoding="utf-8")
    result = file_svc.import_file(path)
    assert result.imported == []
    assert result.existing == [existing.id]
    # It was not imported, so no note may claim it was "imported without a name".
    assert result.notes == []


def test_import_skips_bad_records_and_imports_the_rest(file_svc: SessionService, tmp_path: Path) -> None:
    good = {
        "id": "11111111-0000-4000-8000-000000000001",
        "name": "good",
        "status": "active",
        "messages": [{"role": "user", "content": "fine", "timestamp": "2025-01-01T00:00:00Z"}],
    }
    lines = [
        json.dumps(good),
        "{this is not json",
        json.dumps({"id": "22222222-0000-4000-8000-000000000002", "messages": "not a list"}),
        json.dumps(
            {"id": "33333333-0000-4000-8000-000000000003", "messages": [{"role": "robot", "content": "x"}]}
        ),
        json.dumps({"id": "44444444-0000-4000-8000-000000000004", "status": "bogus", "messages": []}),
        json.dumps(["not", "an", "object"]),
        "",
        json.dumps(
            {"id": "55555555-0000-4000-8000-000000000005", "messages": [{"role": "user", "content": "ok"}]}
        ),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = file_svc.import_file(path)
    assert ids(result.imported) == [good["id"], "55555555-0000-4000-8000-000000000005"]
    skipped = dict(result.skipped)
    assert set(skipped) == {"record 2", "record 3", "record 4", "record 5", "record 6"}
    assert "not valid JSON" in skipped["record 2"]
    assert "messages" in skipped["record 3"]
    assert "message is invalid" in skipped["record 4"]
    assert "status" in skipped["record 5"]
    assert "not a JSON object" in skipped["record 6"]
    assert file_svc.resolve("good").id == good["id"]


def test_import_gives_a_new_id_to_a_non_uuid_and_drops_a_taken_name(
    file_svc: SessionService, tmp_path: Path
) -> None:
    holder = seed(file_svc.repo, "holder", name="taken")
    records = [
        {"id": "not-a-uuid", "name": "fresh", "messages": [{"role": "user", "content": "first"}]},
        {
            "id": "66666666-0000-4000-8000-000000000006",
            "name": "TAKEN",
            "messages": [{"role": "user", "content": "x"}],
        },
    ]
    path = tmp_path / "notes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")

    result = file_svc.import_file(path)
    assert result.skipped == []
    assert len(result.imported) == 2
    renamed, unnamed = result.imported
    assert renamed.id != "not-a-uuid"
    assert file_svc.resolve("fresh").id == renamed.id
    assert unnamed.id == "66666666-0000-4000-8000-000000000006"
    assert file_svc.repo.get(unnamed.id).name is None
    assert file_svc.resolve("taken").id == holder.id
    assert len(result.notes) == 2
    assert "not-a-uuid" in result.notes[0] and renamed.id in result.notes[0]
    assert "TAKEN" in result.notes[1] and "without a name" in result.notes[1]


@pytest.mark.parametrize("content", ["", "\n\n", "[1, 2", "42"])
def test_import_of_a_file_with_no_sessions(file_svc: SessionService, tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    result = file_svc.import_file(path)
    assert result.imported == []
    if content == "[1, 2":  # streamed: each item is skipped as it comes, then the cut is reported
        assert [reason for _, reason in result.skipped][:2] == ["not a JSON object"] * 2
        assert "not valid JSON" in result.skipped[-1][1]
    else:
        assert len(result.skipped) == 1
    assert file_svc.list_sessions(status="all").sessions == []


def test_import_of_a_missing_file(file_svc: SessionService, tmp_path: Path) -> None:
    with pytest.raises(SessionError) as info:
        file_svc.import_file(tmp_path / "missing.json")
    assert info.value.kind == "input_file"
    assert info.value.exit_code == 1
    assert "missing.json" in info.value.user_message()
    with pytest.raises(SessionError) as folder:
        file_svc.import_file(tmp_path)
    assert "folder" in folder.value.user_message()

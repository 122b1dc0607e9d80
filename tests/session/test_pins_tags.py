"""Pins and tags in the metadata schema (v2): validation, the v1 -> v2 migration, the index."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from chatcli.session.errors import InvalidMetadata, InvalidTag, UnsupportedVersion
from chatcli.session.fields import TAG_MAX_LENGTH, TAGS_MAX, SessionBrief, validate_tag
from chatcli.session.models import METADATA_VERSION, SessionMetadata
from chatcli.session.repository import SessionFilter, SessionRepository
from chatcli.session.store import FileRepository
from chatcli.session.store.index import SCHEMA_VERSION
from chatcli.session.store.layout import INDEX_DIR, INDEX_FILE
from tests.helpers import at, make_meta, seed

SID = "3f2b8c1e-7a4d-4e9b-9c2f-1d5e6a7b8c90"


def raw(version: int, **extra: object) -> str:
    """A metadata document of ``version`` with ``extra`` keys."""
    doc = {
        "version": version,
        "id": SID,
        "created": "2025-01-01T00:00:00Z",
        "last_active": "2025-01-01T00:00:00Z",
    }
    return json.dumps({**doc, **extra})


def test_the_schema_is_version_2() -> None:
    assert METADATA_VERSION == 2
    fresh = make_meta()
    assert not fresh.pinned and fresh.tags == []
    assert json.loads(fresh.to_json())["version"] == 2


@pytest.mark.parametrize("version", [0, 1])
def test_older_files_migrate_step_by_step(version: int) -> None:
    meta = SessionMetadata.from_json(raw(version, name="kept", first_message="hi"))
    assert (meta.version, meta.pinned, meta.tags) == (2, False, [])
    assert (meta.name, meta.first_message, meta.custom_fields) == ("kept", "hi", {})


@pytest.mark.parametrize("extra", [{"pinned": True, "tags": ["a"]}, {"pinned": "yes", "tags": 5}])
def test_keys_a_v1_file_could_not_have_are_ignored_as_v1_did(extra: dict[str, object]) -> None:
    meta = SessionMetadata.from_json(raw(1, **extra))
    assert (meta.pinned, meta.tags) == (False, [])


def test_v2_values_are_validated() -> None:
    meta = SessionMetadata.from_json(raw(2, pinned=True, tags=["Bug", "bug", "ux"]))
    assert meta.pinned and meta.tags == ["bug", "ux"]
    with pytest.raises(InvalidMetadata, match="tags"):
        SessionMetadata.from_json(raw(2, tags=["no/slash"]))
    with pytest.raises(InvalidMetadata, match="tags"):
        SessionMetadata.from_json(raw(2, tags=[f"t{i}" for i in range(TAGS_MAX + 1)]))


@pytest.mark.parametrize("doc", [raw(3), raw(3, tags=5, pinned="maybe"), raw(99, created="not a time")])
def test_a_newer_file_is_unsupported_never_corrupted(doc: str) -> None:
    # Corrupted metadata is repaired (rewritten); a newer file must be left alone instead.
    with pytest.raises(UnsupportedVersion):
        SessionMetadata.from_json(doc)


def test_tag_rules() -> None:
    assert validate_tag("V2.1_rc-1") == "v2.1_rc-1"
    assert validate_tag("x" * TAG_MAX_LENGTH) == "x" * TAG_MAX_LENGTH
    for bad in ("", "-x", ".x", "_x", "a b", "a,b", "é", "x" * (TAG_MAX_LENGTH + 1), "a\x00"):
        with pytest.raises(InvalidTag):
            validate_tag(bad)


def test_add_and_remove_tags_keep_order_and_fail_whole() -> None:
    meta = make_meta()
    meta.add_tags(["b", "A", "b"])
    assert meta.tags == ["b", "a"]
    with pytest.raises(InvalidTag):
        meta.add_tags(["c", "bad tag"])
    with pytest.raises(InvalidTag):
        meta.add_tags([f"n{i}" for i in range(TAGS_MAX)])
    assert meta.tags == ["b", "a"]
    meta.remove_tags(["B", "zzz"])
    assert meta.tags == ["a"]


def test_briefs_carry_pins_and_tags(any_repo: SessionRepository) -> None:
    meta = seed(any_repo, "one", when=at(1))
    other = seed(any_repo, "two", when=at(2))
    any_repo.update(meta.id, lambda m: (m.pin(), m.add_tags(["x", "y"])))
    any_repo.update(other.id, lambda m: m.add_tags(["y"]))
    briefs = {b.id: b for b in any_repo.briefs()}
    assert briefs[meta.id].pinned and briefs[meta.id].tags == ("x", "y")
    assert not briefs[other.id].pinned and briefs[other.id].tags == ("y",)
    assert briefs[meta.id] == SessionBrief.of(any_repo.get(meta.id))
    assert [b.id for b in any_repo.list_briefs(SessionFilter(tags=("y",)))] == [other.id, meta.id]
    only = any_repo.list_briefs(SessionFilter(tags=("x", "y"), limit=1))
    assert [b.id for b in only] == [meta.id] and only.total == 1
    assert list(any_repo.list_briefs(SessionFilter(tags=("z",)))) == []


def test_a_tag_never_matches_part_of_another(tmp_path: Path) -> None:
    repo = FileRepository(tmp_path / "s")
    meta = seed(repo, "one")
    repo.update(meta.id, lambda m: m.add_tags(["bug-fix"]))
    assert list(repo.list_briefs(SessionFilter(tags=("bug",)))) == []
    assert list(repo.list_briefs(SessionFilter(tags=("fix",)))) == []


def test_an_index_of_the_previous_schema_is_rebuilt_with_the_new_columns(tmp_path: Path) -> None:
    root = tmp_path / "s"
    repo = FileRepository(root)
    meta = seed(repo, "one")
    repo.update(meta.id, lambda m: (m.pin(), m.add_tags(["kept"])))
    repo.close()
    path = root / INDEX_DIR / INDEX_FILE
    with sqlite3.connect(path) as conn:  # what chatcli before v2 metadata left: schema 3, no columns
        conn.execute("ALTER TABLE sessions DROP COLUMN tags")
        conn.execute("ALTER TABLE sessions DROP COLUMN pinned")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    conn.close()
    fresh = FileRepository(root)
    (brief,) = fresh.list_briefs(SessionFilter(tags=("kept",)))
    assert brief.id == meta.id and brief.pinned
    fresh.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_an_export_carries_the_pin_and_the_tags_back_in(tmp_path: Path) -> None:
    from chatcli.session.service import SessionService

    source = SessionService(FileRepository(tmp_path / "a"))
    meta = seed(source.repo, "hello", replies=["hi"])
    source.tag(meta.id, ["keep", "bug"])
    source.set_pinned(meta.id, True)
    exported = tmp_path / "s.json"
    exported.write_text(source.export(meta.id))
    target = SessionService(FileRepository(tmp_path / "b"))
    result = target.import_file(exported)
    assert [m.id for m in result.imported] == [meta.id]
    back = target.repo.get(meta.id)
    assert back.pinned and back.tags == ["keep", "bug"]
    doc = json.loads(exported.read_text())
    doc["session"]["tags"] = ["no/slash"]
    exported.write_text(json.dumps(doc))
    refused = SessionService(FileRepository(tmp_path / "c")).import_file(exported)
    assert refused.imported == [] and "tags" in refused.skipped[0][1]

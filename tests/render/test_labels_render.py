"""How pins and tags look: the change messages, tables, ``sessions show``, JSON and TSV."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

from rich.console import Console

from chatcli.commands.results import SessionChanged, TagsChanged
from chatcli.render.jsonout import dumps_json, to_json
from chatcli.render.terminal import render
from chatcli.render.tsv import to_tsv
from chatcli.session.models import SessionMetadata, utc_now
from chatcli.session.outcomes import ListResult, PruneResult, SessionDetail
from tests.helpers import make_meta


def plain(result: object, width: int = 100) -> str:
    out = StringIO()
    render(result, Console(file=out, width=width, no_color=True, force_terminal=False))
    return out.getvalue()


def labelled() -> SessionMetadata:
    meta = make_meta("hello", name="work")
    meta.pin()
    meta.add_tags(["bug", "ux"])
    return meta


def test_change_messages() -> None:
    meta = labelled()
    assert "Tagged" in plain(TagsChanged("tagged", meta, ("bug",))) and "its tags: bug, ux." in plain(
        TagsChanged("tagged", meta, ("bug",))
    )
    assert "already has the tags bug; nothing changed" in plain(TagsChanged("tagged", meta, ("bug",), True))
    assert "has none of the tags zz; nothing changed" in plain(TagsChanged("untagged", meta, ("zz",), True))
    assert "is already pinned; nothing changed" in plain(SessionChanged("pinned", meta, unchanged=True))
    assert "is not pinned; nothing changed" in plain(SessionChanged("unpinned", meta, unchanged=True))
    assert plain(SessionChanged("pinned", meta)).startswith("Pinned ")


def test_list_marks_pins_and_shows_tags_and_the_filter() -> None:
    meta, other = labelled(), make_meta("plain one")
    text = plain(ListResult([meta, other], [], "active", tags=("bug",)))
    assert "Sessions (2) tagged bug" in text
    assert f"{meta.id[:8]} *" in text and f"{other.id[:8]} *" not in text
    assert "bug,ux" in text and "* pinned (never pruned)" in text
    empty = plain(ListResult([], [], "active", tags=("bug", "ux")))
    assert "No active sessions are tagged bug and ux." in empty


def test_show_has_the_pin_and_the_tags() -> None:
    text = plain(SessionDetail(labelled(), [], 0, []))
    assert "active · pinned" in text and "bug, ux" in text


def test_prune_says_how_many_pinned_sessions_it_kept() -> None:
    cutoff = utc_now() - timedelta(days=30)
    assert "Kept 2 pinned sessions as old" in plain(PruneResult([make_meta()], False, cutoff, pinned_kept=2))
    only = plain(PruneResult([], False, cutoff, pinned_kept=1))
    assert "Only pinned sessions were last active" in only and "Kept 1 pinned session as old" in only
    assert "pinned" not in plain(PruneResult([], False, cutoff))


def test_json_and_tsv_fields() -> None:
    meta = labelled()
    listed = json.loads(dumps_json(to_json(ListResult([meta], [], "active"))))
    assert listed["sessions"][0]["pinned"] is True and listed["sessions"][0]["tags"] == ["bug", "ux"]
    tagged = json.loads(dumps_json(to_json(TagsChanged("untagged", meta, ("zz",), True))))
    assert tagged["action"] == "untagged" and tagged["tags"] == ["zz"] and tagged["unchanged"] is True
    pruned = json.loads(dumps_json(to_json(PruneResult([], True, utc_now(), pinned_kept=3))))
    assert pruned["pinned_kept"] == 3
    (line,) = to_tsv(ListResult([meta], [], "active")).splitlines()
    assert line.split("\t")[-2:] == ["pinned", "bug,ux"]
    assert to_tsv(ListResult([make_meta()], [], "active")).rstrip("\n").split("\t")[-2:] == ["", ""]

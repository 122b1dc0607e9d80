"""Hostile input: message text (markup, controls, invalid UTF-8, huge messages) and hostile names
and first messages planted in metadata.

Everything goes through the session service and through the real ``chatcli sessions`` command line
(a subprocess with no terminal). Every hostile input must be rejected with a clear message or
handled; never a traceback, never a raw control on the screen."""

from __future__ import annotations

import json
from pathlib import Path

from chatcli.session.models import Message
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from chatcli.session.store.layout import CONVERSATION_FILE, METADATA_FILE
from tests.helpers import RTL_OVERRIDE, chatcli, chatcli_many, numbered, seed

# --------------------------------------------------------------------------- hostile message text

MARKUP = "[bold red]x[/]"
LINK_MARKUP = "[link=https://evil]y[/link]"
HOSTILE_TEXT: dict[str, str] = {
    "markup": f"markup {MARKUP} end",
    "link-markup": f"link {LINK_MARKUP} end",
    "clear-screen": "clear \x1b[2J end",
    "osc52-clipboard": "clip \x1b]52;c;aGk=\x07 end",
    "osc8-hyperlink": "hyper \x1b]8;;http://x\x1b\\t\x1b]8;;\x1b\\ end",
    "c1-csi": "c1 \x9b31m red end",
    "carriage-return": "safe\rEVIL end",
    "bidi": "bidi \u202egpj.exe end",
    "nul": "nul \x00 end",
    "emoji": "emoji 🔥💥 end",
}
#: Literal fragments that must be visible after sanitising (the escape introducers are not).
VISIBLE = [MARKUP, LINK_MARKUP, "[2J", "]52;c;aGk=", "]8;;http://x", "31m red", "EVIL end"]
FIVE_MB = 5 * 1024 * 1024


def test_hostile_message_text_is_stored_exactly_and_shown_safely(
    repo: FileRepository, tmp_path: Path
) -> None:
    sid = seed(repo, messages=numbered(1)).id
    unit = "pasted line [bold]not bold[/] \x1b[31m\n"
    paste = (unit * (FIVE_MB // len(unit) + 1))[:FIVE_MB]
    sent = [Message(role="user", content=paste)]
    roles = ("assistant", "user")
    sent += [Message(role=roles[i % 2], content=t) for i, t in enumerate(HOSTILE_TEXT.values())]
    for message in sent:
        repo.append_message(sid, message)

    stored = repo.load_messages(sid)
    assert stored.messages[1:] == sent, "every message round-trips exactly"
    assert stored.messages[1].content == paste and len(paste) == FIVE_MB
    exported = json.loads(SessionService(repo).export(sid))
    assert [m["content"] for m in exported["messages"][1:]] == [m.content for m in sent]

    base = ["sessions", "--sessions-dir", str(repo.root)]
    runs = chatcli_many(
        [
            [*base, "show", sid, "--last", "20"],
            [*base, "search", "end", "--messages", "--limit", "50"],
            [*base, "search", "bold red", "--messages"],
            [*base, "search", "evil", "--messages"],
            [*base, "export", sid],
        ],
        cwd=tmp_path,
    )
    for run in runs:
        assert run.code == 0, run
    show, search_end = runs[0].out, runs[1].out
    for fragment in VISIBLE:
        assert fragment in show, fragment
        assert fragment in search_end, fragment
    assert MARKUP in runs[2].out and LINK_MARKUP in runs[3].out
    assert "gpj.exe" in show and "🔥💥" in show
    assert repo.load_messages(sid).messages[1:] == sent, "showing changed nothing"


def test_invalid_utf8_written_by_hand(repo: FileRepository, tmp_path: Path) -> None:
    msgs = numbered(2)
    sid = seed(repo, messages=msgs).id
    path = repo.root / sid / CONVERSATION_FILE
    bad = b'{"role": "user", "content": "caf\xc3 \xff\xfe visible", '
    bad += b'"timestamp": "2025-03-01T12:00:09Z", "id": "u8"}\n'
    with path.open("ab") as fh:
        fh.write(bad)
    original = path.read_bytes()
    write_count = (repo.root / sid / METADATA_FILE).read_bytes()

    transcript = repo.load_messages(sid)
    assert transcript.messages[:2] == msgs and transcript.skipped_lines == []
    salvaged = transcript.messages[2]
    assert salvaged.id == "u8" and "visible" in salvaged.content and "\ufffd" in salvaged.content

    base = ["sessions", "--sessions-dir", str(repo.root)]
    show, search = chatcli_many([[*base, "show", sid], [*base, "search", "visible"]], cwd=tmp_path)
    # After the search: before it, the content index is (rightly) reported stale, as the
    # transcript was changed by hand; the search brings it up to date.
    doctor = chatcli([*base, "doctor", "--json"], cwd=tmp_path)
    assert show.code == 0 and "visible" in show.out, show
    assert search.code == 0 and "visible" in search.out, search
    assert doctor.code == 1, "a problem was found, so doctor exits 1"
    assert path.read_bytes() == original, "reading never rewrites the transcript"
    report = json.loads(doctor.out)
    assert [f["target"] for f in report["findings"]] == [sid], "the count (2 vs 3) is the only problem"
    assert (repo.root / sid / METADATA_FILE).read_bytes() == write_count

    repo.append_message(sid, Message(role="user", content="after", id="after"))
    assert path.read_bytes().startswith(original), "appending keeps the hand-written bytes"
    assert [m.id for m in repo.load_messages(sid).messages][-2:] == ["u8", "after"]


def test_hostile_names_and_first_messages_planted_in_metadata(repo: FileRepository, tmp_path: Path) -> None:
    """A cloned repository can plant metadata with any name; listings still show it harmlessly."""
    sid = seed(repo, messages=numbered(1)).id
    path = repo.root / sid / METADATA_FILE
    doc = json.loads(path.read_bytes())
    doc.update(name=f"{MARKUP}\x1b[2J\u202e", first_message=f"{LINK_MARKUP} \x1b]52;c;aGk=\x07")
    path.write_text(json.dumps(doc))

    base = ["sessions", "--sessions-dir", str(repo.root)]
    listed, shown = chatcli_many([[*base, "list"], [*base, "show", sid]], cwd=tmp_path)
    assert listed.code == 0 and shown.code == 0
    assert MARKUP in listed.out and "[2J" in listed.out
    assert MARKUP in shown.out
    assert RTL_OVERRIDE not in listed.out + shown.out, "a name is a one-line field"

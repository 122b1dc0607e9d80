"""Property tests: any text is a valid name or an InvalidName; any text used as an id is safe."""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatcli.session.errors import InvalidName, SessionError, SessionNotFound
from chatcli.session.models import SessionMetadata, new_session_id, validate_session_name
from chatcli.session.store import FileRepository
from tests.helpers import confined_writes, make_meta, snapshot, user

HOSTILE = [
    "",
    "..",
    ".",
    "/",
    "\\",
    "\x00",
    "\n",
    "\r\n",
    "\u202e",
    "\ufeff",
    "🙂",
    "-rf",
    "--help",
    "$(rm -rf /)",
    "`id`",
    "; rm -rf ~",
    "../../etc/passwd",
    "/etc/passwd",
    "C:\\Windows",
    "\x1b[2J",
    "a" * 10_000,
    "é" * 101,
    "名前",
    "my-name\n",
    " my-name",
]

texts = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="ascii"), max_size=120),
    st.from_regex(r"[A-Za-z0-9_-]{1,101}", fullmatch=True),
    st.from_regex(r"[0-9a-fA-F-]{1,40}", fullmatch=True),  # names that read as ids
    st.sampled_from(HOSTILE),
)
ids = st.one_of(
    texts,
    st.just("KNOWN"),  # replaced by the id of a session that exists
    st.uuids().map(str),
    st.uuids(version=4).map(lambda u: str(u).upper()),
    st.sampled_from(HOSTILE).map(lambda h: h + new_session_id()),
    st.builds(
        lambda prefix, u: prefix + str(u),
        st.sampled_from(["../", "../../", "./", "/", "x/../", ".locks/"]),
        st.uuids(),
    ),
)

_VALID_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")
#: Written out here rather than imported, so a loosened ``is_session_id`` cannot vouch for itself.
_CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _safe_for_a_terminal(text: str) -> bool:
    return all(ch.isprintable() or ch == "\n" for ch in text)


def _reads_as_id(text: str) -> bool:
    """What the resolver takes for an id prefix: 4+ hex digits and dashes, any case."""
    return len(text) >= 4 and re.fullmatch(r"[0-9a-fA-F-]+", text) is not None


@settings(max_examples=400, deadline=None)
@given(texts)
def test_any_text_is_a_valid_name_or_invalid_name(text: str) -> None:
    try:
        result = validate_session_name(text)
    except InvalidName as exc:
        assert not (_VALID_NAME.fullmatch(text) and not text.startswith("-") and not _reads_as_id(text))
        assert _safe_for_a_terminal(exc.user_message())
        assert len(exc.user_message()) < 400, "hostile input is shortened"
        return
    assert result == text
    assert _VALID_NAME.fullmatch(text) and not text.startswith("-")
    assert not _reads_as_id(text), "a name never reads as a session id"
    meta = SessionMetadata.new("x", "y")
    meta.set_name(text)
    assert SessionMetadata.from_json(meta.to_json()).name == text


Op = Callable[[FileRepository, str], object]
OPS: dict[str, Op] = {
    "get": lambda r, i: r.get(i),
    "exists": lambda r, i: r.exists(i),
    "delete": lambda r, i: r.delete(i),
    "load_messages": lambda r, i: r.load_messages(i),
    "update": lambda r, i: r.update(i, lambda m: m.custom_fields.update(touched=True)),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(session_id=ids, op=st.sampled_from(sorted(OPS)))
def test_any_id_works_or_is_not_found_and_stays_inside(tmp_path: Path, session_id: str, op: str) -> None:
    """Whatever the text, an id either names a session or gives SessionNotFound; nothing escapes the root."""
    sandbox = Path(tempfile.mkdtemp(dir=tmp_path))  # a fresh tree per example: examples stay independent
    try:
        root = sandbox / "sessions"
        (sandbox / "neighbour").mkdir()
        (sandbox / "neighbour" / "file.txt").write_text("keep")
        repo = FileRepository(root, lock_timeout=2)
        known = make_meta("known")
        repo.save(known)
        if session_id == "KNOWN":
            session_id = known.id
        outside_before = snapshot(tmp_path, skip=root)

        with confined_writes(sandbox) as refused:
            try:
                OPS[op](repo, session_id)
            except SessionNotFound as exc:
                assert _safe_for_a_terminal(exc.user_message())
            except SessionError as exc:  # pragma: no cover - shown on failure
                raise AssertionError(f"{op}({session_id!r}) raised {type(exc).__name__}: {exc}") from exc
            else:
                assert op == "exists" or _CANONICAL_ID.fullmatch(session_id), f"{op} accepted {session_id!r}"
        assert refused == [], f"{op}({session_id!r}) tried to write outside the sandbox"

        assert snapshot(tmp_path, skip=root) == outside_before
        for entry in root.iterdir():
            assert entry.name.startswith(".") or _CANONICAL_ID.fullmatch(entry.name), entry.name
        for session_dir in (p for p in root.iterdir() if _CANONICAL_ID.fullmatch(p.name)):
            assert {p.name for p in session_dir.iterdir()} <= {"metadata.json", "conversation.jsonl"}
    finally:
        shutil.rmtree(sandbox)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.text(), name=texts)
def test_any_message_text_round_trips(repo: FileRepository, content: str, name: str) -> None:
    """Arbitrary text (newlines, NULs, surrogate-free unicode) goes through the transcript unchanged."""
    meta = make_meta("")
    repo.save(meta)
    with contextlib.suppress(InvalidName):
        repo.update(meta.id, lambda m: m.set_name(name))
    repo.append_message(meta.id, user(content))
    transcript = repo.load_messages(meta.id)
    assert [m.content for m in transcript.messages] == [content]
    assert transcript.warnings == []

"""Transcripts read by ``show`` and ``search``: one bad transcript never stops a search, and memory
stays bounded whatever a transcript's size (streamed forwards, the tail read backwards)."""

from __future__ import annotations

import errno
import os
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from chatcli.session.models import Message
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from chatcli.session.store.layout import CONVERSATION_FILE
from tests.helpers import BASE, seed


def _symlink(path: Path) -> None:
    path.unlink()
    path.symlink_to("/etc/passwd")


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _device(path: Path) -> None:
    path.unlink()
    os.mknod(path, 0o600 | 0o020000, os.makedev(1, 5))  # a character device: /dev/zero's numbers


def _unreadable(path: Path) -> None:
    """The test injects EACCES on open (root reads anything); the file's mtime moves, as a
    chmod-and-edit by hand would, so the content index reads it again rather than serving the
    text it indexed."""
    os.utime(path, ns=(1, 1))


BREAKERS: dict[str, Callable[[Path], None]] = {
    "symlink": _symlink,
    "fifo": _fifo,
    "device": _device,
    "unreadable": _unreadable,
}


@pytest.mark.parametrize("kind", list(BREAKERS))
def test_one_bad_transcript_never_stops_a_search(
    repo: FileRepository, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    good = seed(repo, "a needle in the good one", when=BASE)
    bad = seed(repo, "a needle in the bad one", when=BASE + timedelta(hours=1))
    path = repo.root / bad.id / CONVERSATION_FILE
    BREAKERS[kind](path)
    if kind == "unreadable":
        real_open = os.open

        def refusing_open(target: object, *args: object, **kwargs: object) -> int:
            if str(target) == str(path):
                raise PermissionError(errno.EACCES, "Permission denied", str(target))
            return real_open(target, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", refusing_open)

    result = SessionService(repo).search("needle")

    assert [hit.session_id for hit in result.hits] == [good.id]
    assert len(result.warnings) == 1
    assert bad.id in result.warnings[0]


def _big_transcript(repo: FileRepository, size: int) -> tuple[str, int]:
    """A session whose transcript is about ``size`` bytes (written directly, in one go)."""
    meta = seed(repo, "start", when=BASE)
    line = Message(role="user", content="filler " * 40, timestamp=BASE).to_line().encode() + b"\n"
    count = size // len(line)
    last = Message(role="assistant", content="the very last needle", timestamp=BASE).to_line().encode()
    with (repo.root / meta.id / CONVERSATION_FILE).open("ab") as handle:
        handle.write(line * count + last + b"\n")
    return meta.id, count + 2


def _peak(call: Callable[[], object]) -> tuple[object, int]:
    tracemalloc.start()
    try:
        value = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return value, peak


def test_show_and_search_of_a_large_transcript_take_bounded_memory(repo: FileRepository) -> None:
    session_id, total = _big_transcript(repo, 20 * 1024 * 1024)
    svc = SessionService(repo)
    size = (repo.root / session_id / CONVERSATION_FILE).stat().st_size

    detail, show_peak = _peak(lambda: svc.show(session_id, last=3))
    found, hit_peak = _peak(lambda: svc.search("very last needle"))
    missed, miss_peak = _peak(lambda: svc.search("nowhere at all"))

    assert [m.content for m in detail.recent][-1] == "the very last needle"  # type: ignore[attr-defined]
    assert detail.total_messages == total  # type: ignore[attr-defined]
    assert [h.snippet for h in found.hits] == ["the very last needle"]  # type: ignore[attr-defined]
    assert found.hits[0].message_index == total - 1  # type: ignore[attr-defined]
    assert missed.hits == []  # type: ignore[attr-defined]
    for peak in (show_peak, hit_peak, miss_peak):
        assert peak < size // 5, (peak, size)

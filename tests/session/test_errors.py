"""The SessionError hierarchy (seed plan step 0.2, in Python)."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

import pytest

from chatcli.errors import ExitCode
from chatcli.session import errors as E
from chatcli.session.errors import (
    AmbiguousId,
    ConcurrentModification,
    CorruptedSession,
    PermissionDenied,
    SessionError,
    SessionNotFound,
    StorageError,
    from_os_error,
    shorten,
)

#: One example of every error class; the completeness test keeps this in step with errors.py.
EXAMPLES: dict[type[SessionError], Callable[[], SessionError]] = {
    SessionError: lambda: SessionError("generic"),
    E.SessionNotFound: lambda: E.SessionNotFound("test-123"),
    E.SessionAlreadyExists: lambda: E.SessionAlreadyExists("session test-123"),
    E.InvalidMetadata: lambda: E.InvalidMetadata("created: not a date"),
    E.UnsupportedVersion: lambda: E.UnsupportedVersion(999, 1),
    E.CorruptedSession: lambda: E.CorruptedSession("test-123", "truncated", Path("/x/metadata.json")),
    E.ConcurrentModification: lambda: E.ConcurrentModification("test-123", 0.5),
    E.StorageError: lambda: E.StorageError("no space left on the device", Path("/x")),
    E.PermissionDenied: lambda: E.PermissionDenied("permission denied", Path("/x")),
    E.UnsafePath: lambda: E.UnsafePath(Path("/x/.amazonq"), "is a symbolic link"),
    E.SerializationError: lambda: E.SerializationError("bad export"),
    E.InvalidName: lambda: E.InvalidName("the name is empty"),
    E.InvalidTag: lambda: E.InvalidTag("'a b' is not a tag: use letters, digits, '-', '_' and '.'"),
    E.AmbiguousId: lambda: E.AmbiguousId("ab", ["abc", "abd"]),
    E.InputFileError: lambda: E.InputFileError(Path("corpus.jsonl"), "no such file"),
    E.OutputFileError: lambda: E.OutputFileError(Path("out/export.md"), "the folder out does not exist"),
    E.OperationRefused: lambda: E.OperationRefused("deleting 3 sessions needs --yes", "Add --yes."),
}


def _all_subclasses(cls: type[SessionError]) -> set[type[SessionError]]:
    found = {cls}
    for sub in cls.__subclasses__():
        found |= _all_subclasses(sub)
    return found


def test_examples_cover_every_error_class() -> None:
    assert set(EXAMPLES) == _all_subclasses(SessionError)


def test_error_user_messages() -> None:
    err = SessionNotFound("test-123")
    assert "test-123" in err.user_message()
    assert "/sessions list" in err.user_message()


def test_not_found_for_an_invalid_id_says_so() -> None:
    err = SessionNotFound("../etc", "not a valid session id")
    assert "not a valid session id" in err.user_message()


@pytest.mark.parametrize(
    "exc",
    [
        PermissionError(errno.EACCES, "access denied", "/x/sessions"),
        OSError(errno.EACCES, "access denied"),
        OSError(errno.EPERM, "operation not permitted"),
    ],
)
def test_error_from_io(exc: OSError) -> None:
    err = from_os_error(exc)

    assert isinstance(err, PermissionDenied)
    assert isinstance(err, StorageError)
    assert "Permission denied" in err.user_message()
    assert err.kind == "permission_denied"
    assert err.exit_code == ExitCode.STORAGE


def test_from_os_error_keeps_the_path() -> None:
    err = from_os_error(PermissionError(errno.EACCES, "denied", "/from/exception"))
    assert err.path == Path("/from/exception")
    err = from_os_error(PermissionError(errno.EACCES, "denied", "/from/exception"), "/given")
    assert err.path == Path("/given")
    assert "/given" in err.user_message()


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (errno.ENOSPC, "no space left"),
        (errno.EROFS, "read-only"),
        (errno.EIO, "input/output"),
        (errno.ELOOP, "symbolic link"),
    ],
)
def test_from_os_error_other_errnos(code: int, text: str) -> None:
    err = from_os_error(OSError(code, "raw"), "/p")
    assert type(err) is StorageError
    assert text in err.user_message()
    assert "disk space" in err.user_message()


def test_from_os_error_unknown_errno_keeps_strerror() -> None:
    err = from_os_error(OSError(errno.EBUSY, "Device or resource busy"))
    assert type(err) is StorageError and "busy" in err.detail


def test_error_display() -> None:
    err = CorruptedSession("test-123", "truncated JSON")
    display = str(err)
    assert "Corrupted" in display
    assert "test-123" in display


def test_error_debug() -> None:
    err = ConcurrentModification("test-123", 1.0)
    assert "ConcurrentModification" in repr(err)


@pytest.mark.parametrize("cls", list(EXAMPLES), ids=lambda c: c.__name__)
def test_is_recoverable_only_for_concurrent_and_corrupted(cls: type[SessionError]) -> None:
    err = EXAMPLES[cls]()
    assert err.is_recoverable() is (cls in {ConcurrentModification, CorruptedSession})


@pytest.mark.parametrize("cls", list(EXAMPLES), ids=lambda c: c.__name__)
def test_every_error_has_a_message_and_a_kind(cls: type[SessionError]) -> None:
    err = EXAMPLES[cls]()
    assert isinstance(err, Exception)
    assert err.user_message().strip()
    assert cls.__name__ in str(err)
    expected_exit = ExitCode.STORAGE if issubclass(cls, StorageError) else ExitCode.USER
    assert err.exit_code == expected_exit


def test_kinds_are_unique() -> None:
    kinds = [cls.kind for cls in EXAMPLES]
    assert len(kinds) == len(set(kinds))


def test_hostile_refs_are_shortened_and_escaped() -> None:
    ref = "\x1b[2J" + "A" * 500
    message = SessionNotFound(ref).user_message()
    assert "\x1b" not in message
    assert "A" * 100 not in message
    assert shorten("abc", 3) == "abc"
    assert shorten("abcd", 3) == "ab…"


def test_ambiguous_id_lists_at_most_ten_candidates() -> None:
    err = AmbiguousId("a", [f"a{i:02d}" for i in range(13)])
    message = err.user_message()
    assert "a09" in message and "a10" not in message
    assert "3 more" in message


def test_already_exists_capitalises_its_subject() -> None:
    assert E.SessionAlreadyExists("name 'x'").user_message().startswith("Name 'x' already exists.")

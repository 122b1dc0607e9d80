"""Session errors: one hierarchy, each kind with a user-facing message and a next step.

Every failure the session layer can raise is a :class:`SessionError`. The REPL and the command
line convert them in exactly one place into an error panel (or a JSON error object and an exit
code); nothing above the session layer needs to know about ``OSError`` or JSON parse errors.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from chatcli.errors import ChatcliError, ExitCode
from chatcli.sanitize import shorten

__all__ = [
    "AmbiguousId",
    "ConcurrentModification",
    "CorruptedSession",
    "InputFileError",
    "InvalidMetadata",
    "InvalidName",
    "InvalidTag",
    "OperationRefused",
    "OutputFileError",
    "PermissionDenied",
    "SerializationError",
    "SessionAlreadyExists",
    "SessionError",
    "SessionNotFound",
    "StorageError",
    "UnsafePath",
    "UnsupportedVersion",
    "from_os_error",
]


class SessionError(ChatcliError):
    """Base of every session-layer failure (``kind``, ``exit_code`` and ``title`` per subclass)."""

    kind = "session_error"
    title = "Session error"
    recoverable: ClassVar[bool] = False

    def is_recoverable(self) -> bool:
        """True when retrying or an automatic repair can succeed without user action."""
        return self.recoverable


class SessionNotFound(SessionError):
    """No session matches the given id, id prefix or name (or the id is not a valid id)."""

    kind = "not_found"
    title = "Session not found"

    def __init__(self, ref: str, reason: str | None = None) -> None:
        super().__init__(reason or f"no session matches {shorten(ref)!r}")
        self.ref = ref
        #: The sessions folder searched (one line, e.g. ``SessionsLocation.describe()``), once a
        #: front end says so (:meth:`locate`); the session layer itself does not know it.
        self.folder: str | None = None
        #: How commands are spelled where the user is: ``"/"`` in the REPL, ``"chatcli "`` in a shell.
        self.prefix: str | None = None

    def locate(self, folder: str | None, prefix: str) -> None:
        """Say where the search happened and where the user is (a front end calls this)."""
        if self.folder is None:
            self.folder = folder
        if self.prefix is None:
            self.prefix = prefix

    def user_message(self) -> str:
        what = f"Session {shorten(self.ref)!r} not found" + (
            f" ({self.detail})" if self.detail.startswith("not a") else ""
        )
        if self.folder is None and self.prefix is None:
            return (
                f"{what}.\nUse '/sessions list' (or 'chatcli sessions list --all') to see available sessions."
            )
        where = f" in {self.folder}" if self.folder else ""
        if self.prefix == "/":
            hint = (
                "Use '/sessions list --all' to see the sessions there; "
                "to use another folder, start chatcli with --sessions-dir PATH."
            )
        else:
            hint = (
                "Run 'chatcli sessions list --all' to see the sessions there, "
                "or add --sessions-dir PATH to look in another folder."
            )
        return f"{what}{where}.\n{hint}"


class SessionAlreadyExists(SessionError):
    """A session id or a session name is already taken."""

    kind = "already_exists"
    title = "Already exists"

    def __init__(self, what: str, hint: str | None = None) -> None:
        super().__init__(f"{what} already exists")
        self.what = what
        self.hint = hint or "Use '/sessions list --all' to see existing sessions."

    def user_message(self) -> str:
        return f"{self.what[:1].upper()}{self.what[1:]} already exists.\n{self.hint}"


class InvalidMetadata(SessionError):
    """Metadata that parses but breaks a rule (wrong types, missing fields, bad values)."""

    kind = "invalid_metadata"
    title = "Invalid session data"

    def user_message(self) -> str:
        return (
            f"Invalid session data: {self.detail}\n"
            "Run 'chatcli sessions doctor' to inspect and repair the sessions folder."
        )


class UnsupportedVersion(InvalidMetadata):
    """Metadata written by a newer (or unknown) chatcli; never silently downgraded."""

    kind = "unsupported_version"
    title = "Unsupported version"

    def __init__(self, version: int, supported: int, *, session_id: str | None = None) -> None:
        super().__init__(
            f"metadata version {version} is not supported (this chatcli reads up to {supported})"
        )
        self.version = version
        self.supported = supported
        #: The session concerned, when known (so a listing can say which one it skipped).
        self.session_id = session_id

    def user_message(self) -> str:
        which = f"Session {shorten(self.session_id)!r}" if self.session_id else "This session"
        return (
            f"{which} was written by a newer chatcli (metadata version {self.version}; "
            f"this one understands up to {self.supported}).\n"
            "Upgrade chatcli to open it; the file has been left untouched."
        )


class CorruptedSession(SessionError):
    """A session's files cannot be read back (truncated, not JSON, wrong shape)."""

    kind = "corrupted"
    title = "Corrupted session"
    recoverable = True

    def __init__(self, session_id: str, detail: str, path: Path | None = None) -> None:
        super().__init__(f"session {shorten(session_id)} is corrupted: {detail}")
        self.session_id = session_id
        self.path = path
        self.reason = detail

    def user_message(self) -> str:
        where = f" ({self.path})" if self.path is not None else ""
        return (
            f"Session {shorten(self.session_id)!r} data is corrupted{where}: {self.reason}.\n"
            "Run 'chatcli sessions doctor --repair' to rebuild it from its transcript; "
            "unreadable files are kept aside in .quarantine/, never deleted."
        )


class ConcurrentModification(SessionError):
    """Another process held the session's lock for longer than the timeout."""

    kind = "concurrent_modification"
    title = "Session busy"
    recoverable = True

    def __init__(self, session_id: str, timeout: float) -> None:
        super().__init__(f"session {shorten(session_id)} is locked by another process")
        self.session_id = session_id
        self.timeout = timeout

    def user_message(self) -> str:
        return (
            f"Another chatcli process is modifying session {shorten(self.session_id)!r} "
            f"(waited {self.timeout:g}s for it).\nPlease try again in a moment."
        )


class StorageError(SessionError):
    """The file system refused an operation (disk full, I/O error, read-only file system)."""

    kind = "storage"
    title = "Storage error"
    exit_code = ExitCode.STORAGE

    def __init__(self, detail: str, path: Path | None = None) -> None:
        super().__init__(detail)
        self.path = path

    def user_message(self) -> str:
        where = f" at {self.path}" if self.path is not None else ""
        return (
            f"Storage error{where}: {self.detail}.\n"
            "Check free disk space and that the sessions folder is writable, then try again; "
            "nothing already saved was changed."
        )


class PermissionDenied(StorageError):
    """The operating system denied access to a path in the sessions folder."""

    kind = "permission_denied"
    title = "Permission denied"

    def user_message(self) -> str:
        where = f": {self.path}" if self.path is not None else ""
        return (
            f"Permission denied accessing the sessions folder{where}.\n"
            "Check the owner and permissions of .amazonq/sessions/ (or point --sessions-dir "
            "at a folder you own)."
        )


class UnsafePath(StorageError):
    """A path inside the sessions tree is a symbolic link or not the kind of file expected."""

    kind = "unsafe_path"
    title = "Unsafe path"

    def __init__(self, path: Path, problem: str, hint: str | None = None) -> None:
        super().__init__(f"{path} {problem}", path)
        self.problem = problem
        self.hint = hint or (
            "chatcli never follows links inside the sessions folder (a cloned repository could plant "
            "one). Replace it with a real folder or file, or choose another place with --sessions-dir."
        )

    def user_message(self) -> str:
        return f"Refusing to use {self.path}: it {self.problem}.\n{self.hint}"


class SerializationError(SessionError):
    """Data that cannot be encoded or decoded (import files, exports)."""

    kind = "serialization"
    title = "Data format error"

    def user_message(self) -> str:
        return f"Data format error: {self.detail}"


class InvalidName(SessionError):
    """A session name that breaks the naming rule."""

    kind = "invalid_name"
    title = "Invalid name"

    def user_message(self) -> str:
        return (
            f"Invalid session name: {self.detail}.\n"
            "Names are 1-100 characters: letters, digits, '-' and '_' only (e.g. 'fix-login_2')."
        )


class InvalidTag(SessionError):
    """A tag that breaks the tag rule, or one tag too many for a session."""

    kind = "invalid_tag"
    title = "Invalid tag"

    def user_message(self) -> str:
        return (
            f"{self.detail[:1].upper()}{self.detail[1:]}.\n"
            "Tags are 1-32 characters: letters, digits, '-', '_' and '.' (e.g. 'bug', 'v2.1'), "
            "at most 20 a session; case does not matter."
        )


class InputFileError(SessionError):
    """A file the user named (to import) cannot be opened: missing, a folder, or unreadable."""

    kind = "input_file"
    title = "Input file"

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"cannot read {path}: {problem}")
        self.path = path
        self.problem = problem

    def user_message(self) -> str:
        return f"Cannot read {self.path}: {self.problem}.\nCheck the path and try again."


class OutputFileError(StorageError):
    """A file the user named (to export to) cannot be written: a missing or unwritable folder."""

    kind = "output_file"
    title = "Cannot write the file"

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"cannot write {path}: {problem}", path)
        self.problem = problem

    def user_message(self) -> str:
        return (
            f"Cannot write {self.path}: {self.problem}.\n"
            "Nothing was written. Check the path, or choose another with -o."
        )


class AmbiguousId(SessionError):
    """An id prefix matches more than one session."""

    kind = "ambiguous_id"
    title = "Ambiguous session"

    def __init__(self, prefix: str, candidates: Sequence[str]) -> None:
        super().__init__(f"{shorten(prefix)!r} matches {len(candidates)} sessions")
        self.prefix = prefix
        self.candidates = list(candidates)

    def user_message(self) -> str:
        shown = "\n".join(f"  {c}" for c in self.candidates[:10])
        more = f"\n  … and {len(self.candidates) - 10} more" if len(self.candidates) > 10 else ""
        return (
            f"{shorten(self.prefix)!r} matches {len(self.candidates)} sessions:\n{shown}{more}\n"
            "Type more characters of the id, or use the session's name."
        )


class OperationRefused(SessionError):
    """The operation needs a confirmation or an option the user did not give."""

    kind = "refused"
    title = "Not done"

    def __init__(self, detail: str, hint: str) -> None:
        super().__init__(detail)
        self.hint = hint

    def user_message(self) -> str:
        return f"{self.detail[:1].upper()}{self.detail[1:]}.\n{self.hint}"


_PERMISSION_ERRNOS = {errno.EACCES, errno.EPERM}
_ERRNO_TEXT = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EIO: "an input/output error occurred",
    errno.ENOENT: "a file or folder is missing",
    errno.ENOTDIR: "a path component is not a folder",
    errno.EISDIR: "a folder stands where a file was expected",
    errno.ELOOP: "a symbolic link was found where none is allowed",
}


def from_os_error(exc: OSError, path: Path | str | None = None) -> StorageError:
    """Translate an ``OSError`` into the matching :class:`StorageError` subclass."""
    target = Path(path) if path is not None else (Path(exc.filename) if exc.filename else None)
    if exc.errno in _PERMISSION_ERRNOS or isinstance(exc, PermissionError):
        return PermissionDenied(f"permission denied ({exc.strerror or exc})", target)
    text = _ERRNO_TEXT.get(exc.errno or -1, exc.strerror or str(exc))
    return StorageError(text, target)

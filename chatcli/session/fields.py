"""Session fields and rules that need no pydantic: ids, names, status, and the brief of a session.

Everything on the hot path of a listing (``chatcli sessions list``, completion) is defined here,
so that path starts without importing pydantic; :mod:`chatcli.session.models` builds the full
validated models on top of it and re-exports these names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from chatcli.sanitize import shorten
from chatcli.session.errors import InvalidName, InvalidTag

if TYPE_CHECKING:
    from chatcli.session.models import SessionMetadata

__all__ = [
    "COUNT_MAX",
    "FIRST_MESSAGE_LIMIT",
    "MIN_PREFIX",
    "NAME_MAX_LENGTH",
    "NO_CUSTOM_FIELDS",
    "NO_USAGE",
    "SYSTEM_PROMPT_MAX",
    "TAGS_MAX",
    "TAG_MAX_LENGTH",
    "TIMESTAMP_MAX",
    "TIMESTAMP_MIN",
    "ChangeCursor",
    "Changes",
    "SessionBrief",
    "SessionStatus",
    "SessionView",
    "TokenTotals",
    "as_utc",
    "check_timestamp",
    "is_session_id",
    "is_tag",
    "new_session_id",
    "reads_as_id",
    "usage_from_json",
    "usage_to_json",
    "utc_now",
    "validate_session_name",
    "validate_tag",
]

#: Longest accepted session name.
NAME_MAX_LENGTH = 100
#: ``first_message`` keeps this many characters: it is a summary for listings, not the message.
FIRST_MESSAGE_LIMIT = 500
#: The longest system prompt kept with a session (characters).
SYSTEM_PROMPT_MAX = 100_000
#: Shortest id prefix accepted in place of a full id (like git's short hashes).
MIN_PREFIX = 4

#: The earliest and the latest time chatcli accepts, wherever a time comes in (metadata,
#: transcript lines, imports, index rows): 1970-01-01 to the end of the year 9000, UTC. Any real
#: conversation fits, and a time in this range converts to every local time zone (UTC-12 to
#: UTC+14) without overflowing, so it can always be shown.
TIMESTAMP_MIN = datetime(1970, 1, 1, tzinfo=UTC)
TIMESTAMP_MAX = datetime(9000, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
#: The largest count (messages, files) metadata may hold: 2**53, exact as a JSON number in any
#: language and far within an SQLite INTEGER (2**63 - 1).
COUNT_MAX = 2**53

#: Longest accepted tag, and how many tags one session may carry.
TAG_MAX_LENGTH = 32
TAGS_MAX = 20

_NAME_CHAR = re.compile(r"[A-Za-z0-9_-]")
_SESSION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ID_CHARS = re.compile(r"[0-9a-f-]+")


def utc_now() -> datetime:
    """The current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive value is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_timestamp(value: datetime) -> datetime:
    """``value`` in UTC if it lies between :data:`TIMESTAMP_MIN` and :data:`TIMESTAMP_MAX`.

    Otherwise a ``ValueError`` (never an ``OverflowError``: a time whose conversion to UTC
    overflows, such as ``9999-12-31T23:59:59-14:00``, is out of range like any other).
    """
    try:
        when = as_utc(value)
    except (OverflowError, ValueError):
        raise ValueError(f"the time {value.isoformat()} is out of range (it has no UTC equivalent)") from None
    if not TIMESTAMP_MIN <= when <= TIMESTAMP_MAX:
        raise ValueError(
            f"the time {when.isoformat()} is out of range: times must be between "
            f"{TIMESTAMP_MIN:%Y-%m-%d} and {TIMESTAMP_MAX:%Y-%m-%d} (UTC)"
        )
    return when


def new_session_id() -> str:
    """A fresh session id: a UUID4 in canonical lowercase form."""
    import uuid  # imported here: ``uuid`` costs a listing a few milliseconds it never needs

    return str(uuid.uuid4())


def is_session_id(value: str) -> bool:
    """True if ``value`` is a canonical lowercase UUID, the only form a session id takes on disk.

    This is what keeps ids safe to use as a folder name: no separators, no ``..``, no NUL.
    """
    return _SESSION_ID.fullmatch(value) is not None


def reads_as_id(text: str) -> bool:
    """True if ``text`` is read as a session id or id prefix wherever a session is named: at least
    :data:`MIN_PREFIX` characters, all hex digits or ``-`` (in any case). A full id is one too."""
    lowered = text.lower()
    return len(lowered) >= MIN_PREFIX and _ID_CHARS.fullmatch(lowered) is not None


def validate_session_name(name: str, *, allow_id_like: bool = False) -> str:
    """Return ``name`` if it is a valid session name, else raise :class:`InvalidName`.

    A name is 1-100 characters of ASCII letters, digits, ``-`` and ``_``, does not start with
    ``-`` (so it can never be mistaken for a command-line option), and does not read as a session
    id (:func:`reads_as_id`: an id always wins over a name, so such a name could not be used).
    ``allow_id_like`` keeps such a name where one is salvaged from a session written by an
    older version (a repair must not drop it).
    """
    if not isinstance(name, str):
        raise InvalidName("a name must be text")
    if not name:
        raise InvalidName("the name is empty")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidName(f"the name is {len(name)} characters long; the limit is {NAME_MAX_LENGTH}")
    for ch in name:
        if not _NAME_CHAR.fullmatch(ch):
            if ch == " ":
                what = "a space"
            elif ch.isprintable():
                what = f"{ch!r}"
            else:
                what = f"the invisible character U+{ord(ch):04X}"
            raise InvalidName(f"{shorten(ascii(name), 40)} contains {what}")
    if name.startswith("-"):
        raise InvalidName(f"{shorten(name, 40)!r} starts with '-', which reads as an option")
    if reads_as_id(name) and not allow_id_like:
        raise InvalidName(
            f"{shorten(name, 40)!r} would read as a session id (it is only hex digits and '-'); "
            f"add a letter that is not a-f, e.g. {shorten('x' + name, 40)!r}"
        )
    return name


_TAG = re.compile(r"[a-z0-9][a-z0-9_.-]*")


def is_tag(text: str) -> bool:
    """True if ``text`` is a tag as stored (valid and lower-case): what a cache row must hold."""
    return len(text) <= TAG_MAX_LENGTH and text.isascii() and _TAG.fullmatch(text) is not None


def validate_tag(tag: str) -> str:
    """``tag`` as it is stored (lower-cased: tags are case-insensitive), else :class:`InvalidTag`.

    A tag is 1-32 ASCII letters, digits, ``-``, ``_`` and ``.``, starting with a letter or a
    digit (never ``-``, which reads as an option): safe in a table, a TSV field and a shell.
    """
    if not isinstance(tag, str) or not tag:
        raise InvalidTag("a tag cannot be empty")
    if len(tag) > TAG_MAX_LENGTH:
        raise InvalidTag(
            f"the tag {shorten(tag, 40)!r} is {len(tag)} characters long; the limit is {TAG_MAX_LENGTH}"
        )
    lowered = tag.lower()
    if not lowered.isascii() or _TAG.fullmatch(lowered) is None:
        raise InvalidTag(
            f"{shorten(ascii(tag), 40)} is not a tag: use letters, digits, '-', '_' and '.', "
            "starting with a letter or a digit"
        )
    return lowered


#: The (read-only) custom fields of a session that has none.
NO_CUSTOM_FIELDS: Mapping[str, Any] = MappingProxyType({})


class TokenTotals(NamedTuple):
    """Tokens reported for a session's replies (for one model, or all of them): ``replies`` is
    how many replies reported a usage, so a total can be read as "of N replies" when some did not.

    A named tuple (cheap to define at start-up); the session model saves it as an object
    (``SessionMetadata`` serialises it with :meth:`counts`).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    replies: int = 0

    def plus(self, other: TokenTotals) -> TokenTotals:
        """The sum of two totals (each count held at :data:`COUNT_MAX`)."""
        return TokenTotals(
            min(self.prompt_tokens + other.prompt_tokens, COUNT_MAX),
            min(self.completion_tokens + other.completion_tokens, COUNT_MAX),
            min(self.total_tokens + other.total_tokens, COUNT_MAX),
            min(self.replies + other.replies, COUNT_MAX),
        )

    def in_range(self) -> bool:
        """True when every count is a whole number from 0 to :data:`COUNT_MAX`."""
        counts = (self.prompt_tokens, self.completion_tokens, self.total_tokens, self.replies)
        return all(type(n) is int and 0 <= n <= COUNT_MAX for n in counts)

    def counts(self) -> dict[str, int]:
        """The counts by name, as a session's ``metadata.json`` holds them."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "replies": self.replies,
        }

    @classmethod
    def of_all(cls, usage: Mapping[str, TokenTotals]) -> TokenTotals:
        """The totals over every model of a session's ``usage``."""
        total = cls()
        for part in usage.values():
            total = total.plus(part)
        return total


#: A session without any reported usage.
NO_USAGE: Mapping[str, TokenTotals] = MappingProxyType({})


def usage_to_json(usage: Mapping[str, TokenTotals]) -> str | None:
    """A session's usage as compact JSON (``{model: [prompt, completion, total, replies]}``), as
    the index stores it; None when there is none."""
    if not usage:
        return None
    return json.dumps(
        {m: [t.prompt_tokens, t.completion_tokens, t.total_tokens, t.replies] for m, t in usage.items()}
    )


def usage_from_json(text: str) -> Mapping[str, TokenTotals]:
    """:func:`usage_to_json`'s text read back; any other shape is a ``ValueError``."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("the usage is not an object")
    usage: dict[str, TokenTotals] = {}
    for model, counts in data.items():
        if not (isinstance(counts, list) and len(counts) == 4):
            raise ValueError("a usage entry is not four counts")
        totals = TokenTotals(*counts)
        if not totals.in_range():
            raise ValueError("a usage count is out of range")
        usage[model] = totals
    return usage


class SessionStatus(StrEnum):
    """Lifecycle state of a session."""

    ACTIVE = "active"
    ARCHIVED = "archived"


class SessionView(Protocol):
    """What listings and their JSON show of a session: satisfied by both
    :class:`~chatcli.session.models.SessionMetadata` and :class:`SessionBrief`."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def status(self) -> SessionStatus: ...
    @property
    def created(self) -> datetime: ...
    @property
    def last_active(self) -> datetime: ...
    @property
    def first_message(self) -> str: ...
    @property
    def message_count(self) -> int: ...
    @property
    def file_count(self) -> int: ...
    @property
    def custom_fields(self) -> Mapping[str, Any]: ...
    @property
    def usage(self) -> Mapping[str, TokenTotals]: ...
    @property
    def pinned(self) -> bool: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def is_archived(self) -> bool: ...


class SessionBrief(NamedTuple):
    """A session's metadata as the index holds it: already validated when it was stored, so it
    is read back without building a pydantic model (listings and completion stay cheap).

    A named tuple, not a frozen dataclass: a completion snapshot builds one per session, and
    a tuple is several times cheaper to construct.
    """

    id: str
    name: str | None
    status: SessionStatus
    created: datetime
    last_active: datetime
    first_message: str
    message_count: int
    file_count: int = 0
    custom_fields: Mapping[str, Any] = NO_CUSTOM_FIELDS
    usage: Mapping[str, TokenTotals] = NO_USAGE
    pinned: bool = False
    tags: tuple[str, ...] = ()

    @property
    def is_archived(self) -> bool:
        """True when the session is archived."""
        return self.status is SessionStatus.ARCHIVED

    @classmethod
    def of(cls, meta: SessionMetadata) -> SessionBrief:
        """The brief of a full metadata object."""
        return cls(
            meta.id,
            meta.name,
            meta.status,
            meta.created,
            meta.last_active,
            meta.first_message,
            meta.message_count,
            meta.file_count,
            dict(meta.custom_fields),
            dict(meta.usage),
            meta.pinned,
            tuple(meta.tags),
        )


class ChangeCursor(NamedTuple):
    """A place in a store's log of changed sessions: the log's name and the last change read."""

    log: str
    seq: int


class Changes(NamedTuple):
    """The sessions changed since a :class:`ChangeCursor`: the briefs of those that exist now,
    the ids of those gone, and the cursor to ask from next time."""

    cursor: ChangeCursor
    changed: list[SessionBrief]
    gone: set[str]

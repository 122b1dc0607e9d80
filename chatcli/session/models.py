"""Session data models: metadata (``metadata.json``) and transcript messages (``conversation.jsonl``).

The serialised field names are part of the on-disk format and never change meaning; new fields
come with a new ``version`` and a step in :meth:`SessionMetadata.migrate`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
)

from chatcli.session.errors import InvalidMetadata, InvalidTag, UnsupportedVersion
from chatcli.session.fields import (
    COUNT_MAX,
    FIRST_MESSAGE_LIMIT,
    NAME_MAX_LENGTH,
    SYSTEM_PROMPT_MAX,
    TAGS_MAX,
    SessionStatus,
    TokenTotals,
    as_utc,
    check_timestamp,
    is_session_id,
    new_session_id,
    utc_now,
    validate_session_name,
    validate_tag,
)

__all__ = [
    "FIRST_MESSAGE_LIMIT",
    "METADATA_VERSION",
    "NAME_MAX_LENGTH",
    "Message",
    "ReplyUsage",
    "Role",
    "SessionMetadata",
    "SessionStatus",
    "TokenTotals",
    "is_session_id",
    "new_session_id",
    "utc_now",
    "validate_session_name",
]

#: The metadata schema version this chatcli writes (2: ``pinned``, ``tags``, ``system_prompt``, ``usage``).
METADATA_VERSION = 2
#: The version that introduced each field added since v1: in a file of an older version such a key
#: meant nothing (that version ignored it), so it is read as the field's default.
_INTRODUCED_IN = {"pinned": 2, "tags": 2, "system_prompt": 2, "usage": 2}
#: What such a key of an older file reads as.
_DEFAULTS: dict[str, Any] = {"pinned": False, "tags": [], "system_prompt": None, "usage": {}}
#: How deeply ``custom_fields`` values may nest (lists and objects within each other).
CUSTOM_FIELDS_MAX_DEPTH = 32
#: The longest model name kept with a reply or a usage total.
MODEL_NAME_MAX = 200
#: The model a usage is counted under when the reply does not name one.
UNKNOWN_MODEL = "unknown"

Role = Literal["user", "assistant", "system"]


class SessionMetadata(BaseModel):
    """Everything chatcli knows about a session without reading its transcript.

    Timestamps are timezone-aware UTC (a naive value read from disk is taken as UTC) between
    :data:`~chatcli.session.fields.TIMESTAMP_MIN` and ``TIMESTAMP_MAX``; counts are at most
    :data:`~chatcli.session.fields.COUNT_MAX`. A value outside is invalid metadata, so one
    hand-edited file makes its own session corrupted and nothing else.
    """

    model_config = ConfigDict(validate_assignment=True, extra="ignore")

    version: int = METADATA_VERSION
    id: str = Field(min_length=1, max_length=200)
    status: SessionStatus = SessionStatus.ACTIVE
    created: datetime
    last_active: datetime
    first_message: str = ""
    name: str | None = None
    file_count: int = Field(default=0, ge=0, le=COUNT_MAX)
    message_count: int = Field(default=0, ge=0, le=COUNT_MAX)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    #: The system prompt sent first with every request of this session (None: none).
    system_prompt: str | None = Field(default=None, max_length=SYSTEM_PROMPT_MAX)
    #: Tokens the server reported for this session's replies, per model (derived from the
    #: transcript: kept here so listings need not read it).
    usage: dict[str, TokenTotals] = Field(default_factory=dict)
    pinned: bool = False
    tags: list[str] = Field(default_factory=list)

    @field_validator("pinned", "tags", "system_prompt", "usage", mode="before")
    @classmethod
    def _older_fields(cls, value: Any, info: ValidationInfo) -> Any:
        # A key a file's version did not have meant nothing to that version (it was ignored):
        # a v1 file with a hand-added "tags" key reads as v1 did, instead of failing.
        version = info.data.get("version", METADATA_VERSION)
        field = str(info.field_name)
        if isinstance(version, int) and version < _INTRODUCED_IN[field]:
            return _DEFAULTS[field]
        return value

    @field_validator("tags")
    @classmethod
    def _valid_tags(cls, value: list[str]) -> list[str]:
        try:
            tags = list(dict.fromkeys(validate_tag(tag) for tag in value))
        except InvalidTag as exc:  # a ValueError, so a bad tag on disk is invalid metadata
            raise ValueError(exc.detail) from None
        if len(tags) > TAGS_MAX:
            raise ValueError(f"{len(tags)} tags; at most {TAGS_MAX}")
        return tags

    @field_validator("created", "last_active")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return check_timestamp(value)

    @field_validator("custom_fields")
    @classmethod
    def _not_too_deep(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Deeper values could be written but never read back (the JSON reader stops at 200 levels).
        if _depth(value) > CUSTOM_FIELDS_MAX_DEPTH:
            raise ValueError(f"nested more than {CUSTOM_FIELDS_MAX_DEPTH} levels deep")
        return value

    @field_validator("usage", mode="before")
    @classmethod
    def _usage_known_counts(cls, value: Any) -> Any:
        # Counts a later version may add are ignored, as unknown keys are everywhere else; a
        # list is not read by position (TokenTotals is a named tuple, which pydantic would).
        if not isinstance(value, dict):
            return value
        if any(isinstance(t, list | tuple) and not isinstance(t, TokenTotals) for t in value.values()):
            raise ValueError("usage counts must be an object of named counts")
        return {
            model: {k: n for k, n in totals.items() if k in TokenTotals._fields}
            if isinstance(totals, dict)
            else totals
            for model, totals in value.items()
        }

    @field_serializer("usage")
    def _usage_as_objects(self, usage: dict[str, TokenTotals]) -> dict[str, dict[str, int]]:
        return {model: totals.counts() for model, totals in usage.items()}

    @field_validator("usage")
    @classmethod
    def _usage_in_range(cls, value: dict[str, TokenTotals]) -> dict[str, TokenTotals]:
        for model, totals in value.items():
            if not 0 < len(model) <= MODEL_NAME_MAX:
                raise ValueError(f"a model name must be 1 to {MODEL_NAME_MAX} characters")
            if not totals.in_range():
                raise ValueError(f"token counts must be whole numbers from 0 to {COUNT_MAX}")
        return value

    @classmethod
    def new(cls, session_id: str, first_message: str) -> Self:
        """A fresh, active, unnamed session created now."""
        now = utc_now()
        return cls(
            id=session_id,
            created=now,
            last_active=now,
            first_message=first_message[:FIRST_MESSAGE_LIMIT],
        )

    @classmethod
    def from_messages(
        cls,
        session_id: str,
        messages: Sequence[Message],
        *,
        when_empty: datetime,
        given: dict[str, Any] | None = None,
    ) -> Self:
        """Metadata derived from a transcript: the ONE place the derive-from-messages rules live.

        ``created`` and ``last_active`` are the first and last message's times (``when_empty``
        for a transcript with no message), ``first_message`` the first user message (cut to
        :data:`FIRST_MESSAGE_LIMIT`), ``message_count`` the number of messages, ``usage`` the sum
        of the replies' reported usage per model. ``given`` fields (an import's) replace the
        derived ones, all validated together.
        """
        usage: dict[str, TokenTotals] = {}
        for message in messages:
            _count_usage(usage, message)
        fields = {
            "id": session_id,
            "created": messages[0].timestamp if messages else when_empty,
            "last_active": messages[-1].timestamp if messages else when_empty,
            "first_message": first_user_message(messages),
            "message_count": len(messages),
            "usage": usage,
        }
        return cls.model_validate({**fields, **given} if given else fields)

    def record_message(self, message: Message) -> None:
        """Count one appended message: its time moves ``last_active``, a first user message is
        kept, a reply's reported usage is added to its model's totals."""
        self.message_count += 1
        if not self.first_message and message.role == "user":
            self.first_message = message.content[:FIRST_MESSAGE_LIMIT]
        if message.usage is not None:
            usage = dict(self.usage)
            _count_usage(usage, message)
            self.usage = usage
        self.update_activity(message.timestamp)

    @property
    def total_usage(self) -> TokenTotals:
        """The tokens reported for every reply of the session, all models together."""
        return TokenTotals.of_all(self.usage)

    @classmethod
    def from_json(cls, data: bytes | str, *, source: str = "metadata") -> Self:
        """Parse and migrate serialised metadata.

        Raises :class:`UnsupportedVersion` for a newer version and :class:`InvalidMetadata`
        for anything that is not a valid metadata object.
        """
        try:
            raw = cls.model_validate_json(data)
        except ValidationError as exc:
            _refuse_newer(data)
            raise InvalidMetadata(f"{source}: {_first_error(exc)}") from exc
        # A fresh object already current needs no (deep) copy: the common case, on every write.
        return raw if raw.version == METADATA_VERSION else raw.migrate()

    def to_json(self) -> str:
        """Serialise to the on-disk JSON form (indented, stable field order)."""
        return self.model_dump_json(indent=2) + "\n"

    def archive(self) -> None:
        """Mark the session archived (hidden from the default listing, never deleted)."""
        self.status = SessionStatus.ARCHIVED

    def unarchive(self) -> None:
        """Mark the session active again."""
        self.status = SessionStatus.ACTIVE

    @property
    def is_archived(self) -> bool:
        """True when the session is archived."""
        return self.status is SessionStatus.ARCHIVED

    def update_activity(self, at: datetime | None = None) -> None:
        """Move ``last_active`` forward to ``at`` (default: now); it never goes backwards."""
        when = as_utc(at) if at is not None else utc_now()
        if when <= self.last_active:
            when = self.last_active + timedelta(microseconds=1)
        self.last_active = when

    def set_name(self, name: str) -> None:
        """Validate and set the name; on failure the old name is left as it was."""
        self.name = validate_session_name(name)

    def clear_name(self) -> None:
        """Remove the session's name."""
        self.name = None

    def pin(self) -> None:
        """Pin the session: marked in lists, first in the picker, never pruned."""
        self.pinned = True

    def unpin(self) -> None:
        """Remove the pin."""
        self.pinned = False

    def add_tags(self, tags: Sequence[str]) -> None:
        """Add ``tags`` (validated, lower-cased; ones already there are kept once). On failure
        (an invalid tag, more than :data:`TAGS_MAX` in all) nothing changes."""
        wanted = list(dict.fromkeys([*self.tags, *(validate_tag(tag) for tag in tags)]))
        if len(wanted) > TAGS_MAX:
            raise InvalidTag(
                f"the session would have {len(wanted)} tags; the limit is {TAGS_MAX} (remove some with untag)"
            )
        self.tags = wanted

    def remove_tags(self, tags: Sequence[str]) -> None:
        """Remove ``tags`` (matched ignoring case); tags it does not have are ignored."""
        gone = {tag.lower() for tag in tags}
        self.tags = [tag for tag in self.tags if tag not in gone]

    def migrate(self) -> Self:
        """Return this metadata brought up to :data:`METADATA_VERSION`, one step at a time.

        v0 -> v1 adds ``custom_fields``; v1 -> v2 adds ``pinned`` (false), ``tags``,
        ``system_prompt`` and ``usage`` (none).
        Keys a file's version could not have had are read as defaults (:data:`_INTRODUCED_IN`).
        A version newer than this chatcli knows (or a negative one) raises
        :class:`UnsupportedVersion`: metadata is never silently downgraded. Only the copy in
        memory is migrated; the file is rewritten (as v2) by the next change to the session.
        """
        if self.version < 0 or self.version > METADATA_VERSION:
            raise UnsupportedVersion(self.version, METADATA_VERSION)
        migrated = self.model_copy(deep=True)
        if migrated.version == 0:
            migrated.custom_fields = dict(migrated.custom_fields)
            migrated.version = 1
        if migrated.version == 1:
            migrated.version = 2
            migrated.pinned = False
            migrated.tags = []
            migrated.system_prompt = None
            migrated.usage = {}
        return migrated


class ReplyUsage(BaseModel):
    """The tokens one reply cost, as the model server reported them."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    prompt_tokens: int = Field(ge=0, le=COUNT_MAX)
    completion_tokens: int = Field(ge=0, le=COUNT_MAX)
    total_tokens: int = Field(ge=0, le=COUNT_MAX)

    def totals(self) -> TokenTotals:
        """This usage as the totals of one reply."""
        return TokenTotals(self.prompt_tokens, self.completion_tokens, self.total_tokens, 1)


class Message(BaseModel):
    """One line of ``conversation.jsonl``.

    ``id`` makes every message identifiable (duplicates after a crash are detectable);
    ``interrupted`` marks an assistant reply cut short (Ctrl-C, a dropped stream). A
    ``timestamp`` out of range (see :func:`~chatcli.session.fields.check_timestamp`) makes the
    line invalid. A reply may name the ``model`` that wrote it and the ``usage`` the server
    reported for it; both are absent from lines written before chatcli recorded them, from the
    offline stand-in's replies (it uses no tokens) and from servers that report nothing.
    """

    # Built on first use: listings never validate a message, so they skip the schema build.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    role: Role
    content: str
    timestamp: datetime = Field(default_factory=utc_now)
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    interrupted: bool = False
    model: str | None = Field(default=None, min_length=1, max_length=MODEL_NAME_MAX)
    usage: ReplyUsage | None = None

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return check_timestamp(value)

    def to_line(self) -> str:
        """Serialise as one JSON line (no trailing newline; ``interrupted``, ``model`` and
        ``usage`` only when set, so a line without them reads as it always did)."""
        return self.model_dump_json(exclude=_UNSET[self.interrupted, self.model is None, self.usage is None])

    @staticmethod
    def lines(messages: Iterable[Message]) -> bytes:
        """The :meth:`to_line` of each message, each ended by a newline, as UTF-8 (one serialiser
        call a message: what a transcript of many messages is written from)."""
        dump = Message.__pydantic_serializer__.to_json
        return b"".join(
            [
                dump(m, exclude=_UNSET[m.interrupted, m.model is None, m.usage is None]) + b"\n"
                for m in messages
            ]
        )


def _unset(interrupted: bool, no_model: bool, no_usage: bool) -> set[str] | None:
    left = {
        key
        for key, out in (("interrupted", not interrupted), ("model", no_model), ("usage", no_usage))
        if out
    }
    return left or None


#: The fields a message line leaves out, by (interrupted, no model, no usage).
_UNSET = {(i, m, u): _unset(i, m, u) for i in (False, True) for m in (False, True) for u in (False, True)}


def _count_usage(usage: dict[str, TokenTotals], message: Message) -> None:
    """Add ``message``'s reported usage (if any) to ``usage``, under the model that wrote it."""
    if message.usage is None:
        return
    model = message.model or UNKNOWN_MODEL
    usage[model] = usage.get(model, TokenTotals()).plus(message.usage.totals())


def first_user_message(messages: Iterable[Message]) -> str:
    """The first user message's text, cut to :data:`FIRST_MESSAGE_LIMIT` ("" when there is none)."""
    first = next((m.content for m in messages if m.role == "user"), "")
    return first[:FIRST_MESSAGE_LIMIT]


def _depth(value: object) -> int:
    """How deeply lists and dicts nest in ``value`` (0 for a scalar), without recursion."""
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list | tuple):
            deepest = max(deepest, level + 1)
            if deepest > CUSTOM_FIELDS_MAX_DEPTH:
                return deepest
            pending.extend((child, level + 1) for child in item)
    return deepest


def _refuse_newer(data: bytes | str) -> None:
    """Raise :class:`UnsupportedVersion` when ``data`` that failed validation is of a newer
    version: its fields may mean what this chatcli does not know, so it is not "corrupted" (a
    repair would rewrite it as an older version); it is reported and left alone."""
    import json

    try:
        version = json.loads(data).get("version")
    except (ValueError, AttributeError, RecursionError):
        return
    if type(version) is int and version > METADATA_VERSION:
        raise UnsupportedVersion(version, METADATA_VERSION)


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    if not errors:
        return "invalid data"
    err = errors[0]
    loc = ".".join(str(part) for part in err.get("loc", ())) or "document"
    msg = str(err.get("msg", "invalid value"))
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{loc}: {msg}{more}"

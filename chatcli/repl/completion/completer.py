"""Tab completion for the REPL, driven by the command registry and the sessions snapshot.

Two steps, as in pgcli: :func:`classify` decides what kind of word is being typed (a command, a
subcommand, an option, or a value of some kind) from the registry's specs alone; then a matcher
offers candidates for that kind. Session candidates come from the in-memory snapshot: a
keystroke never touches the disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from chatcli.commands.registry import Registry
from chatcli.commands.spec import Command, UsageError, ValueKind
from chatcli.render.timefmt import relative_age
from chatcli.repl.completion.ranking import rank_indexed, rank_linear
from chatcli.repl.completion.snapshot import Snapshot, SnapshotEntry
from chatcli.sanitize import clean_inline
from chatcli.session.fields import SessionStatus, utc_now

__all__ = ["MAX_ROWS", "SessionCompleter", "Want", "classify", "rank_sessions"]

#: At most this many completion rows are offered.
MAX_ROWS = 40

#: A value kind, or: a command (``top``), a subcommand (``sub``) or an option name.
WantKind = ValueKind | Literal["top", "sub", "option"]


@dataclass(frozen=True, slots=True)
class Want:
    """What the word under the cursor should be: ``kind`` plus what is needed to list candidates."""

    kind: WantKind
    word: str
    command: Command | None = None
    head: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()


def _split(text: str) -> tuple[list[str], str]:
    """The complete words before the cursor and the (possibly empty) word being typed."""
    words = text.split()
    if not text or text[-1].isspace():
        return words, ""
    return words[:-1], words[-1] if words else ""


def classify(registry: Registry, text: str) -> Want | None:
    """What kind of word is being typed in ``text`` (the input up to the cursor), or None."""
    if not text.startswith("/"):
        return None
    done, word = _split(text[1:])
    if not done:
        return Want("top", word)
    groups = registry.group_names()
    if done[0] in groups and len(done) == 1:
        return Want("sub", word, head=(done[0],))
    try:
        command, rest = registry.find(done)
    except UsageError:  # an unknown command: nothing to offer
        return None
    if rest and rest[-1].startswith("-"):
        opt = command.option_for(rest[-1].split("=", 1)[0])
        if opt is not None and opt.kind is not None and "=" not in rest[-1]:
            return Want(opt.kind, word, command, choices=opt.choices)
    if word.startswith("-"):
        return Want("option", word, command)
    positionals = _count_positionals(command, rest)
    plain = [a for a in command.args if not a.rest]
    if positionals < len(plain):
        arg = plain[positionals]
        return Want(arg.kind, word, command, choices=arg.choices)
    rest_arg = next((a for a in command.args if a.rest), None)
    if rest_arg is not None:
        # ``head``: the words already given to it (``/help sessions `` completes a subcommand).
        return Want(rest_arg.kind, word, command, head=tuple(rest), choices=rest_arg.choices)
    return Want("option", word, command) if command.options else None


def _count_positionals(command: Command, rest: list[str]) -> int:
    count = 0
    skip = False
    for token in rest:
        if skip:
            skip = False
            continue
        if token.startswith("-") and token != "-":
            opt = command.option_for(token.split("=", 1)[0])
            skip = opt is not None and opt.kind is not None and "=" not in token
            continue
        count += 1
    return count


def rank_sessions(
    entries: Iterable[SnapshotEntry], word: str, limit: int = MAX_ROWS
) -> list[tuple[SnapshotEntry, str]]:
    """Sessions matching ``word``, best first, each with the text to insert (its id or its name).

    Ranking: id prefix, then name prefix, then name containing the word, then first message
    containing it (3+ characters); active before archived; most recent first within a rank
    (``entries`` is newest first). A snapshot's tuple is ranked with its search structure, built
    once per snapshot (:mod:`chatcli.repl.completion.ranking`); any other iterable is scanned in full.
    """
    if isinstance(entries, tuple):
        return rank_indexed(entries, word, limit)
    return rank_linear(entries, word, limit)


def session_meta(entry: SnapshotEntry, now: datetime | None = None) -> str:
    """The grey text beside a session candidate: first message and age (the name is in the label)."""
    parts = []
    first = " ".join(entry.first_message.split())
    if first:
        parts.append(clean_inline(first[:48] + ("…" if len(first) > 48 else "")))
    age = relative_age(entry.last_active, now)
    parts.append(age + (" · archived" if entry.status is SessionStatus.ARCHIVED else ""))
    if entry.pinned:
        parts.append("pinned")
    if entry.tags:
        parts.append(clean_inline(" ".join("#" + tag for tag in entry.tags)))
    return " · ".join(parts)


class SessionCompleter(Completer):
    """Completes slash commands, subcommands, options, choices, paths and session ids/names."""

    def __init__(
        self,
        registry: Registry,
        snapshot: Callable[[], Snapshot],
        current: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.registry = registry
        self.snapshot = snapshot
        #: The id of the session in use: ``/resume`` offers it last (switching to it changes nothing).
        self.current = current
        self._paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        """Yield completions for the text before the cursor (pure in-memory work)."""
        want = classify(self.registry, document.text_before_cursor)
        if want is None:
            return
        start = -len(want.word)
        if want.kind == "top":
            yield from self._top(want.word, start)
        elif want.kind == "sub":
            yield from self._sub(want, start)
        elif want.kind == "option" and want.command is not None:
            yield from self._options(want.command, document.text_before_cursor, want.word, start)
        elif want.kind == "session":
            yield from self._sessions(want, start)
        elif want.kind == "tag":
            yield from self._tags(want, start)
        elif want.choices:
            for choice in want.choices:
                if choice.startswith(want.word):
                    yield Completion(choice, start)
        elif want.kind == "command":
            yield from self._topics(want.head, want.word, start)
        elif want.kind == "path":
            sub = Document(want.word, len(want.word))
            yield from self._paths.get_completions(sub, complete_event)

    def _sessions(self, want: Want, start: int) -> Iterator[Completion]:
        """Sessions matching the word; for ``/resume`` the session in use comes last."""
        now = utc_now()
        ranked = rank_sessions(self.snapshot().entries, want.word)
        current = self.current()
        if current is not None and want.command is not None and want.command.words == ("resume",):
            ranked.sort(key=lambda item: item[0].id == current)  # stable: the rest keep their order
        for entry, insert in ranked:
            label = entry.id[:8] + (f"  {clean_inline(entry.name)}" if entry.name else "")
            yield Completion(insert, start, display=label, display_meta=session_meta(entry, now))

    def _tags(self, want: Want, start: int) -> Iterator[Completion]:
        """Tags in use (most used first) for ``--tag`` and ``sessions tag ID``; for ``sessions untag
        ID`` the tags of that session. Tags already typed, or the session already has, are left out."""
        snap = self.snapshot()
        word = want.word.lower()
        session = _named_entry(snap, want.head[0]) if want.head else None
        typed = set(want.head[1:])
        untag = want.command is not None and want.command.words == ("sessions", "untag")
        if untag and session is not None:
            offered = [(tag, 0) for tag in session.tags]
        else:
            own = set(session.tags) if session is not None and not untag else set()
            offered = [(tag, count) for tag, count in snap.tags if tag not in own]
        for tag, count in offered:
            if tag.startswith(word) and tag not in typed:
                meta = f"{count} session{'' if count == 1 else 's'}" if count else "tag of this session"
                yield Completion(tag, start, display_meta=meta)

    def _top(self, word: str, start: int) -> Iterator[Completion]:
        seen: set[str] = set()
        for command in self.registry.commands():
            first = command.words[0]
            if first in seen or not first.startswith(word):
                continue
            seen.add(first)
            summary = (
                command.summary if len(command.words) == 1 else f"{first} commands: list, show, search, …"
            )
            yield Completion(first, start, display="/" + first, display_meta=summary)

    def _sub(self, want: Want, start: int) -> Iterator[Completion]:
        """Each subcommand once, its aliases in the meta; typing an alias offers that alias."""
        for command in self.registry.subcommands(want.head):
            name = command.words[-1]
            also = f" (also: {', '.join(command.aliases)})" if command.aliases else ""
            if name.startswith(want.word):
                yield Completion(name, start, display_meta=command.summary + also)
                continue
            alias = next((a for a in command.aliases if a.startswith(want.word)), None)
            if alias is not None:
                yield Completion(alias, start, display_meta=f"= {name}: {command.summary}")

    def _topics(self, head: tuple[str, ...], word: str, start: int) -> Iterator[Completion]:
        """Help topics: a command or group, then a group's subcommands (``/help sessions list``)."""
        if not head:
            names = sorted({c.words[0] for c in self.registry.commands()})
        elif len(head) == 1 and head[0].lstrip("/") in self.registry.group_names():
            names = [c.words[-1] for c in self.registry.subcommands((head[0].lstrip("/"),))]
        else:
            return
        for name in names:
            if name.startswith(word):
                yield Completion(name, start)

    def _options(self, command: Command, text: str, word: str, start: int) -> Iterator[Completion]:
        used = set(text.split())
        for opt in command.options:
            if any(flag in used for flag in opt.flags):
                continue
            for flag in opt.flags:
                if flag.startswith("--") and flag.startswith(word):
                    yield Completion(flag, start, display_meta=opt.help)


def _named_entry(snap: Snapshot, ref: str) -> SnapshotEntry | None:
    """The snapshot's session ``ref`` names (its name, full id or a unique id prefix), if any:
    the session a ``sessions tag|untag ID`` being typed is about (``.`` is not looked up)."""
    lowered = ref.lower()
    by_name = [e for e in snap.entries if e.name_lower == lowered]
    if len(by_name) == 1:
        return by_name[0]
    by_id = [e for e in snap.entries if e.id.startswith(lowered)] if len(lowered) >= 4 else []
    return by_id[0] if len(by_id) == 1 else None

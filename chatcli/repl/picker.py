"""The ``chatcli --resume`` picker: fuzzy search over names and first messages, newest first."""

from __future__ import annotations

from collections.abc import Sequence

from prompt_toolkit.application import Application, get_app
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.layout import HSplit, Layout, Window
from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl
from prompt_toolkit.output import Output
from prompt_toolkit.utils import get_cwidth

from chatcli.render.timefmt import SHORT_ID_LENGTH, relative_age, short_id
from chatcli.repl.completion.snapshot import SnapshotEntry
from chatcli.repl.keys import quick_escape
from chatcli.sanitize import clean_inline

__all__ = [
    "NEW_SESSION",
    "filter_entries",
    "fit",
    "fuzzy_score",
    "pick_session",
    "pick_session_async",
    "session_row",
]

VISIBLE_ROWS = 12
#: What marks a pinned session's row (after its short id); pinned sessions are listed first.
PIN_MARK = "*"
#: What the picker returns for its "Start a new session" row (never a session id: those are UUIDs).
NEW_SESSION = "new"
#: A row's title (name, first message) keeps at least this many columns: the id gives way first,
#: then the age.
MIN_TITLE = 16
_INDENT = "  "
_GAP = "  "


def fuzzy_score(query: str, text: str) -> int | None:
    """Score ``text`` against ``query`` (lower is better); None if the letters are not all there in order.

    A plain substring scores by its position; otherwise the letters must appear in order and the
    score grows with the gaps between them.
    """
    if not query:
        return 0
    hay = text.lower()
    needle = query.lower()
    pos = hay.find(needle)
    if pos >= 0:
        return pos
    score = 1000
    at = -1
    for ch in needle:
        nxt = hay.find(ch, at + 1)
        if nxt < 0:
            return None
        score += nxt - at - 1
        at = nxt
    return score


def filter_entries(entries: Sequence[SnapshotEntry], query: str) -> list[SnapshotEntry]:
    """Entries matching ``query`` over name, tags, first message and id: pinned sessions first,
    then best match first, then newest."""
    scored: list[tuple[bool, int, int, SnapshotEntry]] = []
    for position, entry in enumerate(entries):
        fields = [entry.name or "", entry.first_message[:200], entry.id, *entry.tags]
        scores = [s for s in (fuzzy_score(query, f) for f in fields) if s is not None]
        if scores:
            scored.append((not entry.pinned, min(scores), position, entry))
    scored.sort(key=lambda item: item[:3])
    return [item[3] for item in scored]


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal columns (wide characters count two), with an ellipsis
    when it was cut."""
    if get_cwidth(text) <= width:
        return text
    if width <= 0:
        return ""
    kept: list[str] = []
    used = 0
    for char in text:
        used += get_cwidth(char)
        if used > width - 1:
            break
        kept.append(char)
    return "".join(kept) + "…"


def session_row(entry: SnapshotEntry, width: int, age: str, age_width: int) -> StyleAndTextTuples:
    """One picker row laid out by priority for a ``width``-column screen (no newline).

    The title always shows: the name (bold) followed by the first message, or the first message
    alone for an unnamed session, cut with an ellipsis, never padded beyond what the screen
    leaves. The age (right-aligned in ``age_width`` columns) comes next and the short id last:
    when the screen is too narrow for all three, the id gives way first, then the age. A pinned
    session is marked with :data:`PIN_MARK` in the margin; tags come before the first message.
    """
    room = width - len(_INDENT) - 1  # the last column stays free: a full line may wrap
    age_cost = len(_GAP) + age_width
    show_age = room >= MIN_TITLE + age_cost
    show_id = room >= MIN_TITLE + age_cost + len(_GAP) + SHORT_ID_LENGTH
    title_room = room - (age_cost if show_age else 0) - (len(_GAP) + SHORT_ID_LENGTH if show_id else 0)
    # A first message may be megabytes: fold and clean only what a row can show.
    first = " ".join(entry.first_message[: 4 * width + 64].split())
    if entry.tags:
        first = "[" + ",".join(entry.tags) + "] " + first
    first = clean_inline(first)
    out: StyleAndTextTuples = [("bold", PIN_MARK + " ") if entry.pinned else ("", _INDENT)]
    used = 0
    if entry.name:
        name = fit(clean_inline(entry.name), title_room)
        out.append(("bold", name))
        used = get_cwidth(name)
        rest = title_room - used - len(_GAP)
        if first and rest >= 4:
            first = fit(first, rest)
            out.append(("", _GAP + first))
            used += len(_GAP) + get_cwidth(first)
    else:
        first = fit(first or "(no messages)", title_room)
        out.append(("", first))
        used = get_cwidth(first)
    tail = " " * (title_room - used)
    if show_age:
        tail += _GAP + age.rjust(age_width)
    if show_id:
        tail += _GAP + short_id(entry.id)
    out.append(("", tail))
    return out


class _Picker:
    """The picker's state (the query, the highlighted row) and its screen: rows, keys, layout."""

    def __init__(self, entries: Sequence[SnapshotEntry]) -> None:
        self.entries = entries
        self.query = Buffer()
        self.index = 0
        #: Whether the user moved the selection since the query last changed: with no match,
        #: Enter starts a new session only once its row was chosen with the arrows.
        self.moved = False
        self._found_for: dict[str, list[SnapshotEntry]] = {}
        self.query.on_text_changed += self._reset_index

    def _reset_index(self, _: Buffer) -> None:
        self.index = 0
        self.moved = False

    def matches(self) -> list[SnapshotEntry]:
        """The entries matching the query, filtered once per query text (a redraw or an arrow key
        must not filter 100,000 again)."""
        text = self.query.text
        if text not in self._found_for:
            self._found_for.clear()
            self._found_for[text] = filter_entries(self.entries, text)
        return self._found_for[text]

    def rows(self, width: int | None = None) -> StyleAndTextTuples:
        """The visible rows around the highlighted one, the "new session" row and a status line,
        laid out for ``width`` columns (default: the terminal's)."""
        if width is None:
            width = get_app().output.get_size().columns
        found = self.matches()
        out: StyleAndTextTuples = []
        if not found:
            out.append(("class:dim", "  no session matches\n"))
        index = min(self.index, len(found))
        start = max(0, index - VISIBLE_ROWS + 1)
        # The rows are the matches and, last, the "new session" row (``None`` here).
        items: list[SnapshotEntry | None] = [*found, None][start : start + VISIBLE_ROWS]
        ages = {entry.id: relative_age(entry.last_active) for entry in items if entry is not None}
        age_width = max(map(len, ages.values()), default=0)
        for i, entry in enumerate(items, start=start):
            style = "reverse" if i == index and (entry is not None or found or self.moved) else ""
            if entry is None:
                out.append((style, fit("  + Start a new session", width - 1) + "\n"))
                continue
            row = session_row(entry, width, ages[entry.id], age_width)
            out += [(f"{style} {part}".strip(), text) for part, text, *_ in row]
            out.append(("", "\n"))
        out.append(("class:dim", self._status(len(found), width) + "\n"))
        return out

    def _status(self, found: int, width: int) -> str:
        """The status line: the count and the keys, shortened to fit ``width``."""
        total = len(self.entries)
        for line in (
            f"  {found} of {total} sessions · Enter resumes · Esc cancels",
            f"  {found} of {total} · Enter resumes · Esc cancels",
            f"  {found}/{total} · Esc cancels",
        ):
            if len(line) < width:
                return line
        return fit(f"  {found}/{total}", width - 1)

    def chosen(self) -> str | None:
        """The highlighted row: a session id, :data:`NEW_SESSION`, or None when no row is highlighted
        (nothing matches and the "new session" row was not chosen with the arrows)."""
        found = self.matches()
        index = min(self.index, len(found))
        if index < len(found):
            return found[index].id
        return NEW_SESSION if found or self.moved else None

    def key_bindings(self) -> KeyBindings:
        """Up/Down move, Enter chooses the highlighted row, Esc or Ctrl-C cancels."""
        keys = KeyBindings()

        @keys.add("up")
        def _up(event: KeyPressEvent) -> None:
            self.index = max(0, min(self.index, len(self.matches())) - 1)
            self.moved = True

        @keys.add("down")
        def _down(event: KeyPressEvent) -> None:
            self.index = min(len(self.matches()), self.index + 1)
            self.moved = True

        @keys.add("enter")
        def _enter(event: KeyPressEvent) -> None:
            chosen = self.chosen()
            if chosen is not None:  # with no row highlighted, Enter does nothing
                event.app.exit(result=chosen)

        @keys.add("escape", eager=True)
        @keys.add("c-c")
        def _cancel(event: KeyPressEvent) -> None:
            event.app.exit(result=None)

        return keys

    def layout(self) -> Layout:
        """A heading, the search line and the rows."""
        return Layout(
            HSplit(
                [
                    Window(
                        FormattedTextControl([("bold", "Resume which session? (type to search)")]), height=1
                    ),
                    Window(
                        BufferControl(self.query), height=1, get_line_prefix=lambda *_: [("", "search › ")]
                    ),
                    Window(FormattedTextControl(self.rows), height=VISIBLE_ROWS + 1),
                ]
            ),
            focused_element=self.query,
        )


def _picker_app(
    entries: Sequence[SnapshotEntry], input: Input | None, output: Output | None
) -> Application[str | None]:
    picker = _Picker(entries)
    app: Application[str | None] = Application(
        layout=picker.layout(), key_bindings=picker.key_bindings(), input=input, output=output
    )
    quick_escape(app)
    return app


def pick_session(
    entries: Sequence[SnapshotEntry],
    *,
    input: Input | None = None,
    output: Output | None = None,
) -> str | None:
    """Let the user choose a session: type to filter, Up/Down to move, Enter to resume, Esc to cancel.

    Returns the chosen session's id, :data:`NEW_SESSION` for the "Start a new session" row, or
    None when the user cancelled (Esc or Ctrl-C).
    """
    return _picker_app(entries, input, output).run()


async def pick_session_async(
    entries: Sequence[SnapshotEntry],
    *,
    input: Input | None = None,
    output: Output | None = None,
) -> str | None:
    """:func:`pick_session` inside a running event loop (the REPL's ``/resume``)."""
    return await _picker_app(entries, input, output).run_async()

"""The session browser: ``chatcli --resume`` and ``/resume`` with no argument.

Typing filters by name, tag, first message and id in memory (:mod:`~chatcli.repl.picker_filter`)
and, after a short pause, by message content through the service's search on a worker thread;
the matching part of a message shows under its row. Tab shows the highlighted session's last
messages (read for that row only, when it is highlighted). Ctrl-R renames (the name is typed in
the browser), Ctrl-P pins or unpins, Ctrl-A archives or unarchives, Ctrl-D moves the session to
the trash after a y/N question: each is written at once and the list then shows what the write
returned, which is what is on disk. Errors are shown in the browser, which stays open. Ctrl-O
lists every known project's sessions, and this project's again (:mod:`~chatcli.repl.picker_projects`).
How rows look: :mod:`~chatcli.repl.picker_rows`; the service calls: :mod:`~chatcli.repl.picker_actions`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Literal

from prompt_toolkit.application import Application, get_app
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.filters import Condition
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.input import Input
from prompt_toolkit.layout import ConditionalContainer, HSplit, Layout, Window
from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl
from prompt_toolkit.output import Output

from chatcli.errors import ChatcliError
from chatcli.render.timefmt import relative_age
from chatcli.repl.completion.snapshot import SnapshotEntry
from chatcli.repl.keys import quick_escape
from chatcli.repl.picker_actions import BrowserActions, ContentHits, Done, Preview, content_query
from chatcli.repl.picker_filter import Scan, SnapshotFilter, filter_entries, fuzzy_score
from chatcli.repl.picker_keys import browser_keys
from chatcli.repl.picker_projects import ProjectsBrowse, patched, toggle_projects
from chatcli.repl.picker_rows import fit, preview_lines, session_row, snippet_row
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
#: Lines of the preview of the highlighted session (Tab shows and hides it).
PREVIEW_ROWS = 7
#: Seconds of quiet typing before the messages are searched.
DEBOUNCE = 0.2
#: Sessions looked at for letters in order between two looks at the keyboard (a few ms).
FILL_SLICE = 5_000
#: What the picker returns for its "Start a new session" row (never a session id: those are UUIDs).
NEW_SESSION = "new"
KEYS_HELP = "  Tab preview · ^R rename · ^P pin · ^A archive · ^D delete"
Mode = Literal["browse", "rename", "delete"]


class _Picker:
    """The browser's state (the query, the highlighted row, the mode, content hits, previews) and
    its screen: rows, keys, layout."""

    def __init__(
        self,
        entries: Sequence[SnapshotEntry],
        actions: BrowserActions | None = None,
        *,
        debounce: float = DEBOUNCE,
        browse: ProjectsBrowse | None = None,
    ) -> None:
        self.actions = actions
        #: Every project's sessions (Ctrl-O), when the browser may list them.
        self.browse = browse
        #: Whether every project's sessions are listed; each row's project label meanwhile.
        self.everywhere = False
        self.labels: dict[str, str] = {}
        #: This project's list, actions and total, kept while every project's are listed.
        self.here_state: tuple[Sequence[SnapshotEntry], BrowserActions | None, int | None] = ((), None, None)
        #: Counts Ctrl-O presses: a list read for an earlier one is not shown.
        self.generation = 0
        self.debounce = debounce
        self.query = Buffer(multiline=False)
        #: The new name, typed while renaming.
        self.answer = Buffer(multiline=False)
        self.index = 0
        #: Whether the user moved the selection since the query last changed: with no match,
        #: Enter starts a new session only once its row was chosen with the arrows.
        self.moved = False
        self.mode: Mode = "browse"
        #: The session a rename or a delete question is about (fixed when it was asked).
        self.target: SnapshotEntry | None = None
        self.preview_on = False
        #: What the last action said (or why it failed), shown until the query changes.
        self.message = ""
        self.content: ContentHits | None = None
        self.searching = False
        self.previews: dict[str, Preview] = {}
        self._loading: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._search: asyncio.Task[None] | None = None
        self._found_for: dict[str, Sequence[SnapshotEntry]] = {}
        #: Whether filtering may go on in the background (set while the browser runs).
        self.background = False
        self._scan: Scan | None = None
        self._fill: asyncio.Task[None] | None = None
        self._snippets: dict[str, str] = {}
        self._complete = True
        #: How many sessions there are while only the first page is listed (None: all are).
        self.total: int | None = None
        self.set_entries(entries)
        self.query.on_text_changed += self._query_changed

    def set_entries(self, entries: Sequence[SnapshotEntry], ready: SnapshotFilter | None = None) -> None:
        """List ``entries`` from now on (after an action changed one; ``ready``: their filter)."""
        self.entries = entries
        self.filter = ready if ready is not None else SnapshotFilter(entries)
        self._scan = None
        if self._fill is not None:
            self._fill.cancel()
        self._found_for.clear()

    def _query_changed(self, _: Buffer) -> None:
        self.index = 0
        self.moved = False
        self.message = ""
        self._schedule_search()

    # ------------------------------------------------------------------ what is listed

    def matches(self) -> Sequence[SnapshotEntry]:
        """The sessions the query finds: by name, tag, first message or id, then by content; filtered
        once per query text (a redraw or an arrow key must not filter again)."""
        text = self.query.text
        found = self._found_for.get(text)
        if found is None:
            self._found_for.clear()
            result = self._scan_for(text).found()
            hits = self.content.hits if self.content is not None and self.content.text == text else ()
            self._snippets = dict(hits)
            listed = {e.id for e in result.entries} if hits else set()
            extra = [e for sid, _ in hits if sid not in listed and (e := self.filter.by_id(sid)) is not None]
            found = [*result.entries, *extra] if extra else result.entries
            self._complete = result.complete
            self._found_for[text] = found
        return found

    def _scan_for(self, text: str) -> Scan:
        """The filtering of ``text``: begun here; its letters-in-order part goes on in the
        background, a slice at a time, while the browser runs (else it is finished at once)."""
        scan = self._scan
        if scan is None or scan.query != text:
            if self._fill is not None:
                self._fill.cancel()
                self._fill = None
            scan = self._scan = self.filter.begin(text)
            if not scan.finished:
                if self.background:
                    self._fill = asyncio.get_running_loop().create_task(self._fill_later(scan))
                    self._spawn(self._fill)
                else:
                    scan.advance(None)
        return scan

    async def _fill_later(self, scan: Scan) -> None:
        while not scan.finished:
            await asyncio.sleep(0)  # a keystroke waits for one slice at most
            scan.advance(FILL_SLICE)
        self._found_for.clear()
        get_app().invalidate()

    def finish_filter(self) -> None:
        """Finish filtering the query now (Enter chooses from every match)."""
        if self._scan is not None and not self._scan.finished:
            self._scan.advance(None)
            self._found_for.clear()

    def highlighted(self) -> SnapshotEntry | None:
        """The session on the highlighted row (None on the "new session" row or with no match)."""
        found = self.matches()
        return found[self.index] if self.index < len(found) else None

    def chosen(self) -> str | None:
        """The highlighted row: a session id, :data:`NEW_SESSION`, or None when no row is highlighted
        (nothing matches and the "new session" row was not chosen with the arrows)."""
        found = self.matches()
        index = min(self.index, len(found))
        if index < len(found):
            return found[index].id
        return NEW_SESSION if found or self.moved else None

    def _cost(self, found: Sequence[SnapshotEntry], position: int) -> int:
        """Lines the row at ``position`` takes (two with a snippet under it)."""
        return 1 + (position < len(found) and found[position].id in self._snippets)

    def _first_visible(self, found: Sequence[SnapshotEntry], index: int) -> int:
        start, used = index, 0
        while start >= 0 and used + self._cost(found, start) <= VISIBLE_ROWS:
            used += self._cost(found, start)
            start -= 1
        return min(start + 1, index)

    def rows(self, width: int | None = None) -> StyleAndTextTuples:
        """The visible rows around the highlighted one (a snippet under a row found by content), the
        "new session" row and a status line, laid out for ``width`` columns (default: the terminal's)."""
        if width is None:
            width = get_app().output.get_size().columns
        found = self.matches()
        out: StyleAndTextTuples = []
        if not found:
            out.append(("class:dim", "  no session matches\n"))
        index = min(self.index, len(found))
        # The rows are the matches and, last, the "new session" row (``None`` here).
        items: list[tuple[int, SnapshotEntry | None]] = []
        used = 0
        for position in range(self._first_visible(found, index), len(found) + 1):
            cost = self._cost(found, position)
            if used + cost > VISIBLE_ROWS:
                break
            used += cost
            items.append((position, found[position] if position < len(found) else None))
        ages = {entry.id: relative_age(entry.last_active) for _, entry in items if entry is not None}
        age_width = max(map(len, ages.values()), default=0)
        label_width = min(max((len(self.labels.get(e.id, "")) for _, e in items if e), default=0), width // 4)
        for i, entry in items:
            style = "reverse" if i == index and (entry is not None or found or self.moved) else ""
            if entry is None:
                out.append((style, fit("  + Start a new session", width - 1) + "\n"))
                continue
            label = self.labels.get(entry.id)
            row = session_row(
                entry, width, ages[entry.id], age_width, (label, label_width) if label else None
            )
            out += [(f"{style} {part}".strip(), text) for part, text, *_ in row]
            out.append(("", "\n"))
            if entry.id in self._snippets:
                out.append(("class:dim", snippet_row(self._snippets[entry.id], width) + "\n"))
        out.append(("class:dim", self._status(len(found), width) + "\n"))
        return out

    def _status(self, found: int, width: int) -> str:
        """The status line: the count and the keys, shortened to fit ``width``."""
        total = len(self.entries) if self.total is None else self.total
        count = f"{found}{'' if self._complete else '+'}"
        where, key = (
            (" in every project", " · ^O this project") if self.everywhere else ("", " · ^O all projects")
        )
        key = key if self.browse is not None else ""
        for line in (
            f"  {count} of {total} sessions{where} · Enter resumes · Esc cancels{key}",
            f"  {count} of {total} · Enter resumes · Esc cancels{key}",
            f"  {count}/{total} · Esc cancels",
        ):
            if len(line) < width:
                return line
        return fit(f"  {count}/{total}", width - 1)

    def help_line(self) -> StyleAndTextTuples:
        """The line under the rows: the question being asked, what the last action did, or the keys."""
        width = get_app().output.get_size().columns
        entry = self.target
        if self.mode == "delete" and entry is not None:
            label = clean_inline(entry.name) if entry.name else entry.id[:8]
            pinned = "pinned session " if entry.pinned else ""
            return [("bold", fit(f"  Move {pinned}{label} to the trash? y/N", width - 1))]
        if self.message:
            return [("", fit("  " + clean_inline(self.message), width - 1))]
        if self.mode == "rename":
            return [("class:dim", fit("  Enter saves the name (empty removes it) · Esc keeps it", width - 1))]
        note = " · searching messages…" if self.searching else ""
        if self.total is not None:
            note += " · reading the list…"
        return [("class:dim", fit((KEYS_HELP if self.actions else "") + note, width - 1))]

    def preview_text(self) -> StyleAndTextTuples:
        """The highlighted session's last messages (read on a worker thread the first time)."""
        width = get_app().output.get_size().columns
        entry = self.highlighted()
        if entry is None:
            return [("class:dim", "  (no session highlighted)")]
        got = self.previews.get(entry.id)
        if got is None:
            self._load_preview(entry.id)
            return [("class:dim", "  reading…")]
        if got.error is not None:
            return [("", fit("  " + clean_inline(got.error), width - 1))]
        return [("", "\n".join(preview_lines(got.messages, got.total, width, PREVIEW_ROWS)))]

    # ------------------------------------------------------------------ work off the keystroke

    def _spawn(self, work: asyncio.Task[None]) -> None:
        self._tasks.add(work)
        work.add_done_callback(self._tasks.discard)

    def _schedule_search(self) -> None:
        """Search the messages for the query once typing pauses (the previous search is dropped)."""
        if self._search is not None:
            self._search.cancel()
            self._search = None
        self.searching = False
        if self.actions is None or content_query(self.query.text) is None or not get_app().is_running:
            return
        self.searching = True
        self._search = asyncio.get_running_loop().create_task(
            self._search_later(self.actions, self.query.text)
        )
        self._spawn(self._search)

    async def _search_later(self, actions: BrowserActions, text: str) -> None:
        await asyncio.sleep(self.debounce)
        hits = await asyncio.to_thread(actions.search, text)
        if self.query.text == text:
            self.content = hits
            self.searching = False
            self._found_for.clear()
            if hits.error:
                self.message = hits.error
            get_app().invalidate()

    def _load_preview(self, session_id: str) -> None:
        actions = self.actions
        if actions is None:
            self.previews[session_id] = Preview(session_id, (), 0, "No preview here.")
            return
        if session_id in self._loading or not get_app().is_running:
            return
        self._loading.add(session_id)

        async def load() -> None:
            got = await asyncio.to_thread(actions.preview, session_id)
            self.previews[session_id] = got
            self._loading.discard(session_id)
            get_app().invalidate()

        self._spawn(asyncio.get_running_loop().create_task(load()))

    async def load_rest(self, later: Callable[[], Sequence[SnapshotEntry]]) -> None:
        """List every session once ``later`` (run on a worker thread) has read them, keeping the
        query and the highlighted session; until then the first page is listed."""

        def read() -> SnapshotFilter | str:
            try:
                ready = SnapshotFilter(later())
            except ChatcliError as exc:
                return exc.user_message()
            ready.prepare()
            return ready

        ready = await asyncio.to_thread(read)
        if self.everywhere:  # this project's list, for when it is listed again
            if not isinstance(ready, str):
                self.here_state = (ready.entries, self.here_state[1], None)
            return
        self.total = None
        if isinstance(ready, str):
            self.message = ready
        else:
            before = self.highlighted() if self.moved else None
            self.set_entries(ready.entries, ready)
            found = self.matches()
            if before is not None:
                self.index = next((i for i, e in enumerate(found) if e.id == before.id), self.index)
        get_app().invalidate()

    def cancel_work(self) -> None:
        """Drop the searches and reads still running (the browser is closing)."""
        for work in list(self._tasks):
            work.cancel()

    # ------------------------------------------------------------------ actions

    def apply(self, done: Done) -> None:
        """Show what an action did and list the session as it now is on disk (or no more)."""
        self.message = done.message
        if not done.ok:
            return
        sid = done.session_id
        if self.everywhere:
            here, actions, total = self.here_state
            self.here_state = (patched(here, done), actions, total)
        self.previews.pop(sid, None)
        self.set_entries(patched(self.entries, done))
        found = self.matches()
        self.index = next((i for i, e in enumerate(found) if e.id == sid), min(self.index, len(found)))

    def layout(self) -> Layout:
        """A heading, the search line, the rows, the help or prompt line and the preview."""
        renaming = Condition(lambda: self.mode == "rename")
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
                    ConditionalContainer(
                        Window(
                            BufferControl(self.answer),
                            height=1,
                            get_line_prefix=lambda *_: [("bold", "  new name › ")],
                        ),
                        filter=renaming,
                    ),
                    Window(FormattedTextControl(self.help_line), height=1),
                    ConditionalContainer(
                        Window(FormattedTextControl(self.preview_text), height=PREVIEW_ROWS),
                        filter=Condition(lambda: self.preview_on),
                    ),
                ]
            ),
            focused_element=self.query,
        )


def _picker_app(picker: _Picker, input: Input | None, output: Output | None) -> Application[str | None]:
    app: Application[str | None] = Application(
        layout=picker.layout(), key_bindings=browser_keys(picker), input=input, output=output
    )
    quick_escape(app)
    picker.background = True
    return app


def pick_session(
    entries: Sequence[SnapshotEntry],
    *,
    actions: BrowserActions | None = None,
    rest: tuple[Callable[[], Sequence[SnapshotEntry]], int] | None = None,
    browse: ProjectsBrowse | None = None,
    everywhere: bool = False,
    input: Input | None = None,
    output: Output | None = None,
) -> str | None:
    """Let the user choose a session: type to filter, Up/Down to move, Enter to resume, Esc to cancel;
    with ``actions``, search message content, preview, rename, pin, archive and delete too.
    ``rest``: ``entries`` are only the first page; the function (run after the first paint, on a
    worker thread) reads every session, of which there are the number given. With ``browse``,
    Ctrl-O lists every project's sessions (``browse.project_of`` says which project the chosen
    one is in); ``everywhere``: it opens listing them (this project has no session).

    Returns the chosen session's id, :data:`NEW_SESSION` for the "Start a new session" row, or
    None when the user cancelled (Esc or Ctrl-C).
    """
    return asyncio.run(
        pick_session_async(
            entries,
            actions=actions,
            rest=rest,
            browse=browse,
            everywhere=everywhere,
            input=input,
            output=output,
        )
    )


async def pick_session_async(
    entries: Sequence[SnapshotEntry],
    *,
    actions: BrowserActions | None = None,
    rest: tuple[Callable[[], Sequence[SnapshotEntry]], int] | None = None,
    browse: ProjectsBrowse | None = None,
    everywhere: bool = False,
    input: Input | None = None,
    output: Output | None = None,
) -> str | None:
    """:func:`pick_session` inside a running event loop (the REPL's ``/resume``)."""
    picker = _Picker(entries, actions, browse=browse)
    if rest is not None:
        picker.total = rest[1]
    app = _picker_app(picker, input, output)

    def after_first_paint(_: object) -> None:  # once: the work that is off the keystroke path
        app.after_render -= after_first_paint
        loop = asyncio.get_running_loop()
        if everywhere:
            toggle_projects(picker)
        if rest is None:
            picker._spawn(loop.create_task(asyncio.to_thread(picker.filter.prepare)))
        else:
            picker._spawn(loop.create_task(picker.load_rest(rest[0])))

    app.after_render += after_first_paint
    try:
        return await app.run_async()
    finally:
        picker.cancel_work()

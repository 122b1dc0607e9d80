"""The chat REPL's loop: a prompt_toolkit prompt, the command registry, chat turns, auto-save.

Every user message and every assistant reply is appended to the session's transcript the moment
it is complete (an interrupted reply is saved as what arrived, marked interrupted). The session
file is created on the first user message, so starting and quitting leaves nothing behind.
Repository calls run in a worker thread so the prompt never waits on the disk; errors are shown
by the REPL's one :class:`~chatcli.repl.boundary.ErrorBoundary` (messages on screen, tracebacks
in the log file), which wraps running a command and rendering its result alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import shlex
from typing import TYPE_CHECKING, Any

from prompt_toolkit import PromptSession
from prompt_toolkit.history import InMemoryHistory
from rich.text import Text

from chatcli.chat.turn import reply_message, save_message
from chatcli.commands.catalog import build_registry
from chatcli.commands.context import CommandContext
from chatcli.commands.spec import JSON_OPTION, HelpRequested, extract_options, split_line
from chatcli.errors import ExitCode
from chatcli.render.terminal import render
from chatcli.repl.boundary import ErrorBoundary
from chatcli.repl.completion.completer import SessionCompleter
from chatcli.repl.completion.ranking import warm_session_index
from chatcli.repl.completion.snapshot import SnapshotCache
from chatcli.repl.keys import chat_key_bindings, quick_escape
from chatcli.repl.toolbar import session_label, toolbar_text
from chatcli.sanitize import clean_inline, clean_lines
from chatcli.session.errors import SessionError
from chatcli.session.fields import reads_as_id
from chatcli.session.location import SessionsLocation
from chatcli.session.outcomes import DeleteResult
from chatcli.sigint import sigint_cancels, sigint_guard, stop_on_first_sigint

if TYPE_CHECKING:  # the rest is imported where used: the first prompt needs none of it
    from collections.abc import Coroutine
    from concurrent.futures import Future

    from prompt_toolkit.formatted_text import FormattedText
    from prompt_toolkit.history import History
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output
    from rich.console import Console

    from chatcli.chat.backend import ChatBackend
    from chatcli.chat.turn import Saved
    from chatcli.commands.registry import Registry
    from chatcli.repl.completion.snapshot import Snapshot
    from chatcli.repl.turn import ReplyStream
    from chatcli.session.all_projects import AllProjects, Project
    from chatcli.session.models import Message, SessionMetadata
    from chatcli.session.outcomes import LoadedSession
    from chatcli.session.service import SessionService

__all__ = ["ChatApp"]

#: How often the REPL checks (one ``stat``) whether another process changed the sessions.
WATCH_INTERVAL = 2.0
#: What Ctrl-C on an empty prompt prints (it never leaves: a second one must not lose the chat).
LEAVE_HINT = "(Ctrl-D or /quit to leave)"
#: The start-up snapshot refresh waits at most this long (seconds) for the first prompt to be drawn.
FIRST_DRAW_WAIT = 1.0


class ChatApp:
    """One interactive chat: the prompt, the current session and the commands acting on it."""

    def __init__(
        self,
        service: SessionService,
        backend: ChatBackend,
        console: Console,
        *,
        history_budget: int = 24_000,
        system_prompt: str | None = None,
        location: SessionsLocation | None = None,
        input: Input | None = None,
        output: Output | None = None,
        history: History | None = None,
        snapshots: SnapshotCache | None = None,
        trash_retention: str = "off",
        projects: AllProjects | None = None,
    ) -> None:
        self.service = service
        #: Every known project: ``--all-projects`` and ``/resume`` of another project's session.
        self.projects = projects
        self.trash_retention = trash_retention
        self.backend = backend
        self.console = console
        self.location = location
        self.boundary = ErrorBoundary(console)
        self.history_budget = history_budget
        self._replies: ReplyStream | None = None  # made on the first reply: see `replies`
        self.system_prompt = system_prompt  # for new sessions; a resumed one keeps its own
        self.snapshots = snapshots if snapshots is not None else SnapshotCache(service)
        self.registry: Registry = build_registry()
        self.meta: SessionMetadata | None = None
        self.messages: list[Message] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._pending_input = ""
        self.completer = SessionCompleter(self.registry, self.snapshots.current, lambda: self.current_id)
        self.prompt: PromptSession[str] = PromptSession(
            completer=self.completer,
            complete_while_typing=True,
            key_bindings=chat_key_bindings(),
            bottom_toolbar=self._toolbar,
            history=history or InMemoryHistory(),
            input=input,
            output=output,
            prompt_continuation=lambda width, line, wrap: "." * (width - 1) + " ",
        )
        quick_escape(self.prompt.app)
        self._io = (input, output)
        self._confirm_prompt: PromptSession[str] | None = None  # made on the first question

    # ------------------------------------------------------------------ state

    @property
    def replies(self) -> ReplyStream:
        """Streams the replies (its module, the chat turn's and the live view's, loaded on first use)."""
        if self._replies is None:
            from chatcli.repl.turn import ReplyStream

            self._replies = ReplyStream(self.backend, self.console, self.history_budget)
        return self._replies

    @property
    def current_id(self) -> str | None:
        """The id of the session in use (None until the first message of a new session)."""
        return self.meta.id if self.meta is not None else None

    @property
    def session_system_prompt(self) -> str | None:
        """The system prompt of the session in use (the configured one for a new session)."""
        return self.meta.system_prompt if self.meta is not None else self.system_prompt

    def session_label(self) -> str:
        """The current session's name or short id, shown in the toolbar and on exit."""
        return session_label(self.meta)

    def _toolbar(self) -> FormattedText:
        return toolbar_text(self.meta, len(self.messages), self.backend)

    def use_session(self, loaded: LoadedSession) -> None:
        """Switch to ``loaded`` and show its last exchanges."""
        self.meta = loaded.metadata
        self.messages = list(loaded.messages)
        from chatcli.render.transcript import render_resumed

        render_resumed(loaded, self.console)

    def switch_project(self, project: Project) -> None:
        """Carry on in another project's store (one of its sessions is resumed): every later
        write goes there, and the commands and completion act on its sessions."""
        self.service = project.service
        self.snapshots.service = project.service
        self.location = SessionsLocation.explicit(project.sessions_dir)
        if self.projects is not None:
            self.projects = self.projects.moved_to(project)
        note = f"This session is in project {project.label}: continuing it there ({project.sessions_dir})."
        self.console.print(Text(clean_inline(note), style="dim"))

    def new_session(self) -> None:
        """Leave the current session; the next message starts a new one."""
        self.meta = None
        self.messages = []

    # ------------------------------------------------------------------ loop

    async def run(self) -> int:
        """Prompt until ``/quit`` or Ctrl-D; returns the exit code.

        Ctrl-C never ends the REPL: at the prompt it clears the line (on an empty line it says how
        to leave); elsewhere it stops what is running (see :mod:`chatcli.sigint`).
        """
        self._loop = asyncio.get_running_loop()
        self._spawn(self._first_refresh())
        self._spawn(self._watch())
        try:
            with sigint_guard():
                while True:
                    try:
                        text = await self.prompt.prompt_async(
                            [("class:prompt", "you › ")], default=self._pending_input
                        )
                    except KeyboardInterrupt:
                        self._on_ctrl_c()
                        continue
                    except EOFError:
                        break
                    self._pending_input = ""
                    if await self._handle_input(text):
                        break
        finally:
            for task in list(self._background):
                task.cancel()
            self.farewell()
        return ExitCode.OK

    def _on_ctrl_c(self) -> None:
        """Ctrl-C at the prompt: the line is dropped; on an empty line, say how to leave."""
        if not self.prompt.default_buffer.text.strip():
            self.console.print(LEAVE_HINT, style="dim", markup=False, highlight=False)
        self._pending_input = ""

    async def _handle_input(self, text: str) -> bool:
        """Run a command or send a message; True when the REPL should quit."""
        if not text.strip():
            return False
        if text.startswith("/") and not text.startswith("//"):
            return await self.handle_command(text[1:])
        await self.chat_turn(text[1:] if text.startswith("//") else text)
        return False

    def farewell(self) -> None:
        """Tell the user how to come back to this session."""
        if self.meta is None:
            return
        name = self.meta.name
        # A name that reads as an id (an older version allowed some) would reach another session.
        ref = name if name and not reads_as_id(name) else self.meta.id
        if ref == self.meta.id:
            with contextlib.suppress(SessionError):  # a short id is a nicety: the full one always works
                ref = self.service.short_ref(self.meta.id)
        where = ""
        if self.location is not None and self.location.source == "flag":
            where = f" --sessions-dir {shlex.quote(str(self.location.path))}"
        # soft_wrap: never break the command with a newline, so it can be copied whole.
        self.console.print(
            f"Resume with: chatcli{where} --resume {ref}", markup=False, highlight=False, soft_wrap=True
        )

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ snapshot

    async def _refresh_snapshot(self) -> None:
        def refresh() -> Snapshot:
            # The completion search structure is built here too, off the loop: no keystroke waits.
            snapshot = self.snapshots.refresh()
            warm_session_index(snapshot)
            return snapshot

        try:
            snap = await asyncio.to_thread(refresh)
        except SessionError:
            return
        meta = self.meta
        entry = snap.entry(meta.id) if meta is not None else None
        if meta is not None and entry is not None and (entry.name, entry.status) != (meta.name, meta.status):
            self.meta = meta.model_copy(update={"name": entry.name, "status": entry.status})
            self.prompt.app.invalidate()

    async def _first_refresh(self) -> None:
        """The start-up snapshot refresh, once the first prompt is on screen: in a big store it
        takes a while of CPU, which must not delay that first prompt."""
        drawn = asyncio.Event()

        def on_render(_app: object) -> None:
            drawn.set()

        app = self.prompt.app
        app.after_render += on_render
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(drawn.wait(), FIRST_DRAW_WAIT)
        finally:
            app.after_render -= on_render
        await self._refresh_snapshot()

    async def _watch(self) -> None:
        """Refresh the snapshot when another process changed the sessions (cheap check)."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            with contextlib.suppress(OSError, SessionError):
                if await asyncio.to_thread(self.snapshots.is_stale):
                    await self._refresh_snapshot()

    # ------------------------------------------------------------------ commands

    async def handle_command(self, line: str) -> bool:
        """Run one slash command (without its ``/``) and show its result; True when the REPL should quit.

        Running and showing happen inside the error boundary, so an error in either is shown
        the same way and the REPL goes on.
        """
        ctx = CommandContext(self.service, self._confirm_from_thread, self.current_id, "/")
        ctx.sessions_folder = self.location.describe() if self.location is not None else None
        ctx.trash_retention = lambda: self.trash_retention
        ctx.projects = self.projects
        from chatcli.commands.results import PickSessionAction, RetryAction

        quit_now = False
        result: object = None
        with self.boundary.guard("/" + line):
            words = split_line(line)
            as_json = False
            if words[:1] == ["sessions"]:  # `--json` is the sessions family's option, as on the command line
                options, words = extract_options(words, (JSON_OPTION,), "")
                as_json = options.flag("json")
            result = await self._run_command(ctx, words)
            if isinstance(result, PickSessionAction):
                from chatcli.repl.chat_browser import pick_in_browser

                result = await pick_in_browser(self, *self._io)
            quit_now = self.apply(result, as_json=as_json)
        if isinstance(result, RetryAction):
            await self.retry_turn()
        self._spawn(self._refresh_snapshot())
        return quit_now

    async def _run_command(self, ctx: CommandContext, words: list[str]) -> object:
        """The command's result, computed in a worker thread; Ctrl-C raises KeyboardInterrupt.

        On Ctrl-C the REPL stops waiting: a long read stops at its next session, a write that had
        begun finishes on its own (each one is atomic), and its result is not shown. One that
        stops cleanly (an import, a prune) is asked to stop and shown (a second Ctrl-C: as above).
        """
        job = asyncio.ensure_future(asyncio.to_thread(self.registry.run, ctx, words))
        try:
            with sigint_cancels(job):
                if self.registry.stops_cleanly(words):
                    await stop_on_first_sigint(job, ctx.cancelled)
                return await job
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not job.cancelled() or (task is not None and task.cancelling()):
                raise  # the REPL itself is being stopped
            ctx.cancelled.set()
            raise KeyboardInterrupt from None
        except HelpRequested as req:
            from chatcli.commands.results import HelpResult

            command = req.command
            return HelpResult(f"/{command.name}", command.summary, (self.registry.help_for(command),), True)

    def apply(self, result: object, *, as_json: bool = False) -> bool:
        """Act on a command's result and show it (as JSON with ``as_json``); returns True to quit."""
        from chatcli.commands import results

        show = self._show_json if as_json else functools.partial(render, console=self.console)
        if isinstance(result, results.QuitAction):
            return True
        if isinstance(result, results.RetryAction):
            return False  # carried out by handle_command: it streams a reply
        if isinstance(result, results.NewSessionAction):
            self.new_session()
            self.console.print("Started a new session: it is saved when you send the first message.")
        elif isinstance(result, results.ResumeAction):
            if result.project is not None:
                self.switch_project(result.project)
            self.use_session(result.session)
        elif isinstance(result, results.ClearAction):
            self.clear_screen()
        elif isinstance(result, DeleteResult) and result.metadata.id == self.current_id:
            show(result)
            self.new_session()
            self.console.print("That was the session in use: you are now in a new session.")
        elif isinstance(result, results.SessionChanged) and result.metadata.id == self.current_id:
            self.meta = result.metadata
            show(result)
        else:
            show(result)
        return False

    def clear_screen(self) -> None:
        """``/clear``: an empty screen with the prompt at the top (see :func:`clear_prompt_screen`)."""
        from chatcli.repl.clear import clear_prompt_screen

        where = "a new session" if self.meta is None else f"session {self.session_label()}"
        clear_prompt_screen(self.prompt, self.console, where)

    def _show_json(self, result: object) -> None:
        """Print ``result`` as the same JSON document ``chatcli sessions … --json`` writes."""
        from chatcli.render.jsonout import dumps_json, to_json

        self.console.print(dumps_json(to_json(result)), markup=False, highlight=False, soft_wrap=True)

    def _confirm_from_thread(self, question: str) -> bool:
        """Ask a yes/no question on the prompt from a command running in a worker thread."""
        if self._loop is None:
            return False
        future: Future[bool] = asyncio.run_coroutine_threadsafe(self._ask(question), self._loop)
        return future.result()

    async def _ask(self, question: str) -> bool:
        if self._confirm_prompt is None:
            self._confirm_prompt = PromptSession(input=self._io[0], output=self._io[1])
            quick_escape(self._confirm_prompt.app)
        try:
            answer = await self._confirm_prompt.prompt_async(f"{clean_lines(question)} [y/N] ")
        except (KeyboardInterrupt, EOFError):
            return False
        return answer.strip().lower() in ("y", "yes")

    # ------------------------------------------------------------------ chat

    async def chat_turn(self, text: str) -> None:
        """Save the user's message, stream the reply, save the reply."""
        from chatcli.session.models import Message

        user = Message(role="user", content=text)
        if not await self._save(user, "saving a message"):
            self.console.print("Your message was not sent; it is back on the input line.")
            # Typed as "//…" to send a literal "/": put it back the way it was typed.
            self._pending_input = "/" + text if text.startswith("/") else text
            return
        await self._answer()

    async def retry_turn(self) -> None:
        """``/retry``: stream a reply to the unanswered message(s) at the end of the session."""
        if not self.messages or self.messages[-1].role != "user":
            self.console.print("Nothing to retry: the last message has its reply.", style="dim")
            return
        await self._answer()

    async def _answer(self) -> None:
        """Stream the reply to the conversation so far and save it; say plainly what happened.

        A reply without text is never saved: the user message stays unanswered on disk, is marked
        so on resume, and is sent again with ``/retry`` or together with the next message.
        """
        reply = await self.replies.stream_shown(self.messages, self.session_system_prompt)
        answer = reply_message(reply)
        saved = answer is not None and await self._save(answer, "saving a reply")
        if reply.error is not None:
            self.boundary.report(reply.error, "streaming a reply")
        if saved and reply.interrupted:
            self.console.print("(reply interrupted — what arrived was saved)", style="dim")
        elif not reply.text:
            why = "interrupted before any reply — " if reply.interrupted else ""
            self.console.print(
                f"({why}your message is saved, not answered: /retry sends it again, "
                "or type a new one and both are sent)",
                style="dim",
            )
        self._spawn(self._refresh_snapshot())

    async def _save(self, message: Message, context: str) -> bool:
        """Append ``message`` to the session (created on the first message) and to the history.

        Returns False when it could not be saved (the error is shown, the history unchanged): the
        store then guarantees the line is not on disk. Only the save decides: a failure to show
        its notice afterwards never makes a saved message look unsent.
        """
        saved: Saved | None = None
        with self.boundary.guard(context):
            saved = await asyncio.to_thread(
                save_message, self.service, self.meta, self.messages, message, self.system_prompt
            )
        if saved is None:
            return False
        self.meta = saved.metadata
        self.messages.append(message)
        if saved.notice is not None:
            with self.boundary.guard(context):
                self.console.print(saved.notice, markup=False)
        return True

    def cancel_reply(self) -> bool:
        """Stop the reply being streamed (what Ctrl-C does); False if none is running."""
        return self._replies is not None and self._replies.cancel()

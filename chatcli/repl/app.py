"""The chat REPL: a prompt_toolkit prompt, the command registry, streaming replies, auto-save.

Every user message and every assistant reply is appended to the session's transcript the moment
it is complete (an interrupted reply is saved as what arrived, marked interrupted). The session
file is created on the first user message, so starting and quitting leaves nothing behind.
Repository calls run in a worker thread so the prompt never waits on the disk; this loop is the
REPL's single error boundary (messages on screen, tracebacks in the log file).
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import signal
import sys
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from rich.console import Console
from rich.text import Text

from chatcli.chat.backend import BackendError, ChatBackend, open_stream, to_chat_messages, trim_history
from chatcli.commands.catalog import build_registry
from chatcli.commands.context import CommandContext
from chatcli.commands.registry import Registry
from chatcli.commands.results import (
    ClearAction,
    HelpResult,
    NewSessionAction,
    QuitAction,
    ResumeAction,
    SessionChanged,
)
from chatcli.commands.spec import HelpRequested, UsageError, split_line
from chatcli.logs import log_exception
from chatcli.render.results import render, render_error
from chatcli.render.sanitize import clean_inline
from chatcli.render.transcript import ReplyView, render_resumed
from chatcli.repl.completer import SessionCompleter
from chatcli.repl.keys import chat_key_bindings
from chatcli.repl.ranking import warm_session_index
from chatcli.session.errors import SessionError, SessionNotFound
from chatcli.session.location import SessionsLocation
from chatcli.session.models import Message, SessionMetadata
from chatcli.session.service import DeleteResult, LoadedSession, SessionService, Snapshot

__all__ = ["ChatApp", "ReplOptions", "run_repl"]

#: How often the REPL checks (one ``stat``) whether another process changed the sessions.
WATCH_INTERVAL = 2.0
#: The start-up snapshot refresh waits at most this long (seconds) for the first prompt to be drawn.
FIRST_DRAW_WAIT = 1.0


@dataclass(frozen=True, slots=True)
class ReplOptions:
    """The REPL's command-line options."""

    sessions_dir: str | None = None
    resume: str | None = None
    continue_latest: bool = False
    backend: str | None = None
    model: str | None = None
    base_url: str | None = None


class ChatApp:
    """One interactive chat: the prompt, the current session and the commands acting on it."""

    def __init__(
        self,
        service: SessionService,
        backend: ChatBackend,
        console: Console,
        *,
        history_budget: int = 24_000,
        location: SessionsLocation | None = None,
        input: Input | None = None,
        output: Output | None = None,
        history: History | None = None,
    ) -> None:
        self.service = service
        self.backend = backend
        self.console = console
        self.history_budget = history_budget
        self.location = location
        self.registry: Registry = build_registry()
        self.meta: SessionMetadata | None = None
        self.messages: list[Message] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reply_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._pending_input = ""
        self.completer = SessionCompleter(self.registry, service.snapshot)
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
        self._io = (input, output)
        self._confirm_prompt: PromptSession[str] | None = None  # made on the first question

    # ------------------------------------------------------------------ state

    @property
    def current_id(self) -> str | None:
        """The id of the session in use (None until the first message of a new session)."""
        return self.meta.id if self.meta is not None else None

    def session_label(self) -> str:
        """The current session's name or short id, shown in the toolbar and on exit."""
        if self.meta is None:
            return "new session"
        return clean_inline(self.meta.name) if self.meta.name else self.meta.id[:8]

    def _toolbar(self) -> FormattedText:
        count = len(self.messages)
        archived = " (archived)" if self.meta is not None and self.meta.is_archived else ""
        model = f"{self.backend.name}/{clean_inline(self.backend.model)}"
        plural = "s" if count != 1 else ""
        text = f" session: {self.session_label()}{archived} │ {model} │ {count} message{plural} │ /help "
        return FormattedText([("class:bottom-toolbar", text)])

    def use_session(self, loaded: LoadedSession) -> None:
        """Switch to ``loaded`` and show its last exchanges."""
        self.meta = loaded.metadata
        self.messages = list(loaded.messages)
        render_resumed(loaded, self.console)

    def new_session(self) -> None:
        """Leave the current session; the next message starts a new one."""
        self.meta = None
        self.messages = []

    # ------------------------------------------------------------------ loop

    async def run(self) -> int:
        """Prompt until ``/quit`` or Ctrl-D; returns the exit code."""
        self._loop = asyncio.get_running_loop()
        self._spawn(self._first_refresh())
        self._spawn(self._watch())
        try:
            while True:
                try:
                    text = await self.prompt.prompt_async(
                        [("class:prompt", "you › ")], default=self._pending_input
                    )
                except KeyboardInterrupt:
                    self._pending_input = ""
                    continue
                except EOFError:
                    break
                self._pending_input = ""
                if not text.strip():
                    continue
                if text.startswith("/") and not text.startswith("//"):
                    if await self.handle_command(text[1:]):
                        break
                else:
                    await self.chat_turn(text[1:] if text.startswith("//") else text)
        finally:
            for task in list(self._background):
                task.cancel()
            self.farewell()
        return 0

    def farewell(self) -> None:
        """Tell the user how to come back to this session."""
        if self.meta is None:
            return
        ref = self.meta.name or self.meta.id
        where = ""
        if self.location is not None and self.location.source == "flag":
            where = f" --sessions-dir {shlex.quote(str(self.location.path))}"
        # soft_wrap: never break the command with a newline, so it can be copied whole.
        self.console.print(
            f"Resume with: chatcli{where} --resume {ref}", markup=False, highlight=False, soft_wrap=True
        )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _refresh_snapshot(self) -> None:
        def refresh() -> Snapshot:
            # The completion search structure is built here too, off the loop: no keystroke waits.
            snapshot = self.service.refresh_snapshot()
            warm_session_index(snapshot)
            return snapshot

        try:
            snap = await asyncio.to_thread(refresh)
        except SessionError:
            return
        if self.meta is not None:
            for entry in snap.entries:
                if entry.id == self.meta.id:
                    if entry.name != self.meta.name or entry.status != self.meta.status:
                        self.meta = self.meta.model_copy(update={"name": entry.name, "status": entry.status})
                        self.prompt.app.invalidate()
                    break

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
                if await asyncio.to_thread(self.service.snapshot_is_stale):
                    await self._refresh_snapshot()

    # ------------------------------------------------------------------ commands

    async def handle_command(self, line: str) -> bool:
        """Run one slash command (without its ``/``); returns True when the REPL should quit."""
        ctx = CommandContext(self.service, self._confirm_from_thread, self.current_id, "/")
        try:
            words = split_line(line)
            job = asyncio.ensure_future(asyncio.to_thread(self.registry.run, ctx, words))
            try:
                with _sigint_cancels(job):
                    result = await job
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not job.cancelled() or (task is not None and task.cancelling()):
                    raise  # the REPL itself is being stopped
                # Ctrl-C: stop waiting; a long read stops at its next session, a write that had
                # begun finishes on its own (each one is atomic), and its result is not shown.
                ctx.cancelled.set()
                self.console.print(Text("Cancelled.", style="yellow"))
                self._spawn(self._refresh_snapshot())
                return False
        except HelpRequested as req:
            result = HelpResult(
                f"/{req.command.name}", req.command.summary, (self.registry.help_for(req.command),), True
            )
        except (UsageError, SessionError) as exc:
            render_error(exc, self.console)
            return False
        except Exception as exc:
            self._report(exc, "/" + line)
            return False
        quit_now = self.apply(result)
        self._spawn(self._refresh_snapshot())
        return quit_now

    def apply(self, result: object) -> bool:
        """Act on a command's result; returns True to quit."""
        if isinstance(result, QuitAction):
            return True
        if isinstance(result, NewSessionAction):
            self.new_session()
            self.console.print("Started a new session: it is saved when you send the first message.")
        elif isinstance(result, ResumeAction):
            self.use_session(result.session)
        elif isinstance(result, ClearAction):
            self.console.clear()
        elif isinstance(result, DeleteResult) and result.metadata.id == self.current_id:
            render(result, self.console)
            self.new_session()
            self.console.print("That was the session in use: you are now in a new session.")
        elif isinstance(result, SessionChanged) and result.metadata.id == self.current_id:
            self.meta = result.metadata
            render(result, self.console)
        else:
            render(result, self.console)
        return False

    def _confirm_from_thread(self, question: str) -> bool:
        """Ask a yes/no question on the prompt from a command running in a worker thread."""
        if self._loop is None:
            return False
        future: Future[bool] = asyncio.run_coroutine_threadsafe(self._ask(question), self._loop)
        return future.result()

    async def _ask(self, question: str) -> bool:
        if self._confirm_prompt is None:
            self._confirm_prompt = PromptSession(input=self._io[0], output=self._io[1])
        try:
            answer = await self._confirm_prompt.prompt_async(f"{clean_inline(question)} [y/N] ")
        except (KeyboardInterrupt, EOFError):
            return False
        return answer.strip().lower() in ("y", "yes")

    # ------------------------------------------------------------------ chat

    def _report(self, exc: BaseException, context: str) -> None:
        """Show an error; an unexpected one (not a session or backend error) also goes to the log."""
        if isinstance(exc, (SessionError, BackendError)):
            render_error(exc, self.console)
        else:
            render_error(exc, self.console, log_path=log_exception(exc, context))

    async def chat_turn(self, text: str) -> None:
        """Save the user's message, stream the reply, save the reply."""
        user = Message(role="user", content=text)
        try:
            await asyncio.to_thread(self._save, user)
        except Exception as exc:
            self._report(exc, "saving a message")
            self.console.print("Your message was not sent; it is back on the input line.")
            # Typed as "//…" to send a literal "/": put it back the way it was typed.
            self._pending_input = "/" + text if text.startswith("/") else text
            return
        self.messages.append(user)
        reply, interrupted, error = await self._stream_reply()
        if reply or interrupted:
            assistant = Message(role="assistant", content=reply, interrupted=interrupted)
            try:
                await asyncio.to_thread(self._save, assistant)
                self.messages.append(assistant)
            except Exception as exc:
                self._report(exc, "saving a reply")
        if interrupted:
            self.console.print("(reply interrupted — what arrived was saved)", style="dim")
        if error is not None:
            self._report(error, "streaming a reply")
            self.console.print("Your message is saved; send another message to try again.", style="dim")
        self._spawn(self._refresh_snapshot())

    def _save(self, message: Message) -> None:
        """Append ``message`` to the current session, creating it on the first message."""
        if self.meta is None:
            self.meta = self.service.start_session([*self.messages, message])
            return
        try:
            self.meta = self.service.append(self.meta.id, message)
        except SessionNotFound:
            old = self.meta.id
            self.meta = self.service.start_session([*self.messages, message])
            self.console.print(
                f"Session {old[:8]} was deleted elsewhere; this conversation continues as "
                f"session {self.meta.id[:8]}.",
                markup=False,
            )

    async def _stream_reply(self) -> tuple[str, bool, Exception | None]:
        """Stream the backend's reply; Ctrl-C cancels it. Returns (text, interrupted, error).

        Any failure of the backend, expected (:class:`BackendError`) or not, ends the reply only:
        what arrived is kept and the chat goes on.
        """
        chunks: list[str] = []
        error: Exception | None = None
        history = to_chat_messages(trim_history(self.messages, self.history_budget))
        view = ReplyView(self.console)

        async def consume() -> None:
            async with open_stream(self.backend, history) as stream:
                async for chunk in stream:
                    chunks.append(chunk)
                    view.update("".join(chunks))

        self._reply_task = asyncio.ensure_future(consume())
        interrupted = False
        with view, _sigint_cancels(self._reply_task):
            try:
                await self._reply_task
            except asyncio.CancelledError:
                interrupted = True
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
            except Exception as exc:
                error = exc
                interrupted = bool(chunks)
            finally:
                self._reply_task = None
        return "".join(chunks), interrupted, error

    def cancel_reply(self) -> bool:
        """Stop the reply being streamed (what Ctrl-C does); False if none is running."""
        if self._reply_task is None or self._reply_task.done():
            return False
        self._reply_task.cancel()
        return True


@contextlib.contextmanager
def _sigint_cancels(task: asyncio.Future[Any]) -> Any:
    """While streaming a reply or running a command, Ctrl-C cancels it instead of ending the program.

    The SIGINT handler in place before (asyncio's, prompt_toolkit's or the caller's) is restored
    afterwards: ``remove_signal_handler`` alone would reset it to Python's default.
    """
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGINT)
    installed = False
    try:
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        installed = True
    except (NotImplementedError, RuntimeError, ValueError):
        installed = False
    try:
        yield
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
            if previous is not None:
                signal.signal(signal.SIGINT, previous)


def _history_file() -> History:
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("chatcli", appauthor=False))
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / "history"
        path.touch(mode=0o600, exist_ok=True)
        return FileHistory(str(path))
    except OSError:
        return InMemoryHistory()


def run_repl(options: ReplOptions) -> int:
    """Start the REPL as the command line asked; returns the exit code."""
    from chatcli.chat.factory import create_backend
    from chatcli.config import ConfigError, load_settings
    from chatcli.render.console import make_console
    from chatcli.session.location import discover_sessions_dir
    from chatcli.session.store import FileRepository

    console = make_console()
    errors = make_console(stderr=True)
    flags = {"backend": options.backend, "model": options.model, "base_url": options.base_url}
    try:
        settings = load_settings(flags)
        backend = create_backend(settings, offline_delay=0.01 if console.is_terminal else 0.0)
    except (ConfigError, BackendError) as exc:
        render_error(exc, errors)
        return 1
    location = discover_sessions_dir(options.sessions_dir)
    service = SessionService(FileRepository(location))
    app = ChatApp(
        service,
        backend,
        console,
        history_budget=settings.history_budget,
        location=location,
        history=_history_file(),
    )
    try:
        loaded = _initial_session(options, service, console)
    except (SessionError, UsageError) as exc:
        render_error(exc, errors)
        return exc.exit_code
    if loaded is not None:
        app.use_session(loaded)
    else:
        console.print(
            f"chatcli — {backend.name}/{clean_inline(backend.model)}. Type a message, /help for commands, "
            "Ctrl-D to leave. Conversations are saved as you go.",
            markup=False,
            highlight=False,
        )
    try:
        return asyncio.run(app.run())
    except KeyboardInterrupt:
        return 130


def _initial_session(options: ReplOptions, service: SessionService, console: Console) -> LoadedSession | None:
    """The session ``--resume``/``--continue`` asked for, or None for a new one."""
    if options.continue_latest:
        latest = service.most_recent()
        if latest is None:
            console.print("No earlier session in this project: starting a new one.")
            return None
        return service.load(latest.id)
    if options.resume is None:
        return None
    if options.resume:
        return service.load(options.resume)
    entries = service.refresh_snapshot(force=True).entries
    if not entries:
        console.print("No saved sessions in this project yet: starting a new one.")
        return None
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "--resume without a value needs a terminal to pick from",
            "chatcli --resume ID|NAME (see: chatcli sessions list)",
        )
    from chatcli.repl.picker import pick_session

    chosen = pick_session(entries)
    if chosen is None:
        console.print("No session chosen: starting a new one.")
        return None
    return service.load(chosen)

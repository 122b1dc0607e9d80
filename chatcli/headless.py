"""``chatcli -p MESSAGE``: one chat turn without the REPL, for scripts, editors and CI.

The message (``-p -`` reads it from standard input) is saved to the session like any REPL turn,
the reply streams to standard output as plain text (no Markdown rendering; control characters
shown as visible placeholders, see :func:`chatcli.sanitize.clean`) and is saved, and the session
id goes to standard error (``session <id>``). ``--json`` prints ``{"session_id", "reply",
"usage"}`` on standard output instead, with the exact reply text.

The turn is the REPL's own (:mod:`chatcli.chat.turn`): a failed turn leaves the user message
saved and unanswered, and the next request sends it along with the new message; Ctrl-C stops the
reply and keeps what arrived (exit 130). A reader of the output that goes away stops the output,
not the turn. Nothing here imports prompt_toolkit or the REPL.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from chatcli.chat.turn import Reply, ReplyStreamer, Saved, reply_message, save_message
from chatcli.commands.spec import UsageError
from chatcli.errors import ExitCode
from chatcli.sanitize import clean, clean_lines
from chatcli.session.all_projects import AllProjects
from chatcli.session.errors import SessionNotFound
from chatcli.session.location import SessionsLocation
from chatcli.session.models import Message, SessionMetadata
from chatcli.session.outcomes import LoadedSession
from chatcli.session.service import SessionService

__all__ = ["PlainReplyOutput", "PromptOptions", "run_prompt"]

#: The usage line the headless mode's own usage errors show.
USAGE = "chatcli -p MESSAGE|- [--continue | --resume ID|NAME] [--system TEXT] [--json]"


@dataclass(frozen=True, slots=True)
class PromptOptions:
    """The command line of one headless turn; ``message`` ``-`` means standard input."""

    message: str
    sessions_dir: str | None = None
    resume: str | None = None
    continue_latest: bool = False
    backend: str | None = None
    model: str | None = None
    base_url: str | None = None
    system: str | None = None
    as_json: bool = False


def run_prompt(options: PromptOptions, show_error: Callable[[Exception], int]) -> int:
    """Send one message, stream and save the reply; returns the exit code (see the module doc).

    A reply that failed is shown with ``show_error`` (the caller's error boundary, which returns
    the error's exit code) once the turn is saved, then the session id is reported. Any other
    step that fails raises its :class:`~chatcli.errors.ChatcliError` (nothing was sent).
    """
    from chatcli.chat.factory import create_backend
    from chatcli.config import load_settings
    from chatcli.session.all_projects import open_file_projects
    from chatcli.session.location import discover_sessions_dir

    if options.resume == "":
        raise UsageError("-p needs --resume ID|NAME: there is no list to pick from without the REPL", USAGE)
    text = message_text(options.message, sys.stdin)
    flags = {
        "backend": options.backend,
        "model": options.model,
        "base_url": options.base_url,
        "system_prompt": options.system,
    }
    settings = load_settings(flags)
    backend = create_backend(settings)
    location = discover_sessions_dir(options.sessions_dir)
    projects = open_file_projects(location, lambda problem: _note(options, f"Warning: {problem}"))
    service, loaded = _first_session(options, projects, location)
    meta = loaded.metadata if loaded is not None else None
    if meta is not None and options.system is not None:  # an explicit --system replaces the session's
        meta = service.set_system_prompt(meta.id, settings.system_prompt)
    messages = list(loaded.messages) if loaded is not None else []
    user = Message(role="user", content=text)
    saved = _save(options, service, meta, messages, user, system_prompt=settings.system_prompt)
    messages.append(user)
    output = PlainReplyOutput(sys.stdout) if not options.as_json else None
    streamer = ReplyStreamer(backend, settings.history_budget)
    show = output.show if output is not None else _ignore
    reply = asyncio.run(streamer.stream(messages, show, saved.metadata.system_prompt))
    if output is not None:
        output.finish()
    answer = reply_message(reply)
    if answer is not None:
        saved = _save(options, service, saved.metadata, messages, answer)
    code: int = ExitCode.INTERRUPTED if reply.interrupted else ExitCode.OK
    if reply.error is not None:
        code = show_error(reply.error)
    _report(options, saved.metadata.id, reply)
    return code


def message_text(given: str, stdin: IO[str]) -> str:
    """The message to send: ``given``, or all of ``stdin`` for ``-`` (trailing blank space removed).

    Raises :class:`UsageError` for an empty message or input that is not UTF-8 text.
    """
    text = given
    if given == "-":
        try:
            text = stdin.buffer.read().decode("utf-8") if hasattr(stdin, "buffer") else stdin.read()
        except UnicodeDecodeError:
            raise UsageError("standard input is not UTF-8 text: nothing was sent", USAGE) from None
    text = text.rstrip()
    if not text.strip():
        where = "standard input held no text" if given == "-" else "the message is empty"
        raise UsageError(f"{where}: nothing was sent", USAGE)
    return text


def _first_session(
    options: PromptOptions, projects: AllProjects, location: SessionsLocation
) -> tuple[SessionService, LoadedSession | None]:
    """The session ``--continue`` or ``--resume`` names (None for a new one) and the service
    of its project: ``--resume`` finds a session of another known project too, which is then
    continued in that project's store."""
    service = projects.here.service
    try:
        if options.continue_latest:
            latest = service.most_recent()
            if latest is None:
                _note(options, "No earlier session in this project: starting a new one.")
                return service, None
            return service, service.load(latest.id)
        return service, service.load(options.resume) if options.resume else None
    except SessionNotFound as exc:
        found = projects.locate(options.resume) if options.resume else None
        if found is None:
            exc.locate(location.describe(), "chatcli ")  # say where it looked
            raise
        project, loaded = found
        _note(
            options, f"Session {loaded.metadata.id[:8]} is in project {project.label}: continuing it there."
        )
        return project.service, loaded


def _save(
    options: PromptOptions,
    service: SessionService,
    meta: SessionMetadata | None,
    earlier: list[Message],
    message: Message,
    *,
    system_prompt: str | None = None,
) -> Saved:
    saved = save_message(service, meta, earlier, message, system_prompt)
    if saved.notice is not None:
        _note(options, saved.notice)
    return saved


def _report(options: PromptOptions, session_id: str, reply: Reply) -> None:
    """The session id (and, after a turn that got no reply, how to send it again)."""
    if options.as_json:
        from chatcli.commands.results import PromptReply
        from chatcli.render.jsonout import dump_json, to_json

        usage = reply.usage
        counts = None if usage is None else (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)
        dump_json(to_json(PromptReply(session_id, reply.text, counts)), sys.stdout)
        return
    if not reply.text:
        why = "interrupted before any reply: " if reply.interrupted and reply.error is None else ""
        _note(
            options,
            f"({why}your message is saved, not answered: 'chatcli --resume {session_id} -p MESSAGE' "
            "sends it again with the new one)",
        )
    elif reply.interrupted:
        _note(options, "(reply interrupted — what arrived was saved)")
    _note(options, f"session {session_id}")


def _note(options: PromptOptions, text: str) -> None:
    """A line on standard error (not in ``--json`` mode, where standard error is for JSON errors)."""
    if not options.as_json:
        sys.stderr.write(clean_lines(text) + "\n")
        sys.stderr.flush()


def _ignore(text: str) -> None:
    """``--json`` shows nothing while the reply streams."""


class PlainReplyOutput:
    """Writes a streaming reply to ``stream`` chunk by chunk: plain text, control characters visible.

    A ``\\r`` that ends a chunk is held back until the next one, since with it a ``\\r\\n``
    line end (which :func:`~chatcli.sanitize.clean` keeps as ``\\n``) may be split. When the
    reader goes away (a closed pipe), standard output is pointed at ``/dev/null`` and the reply
    goes on arriving and is saved, quietly.
    """

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.held = ""
        self.line_ended = True
        self.closed = False

    def show(self, chunk: str) -> None:
        """Write ``chunk`` (the next piece of the reply)."""
        text = self.held + chunk
        self.held = "\r" if text.endswith("\r") else ""
        self._write(clean(text[: len(text) - len(self.held)]))

    def finish(self) -> None:
        """Write what was held back and end the reply's last line."""
        self._write(clean(self.held))
        self.held = ""
        self._write("" if self.line_ended else "\n")

    def _write(self, piece: str) -> None:
        if not piece:
            return
        self.line_ended = piece.endswith("\n")
        if self.closed:
            return
        try:
            self.stream.write(piece)
            self.stream.flush()
        except BrokenPipeError:
            from chatcli.__main__ import silence_stdout

            self.closed = True
            silence_stdout()

"""Terminal rendering of errors and model replies, and the renderer registry."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

from chatcli.commands.registry import UnknownCommand
from chatcli.commands.spec import UsageError
from chatcli.errors import ChatcliError
from chatcli.render.reply import render_reply_markdown
from chatcli.render.terminal import render_error
from chatcli.session.errors import AmbiguousId, SessionError, SessionNotFound, StorageError
from chatcli.session.models import utc_now
from chatcli.session.outcomes import (
    ListResult,
    SearchHit,
    SearchResult,
)
from tests.helpers.rendering import (
    HOSTILE,
    SGR,
    assert_inert,
    found,
    listed_meta,
    plain_console,
    render_plain,
    squash,
    terminal_console,
)

# ------------------------------------------------------------------------------------ errors


def render_error_plain(exc: BaseException, log_path: str | None = None) -> str:
    console, buf = plain_console()
    render_error(exc, console, log_path=log_path)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("exc", "title"),
    [
        (SessionNotFound("abcd"), "Session not found"),
        (AmbiguousId("ab12", ["ab12aaaa-1", "ab12bbbb-2"]), "Ambiguous session"),
        (StorageError("no space left on the device"), "Storage error"),
        (UsageError("missing ID", "/sessions show ID"), "Usage error"),
        (UnknownCommand("sesions", ["sessions list"], "/"), "Unknown command"),
    ],
)
def test_error_panels_show_the_user_message(exc: SessionError | UsageError, title: str) -> None:
    console, buf = terminal_console()
    render_error(exc, console)
    output = SGR.sub("", buf.getvalue())
    assert title in output
    for line in exc.user_message().splitlines():
        assert squash(line) in squash(output)
    assert "╭" in output
    # Plain (a pipe): one "error:" line, then the hints, unboxed and unwrapped.
    plain = render_error_plain(exc)
    assert plain == "error: " + exc.user_message() + "\n"


def test_error_panel_for_any_chatcli_error_uses_its_title_and_message() -> None:
    class Custom(ChatcliError):
        kind = "quota_exceeded"
        title = "Quota exceeded"

        def user_message(self) -> str:
            return "You ran out of [bold]quota[/bold]."

    console, buf = terminal_console()
    render_error(Custom("quota"), console)
    assert "Quota exceeded" in SGR.sub("", buf.getvalue())
    output = render_error_plain(Custom("quota"))
    assert "You ran out of [bold]quota[/bold]." in output


def test_an_exception_that_merely_looks_like_a_chatcli_error_is_unexpected() -> None:
    class Lookalike(Exception):
        kind = "quota_exceeded"

        def user_message(self) -> str:
            return "You ran out of quota."

    output = render_error_plain(Lookalike())
    assert "Unexpected error: Lookalike" in output
    assert "Quota exceeded" not in output


def test_unexpected_errors_point_at_the_log() -> None:
    output = render_error_plain(ValueError("boom"), log_path="/var/log/chatcli.log")
    assert "Unexpected error: ValueError: boom" in output
    assert "Details were written to /var/log/chatcli.log." in output
    assert "Details" not in render_error_plain(KeyError("k"))


def test_error_panel_is_red_on_a_terminal() -> None:
    console, buf = terminal_console()
    render_error(SessionNotFound("abcd"), console)
    assert "\x1b[31m" in buf.getvalue() or "\x1b[1;31m" in buf.getvalue()


def test_hostile_error_details_render_literally() -> None:
    console, buf = terminal_console()
    render_error(SessionNotFound(HOSTILE), console)
    render_error(RuntimeError(HOSTILE), console, log_path=HOSTILE)
    output = assert_inert(buf.getvalue())
    assert "[bold red]x[/]" in output
    assert "␛[2J" in output


# ------------------------------------------------------------------------------------ replies


def test_reply_markdown_is_formatted() -> None:
    console, buf = plain_console()
    console.print(render_reply_markdown("# Title\n\n* one\n* two\n\n```python\nprint('hi')\n```"))
    output = buf.getvalue()
    assert "Title" in output
    assert "one" in output
    assert "print('hi')" in output


def test_reply_markdown_is_sanitised() -> None:
    console, buf = terminal_console()
    console.print(render_reply_markdown(f"Hello **there** {HOSTILE}\n\n`{HOSTILE}`"))
    output = assert_inert(buf.getvalue(), bidi_allowed=True)
    assert "␛[2J" in output
    assert "␛]52;c;aGk=␇" in output
    assert "[bold red]x[/]" in output


def test_reply_markdown_links() -> None:
    console, buf = terminal_console()
    console.print(render_reply_markdown("see [docs](https://example.com/a)", hyperlinks=False))
    assert "https://example.com/a" in SGR.sub("", buf.getvalue())
    assert "\x1b]8" not in buf.getvalue()
    console, buf = terminal_console()
    console.print(render_reply_markdown("see [docs](https://example.com/a\x1b]52;c;x\x07)", hyperlinks=True))
    # Rich writes the OSC 8 link itself; the URL inside is percent-encoded printable ASCII.
    urls = re.findall(r"\x1b\]8;id=\d+;([^\x1b]*)\x1b\\", buf.getvalue())
    assert urls
    assert all(re.fullmatch(r"[\x21-\x7e]+", url) for url in urls), urls
    assert "docs" in SGR.sub("", buf.getvalue())


def test_unsafe_link_schemes_stay_text() -> None:
    console, buf = terminal_console()
    console.print(render_reply_markdown("see [docs](javascript:alert(1))"))
    assert "\x1b]8" not in buf.getvalue()
    assert "[docs](javascript:alert(1))" in buf.getvalue()


def _named(reference: str) -> object:
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


def test_every_result_with_a_json_form_has_a_renderer() -> None:
    from chatcli.render import jsonout
    from chatcli.render.terminal import RENDERERS

    def listed(cls: type) -> bool:
        return any(f"{c.__module__}:{c.__qualname__}" in RENDERERS for c in cls.__mro__)

    assert [cls.__name__ for cls in jsonout._CONVERTERS if not listed(cls)] == []


def test_every_renderer_reference_names_a_result_class_and_a_renderer() -> None:
    """The lazy table is checked here, since nothing imports its entries until they are used."""
    from chatcli.render.terminal import RENDERERS

    for result, renderer in RENDERERS.items():
        cls = _named(result)
        assert isinstance(cls, type) and f"{cls.__module__}:{cls.__qualname__}" == result
        function = _named(renderer)
        assert callable(function)
        parameters = list(inspect.signature(function).parameters.values())
        assert parameters[1].name == "console", renderer
        assert all(p.default is not inspect.Parameter.empty for p in parameters[2:]), renderer
        assert parameters[0].annotation.split(" | ")[0] == cls.__name__, renderer


@pytest.mark.parametrize("width", [40, 60, 79])
def test_narrow_screens_keep_ids_and_drop_minor_columns(width: int) -> None:
    meta = listed_meta("How do I fix the login bug when the token expires", name="a-rather-long-session-name")
    listing = render_plain(ListResult([meta], [], "active"), width=width)
    assert all(len(line) <= width for line in listing.splitlines())
    assert meta.id[:8] in listing
    assert "Status" not in listing
    snippet = "…when the token expires and the user is logged out of the application entirely…"
    hit = SearchHit(meta.id, meta.name, "assistant", utc_now(), snippet, 0)
    shown = render_plain(SearchResult("token", [found(hit)], 1, 1, 1), width=width)
    assert all(len(line) <= width for line in shown.splitlines())
    assert meta.id[:8] in shown
    # every character of the snippet is there, in order (a narrow column folds long words)
    assert "".join(snippet.split()) in "".join(shown.split("match", 2)[2].split())

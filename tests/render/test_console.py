"""make_console: colour, width and box style follow the stream and the environment."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO

import pytest
from rich.console import Console

from chatcli.render.console import PLAIN_WIDTH, is_plain, make_console, table_box
from chatcli.render.terminal import render, render_error
from chatcli.session.errors import SessionNotFound
from chatcli.session.models import SessionMetadata, new_session_id
from chatcli.session.outcomes import ListResult


class FakeTTY(StringIO):
    """A string buffer that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


def sample_output(console: Console) -> None:
    meta = SessionMetadata.new(new_session_id(), "hello [bold]there[/]")
    meta.name = "demo"
    render(ListResult([meta], [], "active"), console)
    render_error(SessionNotFound("nope"), console)


def test_pipe_output_is_plain_ascii_and_100_wide() -> None:
    buf = StringIO()
    console = make_console(file=buf, env={"TERM": "xterm-256color"})
    sample_output(console)
    output = buf.getvalue()
    assert not console.is_terminal
    assert is_plain(console)
    assert console.width == PLAIN_WIDTH
    assert "\x1b" not in output
    assert "╭" not in output
    assert "─" not in output
    assert "+-" not in output and "|" not in output  # plain: aligned columns, no box drawing
    assert "error: Session 'nope' not found." in output
    assert "hello [bold]there[/]" in output


def test_pipe_width_honours_columns() -> None:
    console = make_console(file=StringIO(), env={"COLUMNS": "60"})
    assert console.width == 60
    assert make_console(file=StringIO(), env={"COLUMNS": "wide"}).width == PLAIN_WIDTH


def test_tty_gets_colour_and_unicode_boxes() -> None:
    buf = FakeTTY()
    console = make_console(file=buf, env={"TERM": "xterm-256color"})
    sample_output(console)
    output = buf.getvalue()
    assert console.is_terminal
    assert "\x1b[" in output
    assert "╭" in output
    assert table_box(console) is not table_box(make_console(file=StringIO(), env={}))


@pytest.mark.parametrize("value", ["1", "true", "0"])
def test_no_color_writes_no_escape_at_all(value: str) -> None:
    buf = FakeTTY()
    console = make_console(file=buf, env={"TERM": "xterm-256color", "NO_COLOR": value})
    sample_output(console)
    assert "\x1b" not in buf.getvalue()
    assert "hello [bold]there[/]" in buf.getvalue()


def test_empty_no_color_keeps_colour() -> None:
    buf = FakeTTY()
    sample_output(make_console(file=buf, env={"TERM": "xterm", "NO_COLOR": ""}))
    assert "\x1b[" in buf.getvalue()


def test_dumb_terminal_is_plain() -> None:
    buf = FakeTTY()
    console = make_console(file=buf, env={"TERM": "dumb"})
    sample_output(console)
    assert "\x1b" not in buf.getvalue()
    assert is_plain(console)


def test_force_plain_overrides_a_tty() -> None:
    buf = FakeTTY()
    sample_output(make_console(file=buf, force_plain=True, env={"TERM": "xterm"}))
    assert "\x1b" not in buf.getvalue()


def test_force_plain_false_styles_a_pipe() -> None:
    buf = StringIO()
    sample_output(make_console(file=buf, force_plain=False, env={"TERM": "xterm"}))
    assert "\x1b[" in buf.getvalue()


def test_force_color_styles_a_pipe_unless_no_color() -> None:
    buf = StringIO()
    sample_output(make_console(file=buf, env={"FORCE_COLOR": "1"}))
    assert "\x1b[" in buf.getvalue()
    buf = StringIO()
    sample_output(make_console(file=buf, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}))
    assert "\x1b" not in buf.getvalue()


@pytest.mark.parametrize(
    ("env", "system"),
    [
        ({"COLORTERM": "truecolor", "TERM": "xterm"}, "truecolor"),
        ({"TERM": "xterm-256color"}, "256"),
        ({"TERM": "xterm"}, "standard"),
    ],
)
def test_colour_depth_comes_from_the_environment(env: dict[str, str], system: str) -> None:
    assert make_console(file=FakeTTY(), env=env).color_system == system


def test_stderr_console_writes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    console = make_console(stderr=True, env={})
    console.print("to stderr")
    captured = capsys.readouterr()
    assert "to stderr" in captured.err
    assert captured.out == ""


def test_default_console_uses_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "77")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    console = make_console(file=StringIO())
    assert console.width == 77
    assert not console.is_terminal


def test_importing_the_package_does_not_import_rich() -> None:
    code = (
        "import sys\n"
        "import chatcli.render\n"
        "from chatcli.render import relative_age, short_id\n"
        "from chatcli.sanitize import clean, clean_inline\n"
        "assert clean('a\\x1bb') == 'a\\u241bb'\n"
        "assert 'rich' not in sys.modules, 'rich imported eagerly'\n"
        "assert 'chatcli.session.service' not in sys.modules\n"
        "from chatcli.render import render, make_console, to_json\n"
        "assert 'rich' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_package_exports_resolve_lazily() -> None:
    import chatcli.render as package
    from chatcli.render import terminal

    assert package.render is terminal.render
    with pytest.raises(AttributeError):
        getattr(package, "no_such_name")  # noqa: B009

"""``chatcli sessions …`` through the real entry point: help, colour and escape sequences,
hostile text and names, in a subprocess.

Sessions are created in-process through the public repository API, then the command line runs
against the same folder with stdin at /dev/null and stdout/stderr piped (so: no terminal). Every
call checks that no traceback reached the user. Independent calls run in parallel to keep the
file fast."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import timedelta

from chatcli.session.models import SessionMetadata, utc_now
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers import SESSION_SUBCOMMANDS, seed
from tests.helpers.sessions_cli import Cli, Run, listed

SUBCOMMANDS = SESSION_SUBCOMMANDS
#: A colour/style sequence (SGR): the only escape sequence chatcli itself may write.
_SGR = re.compile(r"\x1b\[[0-9;]*m")

HOSTILE_MARKUP = "[bold red]x[/]"
HOSTILE_CLEAR = "\x1b[2J"
HOSTILE_OSC52 = "\x1b]52;c;aGk=\x07"
HOSTILE_RTL = "\u202e"
HOSTILE_TEXT = f"look {HOSTILE_MARKUP} then {HOSTILE_CLEAR} and {HOSTILE_OSC52} also {HOSTILE_RTL}gpj.exe"


# --------------------------------------------------------------------------- help


def test_help_on_every_subcommand(cli_many: Callable[[Sequence[Sequence[str]]], list[Run]]) -> None:
    runs = cli_many([(sub, "--help") for sub in SUBCOMMANDS] + [("ls", "-h"), ("rm", "x", "--help")])
    for sub, run in zip([*SUBCOMMANDS, "list", "delete"], runs, strict=True):
        assert run.code == 0, run
        assert run.err == ""
        assert f"Usage: chatcli sessions {sub}" in run.out, run


def test_sessions_help_prints_the_sessions_help(
    cli_many: Callable[[Sequence[Sequence[str]]], list[Run]],
) -> None:
    for run in cli_many([("--help",), ("-h",), ("help",)]):
        assert run.code == 0, run
        assert run.err == ""
        assert "chatcli sessions commands" in run.out
        for sub in SUBCOMMANDS:
            assert f"chatcli sessions {sub}" in run.out
        assert "'chatcli sessions COMMAND --help'" in run.out
        assert "'chatcli sessions' alone lists the recent ones" in run.out
        assert "resume" not in run.out and "chatcli sessions new" not in run.out


def test_sessions_alone_lists_the_recent_sessions(
    repo: FileRepository, cli_many: Callable[[Sequence[Sequence[str]]], list[Run]]
) -> None:
    """Issue 12 item 18: ``chatcli sessions`` alone printed the help; now, like ``/sessions``, it
    lists the 10 most recent active sessions and one line on the subcommands."""
    metas = [seed(repo, f"question {i}", when=utc_now() - timedelta(minutes=i)) for i in range(12)]
    seed(repo, "archived one", archived=True)
    plain, as_json, as_tsv = cli_many([(), ("--json",), ("--tsv",)])
    assert plain.code == 0, plain
    assert plain.err == ""
    assert "Recent sessions (10 of 12)" in plain.out
    assert "question 9" in plain.out and "question 10" not in plain.out
    assert (
        plain.out.rstrip().splitlines()[-1]
        == "More: chatcli sessions list · commands: chatcli sessions --help"
    )
    assert [s["id"] for s in as_json.json()["sessions"]] == [m.id for m in metas[:10]]
    assert [line.split("\t")[0] for line in as_tsv.out.splitlines()] == [m.id for m in metas[:10]]


# --------------------------------------------------------------------------- colour and hostile text


def _seed_hostile(repo: FileRepository) -> SessionMetadata:
    """A session whose name, first message and reply are all hostile (as a cloned repo could hold)."""
    meta = seed(repo, HOSTILE_TEXT, replies=[f"reply {HOSTILE_MARKUP} [link=http://evil]y[/link]"])

    def plant_name(m: SessionMetadata) -> None:
        m.name = f"{HOSTILE_CLEAR}[red]evil[/]"  # bypasses the name rule, like a hand-edited file

    repo.update(meta.id, plant_name)
    return meta


def test_no_escape_sequences_with_no_color_or_a_pipe(
    cli_many: Callable[..., list[Run]], repo: FileRepository
) -> None:
    meta = _seed_hostile(repo)
    calls = [
        ("list", "--all", "--search", "look"),
        ("show", meta.id),
        ("search", "reply"),
        ("export", meta.id),
        ("prune", "--older-than", "1d", "--dry-run"),
        ("show", "missing"),
        ("name", meta.id, HOSTILE_CLEAR),
        (),
    ]
    # Piped output, and NO_COLOR even when colour is forced: not one escape sequence.
    for env in ({}, {"NO_COLOR": "1", "FORCE_COLOR": "1", "TERM": "xterm-256color"}):
        for run in cli_many(calls, env):
            assert run.code in (0, 1), run
            assert "\x1b" not in run.out, run
            assert "\x1b" not in run.err, run
            assert "\x07" not in run.out + run.err, run


def test_forced_colour_writes_only_style_sequences(
    cli_many: Callable[..., list[Run]], repo: FileRepository
) -> None:
    meta = _seed_hostile(repo)
    calls = [
        ("list",),
        ("show", meta.id),
        ("search", "look"),
        ("name", meta.id, HOSTILE_CLEAR),
        ("show", "nope"),
    ]
    runs = cli_many(calls, {"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert any("\x1b[" in r.out + r.err for r in runs)  # colour really is on
    for run in runs:
        for stream in (run.out, run.err):
            assert "\x1b" not in _SGR.sub("", stream), run
            assert "\x07" not in stream


def test_hostile_text_is_shown_literally(cli_many: Callable[..., list[Run]], repo: FileRepository) -> None:
    meta = _seed_hostile(repo)
    listing, shown, hits, exported = cli_many(
        [("list",), ("show", meta.id, "--last", "5"), ("search", "look"), ("export", meta.id)]
    )
    for run in (listing, shown, hits, exported):
        assert run.code == 0, run
        assert "[2J" in run.out  # what is left of the sequence is visible text, never executed
    # Rich markup is printed, not interpreted.
    assert HOSTILE_MARKUP in shown.out
    assert "[link=http://evil]y[/link]" in shown.out
    assert "[red]evil[/]" in listing.out and "[red]evil[/]" in shown.out
    assert HOSTILE_MARKUP in hits.out
    assert HOSTILE_MARKUP in exported.out
    # One-line fields show a bidi override as a visible mark.
    assert HOSTILE_RTL not in listing.out
    assert HOSTILE_RTL not in hits.out
    assert "]52;c;aGk=" in shown.out


def test_hostile_text_round_trips_through_json(cli: Cli, repo: FileRepository) -> None:
    meta = _seed_hostile(repo)
    run = cli("show", meta.id, "--json")
    assert run.code == 0
    assert "\x1b" not in run.out and "\x07" not in run.out and HOSTILE_RTL not in run.out
    doc = run.json()
    assert doc["messages"][0]["content"] == HOSTILE_TEXT
    assert doc["session"]["name"] == f"{HOSTILE_CLEAR}[red]evil[/]"


BAD_NAMES = (
    HOSTILE_MARKUP,
    f"evil{HOSTILE_CLEAR}",
    f"clip{HOSTILE_OSC52}",
    f"rtl{HOSTILE_RTL}exe",
    "a b",
    "-x",
    "é",
)


def test_hostile_names_are_rejected_cleanly(cli_many: Callable[..., list[Run]], repo: FileRepository) -> None:
    meta = seed(repo, "target", name="safe")
    calls: list[tuple[str, ...]] = [("name", meta.id, "--", bad) for bad in BAD_NAMES]
    calls += [
        ("name", meta.id, "--json", "--", BAD_NAMES[1]),
        ("fork", "safe", "--name", BAD_NAMES[0], "--json"),
    ]
    runs = cli_many(calls)
    for run in runs[: len(BAD_NAMES)]:
        assert run.code == 1, run
        assert "Invalid session name" in run.err, run
        assert "\x1b" not in run.err and "\x07" not in run.err and HOSTILE_RTL not in run.err, run
    assert HOSTILE_MARKUP in runs[0].err  # shown literally, not as red text
    for run in runs[len(BAD_NAMES) :]:
        assert run.code == 1, run
        assert run.error()["kind"] == "invalid_name"
    assert repo.get(meta.id).name == "safe"
    assert len(listed(repo)) == 1


def test_service_and_cli_agree(cli: Cli, repo: FileRepository) -> None:
    """The CLI shows exactly what the service computes (no separate logic at the edge)."""
    seed(repo, "one needle", replies=["two needle", "three"])
    seed(repo, "other needle", archived=True)
    seed(repo, "third needle")
    service = SessionService(repo)
    expected = service.search("needle", limit=2)
    run = cli("search", "needle", "--limit", "2", "--json")
    doc = run.json()
    assert [h["snippet"] for h in doc["hits"]] == [h.snippet for h in expected.hits]
    assert [s["session_id"] for s in doc["sessions"]] == [f.session_id for f in expected.sessions]
    assert doc["truncated"] is expected.truncated is True
    assert "more sessions match" in cli("search", "needle", "--limit", "2").out

"""The REPL: chat turns, keys, and commands typed mid-chat (list, name, archive, new, resume,
delete, help).

The REPL loop driven in-process: a pipe for the keyboard, a dummy screen, a text console."""

from __future__ import annotations

import json

from chatcli.render.transcript import RESUME_SHOWN
from chatcli.session.models import Message, SessionStatus
from tests.helpers import CTRL_C, ESC_ENTER, MakeRepl, Repl, ago, contents, only_session, seed, toolbar, until

# --------------------------------------------------------------------------- chatting and saving


def test_chat_turns_are_saved_as_they_complete(repl: Repl) -> None:
    assert repl.run("hello\r", "how are you?\r") == 0

    sid = only_session(repl)
    saved = contents(repl, sid)
    assert [role for role, _ in saved] == ["user", "assistant", "user", "assistant"]
    assert saved[0][1] == "hello"
    assert saved[2][1] == "how are you?"
    assert "Offline reply #1" in saved[1][1]
    assert "Offline reply #2" in saved[3][1]
    meta = repl.repo.get(sid)
    assert meta.message_count == 4
    assert meta.first_message == "hello"
    assert [m.content for m in repl.app.messages] == [content for _, content in saved]
    assert "Offline reply #2" in repl.output


def test_empty_start_and_quit_leaves_nothing_on_disk(repl: Repl) -> None:
    assert repl.run("\r", "   \r", "/help\r", "/sessions list\r") == 0

    assert not repl.root.exists()
    assert "No active sessions yet" in repl.output
    assert "Resume with" not in repl.output


def test_quit_command_leaves_and_says_how_to_come_back(repl: Repl) -> None:
    assert repl.run("hello\r", "/quit\r") == 0

    sid = only_session(repl)
    assert repl.output.rstrip().endswith(f"Resume with: chatcli --resume {sid[:8]}")


def test_resume_by_a_prefix_that_is_also_an_old_name_reaches_the_ids_owner(repl: Repl) -> None:
    """An older version let a session be named after another's short id: ``/resume`` of that
    prefix reaches the id's owner, and leaving the named one suggests its id, never the name."""
    owner = seed(repl.repo, "owner", session_id="1a717050-3c2b-4a19-8f00-5d6e7f809a1b")
    named = seed(repl.repo, "named", session_id="2b828161-4d3c-4b2a-9011-6e7f8091ab2c")
    repl.repo.update(named.id, lambda m: setattr(m, "name", "1a717050"))  # as an older version did

    async def scenario(r: Repl) -> None:
        r.type("/resume 1a717050\r")
        await until(lambda: r.app.current_id == owner.id, what="the prefix's owner")
        r.type(f"/resume {named.id[:8]}\r")
        await until(lambda: r.app.current_id == named.id, what="the named session, by its id")
        assert r.app.session_label() == "1a717050"

    repl.drive(scenario)

    ref = repl.output.rstrip().rsplit("Resume with: chatcli --resume ", 1)[1]
    assert ref != "1a717050" and named.id.startswith(ref)
    assert repl.service.resolve(ref).id == named.id


def test_toolbar_shows_session_backend_and_count(make_repl: MakeRepl) -> None:
    r = make_repl()
    assert "session: new session" in toolbar(r)
    assert "offline/echo" in toolbar(r)
    assert "0 messages" in toolbar(r)

    r.run("hello\r")

    sid = only_session(r)
    assert f"session: {sid[:8]} " in toolbar(r)
    assert "2 messages" in toolbar(r)


def test_esc_enter_inserts_a_newline_and_enter_sends(repl: Repl) -> None:
    repl.run("line one", ESC_ENTER, "line two\r")

    assert contents(repl, only_session(repl))[0] == ("user", "line one\nline two")


def test_double_slash_sends_a_literal_slash(repl: Repl) -> None:
    repl.run("//etc is a folder\r")

    assert contents(repl, only_session(repl))[0] == ("user", "/etc is a folder")


def test_ctrl_c_cancels_the_input_line_without_leaving(repl: Repl) -> None:
    repl.run("a draft", CTRL_C, "the real message\r")

    saved = contents(repl, only_session(repl))
    assert [content for role, content in saved if role == "user"] == ["the real message"]


# --------------------------------------------------------------------------- commands


def test_sessions_list_mid_chat(repl: Repl) -> None:
    repl.run("hello\r", "/sessions list\r")

    sid = only_session(repl)
    assert "Sessions (1)" in repl.output
    assert sid[:8] in repl.output


def test_json_option_mid_chat_prints_the_command_lines_json_document(repl: Repl) -> None:
    repl.run("hello\r", "/sessions list --json\r")

    sid = only_session(repl)
    start = repl.output.index("{")
    document, _ = json.JSONDecoder().raw_decode(repl.output[start:])
    assert [s["id"] for s in document["sessions"]] == [sid]
    assert "Sessions (1)" not in repl.output  # the table is not printed as well


def test_naming_the_current_session_shows_in_the_toolbar_at_once(repl: Repl) -> None:
    async def scenario(r: Repl) -> None:
        r.type("hello\r")
        await until(lambda: len(r.app.messages) == 2, what="the first exchange")
        assert r.app.current_id is not None
        r.type(f"/sessions name {r.app.current_id[:8]} foo\r")
        await until(lambda: r.app.session_label() == "foo", what="the new name")
        assert "session: foo " in toolbar(r)

    repl.drive(scenario)

    assert repl.repo.get(only_session(repl)).name == "foo"
    assert "Resume with: chatcli --resume foo" in repl.output


def test_archiving_the_current_session_keeps_chatting_possible(repl: Repl) -> None:
    async def scenario(r: Repl) -> None:
        r.type("hello\r")
        await until(lambda: len(r.app.messages) == 2)
        r.type("/sessions archive\r")  # no ID in the chat: the session in use
        await until(lambda: r.app.meta is not None and r.app.meta.is_archived, what="archived")
        assert "(archived)" in toolbar(r)
        r.type("still here\r")
        await until(lambda: len(r.app.messages) == 4, what="the second exchange")

    repl.drive(scenario)

    sid = only_session(repl)
    assert contents(repl, sid)[2] == ("user", "still here")
    meta = repl.repo.get(sid)
    assert meta.message_count == 4
    assert meta.status is SessionStatus.ARCHIVED
    assert "Usage:" not in repl.output


def test_new_then_a_message_starts_a_second_session(repl: Repl) -> None:
    repl.run("first\r", "/new\r", "second\r")

    dirs = repl.session_dirs()
    assert len(dirs) == 2
    firsts = sorted(repl.repo.get(d.name).first_message for d in dirs)
    assert firsts == ["first", "second"]
    assert repl.app.messages[0].content == "second"
    assert "Started a new session" in repl.output


def test_resume_restores_history_and_reply_numbering_continues(repl: Repl) -> None:
    async def scenario(r: Repl) -> None:
        r.type("one\r", "two\r")
        await until(lambda: len(r.app.messages) == 4)
        first_id = r.app.current_id
        assert first_id is not None
        r.type(f"/sessions name {first_id} proj\r", "/new\r", "elsewhere\r")
        await until(lambda: len(r.app.messages) == 2 and r.app.current_id not in (None, first_id))
        r.type("/resume proj\r")
        await until(lambda: r.app.current_id == first_id, what="the resumed session")
        assert [m.content for m in r.app.messages] == [c for _, c in contents(r, first_id)]
        r.type("three\r")
        await until(lambda: len(r.app.messages) == 6)

    repl.drive(scenario)

    assert "Resumed session proj" in repl.output
    resumed_part = repl.output.split("Resumed session proj", 1)[1]
    assert "two" in resumed_part
    assert "Offline reply #2" in resumed_part
    assert "Offline reply #3" in repl.app.messages[-1].content


def test_resume_by_id_prefix_of_a_saved_session(repl: Repl) -> None:
    meta = seed(repl.repo, "an old question", replies=["an old answer"], when=ago(60))

    repl.run(f"/resume {meta.id[:6]}\r", "next\r")

    assert repl.app.current_id == meta.id
    assert "an old question" in repl.output
    assert "an old answer" in repl.output
    assert contents(repl, meta.id)[2] == ("user", "next")
    assert "Offline reply #2" in contents(repl, meta.id)[3][1]


def test_resume_shows_only_the_last_exchanges(repl: Repl) -> None:
    meta = seed(repl.repo, "question 0", replies=["answer 0"], when=ago(60))
    for i in range(1, 5):
        repl.service.append(meta.id, Message(role="user", content=f"question {i}"))
        last = i == 4
        repl.service.append(meta.id, Message(role="assistant", content=f"answer {i}", interrupted=last))

    repl.run(f"/resume {meta.id}\r")

    assert "(10 messages" in repl.output
    assert f"… {10 - RESUME_SHOWN} earlier messages not shown" in repl.output
    assert "question 1" not in repl.output
    assert "question 2" in repl.output
    assert "(interrupted)" in repl.output
    assert len(repl.app.messages) == 10


def test_deleting_the_current_session_after_yes_starts_a_fresh_one(repl: Repl) -> None:
    old: list[str] = []

    async def scenario(r: Repl) -> None:
        r.type("hello\r")
        await until(lambda: len(r.app.messages) == 2)
        assert r.app.current_id is not None
        old.append(r.app.current_id)
        r.type(f"/sessions delete {r.app.current_id} \r", "y\r")
        await until(lambda: r.app.meta is None, what="the deletion")
        assert not (r.root / old[0]).exists()
        assert r.app.messages == []
        r.type("fresh start\r")
        await until(lambda: len(r.app.messages) == 2)

    repl.drive(scenario)

    sid = only_session(repl)
    assert sid != old[0]
    assert contents(repl, sid)[0] == ("user", "fresh start")
    assert "Offline reply #1" in contents(repl, sid)[1][1]
    assert "you are now in a new session" in repl.output


def test_deleting_the_current_session_answered_no_keeps_it(repl: Repl) -> None:
    async def scenario(r: Repl) -> None:
        r.type("hello\r")
        await until(lambda: len(r.app.messages) == 2)
        r.type(f"/sessions delete {r.app.current_id}\r", "n\r")
        await until(lambda: "Nothing was deleted" in r.output)
        r.type("more\r")
        await until(lambda: len(r.app.messages) == 4)

    repl.drive(scenario)

    sid = only_session(repl)
    assert repl.app.current_id == sid
    assert len(contents(repl, sid)) == 4


def test_unknown_command_suggests_and_does_not_crash(repl: Repl) -> None:
    assert repl.run("/sesions lst\r", "/frobnicate\r", "hello\r") == 0

    assert "did you mean /sessions l" in repl.output
    assert "'/frobnicate' is not a command" in repl.output
    assert "Traceback" not in repl.output
    assert "Offline reply #1" in repl.output


def test_bad_arguments_show_a_usage_line(repl: Repl) -> None:
    repl.run("/sessions list --limit many\r", "/sessions delete\r", "/resume\r")

    assert "--limit must be a whole number" in repl.output
    assert "Usage: /sessions list" in repl.output
    assert "missing ID" in repl.output
    assert "Usage: /sessions delete" in repl.output
    assert "No saved sessions to resume yet." in repl.output  # /resume alone opens the picker
    assert not repl.root.exists()


def test_help_lists_commands_and_option_help_shows_one(repl: Repl) -> None:
    repl.run("/help\r", "/help sessions\r", "/sessions list --help\r")

    assert "chatcli commands" in repl.output
    assert "/sessions delete [--yes]" in repl.output  # on the /help sessions page
    assert "Usage: /sessions list" in repl.output

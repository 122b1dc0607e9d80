"""Shared test helpers: the one home of everything more than one test module uses.

Test modules import from here (``from tests.helpers import seed``) and never from each other;
``conftest.py`` files hold only fixtures (``tests/test_layout.py`` keeps it so). The code lives in
one submodule per concern, and this package re-exports every public name:

- :mod:`.checkout`: where the checkout is, the ``sessions`` subcommands;
- :mod:`.factories`: sessions, messages and times, and :func:`seed`, which builds every stored
  session the tests start from;
- :mod:`.corpus`: a deterministic import corpus;
- :mod:`.disk`: file-system snapshots, a jail for writes, raw transcript lines;
- :mod:`.cli`: running ``python -m chatcli`` without a terminal (:func:`chatcli`, :class:`Run`);
- :mod:`.repl`: the REPL driver (:class:`Repl`), scripted backends, completion snapshots;
- :mod:`.processes` and :mod:`.worker`: the worker run in child processes
  (``python -m tests.helpers <command> ...``, started with :func:`spawn_worker`) for the
  multi-process and crash tests;
- :mod:`.privileges`: unprivileged children for the permission tests;
- :mod:`.llmock`: a real OpenAI-compatible server.

What one family of tests shares is imported from its own submodule, not re-exported here:
:mod:`.pty` (the pexpect driver), :mod:`.openai_server`, :mod:`.rendering`, :mod:`.tool_histories`,
:mod:`.fuzz_values`, :mod:`.faults`, :mod:`.store_damages` and :mod:`.sessions_cli`.
"""

from __future__ import annotations

from tests.helpers.checkout import REPO_ROOT, SESSION_SUBCOMMANDS
from tests.helpers.cli import (
    RAW_CONTROLS,
    RTL_OVERRIDE,
    Run,
    assert_imports_through_the_binary,
    chatcli,
    chatcli_many,
)
from tests.helpers.corpus import corpus_records, write_corpus
from tests.helpers.disk import confined_writes, snapshot, transcript_lines, tree
from tests.helpers.factories import (
    BASE,
    TEST_LOCK_TIMEOUT,
    ago,
    assistant,
    at,
    ids,
    make_meta,
    messages_of,
    numbered,
    seed,
    session_with_messages,
    user,
)
from tests.helpers.llmock import LLMOCK, Llmock, assert_well_formed, running_llmock
from tests.helpers.privileges import AS_ROOT, locked_out, run_unprivileged, unprivileged_ids
from tests.helpers.processes import LineReader, spawn_worker
from tests.helpers.repl import (
    CTRL_C,
    CTRL_D,
    ENTER,
    ESC_ENTER,
    RUN_TIMEOUT,
    MakeRepl,
    Repl,
    ScriptedBackend,
    contents,
    entry,
    only_session,
    snapshot_of,
    toolbar,
    until,
)

__all__ = [
    "AS_ROOT",
    "BASE",
    "CTRL_C",
    "CTRL_D",
    "ENTER",
    "ESC_ENTER",
    "LLMOCK",
    "RAW_CONTROLS",
    "REPO_ROOT",
    "RTL_OVERRIDE",
    "RUN_TIMEOUT",
    "SESSION_SUBCOMMANDS",
    "TEST_LOCK_TIMEOUT",
    "LineReader",
    "Llmock",
    "MakeRepl",
    "Repl",
    "Run",
    "ScriptedBackend",
    "ago",
    "assert_imports_through_the_binary",
    "assert_well_formed",
    "assistant",
    "at",
    "chatcli",
    "chatcli_many",
    "confined_writes",
    "contents",
    "corpus_records",
    "entry",
    "ids",
    "locked_out",
    "make_meta",
    "messages_of",
    "numbered",
    "only_session",
    "run_unprivileged",
    "running_llmock",
    "seed",
    "session_with_messages",
    "snapshot",
    "snapshot_of",
    "spawn_worker",
    "toolbar",
    "transcript_lines",
    "tree",
    "unprivileged_ids",
    "until",
    "user",
    "write_corpus",
]

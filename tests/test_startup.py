"""Start-up: what a command loads. The headless session commands are mostly import time, so a
command must load its own handler and what its result needs, nothing else; help, completion and
dispatch read the registry's specs, never a handler's module.

Each check runs chatcli in a fresh interpreter (``sys.modules`` of this test process holds
everything the other tests imported) and reads the modules loaded when it exits.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

from chatcli.commands.catalog import build_registry
from chatcli.session.store import FileRepository
from tests.helpers import chatcli, seed

#: Never loaded by a piped ``sessions list`` or ``search`` (rich only where a table is drawn).
HEAVY = ("pydantic", "prompt_toolkit", "httpx", "openai", "filelock", "platformdirs", "argparse")
#: Packages of chatcli a session command on the command line has no use for.
FOREIGN = ("chatcli.repl", "chatcli.chat", "chatcli.importers.", "chatcli.headless")

_RUN = textwrap.dedent(
    """
    import atexit, json, sys
    out = sys.argv.pop(1)
    atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
    from chatcli.__main__ import main
    sys.exit(main(sys.argv[1:]))
    """
)


def modules_after(args: Sequence[str], tmp_path: Path, script: str = _RUN, expect: bytes = b"") -> set[str]:
    """The modules loaded by ``chatcli ARGS…`` (output piped), read as the process exits (or by
    another ``script`` that writes them to the file named by its first argument)."""
    out = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update(NO_COLOR="1", CHATCLI_DATA_DIR=str(tmp_path / "data"), CHATCLI_BACKEND="offline")
    done = subprocess.run(
        [sys.executable, "-c", script, str(out), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and b"Traceback" not in done.stderr and expect in done.stdout, done
    return set(json.loads(out.read_text()))


def loaded(modules: set[str], names: Sequence[str]) -> list[str]:
    """The modules of ``names`` (packages, or prefixes ending in '.') that were loaded."""
    return sorted(
        m
        for m in modules
        for n in names
        if (m.startswith(n) if n.endswith(".") else m.split(".")[0] == n or m == n or m.startswith(n + "."))
    )


#: The modules that hold command handlers (each loaded only by its own commands).
HANDLERS = {
    "chatcli.commands.chat",
    "chatcli.commands.importing",
    "chatcli.commands.labels",
    "chatcli.commands.listing",
    "chatcli.commands.search",
    "chatcli.commands.sessions",
    "chatcli.commands.trash",
}


def handler_modules() -> set[str]:
    """The modules the registry's handler references name: every handler module."""
    named = {c.handler.partition(":")[0] for c in build_registry() if isinstance(c.handler, str)}
    assert named == HANDLERS
    return named


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("startup") / "sessions"
    repo = FileRepository(folder)
    for n in range(5):
        seed(repo, f"how do I fix the login bug {n}", replies=["check the token expiry"], name=f"fix-{n}")
    # The first search catches the content index up (reading the files): the runs measured
    # below find the index in step, as a user's do.
    assert chatcli(["sessions", "search", "login", "--sessions-dir", str(folder)], cwd=folder).code == 0
    return folder


@pytest.mark.parametrize(
    "args",
    [
        ("sessions", "search", "zqxjvnowhere"),
        ("sessions", "search", "login"),
        ("sessions", "list"),
        ("sessions",),
    ],
    ids=["search-nothing", "search-hits", "list", "recent"],
)
def test_piped_session_commands_load_no_heavy_module(
    args: tuple[str, ...], store: Path, tmp_path: Path
) -> None:
    modules = modules_after([*args, "--sessions-dir", str(store)], tmp_path)
    assert loaded(modules, HEAVY) == []
    assert loaded(modules, FOREIGN) == []
    ran = {"search": "chatcli.commands.search", "list": "chatcli.commands.listing"}.get(
        args[-2] if len(args) > 2 else args[-1]
    )
    assert sorted(handler_modules() & modules) == ([ran] if ran else [])


@pytest.mark.parametrize(
    "args",
    [("sessions", "search", "zqxjvnowhere"), ("sessions", "search", "login"), ("sessions", "search", "log*")],
    ids=["nothing", "hits", "prefix"],
)
def test_a_piped_search_builds_no_dataclass(args: tuple[str, ...], store: Path, tmp_path: Path) -> None:
    # Importing dataclasses (it imports inspect, ast, dis, tokenize) and building each class cost
    # ~60 ms of a ~170 ms search: the command path uses named tuples and slotted classes.
    modules = modules_after([*args, "--sessions-dir", str(store)], tmp_path)
    assert loaded(modules, ("dataclasses", "inspect", "shutil", "difflib", "shlex")) == []


@pytest.mark.parametrize("word", ["zqxjvnowhere", "login"], ids=["nothing", "hits"])
def test_a_piped_search_never_loads_rich(word: str, store: Path, tmp_path: Path) -> None:
    modules = modules_after(["sessions", "search", word, "--sessions-dir", str(store)], tmp_path)
    assert loaded(modules, ("rich",)) == []


@pytest.mark.parametrize(
    "args", [("sessions", "--help"), ("sessions", "search", "--help"), ("sessions", "nosuch")]
)
def test_help_and_dispatch_load_no_handler_module(args: tuple[str, ...], store: Path, tmp_path: Path) -> None:
    env_args = [*args, "--sessions-dir", str(store)]
    modules = modules_after(env_args, tmp_path) if args[-1] != "nosuch" else _failing(env_args, tmp_path)
    assert sorted(handler_modules() & modules) == []


def _failing(args: list[str], tmp_path: Path) -> set[str]:
    """The modules of a command line that exits 2 (an unknown command: "did you mean …?")."""
    out = tmp_path / "modules.json"
    script = _RUN.replace("sys.exit(main(sys.argv[1:]))", "code = main(sys.argv[1:]); assert code == 2, code")
    env = {**os.environ, "NO_COLOR": "1", "CHATCLI_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "-c", script, str(out), *args], capture_output=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done
    return set(json.loads(out.read_text()))


def test_repl_help_and_completion_list_every_command_without_loading_a_handler(tmp_path: Path) -> None:
    """/help, /help sessions and Tab after '/' and '/sessions ' in a fresh interpreter."""
    script = textwrap.dedent(
        """
        import json, sys
        from prompt_toolkit.completion import CompleteEvent
        from prompt_toolkit.document import Document
        from chatcli.commands.catalog import build_registry
        from chatcli.repl.completion.completer import SessionCompleter
        from chatcli.repl.completion.snapshot import Snapshot
        registry = build_registry()
        overview = registry.help(prefix="/")
        group = registry.help(["sessions"], prefix="/")
        shown = [c.name for c in overview.commands] + [w for _, words in overview.groups for w in words]
        shown += [c.name for c in group.commands]
        completer = SessionCompleter(registry, lambda: Snapshot.empty())
        offered = {}
        for text in ("/", "/sessions "):
            event = CompleteEvent(completion_requested=True)
            offered[text] = [c.text for c in completer.get_completions(Document(text, len(text)), event)]
        print(json.dumps({"shown": shown, "offered": offered, "modules": sorted(sys.modules)}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=60, check=True, cwd=tmp_path
    )
    found = json.loads(done.stdout)
    registry = build_registry()
    for command in registry:
        assert command.name in found["shown"] or command.words[-1] in found["shown"], command.name
        assert command.words[0] in found["offered"]["/"], command.name
        if len(command.words) > 1:
            assert command.words[1] in found["offered"]["/sessions "], command.name
    assert sorted(handler_modules() & set(found["modules"])) == []


def test_every_handler_reference_resolves_to_a_handler() -> None:
    """The references are strings nothing imports until a command runs: check them all here."""
    references = [c for c in build_registry() if isinstance(c.handler, str)]
    assert len(references) >= 20
    for command in references:
        module, _, name = command.handler.partition(":")
        handler = getattr(importlib.import_module(module), name)
        assert command.resolve() is handler
        parameters = inspect.signature(handler).parameters
        annotations = [p.annotation for p in parameters.values()]
        assert list(parameters) == ["ctx", "args"], command.name
        assert annotations == ["CommandContext", "ParsedArgs"], command.name


_PICK = textwrap.dedent(
    """
    import json, sys
    from chatcli.repl import startup
    out, where = sys.argv[1], sys.argv[2]
    def picking(*args, **kwargs):
        open(out, "w").write(json.dumps(sorted(sys.modules)))
        raise startup.NoSessionChosen()
    startup.initial_session = picking
    sys.exit(startup.run_repl(startup.ReplOptions(sessions_dir=where, resume="")))
    """
)


def test_the_resume_browser_opens_before_the_chat_is_loaded(tmp_path: Path) -> None:
    where = tmp_path / "sessions"
    seed(FileRepository(where), "pick me")
    loaded = modules_after([str(where)], tmp_path, _PICK, b"No session chosen")
    assert not {"chatcli.repl.app", "chatcli.chat.turn"} & loaded

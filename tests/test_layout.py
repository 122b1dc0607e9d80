"""The structure rules, checked on the source so they stay true.

- Tests share helpers only through the ``tests/helpers/`` package (and fixtures): no module under
  ``tests/`` imports another test module (the helpers' submodules may import each other), and no
  test skips itself because of the machine it runs on.
- No module in ``chatcli/``, ``scripts/`` or ``tests/`` is over 500 lines and no function over 60 (bar
  :data:`ALLOWED_OVERSIZE`).
- Layering: the session package (models, repository, service, store, …) never talks to the
  terminal — no rich, no prompt_toolkit, no ``print`` — and never imports the layers above it;
  the service reaches storage only through the repository protocol.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

PACKAGE = REPO_ROOT / "chatcli"
TESTS = REPO_ROOT / "tests"

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60

#: What is over the size limits today, while the big modules are being split: a module
#: (``path``) or one function (``path::name``). Nothing else may break the limits, and an entry
#: that no longer does must be removed (the list only shrinks).
ALLOWED_OVERSIZE: frozenset[str] = frozenset()

#: The only package of the ``tests`` package that other modules may import (with its submodules).
SHARED_TEST_MODULE = "tests.helpers"

#: Packages the session layer must not import: the terminal libraries and the layers above it.
ABOVE_THE_SESSION_LAYER = (
    "rich",
    "prompt_toolkit",
    "chatcli.repl",
    "chatcli.commands",
    "chatcli.render",
    "chatcli.cli",
)


def _modules(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _rel(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


def _dotted(path: Path) -> str:
    """``tests/session/test_store.py`` -> ``tests.session.test_store`` (a package -> its name)."""
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, relative ones resolved.

    ``from package import name`` yields both ``package`` and ``package.name`` (``name`` may be a
    module), so a check for a module catches either spelling.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = _dotted(path).split(".")
    if path.name != "__init__.py":
        here.pop()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _function_sizes(path: Path) -> Iterator[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            yield node.name, node.end_lineno - node.lineno + 1


#: The folders whose modules and functions are held to the size limits.
SIZE_CHECKED = (PACKAGE, REPO_ROOT / "scripts", TESTS)


def _oversize() -> set[str]:
    found: set[str] = set()
    for path in (module for root in SIZE_CHECKED for module in _modules(root)):
        if len(path.read_text(encoding="utf-8").splitlines()) > MAX_MODULE_LINES:
            found.add(_rel(path))
        found.update(
            f"{_rel(path)}::{name}" for name, size in _function_sizes(path) if size > MAX_FUNCTION_LINES
        )
    return found


# --------------------------------------------------------------------------- the tests themselves


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in ``tests/helpers/`` (or fixtures), never in a test module or conftest."""
    offenders = [
        f"{_rel(path)}:{line} imports {module}"
        for path in _modules(TESTS)
        for line, module in _imported(path)
        if _within(module, "tests") and module != "tests" and not _within(module, SHARED_TEST_MODULE)
    ]
    assert offenders == [], "import shared helpers from tests.helpers instead:\n" + "\n".join(offenders)


def test_helpers_import_no_test_module() -> None:
    """The helpers' submodules import each other, never a test module."""
    inside = [
        f"{_rel(path)}:{line} imports {module}"
        for path in _modules(TESTS / "helpers")
        for line, module in _imported(path)
        if _within(module, "tests") and not _within(module, SHARED_TEST_MODULE)
    ]
    assert inside == []


def test_the_layout_checks_see_imports() -> None:
    """The checks above would notice the imports they forbid (absolute and relative)."""
    session = TESTS / "session" / "test_hostile_names.py"
    imported = {module for _, module in _imported(session)}
    assert "tests.helpers.seed" in imported and "chatcli.session.store" in imported
    assert _dotted(TESTS / "session" / "__init__.py") == "tests.session"


def _skip_calls(path: Path) -> Iterator[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("skip", "skipif", "importorskip"):
            yield node.lineno


def test_no_test_skips_itself() -> None:
    """Every test runs everywhere: corpora are generated, privileges are dropped in a child."""
    skips = [
        f"{_rel(path)}:{line}"
        for path in _modules(TESTS)
        if path.name != "test_layout.py"
        for line in _skip_calls(path)
    ]
    assert skips == [], "a test that cannot run here must build what it needs instead of skipping"


#: How a path to files next to the checkout (or on one machine) would be spelled.
OUTSIDE_THE_CHECKOUT = ("../shared", "/work/")


def test_tests_do_not_read_outside_the_checkout() -> None:
    """Nothing under tests/ reaches for files next to the checkout: the tests build their own data."""
    outside = [
        f"{_rel(path)}: {spelling}"
        for path in _modules(TESTS)
        if path.name != "test_layout.py"
        for spelling in OUTSIDE_THE_CHECKOUT
        if spelling in path.read_text(encoding="utf-8")
    ]
    assert outside == []


# --------------------------------------------------------------------------- sizes


def test_no_module_or_function_is_too_big() -> None:
    """Modules up to 500 lines, functions up to 60, except what :data:`ALLOWED_OVERSIZE` names."""
    oversize = _oversize()
    new = sorted(oversize - ALLOWED_OVERSIZE)
    assert new == [], f"over {MAX_MODULE_LINES} lines per module / {MAX_FUNCTION_LINES} per function: {new}"
    stale = sorted(ALLOWED_OVERSIZE - oversize)
    assert stale == [], f"no longer over the limits: remove from ALLOWED_OVERSIZE: {stale}"


# --------------------------------------------------------------------------- layering


SESSION_MODULES = _modules(PACKAGE / "session")


@pytest.mark.parametrize("path", SESSION_MODULES, ids=_rel)
def test_the_session_layer_never_reaches_up(path: Path) -> None:
    """No terminal library, no REPL, commands, renderers or CLI in the session layer."""
    wrong = [
        f"line {line}: {module}"
        for line, module in _imported(path)
        if any(_within(module, above) for above in ABOVE_THE_SESSION_LAYER)
    ]
    assert wrong == []


@pytest.mark.parametrize("path", SESSION_MODULES, ids=_rel)
def test_the_session_layer_never_prints(path: Path) -> None:
    """Store and service return data or raise; printing belongs to the renderers."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    prints = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
    ]
    assert prints == [], f"print() on lines {prints}: return data and let chatcli/render show it"


def test_the_service_depends_only_on_the_repository_protocol() -> None:
    service = PACKAGE / "session" / "service.py"
    store = [f"line {line}: {m}" for line, m in _imported(service) if _within(m, "chatcli.session.store")]
    assert store == []

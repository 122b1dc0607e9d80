"""Fixtures for the command tests: a service on the ``repo`` fixture, the real registry, contexts.

Sessions are seeded with :func:`tests.helpers.seed` (explicit timestamps), so the tests control
ordering and ages without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chatcli.commands.catalog import build_registry
from chatcli.commands.context import CommandContext
from chatcli.commands.registry import Registry
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository


@pytest.fixture
def service(repo: FileRepository) -> SessionService:
    """A service on the ``repo`` fixture's folder."""
    return SessionService(repo)


@pytest.fixture
def registry() -> Registry:
    """The real registry, exactly as the REPL and the command line build it."""
    return build_registry()


@pytest.fixture
def make_ctx(service: SessionService) -> Callable[..., CommandContext]:
    """Build a CommandContext on ``service`` with a chosen confirm callback (default: no terminal)."""

    def factory(
        confirm: Callable[[str], bool] | None = None, prefix: str = "/", current: str | None = None
    ) -> CommandContext:
        return CommandContext(service, confirm=confirm, current_session_id=current, prefix=prefix)

    return factory

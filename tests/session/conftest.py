"""Fixtures for the session tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatcli.session.repository import InMemoryRepository, SessionRepository
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers import (
    TEST_LOCK_TIMEOUT,
)
from tests.helpers.faults import Seeded, make_template


@pytest.fixture(params=["memory", "file"])
def any_repo(request: pytest.FixtureRequest, tmp_path: Path) -> SessionRepository:
    """Each rule that does not depend on the storage runs once per repository implementation."""
    if request.param == "memory":
        return InMemoryRepository()
    return FileRepository(tmp_path / "sessions", lock_timeout=TEST_LOCK_TIMEOUT)


@pytest.fixture
def svc(any_repo: SessionRepository) -> SessionService:
    """A service on either repository."""
    return SessionService(any_repo)


@pytest.fixture
def file_svc(repo: FileRepository) -> SessionService:
    """A service on the file store (for import/export, snapshots and repairs)."""
    return SessionService(repo)


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, Seeded]:
    """A store seeded as the fault tests' template is (:func:`tests.helpers.faults.make_template`), in
    ``tmp_path``: its root and what it holds."""
    root = tmp_path / "sessions"
    return root, make_template(root, tmp_path)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the sessions folder that nothing may write into."""
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder

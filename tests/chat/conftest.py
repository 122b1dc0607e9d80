"""Fixtures for the chat tests: a real third-party OpenAI-compatible server (llmock, from PyPI)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Llmock, running_llmock


@pytest.fixture
def llmock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Llmock]:
    """llmock serving on 127.0.0.1 for this test (no proxy in the way, for this process and its children)."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with running_llmock(tmp_path) as server:
        yield server

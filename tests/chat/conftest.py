"""Fixtures for the chat tests: a real third-party OpenAI-compatible server (llmock, from PyPI), and
the fake one serving each failure mode (``server``, :mod:`tests.helpers.openai_server`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Llmock, running_llmock
from tests.helpers.openai_server import FakeServer


@pytest.fixture
def llmock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Llmock]:
    """llmock serving on 127.0.0.1 for this test (no proxy in the way, for this process and its children)."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with running_llmock(tmp_path) as server:
        yield server


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    srv = FakeServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.shutdown()
        srv.server_close()
        thread.join(5)
    assert not thread.is_alive()
    assert srv.errors == []

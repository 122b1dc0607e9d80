"""The store's file locks (filelock, so they also exclude other processes).

One lock file per session (``.locks/<id>.lock``) guards every write to that session; ``names.lock``
guards the check-and-assign of a unique name. Readers never wait for a writer: they use
:meth:`SessionLocks.try_lock`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from chatcli.session.errors import ConcurrentModification, SessionError, from_os_error
from chatcli.session.store import durable
from chatcli.session.store.layout import FILE_MODE, LOCKS_DIR, lock_name

if TYPE_CHECKING:
    from filelock import FileLock

__all__ = ["DEFAULT_LOCK_TIMEOUT", "SessionLocks"]

DEFAULT_LOCK_TIMEOUT = 10.0


class SessionLocks:
    """The lock files of one sessions folder; one :class:`FileLock` per name per instance."""

    def __init__(self, root: Path, timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.folder = root / LOCKS_DIR
        self.timeout = timeout
        self._locks: dict[str, FileLock] = {}
        self._guard = threading.Lock()

    def _lock(self, name: str) -> FileLock:
        from filelock import FileLock  # imported on first write: reads never need it

        with self._guard:
            lock = self._locks.get(name)
            if lock is None:
                lock = FileLock(self.folder / name, timeout=self.timeout, mode=FILE_MODE)
                self._locks[name] = lock
            return lock

    @contextlib.contextmanager
    def held(self, name: str, what: str) -> Iterator[None]:
        """Hold lock ``name`` (waiting up to the timeout: then :class:`ConcurrentModification`
        about ``what``). The sessions folder must exist."""
        try:
            durable.make_dir(self.folder)
            self.check(name)
            lock = self._lock(name)
            lock.acquire()
        except Exception as exc:
            from filelock import Timeout  # a TimeoutError, hence an OSError: test it first

            if isinstance(exc, Timeout):
                raise ConcurrentModification(what, self.timeout) from None
            if isinstance(exc, OSError):
                raise from_os_error(exc, self.folder) from exc
            raise
        try:
            yield
        finally:
            lock.release()

    def check(self, name: str) -> None:
        """Refuse (:class:`UnsafePath`, naming it) a lock file that is a link, a folder, a FIFO, a
        hard link or another user's: taking the lock opens it for writing. ``OSError`` is left to
        the caller."""
        durable.check_existing(self.folder / name)

    def try_lock(self, name: str) -> FileLock | None:
        """The lock ``name`` if it can be taken at once (a reader never waits for a writer); None
        also when the lock file is not one chatcli may use (see :meth:`check`)."""
        if not os.path.isdir(self.folder):
            return None
        try:
            self.check(name)
        except (OSError, SessionError):
            return None
        lock = self._lock(name)
        try:
            lock.acquire(timeout=0)
        except Exception:  # filelock.Timeout, or an OSError on a read-only folder
            return None
        return lock

    def remove_stale(self, session_id: str, in_use: Callable[[], bool]) -> bool:
        """Remove the lock file of a session that no longer exists; False if the lock is held or
        ``in_use()`` (checked under the lock) says the session exists again.

        The lock is taken without waiting, so a creation or deletion in progress (which holds it)
        is never raced; a process that opened the file just before it was unlinked notices and
        starts over on the new path (filelock checks the link count after locking).
        """
        path = self.folder / lock_name(session_id)
        lock = self._lock(path.name)
        try:
            self.check(path.name)
            lock.acquire(timeout=0)
        except Exception as exc:
            from filelock import Timeout

            if isinstance(exc, Timeout):
                return False
            if isinstance(exc, OSError):
                raise from_os_error(exc, path) from exc
            raise
        try:
            if in_use():
                return False
            os.unlink(path)
        except OSError as exc:
            raise from_os_error(exc, path) from exc
        finally:
            lock.release()
        return True

    def discard(self, session_id: str) -> None:
        """Remove a deleted session's lock file (safe: ids are never reused)."""
        with contextlib.suppress(OSError):
            (self.folder / lock_name(session_id)).unlink()

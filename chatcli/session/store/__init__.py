"""The file-backed session store: :class:`FileRepository` and the modules it orchestrates
(see :mod:`.repository` for which module holds which concern)."""

from chatcli.session.store.repository import FileRepository

__all__ = ["FileRepository"]

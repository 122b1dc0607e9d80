"""Plain mutable records: equality and a readable ``repr`` over their ``__slots__``.

The command path uses these (or ``typing.NamedTuple`` for immutable ones) rather than dataclasses:
importing ``dataclasses`` and building each class cost a search ~60 ms of start-up
(docs/architecture.md, "Start-up").
"""

from __future__ import annotations

__all__ = ["SlotRecord"]


class SlotRecord:
    """A base giving ``==`` (same type, same values) and ``repr`` over every ``__slots__`` name of
    the class and its bases, in the order they were declared; instances are unhashable (they
    are mutable)."""

    __slots__: tuple[str, ...] = ()

    def _names(self) -> tuple[str, ...]:
        return tuple(name for cls in reversed(type(self).__mro__) for name in getattr(cls, "__slots__", ()))

    def _state(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._names())

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._names())
        return f"{type(self).__name__}({values})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) or not isinstance(other, SlotRecord):
            return NotImplemented
        return self._state() == other._state()

    __hash__ = None  # type: ignore[assignment]

"""Slotted records (chatcli.records): equality and repr over every slot, bases' included."""

from __future__ import annotations

import pytest

from chatcli.session.health import Finding, RepairReport
from chatcli.session.transcript import Transcript, TranscriptTail


def test_equal_only_with_the_same_type_and_every_slot_equal() -> None:
    assert TranscriptTail(skipped_lines=[2], total=3) == TranscriptTail(skipped_lines=[2], total=3)
    assert TranscriptTail(total=3) != TranscriptTail(total=4)  # a subclass's own slot counts
    assert TranscriptTail(skipped_lines=[1]) != TranscriptTail(skipped_lines=[2])  # and its base's
    assert Transcript() != TranscriptTail()
    assert RepairReport("a") != Finding("a", "ok")


def test_repr_names_every_slot_and_records_are_unhashable() -> None:
    assert repr(TranscriptTail(total=3)) == (
        "TranscriptTail(messages=[], open_end=False, skipped_lines=[], torn_tail=False, total=3)"
    )
    with pytest.raises(TypeError):
        hash(RepairReport("a"))

"""A deterministic import corpus (JSON Lines records with pseudo-random text)."""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.helpers.factories import BASE

#: The vocabulary of the corpus texts.
_VOCABULARY = (
    "session archive resume lock index cache stream token model prompt retry timeout queue worker "
    "terminal markdown render panel history search docker deploy fixture schema vector embedding"
)


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def corpus_records(sessions: int, turns: int, *, rng_seed: int = 7) -> list[dict[str, Any]]:
    """A deterministic corpus of ``sessions`` records in the JSON Lines import format.

    Each record: ``id`` (UUID4), ``name`` (every third session, else null), ``status`` (every
    fifth archived), ``created``, ``last_active`` and ``turns`` user/assistant pairs of
    ``messages`` with pseudo-random text and ISO 8601 UTC timestamps (``…Z``).
    """
    assert turns > 0, "every session has at least one exchange"
    rng = random.Random(rng_seed)
    vocabulary = _VOCABULARY.split()

    def text(words: int) -> str:
        return " ".join(rng.choice(vocabulary) for _ in range(words)).capitalize() + "."

    records: list[dict[str, Any]] = []
    for i in range(sessions):
        created = clock = BASE + timedelta(minutes=37 * i + rng.randint(0, 30))
        messages: list[dict[str, str]] = []
        for _ in range(turns):
            for role, words in (("user", rng.randint(8, 40)), ("assistant", rng.randint(20, 120))):
                messages.append({"role": role, "content": text(words), "timestamp": _iso(clock)})
                clock += timedelta(seconds=rng.randint(2, 600))
        records.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "name": f"task-{i}-{rng.choice(vocabulary)}" if i % 3 == 0 else None,
                "status": "archived" if i % 5 == 4 else "active",
                "created": _iso(created),
                "last_active": messages[-1]["timestamp"],
                "messages": messages,
            }
        )
    return records


def write_corpus(path: Path, sessions: int, turns: int) -> list[dict[str, Any]]:
    """Write :func:`corpus_records` to ``path`` as JSON Lines (one session a line); return them."""
    records = corpus_records(sessions, turns)
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return records

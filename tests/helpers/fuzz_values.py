"""What the store fuzzer writes: hypothesis strategies for odd text and JSON, hostile values, edits
of metadata and transcript documents, index cells."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

#: Strings that have broken parsers before: dates out of range, numbers in disguise, controls.
ODD_STRINGS = (
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "2025-13-45T25:61:61Z",
    "0000-00-00",
    "1e309",
    "-1",
    "NaN",
    "Infinity",
    "9" * 400,
    "\x1b[2J\x1b]52;c;aGk=\x07",
    "\u202egpj.exe",
    "\x00",
    "\r",
    "\r\n",
    "\u2028",
    "\ud7ff\ufeff",
    "active",
    "archived",
    "user",
    "assistant",
    "",
)
odd_text = st.one_of(
    st.sampled_from(ODD_STRINGS),
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x9F), max_size=20),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # unbounded: huge ints included
    st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30, -1, 0]),
    st.floats(allow_nan=False, allow_infinity=False),
    odd_text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(odd_text, children, max_size=4)
    ),
    max_leaves=16,
)
#: Nesting deep enough to reach recursion limits in parsers, bounded to keep examples fast.
deep_values = st.integers(min_value=1, max_value=400).flatmap(
    lambda depth: st.sampled_from([[], {}]).map(lambda leaf: nested(leaf, depth))
)
any_json = st.one_of(json_values, deep_values)

METADATA_KEYS = (
    "version",
    "id",
    "status",
    "created",
    "last_active",
    "first_message",
    "name",
    "file_count",
    "message_count",
    "custom_fields",
)
MESSAGE_KEYS = ("role", "content", "timestamp", "id", "interrupted")


def nested(leaf: Any, depth: int) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


#: Values that are nearly right: the right JSON type, out of range or of a near-miss shape.
HOSTILE_VALUES = (
    2**63,
    2**64,
    2**70,
    -(2**63) - 1,
    10**30,
    -1,
    1e308,
    -0.0,
    True,
    *ODD_STRINGS,
)


def edit_lists(keys: tuple[str, ...]) -> st.SearchStrategy[list[tuple[str, Any]]]:
    """1-3 edits of a JSON object: ``(key, value)`` sets, ``(key, DELETE)`` removes. Mostly the
    object's own keys and nearly-right values, so the edited document gets past the first checks."""
    key = st.one_of(st.sampled_from(keys), st.sampled_from(keys), odd_text)
    value = st.one_of(
        st.sampled_from(HOSTILE_VALUES), st.sampled_from(HOSTILE_VALUES), any_json, st.just(DELETE)
    )
    return st.lists(st.tuples(key, value), min_size=1, max_size=3)


DELETE = object()


def edited(base: dict[str, Any], edits: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(base)
    for key, value in edits:
        if value is DELETE:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def dump_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


#: A document: raw bytes, any JSON value, or the real document with a few fields changed.
def documents(keys: tuple[str, ...]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.binary(max_size=300).map(lambda b: ("bytes", b)),
        any_json.map(lambda v: ("json", v)),
        edit_lists(keys).map(lambda e: ("edit", e)),
        edit_lists(keys).map(lambda e: ("edit", e)),
    )


#: A value for one SQLite cell (huge ints go in as text: SQLite stores at most 64 bits).
cells = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    odd_text,
    st.binary(max_size=40),
    any_json.map(lambda v: dump_json(v).decode("utf-8", "replace")),
)
INDEX_COLUMNS = (
    "id",
    "status",
    "last_active",
    "name",
    "name_lower",
    "first_message",
    "first_lower",
    "message_count",
    "created",
    "file_count",
    "custom",
    "meta",
    "stamp",
)

"""The settings a user can set: each one's key, variable, flag, default, meaning and parser.

:data:`SETTINGS` is the one definition of every setting; :mod:`chatcli.config` reads the sources
(flags, environment, ``config.toml``) through it, and the README's Models table is generated from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from chatcli.chat.backend import DEFAULT_HISTORY_BUDGET
from chatcli.session.fields import SYSTEM_PROMPT_MAX

__all__ = [
    "BACKENDS",
    "DEFAULT_BASE_URL",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_OPENAI_MODEL",
    "DEFAULT_READ_TIMEOUT",
    "ENV_VARS",
    "FLAGS",
    "NUMERIC",
    "OFFLINE_MODEL",
    "PARSERS",
    "SETTINGS",
    "SETTING_KEYS",
    "BackendName",
    "InvalidValue",
    "SettingSpec",
    "is_unset",
    "settings_table",
]

BackendName = Literal["offline", "openai"]

# The openai backend's defaults, here (not in chat/openai.py) so that reading the settings never
# loads the openai backend's module: the offline default never uses it.
DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 60.0
BACKENDS: tuple[BackendName, ...] = ("offline", "openai")
OFFLINE_MODEL = "echo"


# -- value parsing ---------------------------------------------------------------------------------

_Parser = Callable[[object], object]


class InvalidValue(ValueError):
    """A value that breaks a setting's rule; the message completes "<setting> ..."."""


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"must be text (a quoted string), not {_type_name(value)}")
    return value.strip()


def _parse_backend(value: object) -> BackendName:
    text = _text(value).lower()
    if text not in BACKENDS:
        raise InvalidValue(f"is {text!r}, which is not a backend (choose {' or '.join(BACKENDS)})")
    return text


def _parse_model(value: object) -> str:
    text = _text(value)
    if not text:
        raise InvalidValue("is empty")
    return text


def _parse_base_url(value: object) -> str:
    text = _text(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidValue(f"is {text!r}, which is not an http:// or https:// address")
    return text.rstrip("/")


def _parse_api_key(value: object) -> str:
    text = _text(value)
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise InvalidValue("contains spaces or invisible characters")
    return text


def _parse_system_prompt(value: object) -> str:
    text = _text(value)
    if len(text) > SYSTEM_PROMPT_MAX:
        raise InvalidValue(f"is {len(text)} characters long; at most {SYSTEM_PROMPT_MAX} are kept")
    return text


def _parse_budget(value: object) -> int:
    if isinstance(value, str):
        try:
            number = int(value.strip().replace("_", ""))
        except ValueError:
            raise InvalidValue(f"must be a whole number of characters, not {value!r}") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise InvalidValue(f"must be a whole number of characters, not {_type_name(value)}")
    if number <= 0:
        raise InvalidValue(f"must be more than 0, not {number}")
    return number


def _parse_seconds(value: object) -> float:
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise InvalidValue(f"must be a number of seconds, not {value!r}") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        raise InvalidValue(f"must be a number of seconds, not {_type_name(value)}")
    if not math.isfinite(number) or number <= 0:
        raise InvalidValue(f"must be a positive number of seconds, not {value}")
    return number


def _parse_retention(value: object) -> str:
    from chatcli.commands.spec import format_duration, parse_duration

    text = _text(value).lower()
    if text == "off":
        return text
    try:
        return format_duration(parse_duration(text))
    except ValueError as exc:
        raise InvalidValue(f"is not a duration nor off: {exc}") from None


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One setting: its ``config.toml`` key, variable, flag, documented default, meaning and parser.

    :data:`SETTINGS` is the one definition of every setting: the config file, the environment, the
    flags, ``--print-config`` and the README's Models table (see :func:`settings_table`) follow it.
    """

    key: str
    env: str
    flag: str | None
    default: str
    meaning: str
    parse: _Parser


#: Every setting, in display order.
SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "backend", "CHATCLI_BACKEND", "--backend", "`offline`", "`offline` or `openai`", _parse_backend
    ),
    SettingSpec(
        "model",
        "CHATCLI_MODEL",
        "--model",
        f"`{OFFLINE_MODEL}` (offline), `{DEFAULT_OPENAI_MODEL}` (openai)",
        "the model name sent with each request",
        _parse_model,
    ),
    SettingSpec(
        "base_url",
        "OPENAI_BASE_URL",
        "--base-url",
        f"`{DEFAULT_BASE_URL}`",
        "the OpenAI-compatible API's address (usually ends in `/v1`)",
        _parse_base_url,
    ),
    SettingSpec(
        "api_key",
        "OPENAI_API_KEY",
        None,
        "none",
        "sent as a Bearer token; local servers need none",
        _parse_api_key,
    ),
    SettingSpec(
        "system_prompt",
        "CHATCLI_SYSTEM_PROMPT",
        "--system",
        "none",
        "the system prompt sent first with every request; a new session keeps it (resumed ones keep theirs)",
        _parse_system_prompt,
    ),
    SettingSpec(
        "history_budget",
        "CHATCLI_HISTORY_BUDGET",
        None,
        f"`{DEFAULT_HISTORY_BUDGET}`",
        "characters of the conversation sent with each message (older exchanges are left out whole)",
        _parse_budget,
    ),
    SettingSpec(
        "request_timeout",
        "CHATCLI_REQUEST_TIMEOUT",
        None,
        f"`{DEFAULT_READ_TIMEOUT:g}`",
        "seconds to wait for more of a reply before giving up",
        _parse_seconds,
    ),
    SettingSpec(
        "connect_timeout",
        "CHATCLI_CONNECT_TIMEOUT",
        None,
        f"`{DEFAULT_CONNECT_TIMEOUT:g}`",
        "seconds to wait for the connection to the server",
        _parse_seconds,
    ),
    SettingSpec(
        "trash_retention",
        "CHATCLI_TRASH_RETENTION",
        None,
        "`off`",
        "how long deleted sessions stay in the trash before chatcli erases them (e.g. `30d`); "
        "`off`: until you empty it",
        _parse_retention,
    ),
)

#: The environment variable read for each setting.
ENV_VARS: Mapping[str, str] = {spec.key: spec.env for spec in SETTINGS}
#: The command-line flag of each setting that has one.
FLAGS: Mapping[str, str] = {spec.key: spec.flag for spec in SETTINGS if spec.flag}
#: Every setting name, in display order (also the keys accepted in ``config.toml`` and in ``flags``).
SETTING_KEYS: tuple[str, ...] = tuple(ENV_VARS)
PARSERS: Mapping[str, _Parser] = {spec.key: spec.parse for spec in SETTINGS}


def settings_table() -> list[str]:
    """The rows of the README's Models table (Markdown), generated from :data:`SETTINGS`."""
    rows = [
        "| `config.toml` key | flag | environment | default | what it sets |",
        "| --- | --- | --- | --- | --- |",
    ]
    for spec in SETTINGS:
        flag = f"`{spec.flag}`" if spec.flag else "—"
        rows.append(f"| `{spec.key}` | {flag} | `{spec.env}` | {spec.default} | {spec.meaning} |")
    return rows


NUMERIC = frozenset({"history_budget", "request_timeout", "connect_timeout"})


def _type_name(value: object) -> str:
    names = {
        bool: "true/false",
        int: "a number",
        float: "a decimal number",
        str: "text",
        list: "a list",
        dict: "a table",
    }
    return next((name for kind, name in names.items() if type(value) is kind), type(value).__name__)


def is_unset(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())

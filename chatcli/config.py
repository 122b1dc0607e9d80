"""Settings: command-line flags, then environment variables, then ``config.toml``, then defaults.

The config file is ``config.toml`` in the platform's user config folder (``~/.config/chatcli`` on
Linux), or the file named by ``CHATCLI_CONFIG``. Every key is optional::

    backend = "openai"                  # "offline" (the default) or "openai"
    model = "gpt-4o-mini"               # default: "echo" offline, "gpt-4o-mini" for openai
    base_url = "http://localhost:11434/v1"
    api_key = "sk-..."                  # local servers (Ollama, LM Studio) need none
    system_prompt = "Be brief."         # sent first with every request (kept with each new session)
    history_budget = 24000              # characters of conversation sent per request
    request_timeout = 60                # seconds to wait for more of the reply
    connect_timeout = 10                # seconds to wait for the connection

Environment variables: ``CHATCLI_BACKEND``, ``CHATCLI_MODEL``, ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``,
``CHATCLI_SYSTEM_PROMPT``, ``CHATCLI_HISTORY_BUDGET``, ``CHATCLI_REQUEST_TIMEOUT``,
``CHATCLI_CONNECT_TIMEOUT``.

The backend is always chosen explicitly: it stays ``offline`` unless ``backend = "openai"`` is set
by a flag, ``CHATCLI_BACKEND`` or the file, even when an API key or base URL is configured.
A value given as an empty string (``OPENAI_API_KEY=``) counts as not set.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from chatcli.chat.backend import DEFAULT_HISTORY_BUDGET
from chatcli.config_settings import (
    BACKENDS,
    DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_OPENAI_MODEL,
    DEFAULT_READ_TIMEOUT,
    ENV_VARS,
    FLAGS,
    NUMERIC,
    OFFLINE_MODEL,
    PARSERS,
    SETTING_KEYS,
    SETTINGS,
    BackendName,
    InvalidValue,
    SettingSpec,
    is_unset,
    settings_table,
)
from chatcli.errors import ChatcliError, ExitCode
from chatcli.sanitize import mask_secret, shorten

__all__ = [
    "BACKENDS",
    "CONFIG_ENV",
    "CONFIG_FILE_NAME",
    "ENV_VARS",
    "OFFLINE_MODEL",
    "SETTINGS",
    "SETTING_KEYS",
    "BackendName",
    "ConfigError",
    "SettingSpec",
    "Settings",
    "default_config_path",
    "load_settings",
    "mask_secret",
    "settings_table",
]

CONFIG_FILE_NAME = "config.toml"
#: Environment variable naming the config file to read instead of the default one.
CONFIG_ENV = "CHATCLI_CONFIG"
#: The largest config file read (a real one is a few hundred bytes).
MAX_CONFIG_BYTES = 1024 * 1024

_DEFAULT_SOURCE = "default"


class ConfigError(ChatcliError):
    """A setting that cannot be used: a broken config file, a bad environment variable or flag.

    ``where`` names the source (the file path, the variable, the option) and ``problem`` what is
    wrong with it.
    """

    kind = "config"
    exit_code = ExitCode.CONFIG
    title = "Configuration error"

    def __init__(self, where: str, problem: str, hint: str, path: Path | None = None) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem
        self.hint = hint
        self.path = path

    def user_message(self) -> str:
        """What is wrong, where, and how to fix it."""
        return f"Configuration error in {self.where}: {self.problem}.\n{self.hint}"


@dataclass(frozen=True)
class Settings:
    """The resolved configuration, with where each value came from.

    ``sources`` maps a setting name to a label such as ``flag --model``, ``env OPENAI_API_KEY``,
    ``config file`` or ``default``; ``config_path`` is the config file consulted (whether or not it
    existed, see ``config_loaded``). ``api_key`` is left out of ``repr``.
    """

    backend: BackendName = "offline"
    model: str = OFFLINE_MODEL
    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = field(default=None, repr=False)
    system_prompt: str | None = None
    history_budget: int = DEFAULT_HISTORY_BUDGET
    request_timeout: float = DEFAULT_READ_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    trash_retention: str = "off"
    config_path: Path | None = None
    config_loaded: bool = False
    config_source: str = _DEFAULT_SOURCE
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def source_of(self, key: str) -> str:
        """Where the setting ``key`` came from (``default`` when it was not configured)."""
        if key not in SETTING_KEYS:
            raise KeyError(key)
        return self.sources.get(key, _DEFAULT_SOURCE)

    def _shown(self, key: str) -> str:
        value = getattr(self, key)
        if key == "api_key":
            return mask_secret(value)
        if value is None:
            return "none"
        if key == "system_prompt":
            return shorten(" ".join(value.split()), 80)
        return f"{value:g}" if isinstance(value, float) else str(value)

    def describe(self) -> list[tuple[str, str, str]]:
        """Rows of ``(setting, value, source)`` for ``--print-config``; the API key is masked."""
        rows = [(spec.key, self._shown(spec.key), self.source_of(spec.key)) for spec in SETTINGS]
        if self.config_path is not None:
            state = "" if self.config_loaded else " (not found)"
            rows.append(("config_file", f"{self.config_path}{state}", self.config_source))
        return rows


def default_config_path() -> Path:
    """``config.toml`` in the platform's user config folder for chatcli."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("chatcli", appauthor=False)) / CONFIG_FILE_NAME


# -- sources ---------------------------------------------------------------------------------------


def _config_location(config_path: Path | None, environ: Mapping[str, str]) -> tuple[Path, str, bool]:
    """The config file to read, a label for where that choice came from, and whether it must exist."""
    if config_path is not None:
        return Path(config_path).expanduser(), "explicit path", True
    named = environ.get(CONFIG_ENV, "").strip()
    if named:
        return Path(named).expanduser(), f"env {CONFIG_ENV}", True
    return default_config_path(), _DEFAULT_SOURCE, False


def _file_hint(path: Path) -> str:
    return (
        f"Fix or remove {path} (or point {CONFIG_ENV} at another file); "
        "'chatcli --print-config' shows the settings in use."
    )


def _read_at_most(fd: int, limit: int) -> bytes:
    """Up to ``limit`` bytes from ``fd`` (fewer only at the end of the file)."""
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _config_bytes(path: Path, must_exist: bool) -> bytes | None:
    """The config file's bytes (None when an optional file is missing): only a regular file of
    at most :data:`MAX_CONFIG_BYTES` is read (never /dev/zero, a FIFO or a folder)."""
    where = f"config file {path}"
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; regular files ignore it.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        if not must_exist:
            return None
        raise ConfigError(where, "the file does not exist", _file_hint(path), path) from None
    except IsADirectoryError:
        raise ConfigError(where, "it is a folder, not a file", _file_hint(path), path) from None
    except OSError as exc:
        problem = f"it cannot be read ({exc.strerror or exc})"
        raise ConfigError(where, problem, _file_hint(path), path) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            problem = "it is a folder, not a file"
        elif not stat.S_ISREG(info.st_mode):
            problem = "it is not a regular file (a device, a pipe or a socket)"
        else:
            raw = _read_at_most(fd, MAX_CONFIG_BYTES + 1)
            if len(raw) <= MAX_CONFIG_BYTES:
                return raw
            problem = (
                f"it is larger than {MAX_CONFIG_BYTES // 1024 // 1024} MiB, far more than a config needs"
            )
    except OSError as exc:
        problem = f"it cannot be read ({exc.strerror or exc})"
    finally:
        os.close(fd)
    raise ConfigError(where, problem, _file_hint(path), path)


def _read_config_file(path: Path, must_exist: bool) -> dict[str, object] | None:
    """The validated values of the config file, or ``None`` when an optional file is missing."""
    where = f"config file {path}"
    raw = _config_bytes(path, must_exist)
    if raw is None:
        return None
    import tomllib  # only when there is a file to read

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(where, "it is not UTF-8 text", _file_hint(path), path) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(where, f"it is not valid TOML ({exc})", _file_hint(path), path) from None
    except (RecursionError, MemoryError):
        problem = "it is not valid TOML (nested too deeply to read)"
        raise ConfigError(where, problem, _file_hint(path), path) from None

    values: dict[str, object] = {}
    for key, value in data.items():
        if key not in PARSERS:
            import difflib

            close = difflib.get_close_matches(key, SETTING_KEYS, n=1)
            suggestion = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(SETTING_KEYS)
            problem = f"unknown setting {key!r}{suggestion}; the known settings are {known}"
            raise ConfigError(where, problem, _file_hint(path), path)
        if is_unset(value):
            continue
        if key in NUMERIC and isinstance(value, str):  # only flags and variables are text by nature
            problem = f"{key} must be a number (without quotes), not the text {value!r}"
            raise ConfigError(where, problem, _file_hint(path), path)
        try:
            values[key] = PARSERS[key](value)
        except InvalidValue as exc:
            raise ConfigError(where, f"{key} {exc}", _file_hint(path), path) from None
    return values


def _read_environment(environ: Mapping[str, str]) -> dict[str, tuple[object, str]]:
    values: dict[str, tuple[object, str]] = {}
    for key, variable in ENV_VARS.items():
        raw = environ.get(variable)
        if is_unset(raw):
            continue
        try:
            values[key] = (PARSERS[key](raw), f"env {variable}")
        except InvalidValue as exc:
            raise ConfigError(
                f"environment variable {variable}",
                f"{variable} {exc}",
                f"Fix or unset {variable}.",
            ) from None
    return values


def _flag_name(key: str) -> str:
    return FLAGS.get(key, "--" + key.replace("_", "-"))


def _read_flags(flags: Mapping[str, object | None]) -> dict[str, tuple[object, str]]:
    values: dict[str, tuple[object, str]] = {}
    for key in SETTING_KEYS:
        raw = flags.get(key)
        if is_unset(raw):
            continue
        try:
            values[key] = (PARSERS[key](raw), f"flag {_flag_name(key)}")
        except InvalidValue as exc:
            raise ConfigError(
                f"option {_flag_name(key)}",
                f"{_flag_name(key)} {exc}",
                "Check the option's value (see 'chatcli --help').",
            ) from None
    return values


def load_settings(
    flags: Mapping[str, object | None] | None = None,
    environ: Mapping[str, str] | None = None,
    config_path: Path | None = None,
) -> Settings:
    """Resolve the settings: ``flags`` > ``environ`` > the config file > defaults.

    ``flags`` maps setting names (see :data:`SETTING_KEYS`) to values; ``None`` and other keys are
    ignored, so ``vars(argparse_namespace)`` can be passed as it is. ``environ`` defaults to
    ``os.environ``. The config file is ``config_path``, else ``$CHATCLI_CONFIG``, else
    :func:`default_config_path`; a file named explicitly must exist, the default one may not.
    Raises :class:`ConfigError` for anything that cannot be used.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    path, path_source, must_exist = _config_location(config_path, env)
    file_values = _read_config_file(path, must_exist)

    resolved: dict[str, object] = {}
    sources: dict[str, str] = {}
    for key, value in (file_values or {}).items():
        resolved[key], sources[key] = value, "config file"
    for layer in (_read_environment(env), _read_flags(flags or {})):
        for key, (value, source) in layer.items():
            resolved[key], sources[key] = value, source

    backend = cast(BackendName, resolved.get("backend", "offline"))
    if "model" not in resolved:
        resolved["model"] = OFFLINE_MODEL if backend == "offline" else DEFAULT_OPENAI_MODEL
    return Settings(
        backend=backend,
        model=cast(str, resolved["model"]),
        base_url=cast(str, resolved.get("base_url", DEFAULT_BASE_URL)),
        api_key=cast("str | None", resolved.get("api_key")),
        system_prompt=cast("str | None", resolved.get("system_prompt")),
        history_budget=cast(int, resolved.get("history_budget", DEFAULT_HISTORY_BUDGET)),
        request_timeout=cast(float, resolved.get("request_timeout", DEFAULT_READ_TIMEOUT)),
        connect_timeout=cast(float, resolved.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT)),
        trash_retention=cast(str, resolved.get("trash_retention", "off")),
        config_path=path,
        config_loaded=file_values is not None,
        config_source=path_source,
        sources=sources,
    )

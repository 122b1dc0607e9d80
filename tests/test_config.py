"""Settings: precedence of flags, environment, config file and defaults; masking; broken sources."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chatcli.chat.backend import DEFAULT_HISTORY_BUDGET
from chatcli.chat.factory import create_backend
from chatcli.chat.offline import OfflineBackend
from chatcli.chat.openai import DEFAULT_BASE_URL, DEFAULT_OPENAI_MODEL, OpenAIBackend
from chatcli.config import ConfigError, Settings, default_config_path, load_settings, mask_secret
from chatcli.errors import ExitCode


@pytest.fixture(autouse=True)
def isolated_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xdg-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("CHATCLI_CONFIG", raising=False)
    return home


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


FULL_FILE = """
backend = "openai"
model = "file-model"
base_url = "http://file.example/v1/"
api_key = "sk-file-000000001111"
history_budget = 1000
request_timeout = 30
connect_timeout = 2.5
"""


def test_defaults_when_nothing_is_configured() -> None:
    settings = load_settings({}, environ={})
    assert settings.backend == "offline"
    assert settings.model == "echo"
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.api_key is None
    assert settings.history_budget == DEFAULT_HISTORY_BUDGET
    assert (settings.request_timeout, settings.connect_timeout) == (60.0, 10.0)
    assert settings.config_path == default_config_path()
    assert not settings.config_loaded
    assert {source for _, _, source in settings.describe()} == {"default"}


def test_default_config_file_lives_in_the_user_config_dir(isolated_config_home: Path) -> None:
    assert default_config_path() == isolated_config_home / "chatcli" / "config.toml"
    write(default_config_path(), 'model = "from-default-file"\n')
    settings = load_settings({}, environ={})
    assert settings.model == "from-default-file"
    assert settings.config_loaded
    assert settings.source_of("model") == "config file"


def test_config_file_overrides_defaults(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", FULL_FILE)
    settings = load_settings({}, environ={}, config_path=path)
    assert settings.backend == "openai"
    assert settings.model == "file-model"
    assert settings.base_url == "http://file.example/v1"
    assert settings.api_key == "sk-file-000000001111"
    assert settings.history_budget == 1000
    assert (settings.request_timeout, settings.connect_timeout) == (30.0, 2.5)
    given = (
        "backend",
        "model",
        "base_url",
        "api_key",
        "history_budget",
        "request_timeout",
        "connect_timeout",
    )
    assert all(settings.source_of(key) == "config file" for key in given)


def test_environment_overrides_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", FULL_FILE)
    environ = {
        "CHATCLI_BACKEND": "offline",
        "CHATCLI_MODEL": "env-model",
        "OPENAI_BASE_URL": "http://env.example/v1",
        "OPENAI_API_KEY": "sk-env-000000002222",
        "CHATCLI_HISTORY_BUDGET": "2_000",
        "CHATCLI_REQUEST_TIMEOUT": "5",
        "CHATCLI_CONNECT_TIMEOUT": "0.5",
    }
    settings = load_settings({}, environ=environ, config_path=path)
    assert settings.backend == "offline"
    assert settings.model == "env-model"
    assert settings.base_url == "http://env.example/v1"
    assert settings.api_key == "sk-env-000000002222"
    assert settings.history_budget == 2000
    assert (settings.request_timeout, settings.connect_timeout) == (5.0, 0.5)
    assert settings.source_of("api_key") == "env OPENAI_API_KEY"
    assert settings.source_of("model") == "env CHATCLI_MODEL"


def test_flags_override_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", FULL_FILE)
    environ = {
        "CHATCLI_BACKEND": "offline",
        "CHATCLI_MODEL": "env-model",
        "OPENAI_API_KEY": "sk-env-000000002222",
    }
    flags = {
        "backend": "openai",
        "model": "flag-model",
        "base_url": None,  # not given on the command line: falls through
        "api_key": "sk-flag-000000003333",
        "history_budget": 3000,
        "request_timeout": 7.5,
        "sessions_dir": "/elsewhere",  # unrelated argparse entries are ignored
    }
    settings = load_settings(flags, environ=environ, config_path=path)
    assert settings.backend == "openai"
    assert settings.model == "flag-model"
    assert settings.base_url == "http://file.example/v1"
    assert settings.api_key == "sk-flag-000000003333"
    assert settings.history_budget == 3000
    assert settings.request_timeout == 7.5
    assert settings.connect_timeout == 2.5
    assert settings.source_of("model") == "flag --model"
    assert settings.source_of("base_url") == "config file"
    assert settings.source_of("history_budget") == "flag --history-budget"


def test_empty_values_count_as_not_set(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'api_key = "sk-file-000000001111"\n')
    settings = load_settings(
        {"api_key": ""}, environ={"OPENAI_API_KEY": "", "CHATCLI_MODEL": " "}, config_path=path
    )
    assert settings.api_key == "sk-file-000000001111"
    assert settings.model == "echo"


def test_backend_stays_offline_unless_chosen() -> None:
    environ = {"OPENAI_API_KEY": "sk-env-000000002222", "OPENAI_BASE_URL": "http://localhost:11434/v1"}
    assert load_settings({}, environ=environ).backend == "offline"


def test_model_default_follows_the_backend() -> None:
    settings = load_settings({"backend": "OpenAI"}, environ={})
    assert (settings.backend, settings.model) == ("openai", DEFAULT_OPENAI_MODEL)
    assert settings.source_of("model") == "default"


def test_config_path_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path / "elsewhere.toml", 'model = "via-env-path"\n')
    settings = load_settings({}, environ={"CHATCLI_CONFIG": str(path)})
    assert settings.model == "via-env-path"
    assert settings.config_path == path
    assert ("config_file", str(path), "env CHATCLI_CONFIG") in settings.describe()


def test_config_path_parameter_beats_the_environment(tmp_path: Path) -> None:
    chosen = write(tmp_path / "chosen.toml", 'model = "chosen"\n')
    other = write(tmp_path / "other.toml", 'model = "other"\n')
    assert load_settings({}, environ={"CHATCLI_CONFIG": str(other)}, config_path=chosen).model == "chosen"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "(not set)"),
        ("", "(not set)"),
        ("short", "(set, hidden)"),
        ("sk-abcdefghijklmnopabcd", "sk-…abcd"),
        ("sk-proj-abcdefghijklWXYZ", "sk-…WXYZ"),
        ("0123456789abcdef", "…cdef"),
    ],
)
def test_mask_secret(value: str | None, shown: str) -> None:
    assert mask_secret(value) == shown


def test_describe_masks_the_key_and_names_sources(tmp_path: Path) -> None:
    key = "sk-secret-abcdefgh9876"
    settings = load_settings({"model": "m"}, environ={"OPENAI_API_KEY": key}, config_path=None)
    rows = {name: (value, source) for name, value, source in settings.describe()}
    assert rows["api_key"] == ("sk-…9876", "env OPENAI_API_KEY")
    assert rows["model"] == ("m", "flag --model")
    assert rows["config_file"][0].endswith("config.toml (not found)")
    assert key not in repr(settings) and key not in str(settings.describe())


def test_settings_built_directly_report_defaults() -> None:
    settings = Settings()
    assert settings.source_of("backend") == "default"
    with pytest.raises(KeyError):
        settings.source_of("nope")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('backend = "openai"\nmodel = \n', "not valid TOML"),
        ("backend = 'claude'\n", "'claude', which is not a backend (choose offline or openai)"),
        ("model = 42\n", "model must be text (a quoted string), not a number"),
        (
            'history_budget = "lots"\n',
            "history_budget must be a number (without quotes), not the text 'lots'",
        ),
        (
            "history_budget = 1.5\n",
            "history_budget must be a whole number of characters, not a decimal number",
        ),
        ("history_budget = 0\n", "history_budget must be more than 0"),
        ("history_budget = true\n", "not true/false"),
        ("request_timeout = -1\n", "request_timeout must be a positive number of seconds"),
        ('base_url = "localhost:8080"\n', "not an http:// or https:// address"),
        ('api_key = "sk-abc def"\n', "api_key contains spaces"),
        ('modle = "x"\n', "unknown setting 'modle' (did you mean 'model'?)"),
        ("[openai]\nmodel = 'x'\n", "unknown setting 'openai'"),
    ],
)
def test_bad_config_file(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_settings({}, environ={}, config_path=path)
    message = caught.value.user_message()
    assert fragment in message
    assert str(path) in message
    assert caught.value.path == path
    assert "Traceback" not in message


def test_unreadable_config_files(tmp_path: Path) -> None:
    not_utf8 = tmp_path / "latin1.toml"
    not_utf8.write_bytes('model = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings({}, environ={}, config_path=not_utf8)
    with pytest.raises(ConfigError, match="folder"):
        load_settings({}, environ={}, config_path=tmp_path)


def test_explicit_config_file_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as caught:
        load_settings({}, environ={"CHATCLI_CONFIG": str(missing)})
    assert "does not exist" in caught.value.user_message()
    assert str(missing) in caught.value.user_message()


def test_bad_default_config_file_is_reported(isolated_config_home: Path) -> None:
    write(default_config_path(), "backend = \n")
    with pytest.raises(ConfigError) as caught:
        load_settings({}, environ={})
    assert str(default_config_path()) in caught.value.user_message()


def test_bad_environment_variable_is_named() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({}, environ={"CHATCLI_BACKEND": "gpt"})
    message = caught.value.user_message()
    assert "environment variable CHATCLI_BACKEND" in message
    assert "unset CHATCLI_BACKEND" in message


def test_bad_flag_is_named() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"request_timeout": "soon"}, environ={})
    assert "option --request-timeout" in caught.value.user_message()
    assert caught.value.exit_code == ExitCode.CONFIG


def test_factory_builds_the_configured_backend(tmp_path: Path) -> None:
    offline = create_backend(load_settings({}, environ={}), offline_delay=0.01)
    assert isinstance(offline, OfflineBackend) and offline.delay == 0.01

    path = write(tmp_path / "c.toml", FULL_FILE)
    backend = create_backend(load_settings({}, environ={}, config_path=path))
    assert isinstance(backend, OpenAIBackend)
    assert backend.model == "file-model"
    assert backend.endpoint == "http://file.example/v1/chat/completions"
    assert backend.request_headers()["Authorization"] == "Bearer sk-file-000000001111"
    assert (backend.connect_timeout, backend.read_timeout) == (2.5, 30.0)


def test_hostile_config_files_are_config_errors(tmp_path: Path) -> None:
    """A config file 100,000 levels deep, /dev/zero, a FIFO or a huge file is a ConfigError
    naming the file (never a RecursionError/MemoryError traceback, never a hang)."""
    deep = write(tmp_path / "deep.toml", "a = " + "[" * 100_000 + "\n")
    huge = tmp_path / "huge.toml"
    with huge.open("wb") as handle:  # sparse: no disk is spent on it
        handle.truncate(2 * 1024 * 1024 * 1024)
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    cases = {deep: "not valid TOML", Path("/dev/zero"): "not a regular file", fifo: "not a regular file"}
    cases[huge] = "larger than"
    for path, fragment in cases.items():
        with pytest.raises(ConfigError) as caught:
            load_settings({}, environ={"CHATCLI_CONFIG": str(path)})
        message = caught.value.user_message()
        assert fragment in message, message
        assert str(path) in message

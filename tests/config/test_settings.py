"""Settings come from the environment, and a bad value stops start-up naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import SettingError, env_bool, env_int, env_list, env_url

ROOT = Path(__file__).resolve().parents[2]


def start_django(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Load the settings in a fresh interpreter, as `manage.py` would at start-up."""
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    base.update({"DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path)})
    base.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"DEBUG": "false", "SECRET_KEY": ""}, "SECRET_KEY is required when DEBUG is off"),
        ({"DATABASE_URL": "mysql://db/x"}, "DATABASE_URL must start with one of postgres://"),
        ({"DATABASE_URL": "postgres://db:port/x"}, "DATABASE_URL is not a valid URL"),
        ({"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL must start with one of redis://"),
        ({"ALLOWED_HOSTS": "example.com,,x"}, "ALLOWED_HOSTS='example.com,,x' has an empty entry"),
        ({"HEALTH_CHECK_TIMEOUT_SECONDS": "soon"}, "HEALTH_CHECK_TIMEOUT_SECONDS='soon'"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL='LOUD' is not one of"),
    ],
)
def test_a_malformed_setting_stops_start_up_naming_the_variable(env, named, tmp_path):
    result = start_django(env, tmp_path)

    assert result.returncode != 0
    assert "started" not in result.stdout
    assert named in result.stderr


def test_production_settings_start_with_a_secret_key(tmp_path):
    result = start_django(
        {"DEBUG": "false", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "support.example.com"}, tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_development_secret_key_is_generated_once_and_kept(tmp_path):
    first = start_django({"DEBUG": "true"}, tmp_path)
    key_file = tmp_path / "secret_key"
    key = key_file.read_text()
    second = start_django({"DEBUG": "true"}, tmp_path)

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert len(key) >= 50
    assert key_file.read_text() == key
    assert key_file.stat().st_mode & 0o077 == 0, "the key must not be readable by other users"


def test_env_bool_accepts_common_spellings():
    assert env_bool("X", False, environ={"X": "Yes"}) is True
    assert env_bool("X", True, environ={"X": "off"}) is False
    assert env_bool("X", True, environ={}) is True
    assert env_bool("X", False, environ={"X": "  "}) is False


def test_env_int_enforces_its_minimum():
    assert env_int("N", 2, minimum=1, environ={"N": "5"}) == 5
    with pytest.raises(SettingError, match="N=0 must be at least 1"):
        env_int("N", 2, minimum=1, environ={"N": "0"})


def test_env_list_splits_on_commas():
    assert env_list("H", ["a"], environ={"H": "a.example, b.example"}) == ["a.example", "b.example"]
    assert env_list("H", ["a"], environ={}) == ["a"]


def test_env_url_rejects_a_url_without_host():
    with pytest.raises(SettingError, match="REDIS_URL names no host"):
        env_url("REDIS_URL", ("redis",), environ={"REDIS_URL": "redis://"})
    assert env_url("REDIS_URL", ("redis",), environ={"REDIS_URL": "redis://127.0.0.1:6379/0"})


def test_redis_url_switches_channels_and_celery_to_redis(tmp_path):
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.CHANNEL_LAYERS['default']['BACKEND'], s.CELERY_BROKER_URL, "
        "s.CELERY_TASK_ALWAYS_EAGER)"
    )
    env = {**os.environ, "VAR_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:6379/3"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.split() == [
        "channels_redis.core.RedisChannelLayer",
        "redis://127.0.0.1:6379/3",
        "False",
    ]

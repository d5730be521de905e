"""Typed readers for settings that come from the environment.

Every reader fails loudly with the variable's name: a typo in a deployment must stop start-up,
not fall back on a default nobody asked for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


class SettingError(ImproperlyConfigured):
    """A setting read from the environment is malformed."""


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    value = (os.environ if environ is None else environ).get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def env_str(
    name: str, default: str | None = None, *, environ: Mapping[str, str] | None = None
) -> str | None:
    value = _raw(name, environ)
    return default if value is None else value


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise SettingError(
        f"{name}={value!r} is not a boolean: use one of {sorted(TRUE_WORDS | FALSE_WORDS)}."
    )


def env_int(
    name: str, default: int, *, minimum: int | None = None, environ: Mapping[str, str] | None = None
) -> int:
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SettingError(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise SettingError(f"{name}={number} must be at least {minimum}.")
    return number


def env_list(
    name: str, default: list[str], *, environ: Mapping[str, str] | None = None
) -> list[str]:
    value = _raw(name, environ)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise SettingError(f"{name}={value!r} has an empty entry: separate values with commas.")
    return items


def env_url(
    name: str, schemes: tuple[str, ...], *, environ: Mapping[str, str] | None = None
) -> str | None:
    """A URL whose scheme must be one of `schemes`, or None when the variable is unset."""
    value = _raw(name, environ)
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as error:
        raise SettingError(f"{name} is not a valid URL: {error}.") from None
    if parts.scheme not in schemes:
        raise SettingError(
            f"{name} must start with one of {', '.join(s + '://' for s in schemes)} "
            f"(got {parts.scheme + '://' if parts.scheme else 'no scheme'})."
        )
    if not parts.hostname and not parts.path.strip("/"):
        raise SettingError(f"{name} names no host.")
    return value


def development_secret_key(var_dir: os.PathLike[str] | str) -> str:
    """The secret key of a development checkout: generated once, then kept under `var/`.

    Keeping it means sessions survive a restart of `make run`.
    """
    import secrets
    from pathlib import Path

    path = Path(var_dir) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.touch(mode=0o600)
    path.write_text(key)
    return key


def env_rate(
    name: str, default: tuple[int, int], *, environ: Mapping[str, str] | None = None
) -> tuple[int, int]:
    """A rate written "<count>/<seconds>" ("20/10": 20 per 10 seconds), as (count, seconds)."""
    value = _raw(name, environ)
    if value is None:
        return default
    count, _, seconds = value.partition("/")
    try:
        rate = (int(count), int(seconds))
    except ValueError:
        raise SettingError(
            f"{name}={value!r} is not a rate: write <count>/<seconds>, e.g. 20/10."
        ) from None
    if rate[0] < 1 or rate[1] < 1:
        raise SettingError(f"{name}={value!r}: the count and the seconds must be at least 1.")
    return rate

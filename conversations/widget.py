"""The embeddable chat widget: which sites may frame a workspace's chat page.

A site is named by its origin, `scheme://host[:port]`, the way browsers compare them:

- the scheme is http or https;
- the host is a domain name (an internationalised one is stored in its ASCII "xn--" form),
  `localhost`, an IPv4 address or an IPv6 address in brackets;
- a leading `*.` allows every subdomain of the domain after it, but not that domain itself
  (as in a Content-Security-Policy): `https://*.example.com` covers `https://shop.example.com`,
  list `https://example.com` too if the bare domain embeds the chat. The domain needs two parts
  or more, so `https://*.com` is refused;
- no path, query, fragment or user name; one trailing `/` is dropped;
- the scheme's default port (80, 443) is dropped, so `https://a.example:443` is `https://a.example`.

Origins are stored lower-case, without duplicates, in the admin's order, at most
`ALLOWED_ORIGINS_MAX`. The chat page sends them as `Content-Security-Policy: frame-ancestors`, so
the browser itself refuses to show the chat inside any other site.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction

from console.audit import Change, audit_record
from console.models import User, Workspace
from conversations.models import ChatWidgetSettings

logger = logging.getLogger(__name__)

ALLOWED_ORIGINS_MAX = 20
ORIGIN_MAX_LENGTH = 300
# A long list of mistakes is read as well in its first lines; the rest is counted.
ERRORS_LISTED_MAX = 10

_SCHEME_PORTS = {"http": 80, "https": 443}
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_DNS_NAME_MAX_LENGTH = 253
_SHOWN_ENTRY_MAX_LENGTH = 80
EXAMPLE = "https://www.example.com"


def origin_normalise(entry: str) -> str:
    """The origin `entry` names, in its stored form; ValidationError saying what is wrong."""
    text = entry.strip()
    if len(text) > ORIGIN_MAX_LENGTH:
        raise ValidationError(f"is longer than {ORIGIN_MAX_LENGTH} characters.")
    scheme, separator, rest = text.partition("://")
    if not separator:
        raise ValidationError(f"write the whole origin with its scheme, e.g. {EXAMPLE}.")
    scheme = scheme.lower()
    if scheme not in _SCHEME_PORTS:
        raise ValidationError("only http:// and https:// sites can embed the chat.")
    authority, remainder = _authority_split(rest)
    if remainder not in ("", "/"):
        if "?" in remainder or "#" in remainder:
            raise ValidationError("leave out the query and fragment: only scheme://host[:port].")
        raise ValidationError(f"leave out the path ({remainder}): only scheme://host[:port].")
    if "@" in authority:
        raise ValidationError("leave out the user name: only scheme://host[:port].")
    host, port = _host_port_split(authority)
    host = _host_normalise(host)
    port_suffix = "" if port in (None, _SCHEME_PORTS[scheme]) else f":{port}"
    return f"{scheme}://{host}{port_suffix}"


def allowed_origins_normalise(entries: Sequence[str], *, entry_label: str = "Entry") -> list[str]:
    """The stored form of a list of origins: blank entries skipped, duplicates dropped.

    Every bad entry is named by its position and text (`entry_label` 3, "ftp://x"), so a person
    can find it in what they typed: the console numbers the lines of its text box.
    """
    origins: list[str] = []
    errors: list[str] = []
    for number, entry in enumerate(entries, start=1):
        if not entry.strip():
            continue
        try:
            origin = origin_normalise(entry)
        except ValidationError as error:
            errors.append(f"{entry_label} {number} (“{_shown(entry)}”): {error.messages[0]}")
            continue
        if origin not in origins:
            origins.append(origin)
    if len(errors) > ERRORS_LISTED_MAX:
        more = len(errors) - ERRORS_LISTED_MAX
        errors = [*errors[:ERRORS_LISTED_MAX], f"… and {more} more entries that are not origins."]
    if len(origins) > ALLOWED_ORIGINS_MAX:
        errors.append(
            f"At most {ALLOWED_ORIGINS_MAX} sites can embed the chat; this list has "
            f"{len(origins)}. A wildcard such as https://*.example.com covers every subdomain."
        )
    if errors:
        raise ValidationError({"allowed_origins": errors})
    return origins


@transaction.atomic
def chat_widget_origins_update(
    *,
    workspace: Workspace,
    origins: Sequence[str],
    updated_by: User | None,
    entry_label: str = "Entry",
) -> ChatWidgetSettings:
    """Replace the sites that may embed the workspace's chat. An empty list lets none."""
    allowed = allowed_origins_normalise(origins, entry_label=entry_label)
    before = chat_widget_allowed_origins(workspace=workspace)
    settings, _ = ChatWidgetSettings.objects.update_or_create(
        workspace=workspace, defaults={"allowed_origins": allowed, "updated_by": updated_by}
    )
    if before != allowed:
        audit_record(
            workspace=workspace,
            user=updated_by,
            area="chat widget",
            subject="chat widget",
            changes=[Change("allowed origins", before, allowed)],
        )
    return settings


def chat_widget_settings_of_workspace(*, workspace: Workspace) -> ChatWidgetSettings | None:
    return (
        ChatWidgetSettings.objects.filter(workspace=workspace).select_related("updated_by").first()
    )


def chat_widget_allowed_origins(*, workspace: Workspace) -> list[str]:
    """The origins that may frame the workspace's chat, safe to put in a response header.

    They were validated when stored; a value that is not in its stored form now (written around
    the service, e.g. in a shell) is left out rather than trusted into a security header.
    """
    settings = chat_widget_settings_of_workspace(workspace=workspace)
    stored = settings.allowed_origins if settings else []
    if not isinstance(stored, list):
        stored = []
    safe = [origin for origin in stored if isinstance(origin, str) and _is_stored_form(origin)]
    if len(safe) != len(stored):
        logger.warning(
            "Workspace %s has chat widget origins that are not valid; they are ignored.",
            workspace.slug,
        )
    return safe


def frame_ancestors_policy(origins: Sequence[str]) -> str:
    """The Content-Security-Policy that lets the chat server and `origins` frame a page."""
    return " ".join(("frame-ancestors", "'self'", *origins))


def _is_stored_form(origin: str) -> bool:
    try:
        return origin_normalise(origin) == origin
    except ValidationError:
        return False


def _authority_split(rest: str) -> tuple[str, str]:
    """`host[:port]` and whatever follows it (path, query, fragment)."""
    match = re.search(r"[/?#]", rest)
    if match is None:
        return rest, ""
    return rest[: match.start()], rest[match.start() :]


def _host_port_split(authority: str) -> tuple[str, int | None]:
    if authority.startswith("["):  # IPv6: the port, if any, follows the closing bracket
        host, bracket, after = authority.partition("]")
        if not bracket:
            raise ValidationError("an IPv6 address needs its closing bracket “]”.")
        host += "]"
        if not after:
            return host, None
        if not after.startswith(":"):
            raise ValidationError(f"“{_shown(after)}” after the address is not a port.")
        return host, _port(after[1:])
    host, colon, port = authority.partition(":")
    if not colon:
        return host, None
    return host, _port(port)


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise ValidationError("the port must be a number from 1 to 65535.")
    return int(text)


def _host_normalise(host: str) -> str:
    if not host:
        raise ValidationError(f"the host is missing, e.g. {EXAMPLE}.")
    if host.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            raise ValidationError(f"“{_shown(host)}” is not an IPv6 address.") from None
    wildcard = host.startswith("*.")
    name = host[2:] if wildcard else host
    if "*" in name and re.fullmatch(r"[\w.*-]+", name):
        raise ValidationError(
            "a wildcard can only stand for the subdomains of a domain, as in https://*.example.com."
        )
    name = _ascii_name(name)
    labels = name.split(".")
    if labels[-1].isdigit():  # an IPv4 address, or a name no DNS would hold
        if wildcard:
            raise ValidationError("a wildcard needs a domain name, not an address.")
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            raise ValidationError(f"“{_shown(host)}” is not a host name.") from None
    if len(name) > _DNS_NAME_MAX_LENGTH or not all(_DNS_LABEL.fullmatch(x) for x in labels):
        raise ValidationError(f"“{_shown(host)}” is not a host name.")
    if wildcard and len(labels) < 2:
        raise ValidationError(
            "a wildcard needs a domain of two parts or more after “*.”, e.g. https://*.example.com."
        )
    return f"*.{name}" if wildcard else name


def _ascii_name(name: str) -> str:
    """The name lower-case; an internationalised one in the "xn--" form browsers compare."""
    if name.isascii():
        return name.lower()
    try:
        return name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValidationError(f"“{_shown(name)}” is not a host name.") from None


def _shown(text: str) -> str:
    text = text.strip()
    if len(text) <= _SHOWN_ENTRY_MAX_LENGTH:
        return text
    return text[: _SHOWN_ENTRY_MAX_LENGTH - 1] + "…"

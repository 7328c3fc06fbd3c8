"""Which webhook URLs PIE may call: the one place SSRF is decided (SPEC.md, "Outbound events").

Deployed, a URL must be ``https`` and every address its host resolves to must be public: not
private, loopback, link-local, multicast, reserved, unspecified, shared (100.64/10) or a cloud
metadata address, IPv4-mapped IPv6 included. The check runs at registration and again before
every delivery, and the delivery connects to the address that was checked (never resolving the
name a second time), so a name that re-resolves to an internal address (DNS rebinding) is never
reached. ``pie-local`` also allows loopback addresses, over ``http`` too (``allow_loopback``).

Resolution is injected (``Resolver``): the rules do no I/O, and tests never touch a network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.domain.errors import UnsafeWebhookUrlError

# host, port -> the addresses it resolves to (text); raises OSError when it does not resolve.
Resolver = Callable[[str, int], list[str]]
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("fd00:ec2::254"),
        ipaddress.ip_address("169.254.170.2"),
    }
)
MAX_URL_LENGTH = 2048


@dataclass(frozen=True)
class Target:
    """A URL that passed the check, with the address to connect to (the one checked)."""

    url: str
    scheme: str
    host: str
    port: int
    path: str  # with its query
    address: str


def _unmapped(address: IpAddress) -> IpAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def refusal(address: IpAddress, allow_loopback: bool) -> str | None:
    """Why PIE must not connect to ``address``, or None."""
    plain = _unmapped(address)
    if plain.is_loopback:
        return None if allow_loopback else "a loopback address"
    if plain in METADATA_ADDRESSES or address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for test, what in (
        ("is_unspecified", "an unspecified address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(plain, test):
            return what
    if not plain.is_global:
        return "an address that is not public"
    return None


def parse(url: str, allow_loopback: bool) -> tuple[str, str, int, str]:
    """The scheme, host, port and path of a URL PIE may consider; ``UnsafeWebhookUrlError`` else."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeWebhookUrlError(f"longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeWebhookUrlError(f"not a URL ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or (scheme == "http" and not allow_loopback):
        raise UnsafeWebhookUrlError("the scheme must be https")
    if not parts.hostname:
        raise UnsafeWebhookUrlError("no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeWebhookUrlError("credentials in the URL (send them another way)")
    if parts.fragment:
        raise UnsafeWebhookUrlError("a fragment")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80), path


def check(url: str, resolve: Resolver, allow_loopback: bool = False) -> Target:
    """The target to connect to, if every address ``url``'s host resolves to may be reached.

    ``http`` is allowed only with ``allow_loopback`` and only to a loopback address."""
    scheme, host, port, path = parse(url, allow_loopback)
    try:
        literal: IpAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[IpAddress] = [literal]
    else:
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(host, port)]
        except (OSError, ValueError) as error:
            raise UnsafeWebhookUrlError(f"its host '{host}' does not resolve ({error})") from None
        if not addresses:
            raise UnsafeWebhookUrlError(f"its host '{host}' does not resolve")
    for address in addresses:
        why = refusal(address, allow_loopback)
        if why is not None:
            raise UnsafeWebhookUrlError(f"'{host}' resolves to {why} ({address})")
    if scheme == "http" and not all(_unmapped(a).is_loopback for a in addresses):
        raise UnsafeWebhookUrlError("the scheme must be https (http only to a loopback address)")
    return Target(url=url, scheme=scheme, host=host, port=port, path=path, address=str(addresses[0]))

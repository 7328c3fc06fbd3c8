"""SSRF safety of webhook URLs (shared.domain.url_safety): https only deployed; no private, loopback,
link-local, multicast, reserved, unspecified or metadata address, IPv4-mapped IPv6 included; the
target keeps the address that was checked. Resolution is a stub: nothing here reaches a network."""

from __future__ import annotations

import pytest

from shared.domain.errors import UnsafeWebhookUrlError
from shared.domain.url_safety import check


def resolving_to(*addresses: str):
    def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


def unresolvable(host: str, port: int) -> list[str]:
    raise OSError("no such host")


PUBLIC = resolving_to("93.184.216.34")


def test_a_public_https_url_passes_with_the_address_it_resolved_to():
    target = check("https://hooks.example.com:8443/in?x=1", PUBLIC)
    assert (target.host, target.port, target.path, target.address) == (
        "hooks.example.com",
        8443,
        "/in?x=1",
        "93.184.216.34",
    )


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "169.254.10.10", "0.0.0.0",
        "224.0.0.1", "240.0.0.1", "100.64.0.1", "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254",
        "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "ff02::1",
    ],
)  # fmt: skip
def test_a_host_resolving_to_an_internal_address_is_refused(address: str):
    with pytest.raises(UnsafeWebhookUrlError, match="resolves to"):
        check("https://innocent.example.com/hook", resolving_to(address))


def test_one_internal_address_among_public_ones_is_enough_to_refuse():
    with pytest.raises(UnsafeWebhookUrlError, match="loopback"):
        check("https://mixed.example.com/", resolving_to("93.184.216.34", "127.0.0.1"))


@pytest.mark.parametrize("url", ["https://127.0.0.1/", "https://[::1]/", "https://169.254.169.254/latest/meta-data"])
def test_a_literal_internal_address_is_refused_without_resolving(url: str):
    def never(host: str, port: int) -> list[str]:
        raise AssertionError("a literal address is not resolved")

    with pytest.raises(UnsafeWebhookUrlError):
        check(url, never)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/", "https"),
        ("ftp://hooks.example.com/", "https"),
        ("https:///nohost", "no host"),
        ("https://user:pw@hooks.example.com/", "credentials"),
        ("not a url", "https"),
        ("https://hooks.example.com:99999/", "not a URL"),
        ("https://" + "a" * 2100 + ".com/", "longer"),
    ],
)
def test_malformed_or_plain_http_urls_are_refused(url: str, reason: str):
    with pytest.raises(UnsafeWebhookUrlError, match=reason):
        check(url, PUBLIC)


def test_a_host_that_does_not_resolve_is_refused():
    with pytest.raises(UnsafeWebhookUrlError, match="does not resolve"):
        check("https://nowhere.invalid/", unresolvable)


def test_the_local_stack_allows_http_and_https_to_loopback_only():
    assert check("http://localhost:9000/h", resolving_to("127.0.0.1"), allow_loopback=True).address == "127.0.0.1"
    assert check("https://127.0.0.1:9000/h", unresolvable, allow_loopback=True).port == 9000
    with pytest.raises(UnsafeWebhookUrlError, match="http only to a loopback"):
        check("http://hooks.example.com/", PUBLIC, allow_loopback=True)
    with pytest.raises(UnsafeWebhookUrlError, match="metadata"):
        check("http://meta.example.com/", resolving_to("169.254.169.254"), allow_loopback=True)
    with pytest.raises(UnsafeWebhookUrlError, match="private"):
        check("https://lan.example.com/", resolving_to("10.0.0.5"), allow_loopback=True)

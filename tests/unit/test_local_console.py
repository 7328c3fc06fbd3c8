"""What ``pie-local serve`` answers under ``/console``: the page's files, its config, the local token."""

from __future__ import annotations

import json
import tomllib
from fnmatch import fnmatch
from pathlib import Path

from pie_local.console.console import ConsoleSite
from pie_local.gateway.http import HttpRequest


def _get(site: ConsoleSite, target: str, host: str = "127.0.0.1:8000", method: str = "GET"):
    request = HttpRequest(method=method, target=target, headers=[("Host", host)], body=b"", source_ip="127.0.0.1")
    return site.answer(request, target)


def _minting() -> ConsoleSite:
    return ConsoleSite(mint=lambda: "a-local-token")


def test_the_page_and_its_modules_are_served_with_their_types_and_a_strict_policy():
    site = _minting()
    page = _get(site, "/console/")
    script = _get(site, "/console/app.js")

    assert page.status == 200 and b"<main" in page.body
    assert page.header("Content-Type").startswith("text/html")
    assert script.header("Content-Type").startswith("text/javascript")
    assert "connect-src 'self'" in page.header("Content-Security-Policy")
    assert page.header("X-Frame-Options") == "DENY"


def test_the_bare_path_redirects_to_the_folder_so_relative_assets_resolve():
    reply = _get(_minting(), "/console")
    assert reply.status == 308 and reply.header("Location") == "/console/"


def test_only_the_consoles_own_files_are_served():
    site = _minting()
    for target in (
        "/console/__init__.py",
        "/console/../shared/settings.py",
        "/console/%2e%2e/cdk.json",
        "/console/nope.js",
    ):
        assert _get(site, target).status == 404, target


def test_writes_are_refused():
    assert _get(_minting(), "/console/index.html", method="POST").status == 405


def test_a_loopback_server_signs_the_page_in_with_a_local_token():
    site = _minting()
    config = json.loads(_get(site, "/console/config.json").body)
    token = json.loads(_get(site, "/console/local-token", host="localhost:8000").body)

    assert config == {"api_url": "", "auth": {"mode": "local", "token_url": "local-token"}}
    assert token["token"] == "a-local-token"


def test_no_token_for_a_host_name_that_is_not_loopback():
    """A page on another origin that rebinds its DNS name to 127.0.0.1 still names its own host."""
    assert _get(_minting(), "/console/local-token", host="attacker.example:8000").status == 404


def test_a_server_listening_beyond_loopback_hands_out_no_token_and_asks_for_one():
    site = ConsoleSite(mint=None)
    config = json.loads(_get(site, "/console/config.json").body)

    assert config["auth"]["mode"] == "paste"
    assert _get(site, "/console/local-token").status == 404


def test_every_console_file_ships_in_the_package_so_an_installed_pie_serves_it():
    root = Path(__file__).resolve().parents[2]
    setuptools = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["console"]
    site_files = [path.name for path in (root / "console").iterdir() if path.suffix != ".py" and path.is_file()]

    assert "console" in setuptools["packages"]["find"]["include"]
    assert {"index.html", "app.js", "styles.css"} <= set(site_files)
    for name in site_files:
        assert any(fnmatch(name, pattern) for pattern in patterns), name

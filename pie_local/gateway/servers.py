"""Running servers, announced where any ``pie-local token`` finds them.

``pie-local serve`` writes ``servers/PORT.json`` under the per-user home (``user_home()``, whatever
its own ``--home``): the server's URL, its home and its process id, removed when it stops. ``pie-local
token --server URL`` (what the ``pie`` CLI runs against a loopback URL) signs with the home of the
server listening on that URL's port, so a token works from any directory and any ``$PIE_LOCAL_HOME``.
An announcement whose process is gone (a ``kill -9``) is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from pie_local.gateway.tokens import user_home

SERVERS_DIRECTORY = "servers"


def announcement(port: int) -> Path:
    return user_home() / SERVERS_DIRECTORY / f"{port}.json"


def announce(url: str, home: Path) -> Path:
    """Record that this process serves ``url`` with the keys in ``home``; returns the file."""
    path = announcement(_port(url))
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"url": url, "home": str(home.resolve()), "pid": os.getpid()}
    descriptor, staging = tempfile.mkstemp(dir=path.parent, prefix=".server-")
    with os.fdopen(descriptor, "w") as handle:
        json.dump(record, handle)
    os.replace(staging, path)
    return path


def withdraw(path: Path) -> None:
    """Remove this process's announcement (not one a later server on the port wrote)."""
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()


def home_of_server(url: str) -> Path | None:
    """The home of the running ``pie-local serve`` on ``url``'s port, if one announced itself."""
    try:
        record = json.loads(announcement(_port(url)).read_text())
        pid, home = int(record["pid"]), Path(record["home"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return home if _alive(pid) else None


def _port(url: str) -> int:
    parsed = urlparse(url)
    return parsed.port or (443 if parsed.scheme == "https" else 80)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

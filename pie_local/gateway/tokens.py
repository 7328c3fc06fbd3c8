"""The local stack's identity provider: one RSA key pair, bearer tokens signed with it.

Deployed, API Gateway's JWT authorizer trusts an issuer's published keys. Locally, ``pie-local``
keeps one RS256 key pair in its home (``local_home``: ``--home``, ``$PIE_LOCAL_HOME``, a
``./.pie-local`` that already exists, else the per-user ``~/.local/share/pie-local``): ``pie-local
token`` signs with the private key and ``pie-local serve`` verifies with the public one, so a token
minted with the same home, from any directory, is accepted by the server.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.domain.access import DEFAULT_WORKSPACES_CLAIM
from shared.domain.entities import DEFAULT_WORKSPACE
from shared.routes import ALL_SCOPES

ISSUER = "pie-local"
AUDIENCE = "pie-api"
ALGORITHM = "RS256"
DEFAULT_SUBJECT = "local-developer"
DEFAULT_LIFETIME_SECONDS = 3600

HOME_ENVIRONMENT_VARIABLE = "PIE_LOCAL_HOME"
# A checkout's home before the per-user one existed: used when it is there, never created.
DEFAULT_HOME_DIRECTORY = ".pie-local"
USER_HOME_NAME = "pie-local"
PRIVATE_KEY_FILE = "jwt-signing-key.pem"

REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "nbf")
VERIFIED_TOKENS_KEPT = 1024


class TokenRejectedError(Exception):
    """The bearer token is missing, malformed, forged, expired or not meant for this API."""


def user_home() -> Path:
    """The per-user home: ``$XDG_DATA_HOME/pie-local``, else ``~/.local/share/pie-local``. The same
    from every directory, so a token minted anywhere is signed with the key the server verifies with."""
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / USER_HOME_NAME


def local_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Where the local stack keeps its keys and data: ``explicit``, else ``$PIE_LOCAL_HOME``, else a
    ``./.pie-local`` that already exists (a checkout's home from before), else ``user_home()``.
    A ``./.pie-local`` is never created: a command run in another directory must not make itself
    a new signing key there."""
    chosen = explicit or os.environ.get(HOME_ENVIRONMENT_VARIABLE)
    if chosen:
        return Path(chosen)
    beside = Path.cwd() / DEFAULT_HOME_DIRECTORY
    return beside if beside.is_dir() else user_home()


@dataclass(frozen=True)
class SigningKeys:
    """The local issuer's RSA key pair."""

    private_key: rsa.RSAPrivateKey

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    @classmethod
    def generate(cls) -> SigningKeys:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def load_or_create(cls, home: Path) -> SigningKeys:
        """The key pair kept in ``home``, generated on first use.

        The server and the token command may start at the same time, so the key file is created
        atomically (written aside, then hard-linked into place): the first writer wins and the other
        reads the winner's key rather than overwriting it.
        """
        key_file = home / PRIVATE_KEY_FILE
        if not key_file.exists():
            home.mkdir(parents=True, exist_ok=True)
            candidate = cls.generate()
            candidate._publish(home)
        return cls(serialization.load_pem_private_key(key_file.read_bytes(), password=None))

    def _publish(self, home: Path) -> None:
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        descriptor, staging = tempfile.mkstemp(dir=home, prefix=".key-")  # created 0600
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(pem)
            os.link(staging, home / PRIVATE_KEY_FILE)
        except FileExistsError:
            pass
        finally:
            os.unlink(staging)


def mint_token(
    keys: SigningKeys,
    *,
    scopes: Iterable[str] = ALL_SCOPES,
    workspaces: Iterable[str] = (DEFAULT_WORKSPACE,),
    workspaces_claim: str = DEFAULT_WORKSPACES_CLAIM,
    subject: str = DEFAULT_SUBJECT,
    expires_in: int = DEFAULT_LIFETIME_SECONDS,
    now: int | None = None,
) -> str:
    """A bearer token the local server accepts; a negative ``expires_in`` makes an expired one."""
    issued_at = int(time.time()) if now is None else now
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "iat": issued_at,
        "nbf": min(issued_at, issued_at + expires_in),
        "exp": issued_at + expires_in,
        "scope": " ".join(scopes),
        # A list, as identity providers send groups: the gateway hands it over as "[a b]".
        workspaces_claim: list(workspaces),
    }
    return jwt.encode(claims, keys.private_key, algorithm=ALGORITHM)


class TokenVerifier:
    """What API Gateway's JWT authorizer checks: signature, issuer, audience, expiry, not-before.

    A client sends the same token on every request, and checking an RS256 signature is the costliest
    step of a cheap request; so a token that verified is remembered (by its exact text) until it
    expires, and checked in full again after that. API Gateway caches its JWKS the same way.
    """

    def __init__(self, public_key: rsa.RSAPublicKey) -> None:
        self._public_key = public_key
        self._verified: dict[str, dict[str, Any]] = {}

    def verify(self, token: str) -> dict[str, Any]:
        claims = self._verified.get(token)
        if claims is not None and time.time() < claims["exp"]:
            return dict(claims)
        claims = self._decode(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._forget_expired()
        self._verified[token] = claims
        return dict(claims)

    def _forget_expired(self) -> None:
        now = time.time()
        # A copy: request threads may add tokens meanwhile.
        for token, claims in list(self._verified.items()):
            if now >= claims["exp"]:
                self._verified.pop(token, None)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._verified.clear()

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                self._public_key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": list(REQUIRED_CLAIMS)},
                leeway=0,  # as the cache above: a token expires at exactly its ``exp``
            )
        except jwt.PyJWTError as error:
            raise TokenRejectedError(_describe(error)) from error


def _describe(error: jwt.PyJWTError) -> str:
    if isinstance(error, jwt.ExpiredSignatureError):
        return "the bearer token has expired"
    if isinstance(error, jwt.ImmatureSignatureError):
        return "the bearer token is not valid yet"
    if isinstance(error, jwt.InvalidSignatureError):
        return "the bearer token's signature is not valid"
    if isinstance(error, (jwt.InvalidIssuerError, jwt.InvalidAudienceError, jwt.MissingRequiredClaimError)):
        return f"the bearer token was not issued for this API: {error}"
    return "the bearer token is malformed"


def token_scopes(claims: Mapping[str, Any]) -> list[str]:
    """The token's scopes, from the ``scope`` claim (or Cognito-style ``scp`` list). Like API
    Gateway's JWT authorizer, only a plain space separates scopes in a string."""
    scopes: list[str] = []
    for claim in ("scope", "scp"):
        value = claims.get(claim)
        if isinstance(value, str):
            scopes.extend(scope for scope in value.split(" ") if scope)
        elif isinstance(value, list):
            scopes.extend(str(item) for item in value)
    return scopes

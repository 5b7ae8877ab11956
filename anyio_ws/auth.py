"""HTTP Basic Authentication for ``serve()`` (RFC 7617), as a ``process_request`` hook.

::

    async with anyio_ws.serve(
        handler, "127.0.0.1", 8765,
        process_request=anyio_ws.basic_auth(realm="chat", credentials=("alice", "s3cret")),
    ) as server:
        ...

A client without valid credentials gets a 401 with ``WWW-Authenticate``, and the
handler never starts; with them, ``connection.username`` tells who it is. Send Basic
credentials over ``wss://`` only: they travel in clear otherwise.

``basic_auth`` returns an ordinary hook, so it composes with other checks by being
called from your own ``process_request``::

    auth = anyio_ws.basic_auth(realm="chat", check_credentials=check)

    async def process_request(connection, request):
        if request.path == "/healthz":          # no credentials needed here
            return connection.respond(200, "OK\\n")
        return await auth(connection, request)
"""

from __future__ import annotations

import base64
import binascii
import hmac
import inspect
import re
from collections.abc import Awaitable, Callable, Iterable
from http import HTTPStatus
from typing import Any

from .core.http import Request, Response
from .server import ServerConnection

__all__ = ["basic_auth"]

CheckCredentials = Callable[[str, str], "Awaitable[bool] | bool"]
"""``check_credentials(username, password)``: a function or a coroutine function."""

BasicAuthHook = Callable[[ServerConnection, Request], Awaitable["Response | None"]]
"""What ``basic_auth`` returns: a ``process_request`` coroutine function."""

# RFC 7235 section 2.1: the scheme, one or more spaces, then a token68.
_BASIC = re.compile(r"Basic +([A-Za-z0-9._~+/-]+=*)", re.IGNORECASE)
# What a quoted-string may hold (RFC 9110 section 5.6.4): tab, visible chars, obs-text.
_QUOTABLE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


def basic_auth(
    realm: str = "",
    credentials: tuple[str, str] | Iterable[tuple[str, str]] | None = None,
    check_credentials: CheckCredentials | None = None,
) -> BasicAuthHook:
    """Build a ``process_request`` hook that requires HTTP Basic credentials.

    Give exactly one of ``credentials`` and ``check_credentials``. Passwords are
    compared in constant time, and every known pair is compared, so the time taken
    does not tell whether a username exists.

    Args:
        realm: The protection space named in ``WWW-Authenticate``; ASCII is best,
            as browsers disagree on other characters.
        credentials: One ``(username, password)`` pair, or an iterable of pairs.
        check_credentials: ``check_credentials(username, password) -> bool``, a
            function or a coroutine function; for credentials kept elsewhere.

    Raises:
        ValueError: both or neither of ``credentials`` and ``check_credentials``,
            no pair at all in ``credentials``, or a ``realm`` that cannot go in a header.
        TypeError: ``credentials`` is not a pair of str nor pairs of them, or
            ``check_credentials`` is not callable.
    """
    if (credentials is None) == (check_credentials is None):
        raise ValueError("give either credentials or check_credentials, not both or neither")
    if not isinstance(realm, str):
        raise TypeError(f"realm must be a str, not {type(realm).__name__}")
    if _QUOTABLE.fullmatch(realm) is None:
        raise ValueError(f"realm {realm!r} holds characters an HTTP header cannot carry")
    check: CheckCredentials
    if credentials is not None:
        check = _credentials_checker(credentials)
    elif callable(check_credentials):
        check = check_credentials
    else:
        raise TypeError(
            f"check_credentials must be callable, not {type(check_credentials).__name__}"
        )
    challenge = f'Basic realm={_quote(realm)}, charset="UTF-8"'

    async def process_request(connection: ServerConnection, request: Request) -> Response | None:
        """Answer 401 unless the request carries valid Basic credentials."""
        authorization = request.headers.get_all("Authorization")
        if not authorization:
            return _unauthorized(connection, challenge, "Missing credentials.\n")
        parsed = _parse_basic(authorization[0]) if len(authorization) == 1 else None
        if parsed is None:
            return _unauthorized(connection, challenge, "Unsupported credentials.\n")
        valid = check(*parsed)
        if inspect.isawaitable(valid):
            valid = await valid
        if not isinstance(valid, bool):
            raise TypeError(f"check_credentials must return a bool, not {type(valid).__name__}")
        if not valid:
            return _unauthorized(connection, challenge, "Invalid credentials.\n")
        connection.username = parsed[0]
        return None

    return process_request


def _credentials_checker(credentials: Any) -> Callable[[str, str], bool]:
    """Check the ``credentials`` argument; build the constant-time check of a pair."""
    pairs = [credentials] if _is_pair(credentials) else None
    if pairs is None and isinstance(credentials, Iterable):
        pairs = list(credentials)
        if not all(_is_pair(pair) for pair in pairs):
            pairs = None
    if pairs is None:  # the message leaves the value out: it may hold passwords
        raise TypeError("credentials must be a (username, password) pair of str, or pairs")
    if not pairs:
        raise ValueError("credentials holds no pair: nobody could log in")
    known = [(_encode(pair[0]), _encode(pair[1])) for pair in pairs]

    def check(username: str, password: str) -> bool:
        given_username, given_password = _encode(username), _encode(password)
        found = False
        for known_username, known_password in known:
            # & rather than `and`: compare the password even when the name differs.
            found |= hmac.compare_digest(known_username, given_username) & hmac.compare_digest(
                known_password, given_password
            )
        return found

    return check


def _is_pair(value: Any) -> bool:
    return (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], str)
    )


def _encode(text: str) -> bytes:
    # surrogateescape: credentials that are not UTF-8 arrive decoded that way.
    return text.encode("utf-8", "surrogateescape")


def _parse_basic(header: str) -> tuple[str, str] | None:
    """``(username, password)`` from an ``Authorization: Basic`` value, or None."""
    match = _BASIC.fullmatch(header)
    if match is None:
        return None
    try:
        decoded = base64.b64decode(match.group(1), validate=True)
    except binascii.Error:
        return None
    username, colon, password = decoded.decode("utf-8", "surrogateescape").partition(":")
    if not colon:
        return None
    return username, password


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _unauthorized(connection: ServerConnection, challenge: str, text: str) -> Response:
    response = connection.respond(HTTPStatus.UNAUTHORIZED, text)
    response.headers["WWW-Authenticate"] = challenge
    return response

"""The request gate: method, size and authentication checked from the headers alone, before a
byte of the body is read.

Two layers use it (docs/web.md, "Request bodies"):

- ``GuardedASGIHandler`` (``nasweb.asgi``): Django's ``ASGIHandler`` reads the whole body into a
  temporary file before any middleware or view runs. The guarded handler asks the gate first, and
  while it reads the body it stops at the endpoint's limit (a chunked body declares no length).
  On a server that streams bodies to the application on demand (uvicorn, hypercorn) that is
  enough.
- ``nasweb.server`` (our Daphne entry point): Twisted, under Daphne, receives the whole body
  before the application is even started, and Daphne then pushes all of it into an in-memory
  queue. The server asks the gate as soon as the headers are in (reading paused meanwhile) and
  hands the body to the application from Twisted's spool file on demand.

Policy: every request may declare at most ``body_limit(path)`` bytes (the upload endpoint:
``UNAS_UPLOAD_MAX_BYTES`` plus the multipart envelope; anything else: ``UNAS_MAX_BODY_BYTES``);
over it is a 413. A request whose body may be large (declared above ``EARLY_CHECK_BYTES``, or
chunked) is also refused early when its method is not one its view answers (405), when its
path is unknown (404), or when the view needs a user and the request carries no valid token or
session (403, as DRF answers an anonymous request here). Small requests go to Django unchanged,
so its own answers stay what they were.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

#: Bodies up to this size go to Django unchecked (its own answers are the reference).
EARLY_CHECK_BYTES = 64 * 1024
#: Room for the multipart envelope (boundaries, the other form fields) around an upload.
MULTIPART_SLACK = 64 * 1024
UPLOAD_PATH = "/api/datasets/uploads/"
ANONYMOUS_DETAIL = "Authentication credentials were not provided."


@dataclass(frozen=True)
class Refusal:
    status: int
    detail: str
    allow: tuple[str, ...] = ()

    def body(self) -> bytes:
        return json.dumps({"detail": self.detail}).encode()

    def headers(self) -> list[tuple[bytes, bytes]]:
        body = self.body()
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        if self.allow:
            headers.append((b"allow", ", ".join(self.allow).encode()))
        return headers


def body_limit(path: str) -> int:
    """The largest body a request to ``path`` may carry."""
    if path == UPLOAD_PATH:
        return int(settings.UNAS_UPLOAD_MAX_BYTES) + MULTIPART_SLACK
    return int(settings.UNAS_MAX_BODY_BYTES)


def declared_length(headers: Iterable[tuple[bytes, bytes]]) -> tuple[int | None, bool]:
    """(Content-Length or None, chunked?) from ASGI-style (lower-case name, value) headers."""
    length: int | None = None
    chunked = False
    for name, value in headers:
        if name == b"content-length":
            text = value.strip()
            length = int(text) if text.isdigit() else -1
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    return length, chunked


def _header(headers: Iterable[tuple[bytes, bytes]], wanted: bytes) -> bytes | None:
    for name, value in headers:
        if name == wanted:
            return value
    return None


def _view(path: str) -> Any:
    from django.urls import Resolver404, resolve

    try:
        return resolve(path).func
    except Resolver404:
        return None


def _allowed_methods(view: Any) -> set[str] | None:
    """The methods ``view`` answers, or None when that cannot be told from the URL conf."""
    actions = getattr(view, "actions", None)
    if isinstance(actions, dict):  # a DRF viewset route
        methods = {m.upper() for m in actions}
    else:
        cls = getattr(view, "cls", None) or getattr(view, "view_class", None)
        if cls is None:
            return None
        methods = {m.upper() for m in cls.http_method_names if hasattr(cls, m)}
    return methods | {"OPTIONS", "HEAD"} if "GET" in methods else methods | {"OPTIONS"}


def _needs_user(view: Any) -> bool:
    cls = getattr(view, "cls", None)
    if cls is None:  # not a DRF view: Django's own pages handle their users
        return False
    from rest_framework.permissions import AllowAny

    return not any(p is AllowAny for p in getattr(cls, "permission_classes", ()))


def _cookie(headers: Iterable[tuple[bytes, bytes]], name: str) -> str | None:
    raw = _header(headers, b"cookie")
    if raw is None:
        return None
    from http.cookies import SimpleCookie

    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw.decode("latin-1"))
    except Exception:  # noqa: BLE001 - a malformed cookie header authenticates nobody
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


def has_valid_credentials(headers: list[tuple[bytes, bytes]]) -> bool:
    """A valid API token or a logged-in session (sync: uses the database)."""
    auth = _header(headers, b"authorization")
    if auth:
        parts = auth.decode("latin-1").split()
        if len(parts) == 2 and parts[0].lower() == "token":
            from rest_framework.authtoken.models import Token

            return Token.objects.filter(key=parts[1][:40], user__is_active=True).exists()
    key = _cookie(headers, settings.SESSION_COOKIE_NAME)
    if key:
        from importlib import import_module

        from django.contrib.auth import SESSION_KEY, get_user_model

        store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key[:64])
        user_id = store.get(SESSION_KEY)
        if user_id is not None:
            return get_user_model().objects.filter(pk=user_id, is_active=True).exists()
    return False


def check_headers(method: str, path: str, headers: list[tuple[bytes, bytes]]
                  ) -> tuple[Refusal | None, bool]:
    """What the headers alone decide: (refusal or None, whether the credentials must still be
    checked against the database before the body is read)."""
    length, chunked = declared_length(headers)
    if length is not None and length < 0:
        return Refusal(400, "Content-Length is not a number"), False
    limit = body_limit(path)
    too_large = None
    if length is not None and length > limit:
        too_large = Refusal(413, f"the request body has {length} bytes, more than the limit "
                                 f"{limit} for this endpoint")
    if not chunked and (length or 0) <= EARLY_CHECK_BYTES:
        return too_large, False
    view = _view(path)
    if view is None:
        return Refusal(404, "Not found."), False
    allowed = _allowed_methods(view)
    if allowed is not None and method.upper() not in allowed:
        return Refusal(405, f'Method "{method.upper()}" not allowed.',
                       tuple(sorted(allowed))), False
    if too_large is not None:
        return too_large, False
    return None, _needs_user(view)


async def check(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> Refusal | None:
    """The whole gate (async: the credential check runs in Django's sync thread)."""
    refusal, needs_user = check_headers(method, path, headers)
    if refusal is not None or not needs_user:
        return refusal
    from asgiref.sync import sync_to_async
    from django.db import close_old_connections

    def valid() -> bool:
        close_old_connections()
        try:
            return has_valid_credentials(headers)
        finally:
            close_old_connections()

    if not await sync_to_async(valid, thread_sensitive=True)():
        return Refusal(403, ANONYMOUS_DETAIL)
    return None


class BodyTooLarge(Exception):
    """A streamed (chunked) body grew past the endpoint's limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.refusal = Refusal(413, f"the request body is larger than the limit {limit} for "
                                    "this endpoint")

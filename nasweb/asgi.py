"""ASGI entry point: HTTP through Django (behind the request gate), websockets through Channels.

``GuardedASGIHandler`` checks method, size and credentials from the headers before Django reads
the body (``nasweb.gate``), and stops reading a body at its endpoint's limit. Serve it with
``python -m nasweb.server`` (Daphne with the same gate before Twisted buffers the body).
"""

from __future__ import annotations

import os
import tempfile
from contextvars import ContextVar
from typing import Any

import django
from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nasweb.settings")
django.setup(set_prefix=False)

from nasweb import gate  # noqa: E402

_body_limit: ContextVar[int | None] = ContextVar("unas_body_limit", default=None)


async def send_refusal(send: Any, refusal: gate.Refusal) -> None:
    await send({"type": "http.response.start", "status": refusal.status,
                "headers": refusal.headers()})
    await send({"type": "http.response.body", "body": refusal.body()})


class GuardedASGIHandler(ASGIHandler):
    """Django's ASGI handler with the request gate in front of the body."""

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = list(scope.get("headers") or [])
        refusal = await gate.check(scope.get("method", "GET"), scope.get("path", "/"), headers)
        if refusal is not None:
            await send_refusal(send, refusal)
            return
        token = _body_limit.set(gate.body_limit(scope.get("path", "/")))
        try:
            await super().handle(scope, receive, send)
        except gate.BodyTooLarge as exc:
            await send_refusal(send, exc.refusal)
        finally:
            _body_limit.reset(token)

    async def read_body(self, receive: Any) -> Any:
        """Like Django's, but a body that grows past the endpoint's limit stops the read."""
        limit = _body_limit.get()
        body_file = tempfile.SpooledTemporaryFile(
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b")
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                body_file.close()
                raise RequestAborted()
            chunk = message.get("body") or b""
            size += len(chunk)
            if limit is not None and size > limit:
                body_file.close()
                raise gate.BodyTooLarge(limit)
            body_file.write(chunk)
            if not message.get("more_body", False):
                break
        body_file.seek(0)
        return body_file


django_asgi_app = GuardedASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from nasweb.searches.routing import websocket_urlpatterns as search_websockets  # noqa: E402

websocket_urlpatterns: list = [*search_websockets]

# Websockets authenticate with the session cookie; the Origin check stops other sites from
# opening one with a visitor's cookie.
application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": AllowedHostsOriginValidator(
        AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})

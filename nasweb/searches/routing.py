"""Websocket routes of the searches app (included by ``nasweb.asgi``)."""

from __future__ import annotations

from django.urls import re_path

from .consumers import SearchEventsConsumer

websocket_urlpatterns = [
    re_path(r"^ws/searches/(?P<search_id>[0-9]{1,18})/$", SearchEventsConsumer.as_asgi()),
]

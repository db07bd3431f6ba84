"""Errors of the search's settings, with the setting they concern as data."""

from __future__ import annotations


class ConfigError(ValueError):
    """A search setting the engine refuses.

    ``field`` names the setting as data: a :class:`~search_engine.search.state.SearchConfig`
    field (``"rounds"``), or ``"limits.<name>"`` / ``"bounds.<name>"`` for a hard limit or a
    soft bound; ``message`` says what is wrong. ``str()`` reads ``"<label>: <message>"``, the
    label being ``field`` unless a friendlier one is given (``"hard limit sram_bytes"``).
    """

    def __init__(self, field: str, message: str, label: str | None = None) -> None:
        super().__init__(f"{label or field}: {message}")
        self.field = field
        self.message = message

"""Stores that persist a search's state after every event.

``JsonFileStore`` writes ``search.json`` atomically (temporary file, fsync, rename), so a
process killed at any moment leaves either the previous or the new state on disk, never a torn
file. ``MemoryStore`` keeps the JSON text in memory (tests, simulations).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .state import SearchState


class JsonFileStore:
    """The whole state as one JSON document; ``decorate`` may add derived fields for readers."""

    def __init__(self, path: str | Path,
                 decorate: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        self.path = Path(path)
        self.decorate = decorate

    def save(self, state: SearchState) -> None:
        data = state.to_json()
        if self.decorate is not None:
            data = self.decorate(data)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".search-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self) -> SearchState | None:
        if not self.path.exists():
            return None
        return SearchState.from_json(json.loads(self.path.read_text()))


class MemoryStore:
    """Keeps the last saved state as JSON text; ``saves`` counts events."""

    def __init__(self) -> None:
        self.text: str | None = None
        self.saves = 0

    def save(self, state: SearchState) -> None:
        self.text = json.dumps(state.to_json())
        self.saves += 1

    def load(self) -> SearchState | None:
        return None if self.text is None else SearchState.from_json(json.loads(self.text))

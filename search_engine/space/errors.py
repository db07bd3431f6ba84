"""The one error type of the search space: an architecture (or its JSON) that is not valid."""

from __future__ import annotations


class ArchitectureError(ValueError):
    """An invalid architecture; ``path`` names the offending field (``blocks[2].layers[0].kernel``).

    The message always starts with the path, so a single line tells a user what to fix.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)
